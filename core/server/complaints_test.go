package server_test

import (
	"bytes"
	"context"
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

var pdf = []byte("%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF")

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
		if r.Status != 422 || !strings.Contains(r.Body, "PDF, JPEG, PNG") {
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
		list, _ := e.srv.Complaints.Queue(ctx, plt.ID, "open")
		if len(list) != 1 {
			t.Fatalf("queue: %d", len(list))
		}
		page := "/admin/complaints/" + list[0].ID
		if r := admin.post(page, page+"/extend", url.Values{"days": {"6"}, "reason": {"ekspertyza"}}); r.Status != 422 {
			t.Fatalf("extension beyond the rule: %d", r.Status)
		}
		if r := admin.post(page, page+"/extend", url.Values{"days": {"5"}, "reason": {"ekspertyza"}}); r.Status != 303 {
			t.Fatalf("extend: %d", r.Status)
		}
		if r := admin.post(page, page+"/extend", url.Values{"days": {"1"}, "reason": {"again"}}); r.Status != 422 && r.Status != 200 {
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
