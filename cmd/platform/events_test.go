package main

import (
	"context"
	"database/sql"
	"net/url"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/uptrace/bun/driver/pgdriver"

	"carenet.dev/platform/core/accounts"
	"carenet.dev/platform/core/authz"
	"carenet.dev/platform/core/db"
	"carenet.dev/platform/core/db/dbtest"
	"carenet.dev/platform/core/tenancy"
)

// moduleDB opens a module's database from outside, as the server's administrator (who is
// not held by the module's row-level security).
func (p *platform) moduleDB(t *testing.T, module string) *sql.DB {
	t.Helper()
	if p.dsn == "" {
		d, err := sql.Open("sqlite", "file:"+filepath.Join(p.data, "modules", module+".db")+"?mode=ro")
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	u, _ := url.Parse(p.dsn)
	q := u.Query()
	q.Set("search_path", "mod_"+module)
	u.RawQuery = q.Encode()
	return sql.OpenDB(pgdriver.NewConnector(pgdriver.WithDSN(u.String())))
}

// count runs a count query on a module's database.
func (p *platform) count(t *testing.T, module, query string, args ...any) int {
	t.Helper()
	d := p.moduleDB(t, module)
	defer d.Close()
	if p.dsn != "" {
		query = pgPlaceholders(query)
	}
	var n int
	if err := d.QueryRow(query, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

func pgPlaceholders(q string) string {
	var b strings.Builder
	n := 0
	for _, r := range q {
		if r == '?' {
			n++
			b.WriteString("$" + string(rune('0'+n)))
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// failModule kills a module until its restart budget is spent: it stays down ("failed")
// until a platform admin restarts it.
func (p *platform) failModule(t *testing.T, id string) {
	t.Helper()
	last := 0
	for i := 0; i < 3; i++ {
		deadline := time.Now().Add(10 * time.Second)
		pid := p.pid(id)
		for pid == 0 || pid == last {
			if time.Now().After(deadline) {
				t.Fatalf("%s not relaunched after kill %d", id, i)
			}
			time.Sleep(50 * time.Millisecond)
			pid = p.pid(id)
		}
		if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		last = pid
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		for _, m := range p.ready().Modules {
			if m.ID == id && m.State == "failed" {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not fail: %+v", id, p.ready())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestCoreEventsWaitForADownModule: the core's events reach a module for sure (P11, R3, R7).
// The results module is down; a patient deletes her account and another verifies hers; the
// module is restarted by the platform admin; the erasure and the match are then done — the
// events waited in the durable jobs rather than being lost.
func TestCoreEventsWaitForADownModule(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, be dbtest.Backend) {
		p := startPlatformOn(t, be, filepath.Join("..", "..", "tenants"))
		ctx := context.Background()
		d, err := db.Open(ctx, db.Config{DSN: p.dsn, DataDir: p.data})
		if err != nil {
			t.Fatal(err)
		}
		mlab, _ := (&tenancy.Store{DB: d}).BySlug(ctx, "mlab")
		demo, err := accounts.NewService(d, authz.NewService(d)).ByEmail(ctx, mlab.ID, "user@mlab.localhost")
		d.Close()
		if err != nil {
			t.Fatal(err)
		}
		// The demo patient is linked to her lab record (the demo data, told by an event too).
		deadline := time.Now().Add(15 * time.Second)
		for p.count(t, "results", "SELECT count(*) FROM results_lab_patients WHERE lab_patient_id = 'DEMO-P-0001' AND user_id = ?", demo.ID) != 1 {
			if time.Now().After(deadline) {
				t.Fatal("the demo patient was never linked")
			}
			time.Sleep(100 * time.Millisecond)
		}

		p.failModule(t, "results")

		// She deletes her account while the module is down.
		u := p.browser("mlab.localhost")
		u.login("user@mlab.localhost", "demo-mlab-user")
		if code, body := u.post("/account/delete", "/account/delete", url.Values{"password": {"demo-mlab-user"}}); code != 200 {
			t.Fatalf("delete: %d %s", code, body)
		}
		// Marie Durand, née Martin, registers and verifies: the lab has her record (the demo's).
		marie := p.browser("mlab.localhost")
		code, page := marie.post("/register", "/register", url.Values{"email": {"marie@example.org"}, "password": {"Correct-Horse-42"},
			"password2": {"Correct-Horse-42"}, "name": {"Marie Durand"}, "birth_date": {"1985-03-02"}, "birth_name": {"Martin"},
			"secret_question": {"Ville de naissance ?"}, "secret_answer": {"Lyon"}, "accept_terms": {"yes"}, "consent_data_processing": {"yes"}})
		if code != 200 {
			t.Fatalf("register: %d\n%s", code, page)
		}
		link, _ := url.Parse(linkRe.FindString(p.lastMailTo(t, "mlab", "marie@example.org")))
		if code, page := marie.post(link.RequestURI(), "/verify", url.Values{"token": {link.Query().Get("token")}}); code != 200 {
			t.Fatalf("verify: %d\n%s", code, page)
		}
		// Nothing reached the module yet: it is down.
		if n := p.count(t, "results", "SELECT count(*) FROM results_accounts WHERE user_id = ?", demo.ID); n != 1 {
			t.Fatalf("the erasure happened while the module was down (%d)", n)
		}
		if n := p.count(t, "results", "SELECT count(*) FROM results_accounts WHERE name = 'Marie Durand'"); n != 0 {
			t.Fatalf("the verification reached a module that is down (%d)", n)
		}

		// The platform admin restarts it: what waited is delivered.
		admin := p.browser("admin.localhost")
		admin.login("admin@platform.localhost", "demo-platform-admin")
		if code, _ := admin.post("/platform/modules", "/platform/modules/results/restart", url.Values{}); code != 303 {
			t.Fatalf("restart: %d", code)
		}
		deadline = time.Now().Add(20 * time.Second)
		for {
			erased := p.count(t, "results", "SELECT count(*) FROM results_accounts WHERE user_id = ?", demo.ID) == 0 &&
				p.count(t, "results", "SELECT count(*) FROM results_lab_patients WHERE user_id = ?", demo.ID) == 0 &&
				p.count(t, "results", "SELECT count(*) FROM results_events WHERE payload = ?", demo.ID) == 0
			matched := p.count(t, "results", `SELECT count(*) FROM results_accounts AS a JOIN results_lab_patients AS l
				ON l.tenant_id = a.tenant_id AND l.user_id = a.user_id WHERE a.name = 'Marie Durand' AND a.state = 'linked'
				AND l.lab_patient_id = 'DEMO-P-0002'`) == 1
			if erased && matched {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("after the restart: erased %v, matched %v\n%s", erased, matched, p.logs.String())
			}
			time.Sleep(200 * time.Millisecond)
		}
		// Marie sees her result.
		marie.login("marie@example.org", "Correct-Horse-42")
		marie.acceptModuleTerms("results", "/results/mine")
		if _, page := marie.do("GET", "/results/mine", nil); !strings.Contains(page, "/results/r/") {
			t.Fatalf("Marie's results:\n%s", page)
		}
	})
}
