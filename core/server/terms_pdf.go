package server

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/gofiber/fiber/v2"

	"carenet.dev/platform/plugins/kit/mdtext"
	"carenet.dev/platform/plugins/kit/pdfdoc"
)

// termsPDF is the tenant's terms in force, every document in one PDF, in the reader's
// language, at a fixed address (/terms.pdf) that a person can keep or print (P6).
func (s *Server) termsPDF(c *fiber.Ctx) error {
	var docs []*docView
	for _, d := range termsDocs(St(c).Tenant) {
		v, err := s.docView(c, d, true)
		if err != nil {
			return err
		}
		if v.InForce != nil {
			docs = append(docs, v)
		}
	}
	if len(docs) == 0 {
		return fiber.ErrNotFound
	}
	return s.sendTermsPDF(c, St(c).Loc.T("terms.title"), docs)
}

// termsDocPDF is one document in force as a PDF (/terms/<doc>.pdf).
func (s *Server) termsDocPDF(c *fiber.Ctx) error {
	doc := c.Params("doc")
	if !contains(termsDocs(St(c).Tenant), doc) {
		return fiber.ErrNotFound
	}
	v, err := s.docView(c, doc, true)
	if err != nil {
		return err
	}
	if v.InForce == nil {
		return fiber.ErrNotFound
	}
	return s.sendTermsPDF(c, v.Title, []*docView{v})
}

// sendTermsPDF writes the documents, each with its version and dates in the reader's
// language, and sends the PDF. Its bytes depend on the versions only: the document's date
// is the latest publication among them.
func (s *Server) sendTermsPDF(c *fiber.Ctx, title string, docs []*docView) error {
	st := St(c)
	created := docs[0].InForce.PublishedAt
	for _, v := range docs {
		if v.InForce.PublishedAt.After(created) {
			created = v.InForce.PublishedAt
		}
	}
	brand := st.Tenant.Settings.Branding.Name
	d := pdfdoc.New(title, brand, created)
	if len(docs) > 1 {
		d.Heading(brand+" — "+title, 18)
	}
	for _, v := range docs {
		d.Heading(v.Title, 16)
		d.Text(strings.Join([]string{st.Loc.T("terms.version", "Version", v.InForce.Version),
			st.Loc.T("terms.published_on", "Date", formatDay(st.Lang, v.InForce.PublishedAt, st.Tenant)),
			st.Loc.T("terms.effective_since", "Date", formatDay(st.Lang, v.InForce.EffectiveAt, st.Tenant))}, " · "))
		if up := v.Upcoming; up != nil {
			d.Text(st.Loc.T("terms.upcoming", "Version", up.Version, "Date", formatDay(st.Lang, up.EffectiveAt, st.Tenant)))
		}
		txt, err := s.Terms.Text(c.UserContext(), st.Tenant.ID, v.InForce.ID, st.Lang, st.Tenant.Settings.DefaultLocale)
		if err != nil {
			return err
		}
		for i, b := range mdtext.Blocks(txt.Body) {
			switch {
			case b.Heading == 1 && i == 0 && b.Text == v.Title:
				// The title, already written above.
			case b.Heading > 0:
				d.Heading(b.Text, headingSize(b.Heading))
			case b.Marker != "":
				d.Text(b.Marker + " " + b.Text)
			default:
				d.Text(b.Text)
			}
		}
	}
	out, err := d.Bytes()
	if err != nil {
		return fmt.Errorf("terms pdf: %w", err)
	}
	// Saved under its title in the reader's words (RFC 6266), or the operator's host name
	// where a browser cannot read that.
	c.Set(fiber.HeaderContentType, "application/pdf")
	c.Set(fiber.HeaderContentDisposition, fmt.Sprintf(`inline; filename="%s.pdf"; filename*=UTF-8''%s`,
		st.Tenant.Slug, url.PathEscape(brand+" - "+title+".pdf")))
	c.Set(fiber.HeaderCacheControl, "private, no-cache")
	c.Set("Content-Language", st.Lang)
	return c.Send(out)
}

// headingSize is the size in points of a heading of a level.
func headingSize(level int) float64 {
	switch level {
	case 1:
		return 15
	case 2:
		return 13
	}
	return 11
}
