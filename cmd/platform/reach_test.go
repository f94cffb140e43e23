package main

import (
	"context"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"carenet.dev/platform/core/accounts"
	"carenet.dev/platform/core/authz"
	"carenet.dev/platform/core/db"
	"carenet.dev/platform/core/db/dbtest"
	"carenet.dev/platform/core/tenancy"
)

// demoRoles are the demo accounts of each demo tenant, by the name of their role: the tenant
// admin, a user, and one per assignable role of the modules the tenant runs (`serve --demo`).
var demoRoles = map[string][]string{
	"mlab":        {"admin", "user", "lab_staff", "professional"},
	"elekarze":    {"admin", "user", "doctor", "facility"},
	"unilabs":     {"admin", "user", "shop_manager", "lab_staff"},
	"secretaires": {"admin", "user", "billing_clerk", "secretariat_agent", "doctor", "facility"},
}

// mayManage says who reaches the admin user pages of a tenant: the tenant admin, and mlab's
// lab staff, to whom the results module grants admin.users (R6). Only the admin holds
// admin.roles.
func mayManage(slug, role string) bool {
	return role == "admin" || slug == "mlab" && role == "lab_staff"
}

// mayReach is the rule under test (P3): the actor may act on the target's account only if
// every permission the target holds, he holds too. The tenant admin holds every permission of
// the tenant in effect (he manages the grants). mlab's lab staff hold the patients' rights and
// more, but not the admin's (admin.*), nor the professionals' (results.read_prescribed).
func mayReach(slug, actor, target string) bool {
	switch {
	case actor == "admin":
		return true
	case slug == "mlab" && actor == "lab_staff":
		return target == "user" || target == "lab_staff"
	}
	return false
}

func demoEmail(slug, role string) string {
	return strings.ReplaceAll(role, "_", "-") + "@" + slug + ".localhost"
}

