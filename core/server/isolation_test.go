package server_test

import (
	"context"
	"net/url"
	"sort"
	"strings"
	"testing"
	"time"

	"carenet.dev/platform/core/accounts"
	"carenet.dev/platform/core/complaints"
	"carenet.dev/platform/core/db"
	"carenet.dev/platform/core/db/dbtest"
	"carenet.dev/platform/core/jobs"
	"carenet.dev/platform/core/terms"
)

// isolationCase is how the isolation test uses one route that takes a parameter: the path
// filled with the real ids of tenant B's objects, the page whose form carries the CSRF token
// (for a POST), the form, and the status the admin of tenant A must get on A's host.
type isolationCase struct {
	path string
	page string
	form url.Values
	want int
}

// bObjects are tenant B's objects, each created for the test, by their real ids.
type bObjects struct {
	user, session, mail, key, complaint, file, job string
	tenant, passkey                                string
	dependant                                      string
	question                                       string // the secret of the link to B's complaint's question
}

// isolationCases lists, for every route of the core that takes a parameter, how tenant A's
// admin uses it with B's objects. Routes whose parameter names no tenant object (a file of
// the platform's assets, a document kind, a message template, a language, a module) say so
// with the status A gets for A's own page: what they show is A's, which the caller checks.
func isolationCases(o bObjects) map[string]isolationCase {
	f := func(kv ...string) url.Values {
		v := url.Values{}
		for i := 0; i+1 < len(kv); i += 2 {
			v.Set(kv[i], kv[i+1])
		}
		return v
	}
	return map[string]isolationCase{
		// Tenant B's objects: not found.
		"GET /admin/users/:id":               {path: "/admin/users/" + o.user, want: 404},
		"POST /admin/users/:id/block":        {path: "/admin/users/" + o.user + "/block", page: "/admin/users", form: f("reason", "cross-tenant"), want: 404},
		"POST /admin/users/:id/unblock":      {path: "/admin/users/" + o.user + "/unblock", page: "/admin/users", want: 404},
		"POST /admin/users/:id/roles":        {path: "/admin/users/" + o.user + "/roles", page: "/admin/users", form: f("role", "tenant_admin"), want: 404},
		"POST /admin/users/:id/roles/remove": {path: "/admin/users/" + o.user + "/roles/remove", page: "/admin/users", form: f("role", "user"), want: 404},
		"POST /admin/users/:id/secret":       {path: "/admin/users/" + o.user + "/secret", page: "/admin/users", form: f("answer", "x"), want: 404},
		"POST /admin/users/:id/credentials": {path: "/admin/users/" + o.user + "/credentials", page: "/admin/users",
			form: f("change_reason", "cross-tenant", "password_reset", "on"), want: 404},
		"POST /admin/users/:id/credentials/:change/cancel": {path: "/admin/users/" + o.user + "/credentials/" + o.user + "/cancel", page: "/admin/users", want: 404},
		"POST /account/sessions/:id/revoke":                {path: "/account/sessions/" + o.session + "/revoke", page: "/account/sessions", want: 404},
		"GET /admin/mailbox/:id":                           {path: "/admin/mailbox/" + o.mail, want: 404},
		"GET /admin/mailbox/:id/html":                      {path: "/admin/mailbox/" + o.mail + "/html", want: 404},
		"GET /admin/mailbox/:id/raw":                       {path: "/admin/mailbox/" + o.mail + "/raw", want: 404},
		"GET /admin/mailbox/:id/files/:seq":                {path: "/admin/mailbox/" + o.mail + "/files/1", want: 404},
		"POST /admin/api-keys/:id/revoke":                  {path: "/admin/api-keys/" + o.key + "/revoke", page: "/admin/api-keys", want: 404},
		"GET /admin/complaints/:id":                        {path: "/admin/complaints/" + o.complaint, want: 404},
		"GET /admin/complaints/:id/files/:file":            {path: "/admin/complaints/" + o.complaint + "/files/" + o.file, want: 404},
		"POST /admin/complaints/:id/extend":                {path: "/admin/complaints/" + o.complaint + "/extend", page: "/admin/complaints", form: f("days", "2", "reason", "x"), want: 404},
		"POST /admin/complaints/:id/answer":                {path: "/admin/complaints/" + o.complaint + "/answer", page: "/admin/complaints", form: f("answer", "cross-tenant answer"), want: 404},
		"POST /admin/complaints/:id/secret":                {path: "/admin/complaints/" + o.complaint + "/secret", page: "/admin/complaints", form: f("answer", "x"), want: 404},
		"POST /admin/complaints/:id/question":              {path: "/admin/complaints/" + o.complaint + "/question", page: "/admin/complaints", form: f("question", "cross-tenant question"), want: 404},
		"GET /complaints/explain/:key":                     {path: "/complaints/explain/" + o.question, want: 404},
		"POST /complaints/explain/:key":                    {path: "/complaints/explain/" + o.question, page: "/complaints/new", form: f("explanation", "cross-tenant explanation"), want: 404},
		"POST /admin/complaints/:id/closure":               {path: "/admin/complaints/" + o.complaint + "/closure", page: "/admin/complaints", form: f("decision", "granted", "answer", "cross-tenant decision"), want: 404},
		"POST /admin/jobs/:id/retry":                       {path: "/admin/jobs/" + o.job + "/retry", page: "/admin/jobs", want: 404},
		"GET /admin/modules/:module":                       {path: "/admin/modules/calendar", want: 404}, // B's module, not A's
		"POST /admin/modules/:module":                      {path: "/admin/modules/calendar", page: "/admin/users", want: 404},
		"GET /platform/tenants/:id":                        {path: "/platform/tenants/" + o.tenant, want: 404},
		"POST /platform/tenants/:id":                       {path: "/platform/tenants/" + o.tenant, page: "/admin/users", form: f("name", "x"), want: 404},
		"POST /platform/tenants/:id/hostnames":             {path: "/platform/tenants/" + o.tenant + "/hostnames", page: "/admin/users", form: f("hostnames", "x.localhost"), want: 404},
		"POST /platform/tenants/:id/modules":               {path: "/platform/tenants/" + o.tenant + "/modules", page: "/admin/users", want: 404},
		"POST /platform/jobs/:tenant/:id/retry":            {path: "/platform/jobs/" + o.tenant + "/" + o.job + "/retry", page: "/admin/users", want: 404},
		"POST /platform/modules/:module/restart":           {path: "/platform/modules/calendar/restart", page: "/admin/users", want: 404},
		"POST /account/security/passkeys/:id/remove": {path: "/account/security/passkeys/" + o.passkey + "/remove", page: "/account/security",
			form: f("passkey_password", "demo-mlab-admin"), want: 404},
		"POST /admin/users/:id/second-factor/reset": {path: "/admin/users/" + o.user + "/second-factor/reset", page: "/admin/users", want: 404},
		// B's user's child (P2, issue 12.9): neither shown, changed nor removed from A.
		"GET /account/dependants/:id": {path: "/account/dependants/" + o.dependant, want: 404},
		"POST /account/dependants/:id": {path: "/account/dependants/" + o.dependant, page: "/account/dependants/new",
			form: f("first_name", "Zmieniony", "last_name", "Nowak", "birth_date", "2016-02-03", "relationship", "parent",
				"legal_status", "minor", "consent", "yes"), want: 404},
		"POST /account/dependants/:id/delete": {path: "/account/dependants/" + o.dependant + "/delete", page: "/account/dependants/new", want: 404},
		// Parameters that name no tenant object: A gets A's own page.
		"GET /static/:file":                {path: "/static/style.css", want: 200},
		"GET /terms/:doc":                  {path: "/terms/" + terms.DocPlatform, want: 200},
		"GET /terms/:doc.pdf":              {path: "/terms/" + terms.DocPlatform + ".pdf", want: 200},
		"GET /admin/terms/:doc/new":        {path: "/admin/terms/" + terms.DocPlatform + "/new", want: 200},
		"POST /admin/terms/:doc":           {path: "/admin/terms/nonexistent-doc", page: "/admin/terms", want: 404},
		"GET /admin/messages/:tmpl/:lang":  {path: "/admin/messages/reset/pl", want: 200}, // A's wording, not B's
		"POST /admin/messages/:tmpl/:lang": {path: "/admin/messages/reset/pl", page: "/admin/messages", form: f("subject", "MLab", "body", "MLab"), want: 303},
	}
}

