package server_test

import (
	"bytes"
	"context"
	"image"
	"image/png"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"carenet.dev/platform/core/db/dbtest"
	"carenet.dev/platform/plugins/kit/pdfdoc"
)

// postMultipart submits the complaint form with files, as a browser does.
func (c *client) postMultipart(page, path string, fields url.Values, files map[string][]byte) *response {
	c.e.t.Helper()
	tok := csrfRe.FindStringSubmatch(c.get(page).Body)[1]
	var body bytes.Buffer
	w := multipart.NewWriter(&body)
	w.WriteField("_csrf", tok)
	for k, vs := range fields {
		for _, v := range vs {
			w.WriteField(k, v)
		}
	}
	for name, data := range files {
		fw, _ := w.CreateFormFile("files", name)
		fw.Write(data)
	}
	w.Close()
	req := httptest.NewRequest(http.MethodPost, "http://"+c.host+path, &body)
	req.Header.Set("Content-Type", w.FormDataContentType())
	for _, ck := range c.jar.Cookies(mustURL("http://" + c.host + path)) {
		req.AddCookie(ck)
	}
	res, err := c.e.srv.App.Test(req, -1)
	if err != nil {
		c.e.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	c.jar.SetCookies(mustURL("http://"+c.host+path), res.Cookies())
	return &response{Status: res.StatusCode, Body: string(b), Header: res.Header}
}

// pdf is a real one-page PDF: an upload must parse as what it is (issue 11.9).
var pdf = func() []byte {
	d := pdfdoc.New("Facture", "Test", time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC))
	d.Text("Facture n° 12")
	b, err := d.Bytes()
	if err != nil {
		panic(err)
	}
	return b
}()

// TestComplaintsFollowTheTenantsRules: the form asks what the tenant's rules require (001:
// client identifier and documents); the receipt gives the due date from the rule (14 days
// for elekarze, 30 for secretaires); staff see the queue with due dates, extend once by at
// most the rule, and answer to the address given (P10).
func TestComplaintsFollowTheTenantsRules(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, b dbtest.Backend) {
		e := newEnv(t, b)
		ctx := context.Background()
		sec := e.client("secretaires.localhost")
		r := sec.postMultipart("/complaints/new", "/complaints", url.Values{"module": {"billing"}, "category": {"billing"},
			"body": {"Facture erronée"}, "reply_to": {"client@example.org"}}, nil)
		if r.Status != 422 {
			t.Fatalf("without identifier and documents: %d", r.Status)
		}
		mustContain(t, r, `id="e-client_ref"`, `id="e-files"`, "identifiant client")
		r = sec.postMultipart("/complaints/new", "/complaints", url.Values{"module": {"billing"}, "category": {"billing"},
			"body": {"Facture erronée"}, "reply_to": {"client@example.org"}, "client_ref": {"CLI-42"}},
			map[string][]byte{"script.pdf": []byte("<html><script>alert(1)</script>")})
		if r.Status != 422 || !strings.Contains(r.Body, "seuls des PDF lisibles et des images JPEG ou PNG") {
			t.Fatalf("a file that is not what it says: %d", r.Status)
		}
		r = sec.postMultipart("/complaints/new", "/complaints", url.Values{"module": {"billing"}, "category": {"billing"},
			"body": {"Facture erronée"}, "reply_to": {"client@example.org"}, "client_ref": {"CLI-42"}},
			map[string][]byte{"facture.pdf": pdf})
		if r.Status != 200 {
			t.Fatalf("lodge: %d %s", r.Status, mainOf(r.Body))
		}
		st := e.tenant("secretaires")
		due30 := time.Now().In(st.Location()).AddDate(0, 0, 30).Format("02/01/2006")
		mustContain(t, r, "Réclamation reçue", due30)
		ref := regexp.MustCompile(`C-\d{8}-[0-9A-F]{6}`).FindString(r.Body)
		ms := e.mails("secretaires")
		if last := ms[len(ms)-1]; !strings.Contains(last.To, "client@example.org") || !strings.Contains(last.Subject, ref) {
			t.Fatalf("receipt: %+v", last)
		}

		// elekarze: 14 days, extendable once by at most 5.
		pl := e.client("elekarze.localhost")
		r = pl.postMultipart("/complaints/new", "/complaints", url.Values{"module": {"calendar"}, "category": {"service"},
			"body": {"Nie działa"}, "reply_to": {"pacjent@example.org"}}, nil)
		plt := e.tenant("elekarze")
		mustContain(t, r, time.Now().In(plt.Location()).AddDate(0, 0, 14).Format("02.01.2006"))
		admin := e.client("elekarze.localhost")
		admin.login("", "admin@elekarze.localhost", "demo-elekarze-admin")
		q := admin.get("/admin/complaints")
		mustContain(t, q, "C-")
		mustNotContain(t, q, ref) // another tenant's complaint
		// What it is about, in words: the module's name, not its id (issue 12.13).
		mustNotContain(t, q, `">calendar</td>`)
		mustContain(t, q, `">Wizyty</td>`)
		list, _ := e.srv.Complaints.Queue(ctx, plt.ID, "open")
		if len(list) != 1 {
			t.Fatalf("queue: %d", len(list))
		}
		page := "/admin/complaints/" + list[0].ID
		if r := admin.post(page, page+"/extend", url.Values{"days": {"6"}, "reason": {"special_knowledge"}}); r.Status != 422 {
			t.Fatalf("extension beyond the rule: %d", r.Status)
		}
		if r := admin.post(page, page+"/extend", url.Values{"days": {"5"}, "reason": {"special_knowledge"}}); r.Status != 303 {
			t.Fatalf("extend: %d", r.Status)
		}
		if r := admin.post(page, page+"/extend", url.Values{"days": {"1"}, "reason": {"outside_control"}}); r.Status != 422 && r.Status != 200 {
			t.Fatalf("second extension: %d", r.Status)
		}
		got, _ := e.srv.Complaints.Get(ctx, plt.ID, list[0].ID)
		if got.ExtendedDays != 5 || !got.DueAt.After(list[0].DueAt.AddDate(0, 0, 4)) {
			t.Fatalf("extension: %d days, due %s", got.ExtendedDays, got.DueAt)
		}
		// Overdue marking: 20 days later the queue marks it.
		e.srv.Complaints.Now = func() time.Time { return time.Now().UTC().AddDate(0, 0, 20) }
		mustContain(t, admin.get("/admin/complaints"), "Po terminie")
		e.srv.Complaints.Now = func() time.Time { return time.Now().UTC() }
		if r := admin.post(page, page+"/answer", url.Values{"answer": {"Naprawiliśmy błąd."}}); r.Status != 303 {
			t.Fatalf("answer: %d", r.Status)
		}
		ms = e.mails("elekarze")
		if last := ms[len(ms)-1]; !strings.Contains(last.To, "pacjent@example.org") || !strings.Contains(last.Text, "Naprawiliśmy błąd.") {
			t.Fatalf("answer mail: %+v", last)
		}
		// The secretaires complaint's file is served to its staff only.
		sa := e.client("secretaires.localhost")
		sa.login("", "admin@secretaires.localhost", "demo-secretaires-admin")
		sl, _ := e.srv.Complaints.Queue(ctx, st.ID, "open")
		c1, _ := e.srv.Complaints.Get(ctx, st.ID, sl[0].ID)
		if r := sa.get("/admin/complaints/" + c1.ID + "/files/" + c1.Files[0].ID); r.Status != 200 || r.Body != string(pdf) {
			t.Fatalf("file: %d", r.Status)
		}
		if r := admin.get("/admin/complaints/" + c1.ID + "/files/" + c1.Files[0].ID); r.Status != 404 {
			t.Fatalf("another tenant's file: %d", r.Status)
		}
	})
}