// TestWhoMayActOnWhom: issue 11.4, P3. mlab's lab staff could block the tenant's admin.
// Table-driven over every pair of demo accounts of every demo tenant and every action on an
// account of the admin pages (block, unblock, give and take a role, check the secret answer,
// and what the user page offers): an action is allowed exactly when the actor reaches the
// page and may act on the target; refused, it is a 403 with a localized page and nothing
// changes. Nobody blocks himself.
func TestWhoMayActOnWhom(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, be dbtest.Backend) {
		p := startPlatformOn(t, be, filepath.Join("..", "..", "tenants"))
		ctx := context.Background()
		d, err := db.Open(ctx, db.Config{DSN: p.dsn, DataDir: p.data})
		if err != nil {
			t.Fatal(err)
		}
		defer d.Close()
		accts := accounts.NewService(d, authz.NewService(d))
		tenants := &tenancy.Store{DB: d}
		for slug, roles := range demoRoles {
			ten, err := tenants.BySlug(ctx, slug)
			if err != nil {
				t.Fatal(err)
			}
			users := map[string]*accounts.User{}
			for _, r := range roles {
				u, err := accts.ByEmail(ctx, ten.ID, demoEmail(slug, r))
				if err != nil {
					t.Fatalf("%s: demo account %s: %v", slug, r, err)
				}
				// A secret answer for the check (P2, R2).
				if err := accts.SetSecret(ctx, ten, u, "demo-"+slug+"-"+r, "Ville ?", "Lyon"); err != nil {
					t.Fatal(err)
				}
				users[r] = u
			}
			host := slug + ".localhost"
			status := func(role string) string {
				u, err := accts.ByID(ctx, ten.ID, users[role].ID)
				if err != nil {
					t.Fatal(err)
				}
				return u.Status
			}
			for _, actor := range roles {
				b := p.browser(host)
				b.login(demoEmail(slug, actor), "demo-"+slug+"-"+actor)
				for _, target := range roles {
					pair := slug + ": " + actor + " → " + target
					id := users[target].ID
					page := "/admin/users/" + id
					manage, reach := mayManage(slug, actor), mayReach(slug, actor, target)
					// refused checks a refusal: 403, and the rule's own page when the actor
					// reaches the admin pages at all.
					refused := func(what string, code int, body string) {
						t.Helper()
						if code != 403 {
							t.Fatalf("%s %s: %d, want 403", pair, what, code)
						}
						if manage && slug == "mlab" && !strings.Contains(body, "Ce compte détient des droits que vous n’avez pas") {
							t.Fatalf("%s %s: 403 without the localized refusal", pair, what)
						}
					}
					post := func(path string, form url.Values) (int, string) {
						// The form is taken from a page the actor reaches (the CSRF token).
						return b.post("/account", path, form)
					}

					// The user page offers the actions only when the actor may take them.
					code, body := b.do("GET", page, nil)
					switch {
					case !manage:
						if code != 403 {
							t.Fatalf("%s view: %d", pair, code)
						}
					case code != 200:
						t.Fatalf("%s view: %d", pair, code)
					case reach != strings.Contains(body, page+"/block"):
						t.Fatalf("%s view: block form offered = %v, want %v", pair, !reach, reach)
					}

					// Block.
					code, body = post(page+"/block", url.Values{"reason": {"test"}})
					switch {
					case manage && reach && actor == target:
						if code != 422 || status(target) != accounts.StatusActive {
							t.Fatalf("%s blocked himself: %d", pair, code)
						}
					case manage && reach:
						if code != 303 || status(target) != accounts.StatusBlocked {
							t.Fatalf("%s block: %d, %s", pair, code, status(target))
						}
					default:
						refused("block", code, body)
						if status(target) != accounts.StatusActive {
							t.Fatalf("%s block refused but the account is %s", pair, status(target))
						}
					}

					// Unblock (the target blocked beforehand, not by the actor).
					if actor != target {
						if status(target) == accounts.StatusActive {
							if err := accts.Block(ctx, ten, id, "set up"); err != nil {
								t.Fatal(err)
							}
						}
						code, body = post(page+"/unblock", url.Values{})
						if manage && reach {
							if code != 303 || status(target) != accounts.StatusActive {
								t.Fatalf("%s unblock: %d, %s", pair, code, status(target))
							}
						} else {
							refused("unblock", code, body)
							if status(target) != accounts.StatusBlocked {
								t.Fatalf("%s unblock refused but the account is %s", pair, status(target))
							}
							if err := accts.Unblock(ctx, ten, id); err != nil {
								t.Fatal(err)
							}
						}
					}

					// Give a module role, then take it back.
					role := "results.professional"
					if slug != "mlab" || target == "professional" {
						role = "tenant_admin"
					}
					if target == "admin" {
						role = "user"
					}
					rolesOf := func() string {
						var rs []string
						d.InTenant(ctx, ten.ID, func(ctx context.Context, sc *db.Scope) error {
							var err error
							rs, err = accts.Authz.UserRoles(ctx, sc, id)
							return err
						})
						return strings.Join(rs, ",")
					}
					before := rolesOf()
					if actor == "admin" {
						if target != "admin" {
							if code, _ = post(page+"/roles", url.Values{"role": {role}}); code != 303 || !strings.Contains(rolesOf(), role) {
								t.Fatalf("%s give %s: %d %s", pair, role, code, rolesOf())
							}
							if code, _ = post(page+"/roles/remove", url.Values{"role": {role}}); code != 303 || rolesOf() != before {
								t.Fatalf("%s take %s: %d %s", pair, role, code, rolesOf())
							}
						} else if code, _ = post(page+"/roles/remove", url.Values{"role": {"tenant_admin"}}); code != 422 || rolesOf() != before {
							t.Fatalf("%s took his own admin role: %d %s", pair, code, rolesOf())
						}
					} else {
						for _, path := range []string{page + "/roles", page + "/roles/remove"} {
							code, body = post(path, url.Values{"role": {role}})
							if code != 403 || rolesOf() != before {
								t.Fatalf("%s %s: %d, roles %s (were %s)", pair, path, code, rolesOf(), before)
							}
						}
					}

					// Check the secret answer: an oracle on it for whoever may not act.
					code, body = post(page+"/secret", url.Values{"secret_answer": {"Paris"}})
					if manage && reach {
						if code != 200 || !strings.Contains(body, `class="badge bad"`) {
							t.Fatalf("%s secret check: %d", pair, code)
						}
					} else {
						refused("secret check", code, body)
					}

					// Reset the second factor: the same rule (issue 11.14 under 11.4).
					code, body = post(page+"/second-factor/reset", url.Values{})
					if manage && reach {
						if code != 303 {
							t.Fatalf("%s second-factor reset: %d", pair, code)
						}
					} else {
						refused("second-factor reset", code, body)
					}
				}
			}
			// Every refused secret check left no record: only the allowed ones were audited.
			acts := p.auditActions(t, slug)
			for _, target := range roles {
				want := 0
				for _, actor := range roles {
					if mayManage(slug, actor) && mayReach(slug, actor, target) {
						want++
					}
				}
				// The answer given ("Paris") is wrong: each allowed check is recorded as failed (issue 12.3).
				if n := strings.Count(acts, "account.secret_check_failed:user:"+users[target].ID) + strings.Count(acts, "account.secret_checked:user:"+users[target].ID); n != want {
					t.Fatalf("%s: %d secret checks of %s recorded, want %d", slug, n, target, want)
				}
			}
		}
	})
}
