package server

import (
	"bytes"
	"fmt"
	"html/template"
	"strconv"
	"strings"
	"sync"
)

// The layout's top (head, header, navigation, language switcher) and bottom (footer) are the
// same for every page a tenant shows in one language to one kind of visitor; only the page's
// title, the signed-in person's name and the CSRF token differ. They are rendered once per
// tenant revision × language × path prefix × navigation (which says signed in or not, what
// the person may reach and where they are), with markers where those three go, and kept: a
// page then executes only its own content. A change to the tenant bumps its revision, so
// every instance renders the frame again.

// The markers: private-use characters, which html/template writes out as they are.
const (
	holeTitle = "\uE000T\uE001"
	holeUser  = "\uE000U\uE001"
	holeCSRF  = "\uE000C\uE001"
)

// maxFrames bounds the kept frames (stale revisions are dropped wholesale when it is hit).
const maxFrames = 2048

type frame struct {
	parts [][]byte // the top's text around its holes
	holes []byte   // what goes after parts[i]: 'T' title, 'U' user's name, 'C' CSRF token
	// notices is "notices" without a maintenance banner or a flash message: what nearly
	// every page shows there.
	notices []byte
	bottom  []byte
}

type frames struct {
	mu sync.RWMutex
	m  map[string]*frame
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

func renderFrame(t *template.Template, p *Page) (*frame, error) {
	st := *p.State
	st.CSRF = holeCSRF
	if st.User != nil {
		u := *st.User
		u.Name = holeUser
		st.User = &u
	}
	fp := *p
	fp.State, fp.Title, fp.Maintenance, fp.Flash = &st, holeTitle, nil, ""
	var top, notices, bottom bytes.Buffer
	for _, part := range []struct {
		name string
		w    *bytes.Buffer
	}{{"top", &top}, {"notices", &notices}, {"bottom", &bottom}} {
		if err := t.ExecuteTemplate(part.w, part.name, &fp); err != nil {
			return nil, fmt.Errorf("layout %s: %w", part.name, err)
		}
	}
	if bytes.Contains(notices.Bytes(), []byte("\uE000")) || bytes.Contains(bottom.Bytes(), []byte("\uE000")) {
		return nil, fmt.Errorf("layout: the title, name or token is printed outside the top")
	}
	f := &frame{notices: notices.Bytes(), bottom: bottom.Bytes()}
	rest := top.Bytes()
	for {
		i := bytes.Index(rest, []byte("\uE000"))
		if i < 0 {
			f.parts = append(f.parts, rest)
			return f, nil
		}
		if len(rest) < i+len(holeTitle) || !bytes.Equal(rest[i+len("\uE000")+1:i+len(holeTitle)], []byte("\uE001")) {
			return nil, fmt.Errorf("layout: a marker was changed by its escaping")
		}
		f.parts = append(f.parts, rest[:i])
		f.holes = append(f.holes, rest[i+len("\uE000")])
		rest = rest[i+len(holeTitle):]
	}
}

// write puts the page into w: the kept frame around the page's own content.
func (f *frame) write(w *bytes.Buffer, t *template.Template, p *Page, content func() error) error {
	for i, part := range f.parts {
		w.Write(part)
		if i == len(f.holes) {
			break
		}
		switch f.holes[i] {
		case 'T':
			escape(w, p.Title)
		case 'U':
			escape(w, p.User.Name)
		case 'C':
			escape(w, p.CSRF)
		}
	}
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

// escape writes s as html/template writes a string in text, in RCDATA (a title) and in a
// quoted attribute: the same replacements (TestLayoutFrameIsTheLayout compares them).
func escape(w *bytes.Buffer, s string) {
	last := 0
	for i := 0; i < len(s); i++ {
		var r string
		switch s[i] {
		case 0:
			r = "\uFFFD"
		case '"':
			r = "&#34;"
		case '&':
			r = "&amp;"
		case '\'':
			r = "&#39;"
		case '+':
			r = "&#43;"
		case '<':
			r = "&lt;"
		case '>':
			r = "&gt;"
		default:
			continue
		}
		w.WriteString(s[last:i])
		w.WriteString(r)
		last = i + 1
	}
	w.WriteString(s[last:])
}
