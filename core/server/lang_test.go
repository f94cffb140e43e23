package server_test

import (
	"context"
	"net/url"
	"strings"
	"testing"

	"carenet.dev/platform/core/db/dbtest"
)

// TestSwitcherChangesTheSessionOnly: issue 12.15. The header's language switcher changes
// the language of the session's pages and nothing else; the account's preferred language,
// the one its e-mails are written in, changes on the account page alone, which offers it.
// A new sign-in starts again from the preference.
func TestSwitcherChangesTheSessionOnly(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, b dbtest.Backend) {
		e := newEnv(t, b)
		ctx := context.Background()
		ml := e.tenant("mlab")
		u := e.client("mlab.localhost")
		if r := u.login("", "user@mlab.localhost", "demo-mlab-user"); r.Status != 303 {
			t.Fatal("login")
		}
		// The account page offers the preference, and says what it is for.
		r := u.get("/account")
		mustContain(t, r, `<select id="f-locale" name="locale"`, e.srv.I18n.For("fr").T("account.profile.locale_hint"))
		if r := u.post("/account", "/account", url.Values{"name": {"Demo User"}, "locale": {"pl"}}); r.Status != 303 {
			t.Fatalf("preference: %d %s", r.Status, mainOf(r.Body))
		}
		mustContain(t, u.get("/account"), `<html lang="pl">`, `<option value="pl" selected>`)

		// The switcher: the pages in Slovak, the preference still Polish.
		if r := u.post("/account", "/lang", url.Values{"lang": {"sk"}}); r.Status != 303 {
			t.Fatalf("switch: %d", r.Status)
		}
		mustContain(t, u.get("/account"), `<html lang="sk">`, `<option value="pl" selected>`)
		acc, err := e.srv.Accounts.ByEmail(ctx, ml.ID, "user@mlab.localhost")
		if err != nil || acc.Locale != "pl" {
			t.Fatalf("the switcher changed the account's preference: %q %v", acc.Locale, err)
		}

		// An e-mail to the account is in its preference, not in the session's language.
		admin := e.client("mlab.localhost")
		if r := admin.login("", "admin@mlab.localhost", "demo-mlab-admin"); r.Status != 303 {
			t.Fatal("admin login")
		}
		page := "/admin/users/" + acc.ID
		if r := admin.post(page, page+"/block", url.Values{"reason": {"Test"}}); r.Status != 303 {
			t.Fatalf("block: %d", r.Status)
		}
		ms := e.mails("mlab")
		last := ms[len(ms)-1]
		if !strings.Contains(last.To, "user@mlab.localhost") || last.Lang != "pl" || !strings.Contains(last.Subject, "zablokowane") {
			t.Fatalf("e-mail: to %s, lang %q, subject %q", last.To, last.Lang, last.Subject)
		}
		if r := admin.post(page, page+"/unblock", url.Values{}); r.Status != 303 {
			t.Fatalf("unblock: %d", r.Status)
		}

		// Another sign-in (another browser) starts from the preference.
		other := e.client("mlab.localhost")
		if r := other.login("", "user@mlab.localhost", "demo-mlab-user"); r.Status != 303 {
			t.Fatal("second login")
		}
		mustContain(t, other.get("/account"), `<html lang="pl">`)
		// A signed-out visitor's switch stays his browser's choice.
		anon := e.client("mlab.localhost")
		anon.post("/", "/lang", url.Values{"lang": {"sk"}})
		mustContain(t, anon.get("/"), `<html lang="sk">`)
	})
}
