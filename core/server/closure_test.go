package server_test

import (
	"context"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"carenet.dev/platform/core/accounts"
	"carenet.dev/platform/core/audit"
	"carenet.dev/platform/core/browsertest"
	"carenet.dev/platform/core/db"
	"carenet.dev/platform/core/db/dbtest"
)

var (
	complaintLinkRe = regexp.MustCompile(`href="(/admin/complaints/[0-9a-f-]{36})"`)
	plDateRe        = regexp.MustCompile(`do \d{2}\.\d{2}\.\d{4}`)
)

// TestClosedPersonAppeals (issue 12.10; P2, R6): a person whose account the operator closed
// for inactivity is told so in his language with the way to appeal until the end of the
// tenant's appeal period (account.closed_appeal_days); his appeal, lodged from the link
// without an account, reaches staff beside what was kept of him (name, address, closure),
// who decide it once (two at the same time: one decision), the decision audited and written
// to him in his language. What was kept is erased once the period ends, except while an
// appeal lodged in time waits for its decision.
func TestClosedPersonAppeals(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, b dbtest.Backend) {
		e := newEnv(t, b)
		ctx := context.Background()
		e.setRule("mlab", "account.inactive_close_days", 365)
		e.setRule("mlab", "account.closed_appeal_days", 20)
		e.registerVerified("mlab.localhost", "mlab", "zoe@example.org")
		e.registerVerified("mlab.localhost", "mlab", "yan@example.org")
		tn := e.tenant("mlab")
		err := e.srv.DB.InTenant(ctx, tn.ID, func(ctx context.Context, sc *db.Scope) error {
			_, err := sc.Update((*accounts.User)(nil)).Set("locale = 'pl'").Where("email = 'zoe@example.org'").Exec(ctx)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		smtpd := startSMTP(t)
		e.srv.Mail.Email = smtpd.transport()
		defer func() { e.srv.Mail.Email = nil }()
		at := func(days int) {
			e.srv.Accounts.Now = func() time.Time { return time.Now().UTC().Add(time.Duration(days) * 24 * time.Hour) }
		}
		defer at(0)
		mailTo := func(addr, subject string) mailMsg {
			t.Helper()
			for _, m := range smtpd.messages(t) {
				if strings.Contains(m.To, addr) && strings.Contains(m.Subject, subject) {
					return m
				}
			}
			t.Fatalf("no mail to %s about %q", addr, subject)
			return mailMsg{}
		}

		// A year and more later: the admin still signs in, Zoe and Yan did not.
		at(400)
		admin := e.client("mlab.localhost")
		admin.login("", "admin@mlab.localhost", "demo-mlab-admin")
		if err := e.srv.Sweep(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := e.srv.Accounts.ByEmail(ctx, tn.ID, "zoe@example.org"); err != accounts.ErrNotFound {
			t.Fatalf("inactive account kept: %v", err)
		}
		notice := mailTo("zoe@example.org", "zostało zamknięte")
		if !appealLinkRe.MatchString(notice.Text) || !plDateRe.MatchString(notice.Text) || !strings.Contains(notice.HTML, "Odwołaj się od zamknięcia") {
			t.Fatalf("closure notice without the appeal and its deadline:\n%s", notice.Text)
		}

		// Both appeal from the link, without an account.
		for _, addr := range []string{"Zoe@Example.org", "yan@example.org"} {
			c := e.client("mlab.localhost")
			r := c.postMultipart("/complaints/new?category=appeal", "/complaints", url.Values{"module": {"platform"}, "category": {"appeal"},
				"body": {"Je conteste la fermeture de mon compte."}, "reply_to": {addr}}, nil)
			if r.Status != 200 {
				t.Fatalf("appeal %s: %d %s", addr, r.Status, mainOf(r.Body))
			}
		}
		pageOf := func(addr string) string {
			t.Helper()
			for _, m := range complaintLinkRe.FindAllStringSubmatch(admin.get("/admin/complaints").Body, -1) {
				if strings.Contains(admin.get(m[1]).Body, addr) {
					return m[1]
				}
			}
			t.Fatalf("no appeal from %s in the queue", addr)
			return ""
		}
		zoe, yan := pageOf("zoe@example.org"), pageOf("yan@example.org")
		r := admin.get(zoe)
		mustContain(t, r, "Compte fermé", "Jeanne Martin — zoe@example.org", "inactivité", "Recours accepté", "Recours rejeté")
		mustNotContain(t, r, zoe+"/answer")

		// A decision without its choice: said next to it, nothing decided.
		bad := admin.post(zoe, zoe+"/closure", url.Values{"answer": {"Votre compte est resté inutilisé plus d’un an."}})
		if bad.Status != 422 || !strings.Contains(bad.Body, `id="e-decision"`) {
			t.Fatalf("decision without a choice: %d %s", bad.Status, mainOf(bad.Body))
		}
		t.Run("valid HTML", func(t *testing.T) {
			problems, err := browsertest.NeedChecks(t).ValidateHTML(map[string]string{"appeal": r.Body, "appeal with an error": bad.Body})
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range problems {
				t.Error(p)
			}
		})
		// Two staff members refuse at the same time: one decision, one e-mail.
		other := e.client("mlab.localhost")
		other.login("", "admin@mlab.localhost", "demo-mlab-admin")
		var wg sync.WaitGroup
		codes := make([]int, 2)
		for i, c := range []*client{admin, other} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				codes[i] = c.post(zoe, zoe+"/closure", url.Values{"decision": {"refused"}, "answer": {"Votre compte est resté inutilisé plus d’un an."}}).Status
			}()
		}
		wg.Wait()
		if !(codes[0] == 303 && codes[1] == 409 || codes[0] == 409 && codes[1] == 303) {
			t.Fatalf("two decisions at once: %v", codes)
		}
		n := 0
		for _, m := range smtpd.messages(t) {
			if strings.Contains(m.To, "zoe@example.org") && strings.Contains(m.Subject, "nie zostało uwzględnione") {
				n++
				if !strings.Contains(m.Text, "Votre compte est resté inutilisé plus d’un an.") || m.Lang != "pl" {
					t.Fatalf("decision mail: %+v", m)
				}
			}
		}
		if n != 1 {
			t.Fatalf("%d decision mails", n)
		}
		if entries, _ := e.srv.Trail.Search(ctx, tn.ID, audit.Filter{Action: "admin.closure_appeal_refused", ExactAction: true}); len(entries) != 1 {
			t.Fatalf("%d decisions audited", len(entries))
		}
		mustContain(t, admin.get(zoe), "Recours rejeté —")

		// The appeal period ends: Zoe's decided closure is erased, Yan's appeal still waits.
		at(421)
		admin.login("", "admin@mlab.localhost", "demo-mlab-admin") // his session of then ended
		if err := e.srv.Sweep(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := e.srv.Accounts.ClosureOfAppeal(ctx, tn.ID, strings.TrimPrefix(zoe, "/admin/complaints/")); err != accounts.ErrNotFound {
			t.Fatalf("decided closure kept after its period: %v", err)
		}
		if _, err := e.srv.Accounts.ClosureOfAppeal(ctx, tn.ID, strings.TrimPrefix(yan, "/admin/complaints/")); err != nil {
			t.Fatalf("closure erased while its appeal waits: %v", err)
		}
		if r := admin.post(yan, yan+"/closure", url.Values{"decision": {"granted"}, "answer": {"Nous rouvrons votre accès."}}); r.Status != 303 {
			t.Fatalf("grant: %d %s", r.Status, mainOf(r.Body))
		}
		granted := mailTo("yan@example.org", "est accepté")
		if !strings.Contains(granted.Text, "Nous rouvrons votre accès.") || !strings.Contains(granted.Text, "http://mlab.localhost:8080/register") {
			t.Fatalf("granted mail:\n%s", granted.Text)
		}
		if err := e.srv.Sweep(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := e.srv.Accounts.ClosureOfAppeal(ctx, tn.ID, strings.TrimPrefix(yan, "/admin/complaints/")); err != accounts.ErrNotFound {
			t.Fatalf("decided closure kept after its period: %v", err)
		}
	})
}
