package server_test

import (
	"context"
	"encoding/json"
	"net/url"
	"slices"
	"strings"
	"testing"

	"carenet.dev/platform/core/authz"
	"carenet.dev/platform/core/db"
	"carenet.dev/platform/core/db/dbtest"
	"carenet.dev/platform/plugins/sdk"
	"carenet.dev/platform/plugins/sdk/host"
)

// TestModulesSeeTheIdentityAndTheirFields: the registration fields of a module are asked only
// on the portals it names; the module then sees, with every request and through the HostAPI,
// the person's birth date, those fields, his portal and secret question — never the answer;
// it is told when an account is verified; its core grants are installed, except one a module
// may not give (P2, P3, R1, R2).
func TestModulesSeeTheIdentityAndTheirFields(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, b dbtest.Backend) {
		e := newEnv(t, b)
		f := e.withFakeResults()
		ctx := context.Background()
		mustNotContain(t, e.client("mlab.localhost").get("/register"), `name="pro_number"`)
		pro := e.client("pro.mlab.localhost")
		mustContain(t, pro.get("/register"), `name="pro_number"`, `name="address"`, "Immatriculation")
		form := registerForm("dr@example.org")
		if r := pro.post("/register", "/register", form); r.Status != 422 || !strings.Contains(r.Body, `id="e-pro_number"`) {
			t.Fatalf("missing portal field: %d", r.Status)
		}
		form.Set("address", "1 rue du Port")
		form.Set("pro_number", "10001234567")
		if r := pro.post("/register", "/register", form); r.Status != 200 {
			t.Fatalf("register: %d %s", r.Status, mainOf(r.Body))
		}
		link := e.lastLink("mlab", "dr@example.org")
		pro.post(pathOf(link), "/verify", url.Values{"token": {link[strings.Index(link, "token=")+6:]}})
		mlab := e.tenant("mlab")
		u, _ := e.srv.Accounts.ByEmail(ctx, mlab.ID, "dr@example.org")
		if u.Portal != "professionals" || u.Profile["pro_number"] != "10001234567" {
			t.Fatalf("stored: %q %v", u.Portal, u.Profile)
		}
		if log := f.eventLog(); !strings.Contains(log, "mlab "+host.EventUserVerified+" "+u.ID) {
			t.Fatalf("module not told of the verification: %s", log)
		}
		if r := pro.login("", "dr@example.org", "correct horse battery"); r.Status != 303 {
			t.Fatalf("login: %d", r.Status)
		}
		if r := pro.get("/results/echo"); r.Status != 200 {
			t.Fatalf("module route: %d", r.Status)
		}
		got := f.last.User
		if got == nil || got.BirthDate != "1985-03-14" || got.Portal != "professionals" || got.Profile["address"] != "1 rue du Port" ||
			got.SecretQuestion != "Nom de mon premier chat ?" || got.Status != "active" || f.last.ClientID != "" {
			t.Fatalf("forwarded user: %+v", got)
		}
		looked, err := f.hs.Users.Lookup(ctx, host.Scope{TenantID: mlab.ID, ModuleID: "results"}, u.ID, "")
		if err != nil || looked.Profile["pro_number"] != "10001234567" || looked.SecretQuestion == "" || looked.BirthDate != "1985-03-14" {
			t.Fatalf("lookup: %+v %v", looked, err)
		}
		if raw, _ := json.Marshal(looked); strings.Contains(string(raw), "argon2") {
			t.Fatal("the answer's hash reached the module")
		}
		// The identity panel labels the module's fields.
		admin := e.client("mlab.localhost")
		admin.login("", "admin@mlab.localhost", "demo-mlab-admin")
		mustContain(t, admin.get("/admin/users/"+u.ID), "Immatriculation", "10001234567", "professionnels")
		// Core grants of the module: the grantable one only.
		var grants map[string]map[string]bool
		e.srv.DB.InTenant(ctx, mlab.ID, func(ctx context.Context, sc *db.Scope) error {
			var err error
			grants, err = e.srv.Authz.Grants(ctx, sc)
			return err
		})
		if !grants["results.lab_staff"][authz.PermAdminComplaints] || grants["results.lab_staff"][authz.PermAdminSettings] {
			t.Fatalf("lab_staff grants: %v", grants["results.lab_staff"])
		}
	})
}