// TestComplaintUploadsAreWhatTheyAre: an SVG carrying a script and HTML behind a "%PDF-"
// header are refused with a localized message next to the field and nothing is stored; a
// real image is kept under a name the server chose, the person's file name only cleaned for
// display, and is served as what its bytes are, as a download under a policy that runs
// nothing (issue 11.9, P10, P11).
func TestComplaintUploadsAreWhatTheyAre(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, b dbtest.Backend) {
		e := newEnv(t, b)
		ctx := context.Background()
		sec := e.client("secretaires.localhost")
		fields := url.Values{"module": {"billing"}, "category": {"billing"}, "body": {"Facture erronée"},
			"reply_to": {"client@example.org"}, "client_ref": {"CLI-42"}}
		st := e.tenant("secretaires")
		for name, data := range map[string][]byte{
			"scan.svg":    []byte(`<svg xmlns="http://www.w3.org/2000/svg"><script>alert(document.cookie)</script></svg>`),
			"facture.pdf": []byte("%PDF-1.4\n<html><body><script>alert(document.cookie)</script></body></html>"),
		} {
			r := sec.postMultipart("/complaints/new", "/complaints", fields, map[string][]byte{name: data})
			if r.Status != 422 {
				t.Fatalf("%s: %d, want 422", name, r.Status)
			}
			mustContain(t, r, `id="e-files"`, "Ce fichier n’a pas été accepté")
			if l, _ := e.srv.Complaints.Queue(ctx, st.ID, ""); len(l) != 0 {
				t.Fatalf("%s: a complaint was stored", name)
			}
		}
		img := image.NewRGBA(image.Rect(0, 0, 2, 2))
		var pngb bytes.Buffer
		if err := png.Encode(&pngb, img); err != nil {
			t.Fatal(err)
		}
		r := sec.postMultipart("/complaints/new", "/complaints", fields, map[string][]byte{"../../photo\"<b>.svg": pngb.Bytes()})
		if r.Status != 200 {
			t.Fatalf("a real image: %d %s", r.Status, mainOf(r.Body))
		}
		l, _ := e.srv.Complaints.Queue(ctx, st.ID, "")
		c1, err := e.srv.Complaints.Get(ctx, st.ID, l[0].ID)
		if err != nil || len(c1.Files) != 1 {
			t.Fatalf("stored: %v %+v", err, c1)
		}
		if f := c1.Files[0]; f.Name != "photo__b_.svg" || f.ContentType != "image/png" {
			t.Fatalf("stored as %q %q", f.Name, f.ContentType)
		}
		sa := e.client("secretaires.localhost")
		sa.login("", "admin@secretaires.localhost", "demo-secretaires-admin")
		g := sa.get("/admin/complaints/" + c1.ID + "/files/" + c1.Files[0].ID)
		if g.Status != 200 || g.Body != pngb.String() {
			t.Fatalf("file: %d", g.Status)
		}
		for k, want := range map[string]string{"Content-Type": "image/png", "X-Content-Type-Options": "nosniff",
			"Content-Disposition": "attachment; filename=photo__b_.png", "Content-Security-Policy": "default-src 'none'; sandbox; frame-ancestors 'none'"} {
			if got := g.Header.Get(k); got != want {
				t.Errorf("%s: %q, want %q", k, got, want)
			}
		}
	})
}
