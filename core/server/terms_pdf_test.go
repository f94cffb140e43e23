package server_test

import (
	"bytes"
	"context"
	"os/exec"
	"strings"
	"testing"

	"carenet.dev/platform/core/browsertest"
	"carenet.dev/platform/core/db/dbtest"
	"carenet.dev/platform/core/terms"
	"carenet.dev/platform/locales"
	"carenet.dev/platform/plugins/kit/mdtext"
)

// pdfText reads a PDF back with poppler's pdftotext, as a person's reader would.
func pdfText(t *testing.T, pdf []byte) string {
	t.Helper()
	if _, err := exec.LookPath("pdftotext"); err != nil {
		t.Fatal("pdftotext (poppler-utils) is needed to read PDFs back")
	}
	cmd := exec.Command("pdftotext", "-enc", "UTF-8", "-", "-")
	cmd.Stdin = bytes.NewReader(pdf)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("pdftotext: %v", err)
	}
	// One space for any run of blanks: the reader wraps lines where the page ends.
	return strings.Join(strings.Fields(string(out)), " ")
}

// TestTermsAsOnePDF: the tenant's terms in force are one PDF at a fixed address, /terms.pdf,
// and each document at /terms/<doc>.pdf, in the reader's language (fr, pl, sk), with each
// document's version and dates written as the language writes them, linked from the terms
// pages; read back with pdftotext (P6, C18, issue 13.10).
func TestTermsAsOnePDF(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, b dbtest.Backend) {
		e := newEnv(t, b)
		ctx := context.Background()
		pages := map[string]string{}
		for _, tc := range []struct{ slug, lang string }{{"secretaires", "fr"}, {"elekarze", "pl"}, {"unilabs", "sk"}} {
			tn := e.tenant(tc.slug)
			c := e.client(tc.slug + ".localhost")
			idx := c.get("/terms")
			mustContain(t, idx, `href="/terms.pdf"`, `href="/terms/`+terms.DocPlatform+`.pdf"`)
			page := c.get("/terms/" + terms.DocPlatform)
			mustContain(t, page, `href="/terms/`+terms.DocPlatform+`.pdf"`, `href="/terms.pdf"`)
			pages[tc.slug+" terms"], pages[tc.slug+" platform terms"] = idx.Body, page.Body
			r := c.get("/terms.pdf")
			if r.Status != 200 || r.Header.Get("Content-Type") != "application/pdf" || !strings.HasPrefix(r.Body, "%PDF-") {
				t.Fatalf("%s /terms.pdf: %d %s", tc.slug, r.Status, r.Header.Get("Content-Type"))
			}
			all := pdfText(t, []byte(r.Body))
			docs := append([]string{terms.DocPlatform}, tn.EnabledModules()...)
			n := 0
			for _, doc := range docs {
				v, err := e.srv.Terms.InForce(ctx, tn.ID, doc)
				if err != nil {
					continue // a module without terms of its own
				}
				n++
				txt, err := e.srv.Terms.Text(ctx, tn.ID, v.ID, tc.lang, tn.Settings.DefaultLocale)
				if err != nil {
					t.Fatal(err)
				}
				if txt.Locale != tc.lang {
					t.Fatalf("%s: the %s text is in %s", tc.slug, doc, txt.Locale)
				}
				// Its title, a heading and the last words of its body, and its dates in the
				// reader's way of writing them.
				blocks := mdtext.Blocks(txt.Body)
				var heading string
				for _, bl := range blocks {
					if bl.Heading > 1 {
						heading = bl.Text
						break
					}
				}
				last := strings.Fields(blocks[len(blocks)-1].Text)
				tail := strings.Join(last[max(0, len(last)-4):], " ")
				eff := locales.FormatDate(tc.lang, v.EffectiveAt, tn.Location())
				for _, want := range []string{txt.Title, heading, tail, eff} {
					if !strings.Contains(all, strings.Join(strings.Fields(want), " ")) {
						t.Errorf("%s /terms.pdf lacks %q of %s", tc.slug, want, doc)
					}
				}
				one := c.get("/terms/" + doc + ".pdf")
				if one.Status != 200 {
					t.Fatalf("%s /terms/%s.pdf: %d", tc.slug, doc, one.Status)
				}
				if got := pdfText(t, []byte(one.Body)); !strings.Contains(got, heading) || !strings.Contains(got, eff) {
					t.Errorf("%s /terms/%s.pdf lacks its text", tc.slug, doc)
				}
			}
			if n < 2 {
				t.Fatalf("%s: %d documents in force", tc.slug, n)
			}
			for _, bad := range []string{"**", "##", "{{", "terms."} {
				if strings.Contains(all, bad) {
					t.Errorf("%s /terms.pdf shows %q", tc.slug, bad)
				}
			}
			if r := c.get("/terms/nothing.pdf"); r.Status != 404 {
				t.Errorf("an unknown document's PDF: %d", r.Status)
			}
		}
		t.Run("valid HTML", func(t *testing.T) {
			problems, err := browsertest.NeedChecks(t).ValidateHTML(pages)
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range problems {
				t.Error(p)
			}
		})
	})
}