// TestHostAPIAuditListAndRoles: a module lists the records of its own actions about a person,
// newest first, bounded, each with who acted — the person, staff with their roles, a
// machine's key — and gives only its own assignable roles (P3, P9, R9).
func TestHostAPIAuditListAndRoles(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, b dbtest.Backend) {
		e := newEnv(t, b)
		f := e.withFakeResults()
		ctx := context.Background()
		mlab := e.tenant("mlab")
		patient, _ := e.srv.Accounts.ByEmail(ctx, mlab.ID, "user@mlab.localhost")
		admin, _ := e.srv.Accounts.ByEmail(ctx, mlab.ID, "admin@mlab.localhost")
		sc := host.Scope{TenantID: mlab.ID, ModuleID: "results"}
		k, _, err := e.srv.APIKeys.Create(ctx, mlab.ID, "SIL", []string{"results.manage"}, admin.ID)
		if err != nil {
			t.Fatal(err)
		}
		rec := func(actor host.Scope, action string) {
			if err := f.hs.Audit.Record(ctx, actor, sdk.AuditRecord{Action: action, Subject: patient.ID, Resource: "result:1"}); err != nil {
				t.Fatal(err)
			}
		}
		self, staff, machine := sc, sc, sc
		self.UserID, staff.UserID, machine.ClientID = patient.ID, admin.ID, k.ID
		rec(machine, "results.imported")
		rec(staff, "results.viewed")
		rec(self, "results.downloaded")
		rec(self, "calendar.viewed") // another module's record: not listed
		list, err := f.hs.Audit.List(ctx, sc, patient.ID, 0)
		if err != nil || len(list) != 3 {
			t.Fatalf("list: %v %+v", err, list)
		}
		if l := list[0]; l.Action != "results.downloaded" || l.ActorKind != "user" || l.ActorName != "Demo User" || strings.Join(l.ActorRoles, ",") != "user" {
			t.Fatalf("newest: %+v", l)
		}
		if l := list[1]; l.ActorName != admin.Name || !strings.Contains(strings.Join(l.ActorRoles, ","), "tenant_admin") {
			t.Fatalf("staff: %+v", l)
		}
		if l := list[2]; l.ActorKind != "client" || l.ActorName != "SIL" || l.ActorID != "apikey:"+k.ID || len(l.ActorRoles) != 0 {
			t.Fatalf("machine: %+v", l)
		}
		if list, _ := f.hs.Audit.List(ctx, sc, patient.ID, 1); len(list) != 1 {
			t.Fatalf("limit 1: %d", len(list))
		}
		// Another tenant's module sees none of it.
		if list, _ := f.hs.Audit.List(ctx, host.Scope{TenantID: e.tenant("elekarze").ID, ModuleID: "results"}, patient.ID, 0); len(list) != 0 {
			t.Fatalf("another tenant: %+v", list)
		}
		// Roles: its own assignable role, not the core's nor an unknown one.
		staff.UserID = admin.ID
		if err := f.hs.Users.SetRole(ctx, staff, patient.ID, "professional", true); err != nil {
			t.Fatal(err)
		}
		for _, role := range []string{"tenant_admin", "user", "platform_admin", "doctor"} {
			if err := f.hs.Users.SetRole(ctx, staff, patient.ID, role, true); err == nil {
				t.Fatalf("role %s given by a module", role)
			}
		}
		c := e.client("mlab.localhost")
		c.login("", "user@mlab.localhost", "demo-mlab-user")
		if r := c.get("/results/echo"); !strings.Contains(r.Body, "professional") {
			t.Fatalf("the role is not in force at once: %s", r.Body)
		}
		entries, _ := e.srv.Trail.Search(ctx, mlab.ID, auditFilter("admin.role_assigned"))
		if len(entries) != 1 || entries[0].Actor != admin.ID || entries[0].Subject != patient.ID || entries[0].Module != "results" {
			t.Fatalf("role audit: %+v", entries)
		}
	})
}

