package server

import (
	"bytes"
	"fmt"
	"html/template"
	"strconv"
	"strings"
	"sync"

	"carenet.dev/platform/plugins/kit/view"
)

// The layout's top (head, header, navigation, language switcher) and bottom (footer) are the
// same for every page a tenant shows in one language to one kind of visitor; only the page's
// title, the signed-in person's name and the CSRF token differ. They are rendered once per
// tenant revision × language × path prefix × navigation (which says signed in or not, what
// the person may reach and where they are), with markers where those three go, and kept: a
// page then executes only its own content. A change to the tenant bumps its revision, so
// every instance renders the frame again. The content of a page that shows every anonymous
// visitor the same thing (the home page: renderKept) is kept the same way.

// The markers: private-use characters, which html/template writes out as they are.
const (
	holeTitle = "\uE000T\uE001"
	holeUser  = "\uE000U\uE001"
	holeCSRF  = "\uE000C\uE001"
)

// maxFrames bounds the kept frames (stale revisions are dropped wholesale when it is hit).
const maxFrames = 2048

type frame struct {
	top holed
	// notices is "notices" without a maintenance banner or a flash message: what nearly
	// every page shows there.
	notices []byte
	bottom  []byte
}

// holed is rendered text cut at its markers: parts[i], then what holes[i] names ('T' title,
// 'U' user's name, 'C' CSRF token), …, then the last part.
type holed struct {
	parts [][]byte
	holes []byte
}

type frames struct {
	mu sync.RWMutex
	m  map[string]*frame
	// kept are the contents of pages that show every anonymous visitor the same thing
	// (renderKept), by frame key and page.
	kept map[string]holed
}

// frameKey names what a frame depends on besides the words of the language.
func frameKey(p *Page) string {
	var b strings.Builder
	b.WriteString(p.Tenant.ID)
	b.WriteByte('|')
	b.WriteString(strconv.FormatInt(p.Tenant.Rev, 10))
	b.WriteByte('|')
	b.WriteString(p.Lang)
	b.WriteByte('|')
	b.WriteString(p.Base)
	if p.User != nil {
		b.WriteString("|in")
	}
	for _, n := range p.Nav {
		b.WriteByte('|')
		b.WriteString(n.Href)
		if n.Current {
			b.WriteByte('*')
		}
	}
	return b.String()
}

// get returns the frame of p, rendering it with t when there is none.
func (fs *frames) get(t *template.Template, p *Page) (*frame, error) {
	key := frameKey(p)
	fs.mu.RLock()
	f := fs.m[key]
	fs.mu.RUnlock()
	if f != nil {
		return f, nil
	}
	f, err := renderFrame(t, p)
	if err != nil {
		return nil, err
	}
	fs.mu.Lock()
	if fs.m == nil || len(fs.m) >= maxFrames {
		fs.m = map[string]*frame{}
	}
	fs.m[key] = f
	fs.mu.Unlock()
	return f, nil
}

// sentinel returns p with markers where its title, its user's name and its CSRF token go.
func sentinel(p *Page) *Page {
	st := *p.State
	st.CSRF = holeCSRF
	if st.User != nil {
		u := *st.User
		u.Name = holeUser
		st.User = &u
	}
	fp := *p
	fp.State, fp.Title, fp.Maintenance, fp.Flash = &st, holeTitle, nil, ""
	return &fp
}

func renderFrame(t *template.Template, p *Page) (*frame, error) {
	fp := sentinel(p)
	var top, notices, bottom bytes.Buffer
	for _, part := range []struct {
		name string
		w    *bytes.Buffer
	}{{"top", &top}, {"notices", &notices}, {"bottom", &bottom}} {
		if err := t.ExecuteTemplate(part.w, part.name, fp); err != nil {
			return nil, fmt.Errorf("layout %s: %w", part.name, err)
		}
	}
	if bytes.Contains(notices.Bytes(), []byte("\uE000")) || bytes.Contains(bottom.Bytes(), []byte("\uE000")) {
		return nil, fmt.Errorf("layout: the title, name or token is printed outside the top")
	}
	h, err := cut(top.Bytes())
	if err != nil {
		return nil, err
	}
	return &frame{top: h, notices: notices.Bytes(), bottom: bottom.Bytes()}, nil
}

// cut cuts rendered text at its markers.
func cut(rest []byte) (holed, error) {
	var h holed
	for {
		i := bytes.Index(rest, []byte("\uE000"))
		if i < 0 {
			h.parts = append(h.parts, rest)
			return h, nil
		}
		if len(rest) < i+len(holeTitle) || !bytes.Equal(rest[i+len("\uE000")+1:i+len(holeTitle)], []byte("\uE001")) {
			return h, fmt.Errorf("layout: a marker was changed by its escaping")
		}
		h.parts = append(h.parts, rest[:i])
		h.holes = append(h.holes, rest[i+len("\uE000")])
		rest = rest[i+len(holeTitle):]
	}
}

// write puts h into w with p's title, name and token in its holes.
func (h holed) write(w *bytes.Buffer, p *Page) {
	for i, part := range h.parts {
		w.Write(part)
		if i == len(h.holes) {
			break
		}
		switch h.holes[i] {
		case 'T':
			w.WriteString(view.EscapeHTML(p.Title))
		case 'U':
			w.WriteString(view.EscapeHTML(p.User.Name))
		case 'C':
			w.WriteString(view.EscapeHTML(p.CSRF))
		}
	}
}

// content returns the kept content of page name for p, rendering it with t when there is none.
func (fs *frames) content(t *template.Template, p *Page, name string) (holed, error) {
	key := frameKey(p) + "|" + name
	fs.mu.RLock()
	h, ok := fs.kept[key]
	fs.mu.RUnlock()
	if ok {
		return h, nil
	}
	var b bytes.Buffer
	if err := t.ExecuteTemplate(&b, "content", sentinel(p)); err != nil {
		return holed{}, err
	}
	h, err := cut(b.Bytes())
	if err != nil {
		return holed{}, err
	}
	fs.mu.Lock()
	if fs.kept == nil || len(fs.kept) >= maxFrames {
		fs.kept = map[string]holed{}
	}
	fs.kept[key] = h
	fs.mu.Unlock()
	return h, nil
}

// write puts the page into w: the kept frame around the page's own content.
func (f *frame) write(w *bytes.Buffer, t *template.Template, p *Page, content func() error) error {
	f.top.write(w, p)
	if p.Maintenance != nil || p.Flash != "" {
		if err := t.ExecuteTemplate(w, "notices", p); err != nil {
			return err
		}
	} else {
		w.Write(f.notices)
	}
	if err := content(); err != nil {
		return err
	}
	w.Write(f.bottom)
	return nil
}