// TestTenantIsolation (issue 11.20, P1): the admin of tenant A (mlab), signed in on A's
// host, uses every route of the core that takes an id with the real ids of tenant B's
// (elekarze's) objects — a user, a session, a mail, an API key, a complaint and its file, a
// failed job, B's tenant id, a module only B has — and gets exactly 404 each time, and
// nothing of B changes. The routes come from the router: a new route with a parameter and no
// case here fails the test. The module routes (ids inside a module's own path space) are
// checked against real module processes in cmd/platform (TestModuleTenantIsolation).
func TestTenantIsolation(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, b dbtest.Backend) {
		e := newEnv(t, b)
		ctx := context.Background()
		pl := e.tenant("elekarze")
		victim, err := e.srv.Accounts.ByEmail(ctx, pl.ID, "user@elekarze.localhost")
		if err != nil {
			t.Fatal(err)
		}

		// B's objects, made for the test.
		victimBrowser := e.client("elekarze.localhost")
		if r := victimBrowser.login("", "user@elekarze.localhost", "demo-elekarze-user"); r.Status != 303 {
			t.Fatalf("victim login %d", r.Status)
		}
		sessions, _ := e.srv.Accounts.Sessions(ctx, pl.ID, victim.ID)
		if len(sessions) != 1 {
			t.Fatalf("victim sessions: %d", len(sessions))
		}
		e.client("elekarze.localhost").post("/reset", "/reset", url.Values{"email": {"user@elekarze.localhost"}})
		e.runJobs()
		mails, _ := e.srv.Mail.List(ctx, pl.ID, 10)
		if len(mails) != 1 {
			t.Fatalf("elekarze outbox: %d", len(mails))
		}
		key, _, err := e.srv.APIKeys.Create(ctx, pl.ID, "B's system", []string{"results.manage"}, "")
		if err != nil {
			t.Fatal(err)
		}
		cp, err := e.srv.Complaints.Lodge(ctx, pl.ID, complaints.RulesOf(pl), complaints.Draft{Module: "platform", Category: "service",
			Body: "Wizyta została odwołana bez uprzedzenia.", ReplyTo: "user@elekarze.localhost", ClientRef: "PL-778", UserID: victim.ID,
			Locale: "pl", Files: []complaints.File{{Name: "skan.pdf", ContentType: "application/pdf", Data: pdf}}}, func(string) bool { return true })
		if err != nil {
			t.Fatal(err)
		}
		_, question, err := e.srv.Complaints.Ask(ctx, pl.ID, cp.ID, "staff", "Który lekarz?")
		if err != nil {
			t.Fatal(err)
		}
		cpBefore, err := e.srv.Complaints.Get(ctx, pl.ID, cp.ID)
		if err != nil || len(cpBefore.Files) != 1 {
			t.Fatalf("B's complaint: %v %+v", err, cpBefore)
		}
		jobID, err := e.srv.Jobs.Enqueue(ctx, pl.ID, jobs.Spec{Module: jobs.CoreModule, Name: "isolation.probe", Key: "isolation-probe",
			At: time.Now().Add(time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		if err := e.srv.DB.InTenant(ctx, pl.ID, func(ctx context.Context, sc *db.Scope) error {
			_, err := sc.Update((*jobs.Job)(nil)).Set("status = ?", jobs.Failed).Set("attempts = 8").Set("last_error = 'probe'").Where("id = ?", jobID).Exec(ctx)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		// B's own wording of a message, and a new version of its terms.
		bAdmin := e.client("elekarze.localhost")
		if r := bAdmin.login("", "admin@elekarze.localhost", "demo-elekarze-admin"); r.Status != 303 {
			t.Fatalf("B admin login %d", r.Status)
		}
		if r := bAdmin.post("/admin/messages/reset/pl", "/admin/messages/reset/pl", url.Values{"subject": {"ELEKARZE-ONLY hasło"},
			"body": {"ELEKARZE-ONLY {{.Name}}"}}); r.Status != 303 {
			t.Fatalf("B's wording: %d\n%s", r.Status, r.Body)
		}
		texts := map[string]terms.Text{}
		for _, l := range pl.Settings.Locales {
			texts[l] = terms.Text{Title: "ELEKARZE-TERMS " + l, Body: "ELEKARZE-TERMS body"}
		}
		if _, err := e.srv.Terms.Publish(ctx, pl.ID, terms.Draft{Doc: terms.DocPlatform, Effective: time.Now().AddDate(0, 2, 0), Texts: texts},
			pl.Settings.Locales, 0, time.UTC); err != nil {
			t.Fatal(err)
		}
		// B's user's second factors: a TOTP secret being set up and a passkey.
		if _, err := e.srv.Accounts.BeginTOTP(ctx, pl, victim); err != nil {
			t.Fatal(err)
		}
		pk := &accounts.Passkey{TenantID: pl.ID, ID: "pk-isolation-probe", UserID: victim.ID, CredentialID: "cred-isolation-probe",
			Credential: "{}", Name: "B's key", CreatedAt: time.Now()}
		if err := e.srv.DB.InTenant(ctx, pl.ID, func(ctx context.Context, sc *db.Scope) error {
			_, err := sc.Insert(pk).Exec(ctx)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		child, err := e.srv.Accounts.AddDependant(ctx, pl, victim.ID, accounts.DependantInput{FirstName: "Zosia", LastName: "ELEKARZE-Nowak",
			BirthDate: "2016-02-03", Relationship: "parent", LegalStatus: accounts.LegalMinor, Consent: true})
		if err != nil {
			t.Fatal(err)
		}
		o := bObjects{user: victim.ID, session: sessions[0].ID, mail: mails[0].ID, key: key.ID, complaint: cp.ID,
			file: cpBefore.Files[0].ID, job: jobID, tenant: pl.ID, passkey: pk.ID, dependant: child.ID, question: question}

		// The mlab admin, signed in on mlab.
		admin := e.client("mlab.localhost")
		if r := admin.login("", "admin@mlab.localhost", "demo-mlab-admin"); r.Status != 303 {
			t.Fatalf("admin login %d", r.Status)
		}
		cases := isolationCases(o)
		seen := map[string]bool{}
		var routes []string
		for _, rt := range e.srv.App.GetRoutes(true) {
			if rt.Method == "HEAD" || !strings.Contains(rt.Path, ":") {
				continue
			}
			k := rt.Method + " " + rt.Path
			if !seen[k] {
				seen[k] = true
				routes = append(routes, k)
			}
		}
		sort.Strings(routes)
		if len(routes) < 20 {
			t.Fatalf("only %d routes with a parameter in the router: %v", len(routes), routes)
		}
		for _, k := range routes {
			c, ok := cases[k]
			if !ok {
				t.Errorf("%s takes a parameter and has no isolation case: add one to isolationCases", k)
				continue
			}
			var r *response
			if strings.HasPrefix(k, "GET ") {
				r = admin.get(c.path)
			} else {
				r = admin.post(c.page, c.path, c.form)
			}
			if r.Status != c.want {
				t.Errorf("%s as %s: %d, want %d", k, c.path, r.Status, c.want)
			}
			// Whatever A gets, nothing of B's is on it.
			for _, leak := range []string{"user@elekarze.localhost", "Wizyta została", cp.Reference, "B's system", "PL-778", "ELEKARZE-"} {
				if strings.Contains(r.Body, leak) {
					t.Errorf("%s as %s shows B's %q", k, c.path, leak)
				}
			}
		}
		for k := range cases {
			if !seen[k] {
				t.Errorf("isolation case %s names no route of the router", k)
			}
		}

		// Nothing of B's changed.
		after, _ := e.srv.Accounts.ByID(ctx, pl.ID, victim.ID)
		if after.Status != "active" {
			t.Errorf("B's user changed: %s", after.Status)
		}
		var roles []string
		e.srv.DB.InTenant(ctx, pl.ID, func(ctx context.Context, sc *db.Scope) (err error) {
			roles, err = e.srv.Authz.UserRoles(ctx, sc, victim.ID)
			return err
		})
		if strings.Join(roles, ",") != "user" {
			t.Errorf("B's user's roles changed: %v", roles)
		}
		if r := victimBrowser.get("/account"); r.Status != 200 {
			t.Errorf("B's session was ended from A: %d", r.Status)
		}
		if k, _ := e.srv.APIKeys.Get(ctx, pl.ID, key.ID); k == nil || k.Revoked() {
			t.Errorf("B's API key was revoked from A: %+v", k)
		}
		cpAfter, _ := e.srv.Complaints.Get(ctx, pl.ID, cp.ID)
		if cpAfter.Status != cpBefore.Status || !cpAfter.DueAt.Equal(cpBefore.DueAt) || cpAfter.Answer != "" || !cpAfter.Paused() ||
			cpAfter.Questions[0].Explanation != "" {
			t.Errorf("B's complaint changed: %+v", cpAfter)
		}
		if j, _ := e.srv.Jobs.Get(ctx, pl.ID, jobID); j == nil || j.Status != jobs.Failed || j.Attempts != 8 {
			t.Errorf("B's job changed: %+v", j)
		}
		if got, _ := e.srv.Tenants.BySlug(ctx, "elekarze"); got.Settings.Name != pl.Settings.Name || len(got.Hostnames) != len(pl.Hostnames) {
			t.Errorf("B's tenant changed: %+v", got.Settings)
		}
		if n := count(t, e, pl.ID, "user_passkeys", victim.ID); n != 1 {
			t.Errorf("B's passkey removed from A: %d left", n)
		}
		if n := count(t, e, pl.ID, "user_totp", victim.ID); n != 1 {
			t.Errorf("B's TOTP reset from A: %d left", n)
		}
		if d, err := e.srv.Accounts.Dependant(ctx, pl.ID, victim.ID, child.ID); err != nil || d.FirstName != "Zosia" {
			t.Errorf("B's user's child changed or removed from A: %v %+v", err, d)
		}
		if r := bAdmin.get("/admin/messages/reset/pl"); !strings.Contains(r.Body, "ELEKARZE-ONLY hasło") {
			t.Errorf("B's wording changed from A: %d", r.Status)
		}
		// A's lists show nothing of B's.
		for _, p := range []string{"/admin/users", "/admin/mailbox", "/admin/api-keys", "/admin/complaints", "/admin/jobs", "/admin/audit",
			"/admin/terms", "/terms", "/admin/messages"} {
			r := admin.get(p)
			if r.Status != 200 {
				t.Errorf("GET %s: %d", p, r.Status)
			}
			for _, leak := range []string{"elekarze.localhost", cp.Reference, "B's system", "isolation.probe", "ELEKARZE-"} {
				if strings.Contains(r.Body, leak) {
					t.Errorf("%s shows B's %q", p, leak)
				}
			}
		}

		// The mlab session cookie is worthless on the elekarze host.
		other := e.client("elekarze.localhost")
		for _, ck := range admin.jar.Cookies(mustURL("http://mlab.localhost/")) {
			other.jar.SetCookies(mustURL("http://elekarze.localhost/"), []*httpCookie{ck})
		}
		if r := other.get("/account"); r.Status != 303 {
			t.Fatalf("mlab session accepted by elekarze: %d", r.Status)
		}
		// The same person's e-mail in two tenants is two accounts: mlab's password does not
		// open elekarze's account.
		if r := other.login("", "user@elekarze.localhost", "demo-mlab-user"); r.Status != 401 {
			t.Fatalf("cross-tenant password: %d", r.Status)
		}
	})
}