// TestModuleMessageLinksReachThePersonsPortal: a module names a path in its message; the
// person gets a link on the hostname of the portal he registered through (R10, R1).
func TestModuleMessageLinksReachThePersonsPortal(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, b dbtest.Backend) {
		e := newEnv(t, b)
		f := e.withFakeResults()
		ctx := context.Background()
		mlab := e.tenant("mlab")
		form := registerForm("pro@example.org")
		form.Set("address", "2 rue du Port")
		form.Set("pro_number", "10001234568")
		if r := e.client("pro.mlab.localhost").post("/register", "/register", form); r.Status != 200 {
			t.Fatalf("register: %d", r.Status)
		}
		pro, _ := e.srv.Accounts.ByEmail(ctx, mlab.ID, "pro@example.org")
		patient, _ := e.srv.Accounts.ByEmail(ctx, mlab.ID, "user@mlab.localhost")
		sc := host.Scope{TenantID: mlab.ID, ModuleID: "results"}
		for _, u := range []string{pro.ID, patient.ID} {
			if _, err := f.hs.Messages.Send(ctx, sc, sdk.Message{UserID: u, Template: "complaint_received", Link: "/results/mine",
				Data: map[string]any{"Reference": "R-1", "Date": "demain"}}); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := f.hs.Messages.Send(ctx, sc, sdk.Message{UserID: patient.ID, Template: "complaint_received", Link: "https://lab.example.org/x",
			Data: map[string]any{"Reference": "R-2", "Date": "demain"}}); err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, m := range e.mails("mlab") {
			if strings.Contains(m.Text, "R-1") || strings.Contains(m.Text, "R-2") {
				got = append(got, m.To+" "+m.Text)
			}
		}
		all := strings.Join(got, "\n")
		if len(got) != 3 || !strings.Contains(all, "http://pro.mlab.localhost:8080/results/mine") ||
			!strings.Contains(all, "http://mlab.localhost:8080/results/mine") || !strings.Contains(all, "https://lab.example.org/x") {
			t.Fatalf("links:\n%s", all)
		}
	})
}

// TestHostAPIInviteOpensAnAccount (P2, B1): staff open a person's account through a module;
// the core creates it in the call's tenant only, e-mails him the link to choose his password
// (the only way in), audits the opening, and gives the module's role. Inviting the same address
// again returns the account and sends nothing; an address that is not one is refused.
func TestHostAPIInviteOpensAnAccount(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, b dbtest.Backend) {
		e := newEnv(t, b)
		f := e.withFakeResults()
		ctx := context.Background()
		mlab := e.tenant("mlab")
		admin, _ := e.srv.Accounts.ByEmail(ctx, mlab.ID, "admin@mlab.localhost")
		sc := host.Scope{TenantID: mlab.ID, ModuleID: "results", UserID: admin.ID}
		u, created, err := f.hs.Users.Invite(ctx, sc, " Dr.Invite@Example.org", "Dr Paul Invité", "pl", "professional")
		if err != nil || !created || u.Email != "dr.invite@example.org" || u.Locale != "pl" || !slices.Contains(u.Roles, "professional") {
			t.Fatalf("invite: %v %v %+v", err, created, u)
		}
		// The e-mail, in his language, carries the single link in.
		var got []mailMsg
		for _, m := range e.mails("mlab") {
			if strings.Contains(m.To, "dr.invite@example.org") {
				got = append(got, m)
			}
		}
		if len(got) != 1 || got[0].Lang != "pl" || !strings.Contains(got[0].Text, "ustaw hasło") && !strings.Contains(got[0].Text, "Ustaw hasło") {
			t.Fatalf("invitation mail: %+v", got)
		}
		link := e.lastLink("mlab", "dr.invite@example.org")
		c := e.client("mlab.localhost")
		if r := c.login("", "dr.invite@example.org", "anything at all 1"); r.Status != 401 {
			t.Fatalf("an invited account opened without its link: %d", r.Status)
		}
		token := link[strings.Index(link, "token=")+6:]
		if r := c.post(pathOf(link), "/reset/confirm", url.Values{"token": {token}, "password": {"invited password 2026"}, "password2": {"invited password 2026"}}); r.Status != 303 {
			t.Fatalf("choose password: %d %s", r.Status, r.Body)
		}
		if r := c.login("", "dr.invite@example.org", "invited password 2026"); r.Status != 303 {
			t.Fatalf("login after choosing: %d", r.Status)
		}
		// Again: the same account, no second mail.
		again, created, err := f.hs.Users.Invite(ctx, sc, "dr.invite@example.org", "Autre nom", "", "")
		if err != nil || created || again.ID != u.ID {
			t.Fatalf("second invite: %v %v %+v", err, created, again)
		}
		n := 0
		for _, m := range e.mails("mlab") {
			if strings.Contains(m.To, "dr.invite@example.org") {
				n++
			}
		}
		if n != 1 {
			t.Fatalf("%d mails after a second invitation", n)
		}
		// Another tenant has no such account.
		if _, err := e.srv.Accounts.ByEmail(ctx, e.tenant("elekarze").ID, "dr.invite@example.org"); err == nil {
			t.Fatal("the account leaked into another tenant")
		}
		if _, _, err := f.hs.Users.Invite(ctx, sc, "not an address", "", "", ""); err == nil {
			t.Fatal("a bad address was invited")
		}
		entries, _ := e.srv.Trail.Search(ctx, mlab.ID, auditFilter("account.invited"))
		if len(entries) != 1 || entries[0].Subject != u.ID || entries[0].Actor != admin.ID {
			t.Fatalf("invite audit: %+v", entries)
		}
	})
}
