package main

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"carenet.dev/platform/core/db/dbtest"
)

// statements reads what the platform reports a request ran (X-Statements, development runs):
// the statements of the core's databases and of the module's.
func statements(t *testing.T, b *browser, what string) (core, module int) {
	t.Helper()
	h := b.last.Get("X-Statements")
	if _, err := fmt.Sscanf(h, "core=%d module=%d", &core, &module); err != nil {
		t.Fatalf("%s: no statement count in %q", what, h)
	}
	return core, module
}

// TestStatementBudget: once the instance has seen a tenant, an anonymous page runs at most
// one statement, a signed-in core page at most three, and a signed-in module page at most
// three in the core plus what the module needs (results' list of a patient's reports: two;
// with the demo patient's daughter, two more for the people he represents, however many:
// their records and their reports, issue 12.9; billing's pages, issue 15) — on SQLite and on
// PostgreSQL, with the real modules (issue 10).
func TestStatementBudget(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, backend dbtest.Backend) {
		p := startPlatformOn(t, backend, filepath.Join("..", "..", "tenants"))
		pages := []struct {
			who, path, want string
			core, module    int
		}{
			{"anonymous", "/", "Se connecter", 1, 0},
			{"anonymous", "/login", `name="password"`, 1, 0},
			{"signed in", "/", "Se déconnecter", 3, 0},
			// The account page reads one more: a change of the login e-mail waiting for its
			// link (issue 14, E2), beside the session, the consents and the people represented.
			{"signed in", "/account", "Accès à mes données", 4, 0},
			{"signed in", "/results/mine", "/results/family/r/", 3, 4},
			// Billing (issue 15), on secretaires: the clerk's lists and the client's invoices
			// are one statement however many rows; the portal reads the client's subscription,
			// its plan, options, texts, tariff and figures, then his overdue invoices and the
			// latest formal notice (10). The consumption page reads the subscription and its
			// plan, the counts of the current period and the 6 before it that it shows (their
			// counters, and whether any event is in none: 2), and for each period the tariff
			// then in force (a refusal, the tariff, its prices): 2 + 2 + 7 × 3 = 25, bounded
			// by the periods shown, not by the calls counted.
			{"billing client", "/billing/portal", "/billing/contract", 3, 10},
			{"billing client", "/billing/invoices", "/billing/invoices/", 3, 1},
			{"billing client", "/billing/usage", "/billing/messages", 3, 25},
			{"billing clerk", "/billing/manage", "/billing/manage/subscriptions/", 3, 1},
			{"billing clerk", "/billing/manage/invoices", "/billing/manage/invoices/", 3, 1},
			{"billing clerk", "/billing/manage/runs", "/billing/manage/runs/", 3, 1},
		}
		anon := p.browser("mlab.localhost")
		user := p.browser("mlab.localhost")
		user.login("user@mlab.localhost", "demo-mlab-user")
		// The module makes the demo patient's reports once it is told of her account.
		deadline := time.Now().Add(30 * time.Second)
		for {
			if code, body := user.do("GET", "/results/mine", nil); code == 200 && strings.Contains(body, "/results/r/") {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("the demo patient's reports never appeared")
			}
			time.Sleep(200 * time.Millisecond)
		}
		client := p.browser("secretaires.localhost")
		client.login("user@secretaires.localhost", "demo-secretaires-user")
		clerk := p.browser("secretaires.localhost")
		clerk.login("billing-clerk@secretaires.localhost", "demo-secretaires-billing_clerk")
		for _, pg := range pages {
			b := map[string]*browser{"anonymous": anon, "signed in": user, "billing client": client, "billing clerk": clerk}[pg.who]
			// The second request is the one that counts: the first may fill the caches.
			for i := 0; i < 2; i++ {
				if code, body := b.do("GET", pg.path, nil); code != 200 || !strings.Contains(body, pg.want) {
					t.Fatalf("%s %s: %d, want 200 with %q", pg.who, pg.path, code, pg.want)
				}
			}
			core, module := statements(t, b, pg.who+" "+pg.path)
			t.Logf("%s %s: %d statements in the core, %d in the module", pg.who, pg.path, core, module)
			if core > pg.core {
				t.Errorf("%s %s ran %d statements in the core, budget %d", pg.who, pg.path, core, pg.core)
			}
			if module > pg.module {
				t.Errorf("%s %s ran %d statements in the module, budget %d", pg.who, pg.path, module, pg.module)
			}
		}
	})
}
