package server_test

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"image"
	"image/png"
	"net/url"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/uptrace/bun/driver/pgdriver"

	"carenet.dev/platform/core/accounts"
	"carenet.dev/platform/core/audit"
	"carenet.dev/platform/core/complaints"
	"carenet.dev/platform/core/db"
	"carenet.dev/platform/core/db/dbtest"
	"carenet.dev/platform/core/mail"
)

// What each column of the core's schema may hold of a person once his account is erased.
const (
	// none: the column never holds a person's data (the operator's configuration, ids,
	// states, dates, checksums).
	none = "none"
	// erased: the column may hold his data; an erasure removes it (the row goes).
	erased = "erased"
	// kept: the column keeps something of him on purpose, named in keptMay, and the export
	// says so (kept_after_erasure.json).
	kept = "kept"
)

// columns classifies every column of every core table (P11). A column the live schema has
// and this list lacks fails TestErasureReachesEveryColumn: whoever adds a column says here
// what an erasure does with it.
var columns = map[string]string{
	// migrations' bookkeeping
	"core_migrations.*": none, "core_migration_locks.*": none,
	// the operator's configuration
	"tenants.*": none, "tenant_hostnames.*": none, "tenant_modules.*": none, "platform_secrets.*": none,
	"message_templates.*": none, "terms_texts.*": none, "audit_heads.*": none,
	"terms_versions.tenant_id": none, "terms_versions.id": none, "terms_versions.doc": none, "terms_versions.version": none,
	"terms_versions.published_at": none, "terms_versions.effective_at": none,
	"terms_versions.published_by":   kept, // the staff member's account id
	"maintenance_windows.tenant_id": none, "maintenance_windows.id": none, "maintenance_windows.starts_at": none,
	"maintenance_windows.ends_at": none, "maintenance_windows.announced": none, "maintenance_windows.created_at": none,
	"maintenance_windows.created_by": kept, // the staff member's account id
	"maintenance_windows.kind":       none,
	"api_keys.tenant_id":             none, "api_keys.id": none, "api_keys.name": none, "api_keys.prefix": none,
	"api_keys.secret_hash": none, "api_keys.permissions": none, "api_keys.created_at": none, "api_keys.revoked_at": none,
	"api_keys.last_used_at": none,
	"api_keys.created_by":   kept, // the admin's account id
	// the person's own rows: deleted with him
	"users.*": erased, "sessions.*": erased, "user_tokens.*": erased, "terms_acceptances.*": erased,
	"consents.*": erased, "casbin_rule.*": erased, "outbox.*": erased, "outbox_attachments.*": erased, "complaints.*": erased,
	"complaint_files.*": erased, "complaint_questions.*": erased,
	// credential changes the operator scheduled (B10): they go with the account (the foreign key)
	"credential_changes.*":  erased,
	"rate_limits.tenant_id": none, "rate_limits.window_start": none, "rate_limits.hits": none,
	"rate_limits.bucket": erased, // counters keyed on an address (hashed where they name an account)
	"registrations.*":    erased, // a registration waiting for its job, which deletes it
	"login_throttles.*":  erased, // the sign-in throttle's rows of his account (a hash of his e-mail)
	// his second factors and half-signed sign-ins
	"user_totp.*": erased, "user_passkeys.*": erased, "user_recovery_codes.*": erased,
	"mfa_challenges.*": erased, "webauthn_ceremonies.*": erased,
	// the people he represents (P2, issue 12.9): deleted with his account
	"dependants.*": erased,
	// signed checkpoints of the audit chain: tenant, sequence, hash, signature
	"audit_checkpoints.*":   none,
	"terms_versions.change": none,
	// the module catalog is the platform's: who registered a module is a platform admin
	"module_catalog.id": none, "module_catalog.version": none, "module_catalog.path": none,
	"module_catalog.sha256": none, "module_catalog.registered_at": none,
	"module_catalog.registered_by": kept, "module_catalog.registered_by_email": kept,
	// what a closure keeps for the person's appeal (R6, issue 12.10): his address, name,
	// language and portal, erased when the appeal period ends (or its appeal is decided
	// after it); an account he deletes himself leaves no such row
	"account_closures.*":          erased,
	"account_closures.decided_by": kept, // the staff member's account id
	// the deletion record: no identity
	"account_deletions.tenant_id": none, "account_deletions.id": none, "account_deletions.deleted_at": none,
	"account_deletions.initiator": kept, "account_deletions.reason": kept,
	// the audit trail (P9): kept, tamper-evident; his account id and request addresses only
	"audit_log.tenant_id": none, "audit_log.id": none, "audit_log.seq": none, "audit_log.at": none,
	"audit_log.module": none, "audit_log.action": none, "audit_log.request_id": none,
	"audit_log.prev_hash": none, "audit_log.hash": none,
	"audit_log.actor": kept, "audit_log.subject": kept, "audit_log.resource": kept, "audit_log.ip": kept,
	"audit_log.detail": kept,
	// durable jobs: the core events carry the account id to the modules so that each erases
	// what it holds
	"jobs.tenant_id": none, "jobs.id": none, "jobs.module": none, "jobs.name": none, "jobs.run_at": none,
	"jobs.status": none, "jobs.attempts": none, "jobs.lease_until": none, "jobs.last_error": none,
	"jobs.created_at": none, "jobs.done_at": none, "jobs.claimed_by": none,
	"jobs.idempotency_key": kept, "jobs.payload": kept,
	// the modules' files: a module's own, erased by the module when it forgets the person
	// (the results module keeps the lab's reports, which are the lab's records); the core
	// stores no file of a person itself
	"blobs.tenant_id": none, "blobs.id": none, "blobs.module": none, "blobs.content_type": none,
	"blobs.size": none, "blobs.sha256": none, "blobs.created_at": none, "blobs.name": none, "blobs.data": none,
}

// classOf returns the classification of table.column, or "".
func classOf(table, column string) string {
	if c, ok := columns[table+"."+column]; ok {
		return c
	}
	return columns[table+".*"]
}

// liveColumns reads every table and column of the core's schema from the database's own
// catalog.
func liveColumns(t *testing.T, q *sql.DB, kind db.Kind) map[string][]string {
	t.Helper()
	ctx := context.Background()
	out := map[string][]string{}
	if kind == db.Postgres {
		rows, err := q.QueryContext(ctx, `SELECT c.table_name, c.column_name FROM information_schema.columns c
JOIN information_schema.tables t ON t.table_schema = c.table_schema AND t.table_name = c.table_name
WHERE c.table_schema = 'public' AND t.table_type = 'BASE TABLE'`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		for rows.Next() {
			var tb, col string
			if err := rows.Scan(&tb, &col); err != nil {
				t.Fatal(err)
			}
			out[tb] = append(out[tb], col)
		}
		return out
	}
	rows, err := q.QueryContext(ctx, `SELECT m.name, p.name FROM sqlite_master m, pragma_table_info(m.name) p
WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%'`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var tb, col string
		if err := rows.Scan(&tb, &col); err != nil {
			t.Fatal(err)
		}
		out[tb] = append(out[tb], col)
	}
	return out
}

// TestErasureReachesEveryColumn: every column of every core table, read from the live
// schema, is classified (erased, kept on purpose, or never personal); a person with data in
// every table that can hold his is then erased, and his e-mail, name, birth date, mobile
// number, words and device are found nowhere in the database, his account id and request
// address only where the audit trail and the modules' erasure events keep them on purpose
// (issue 11.12, P11, P9).
func TestErasureReachesEveryColumn(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, b dbtest.Backend) {
		var cfg db.Config
		owned := b
		owned.Open = func(t testing.TB) *db.DB {
			cfg = b.Config(t)
			d, err := db.Open(context.Background(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { d.Close() })
			return d
		}
		e := newEnv(t, owned)
		ctx := context.Background()
		// The whole database, read past row-level security: the owner on PostgreSQL.
		whole := e.srv.DB.Bun.DB
		if e.srv.DB.Kind == db.Postgres {
			whole = sql.OpenDB(pgdriver.NewConnector(pgdriver.WithDSN(cfg.DSN)))
			defer whole.Close()
		}

		// 1. Every live column is classified.
		schema := liveColumns(t, whole, e.srv.DB.Kind)
		if len(schema["users"]) == 0 || len(schema["outbox"]) == 0 {
			t.Fatalf("catalog read nothing: %v", schema)
		}
		var unclassified []string
		for tb, cols := range schema {
			for _, col := range cols {
				if classOf(tb, col) == "" {
					unclassified = append(unclassified, tb+"."+col)
				}
			}
		}
		sort.Strings(unclassified)
		for _, c := range unclassified {
			t.Errorf("column %s is not classified: say in columns (erasure_test.go) whether an erasure removes it, keeps it on purpose (and the export says why) or it never holds personal data", c)
		}

		// 2. A person with data in every table that can hold his.
		const (
			email  = "zephyrine.quillfeather@example.org"
			name   = "Zephyrine Quillfeather"
			birth  = "1933-02-17"
			mobile = "+33698765432"
			ip     = "198.51.100.77"
			agent  = "ErasureProbe/7.3"
			words  = "Grievance of Quillfeather about invoice 4471"
			quest  = "Nom de mon premier chat Mistigrinou"
		)
		tn := e.tenant("secretaires")
		u, err := e.srv.Accounts.CreateActive(ctx, tn, email, "first password!", name, birth, "fr")
		if err != nil {
			t.Fatal(err)
		}
		if err := e.srv.Accounts.SetSecret(ctx, tn, u, "first password!", quest, "Mistigri"); err != nil {
			t.Fatal(err)
		}
		err = e.srv.DB.InTenant(ctx, tn.ID, func(ctx context.Context, sc *db.Scope) error {
			if _, err := sc.Update((*accounts.User)(nil)).Set("profile = ?", `{"mobile":"`+mobile+`"}`).Where("id = ?", u.ID).Exec(ctx); err != nil {
				return err
			}
			return e.srv.Terms.SetConsent(ctx, sc, u.ID, "marketing", true, ip)
		})
		if err != nil {
			t.Fatal(err)
		}
		if v, err := e.srv.Terms.InForce(ctx, tn.ID, "platform"); err != nil {
			t.Fatal(err)
		} else if err := e.srv.Terms.AcceptNow(ctx, tn.ID, u.ID, v, ip, "fr", "registration"); err != nil {
			t.Fatal(err)
		}
		if _, err := e.srv.Accounts.Login(ctx, tn, email, "first password!", ip, agent); err != nil {
			t.Fatal(err)
		}
		if _, _, err := e.srv.Accounts.RequestReset(ctx, tn, email); err != nil {
			t.Fatal(err)
		}
		if _, err := e.srv.Mail.Send(ctx, tn, mail.Message{To: email, Subject: "Bonjour " + name, Text: "Bonjour " + name + ", né le " + birth,
			HTML: "<p>Bonjour " + name + "</p>", Template: "test", Locale: "fr",
			Attachments: []mail.Attachment{{Name: name + ".ics", ContentType: "text/calendar", Data: []byte("SUMMARY:" + name)}}}); err != nil {
			t.Fatal(err)
		}
		if _, err := e.srv.Mail.Send(ctx, tn, mail.Message{Channel: "sms", To: mobile, Subject: "test", Text: "Rendez-vous " + name,
			Template: "test", Locale: "fr"}); err != nil {
			t.Fatal(err)
		}
		img := image.NewRGBA(image.Rect(0, 0, 2, 2))
		var pngb bytes.Buffer
		_ = png.Encode(&pngb, img)
		rules := complaints.RulesOf(tn)
		valid := func(string) bool { return true }
		cp, err := e.srv.Complaints.Lodge(ctx, tn.ID, rules, complaints.Draft{Module: "platform", Category: "billing", Body: words,
			ReplyTo: email, ClientRef: "CLI-" + name, UserID: u.ID, Locale: "fr",
			Files: []complaints.File{{Name: name + ".png", Data: pngb.Bytes()}}}, valid)
		if err != nil {
			t.Fatal(err)
		}
		// Staff asked him a question; his explanation holds his words (C17).
		if _, key, err := e.srv.Complaints.Ask(ctx, tn.ID, cp.ID, "staff", "Quelle facture ?"); err != nil {
			t.Fatal(err)
		} else if _, err := e.srv.Complaints.Explain(ctx, tn.ID, rules, key, "La facture de "+name); err != nil {
			t.Fatal(err)
		}
		// …and one lodged without signing in, from his address.
		if _, err := e.srv.Complaints.Lodge(ctx, tn.ID, rules, complaints.Draft{Module: "platform", Category: "billing", Body: words,
			ReplyTo: strings.ToUpper(email), ClientRef: "CLI-2", Locale: "fr",
			Files: []complaints.File{{Name: "scan.png", Data: pngb.Bytes()}}}, valid); err != nil {
			t.Fatal(err)
		}
		if err := e.srv.Trail.Append(ctx, tn.ID, audit.Entry{Actor: u.ID, Action: "account.data_exported", Subject: u.ID,
			Resource: "user:" + u.ID, IP: ip}); err != nil {
			t.Fatal(err)
		}
		// A child he represents (P2, issue 12.9): goes with his account.
		if _, err := e.srv.Accounts.AddDependant(ctx, tn, u.ID, accounts.DependantInput{FirstName: "Oriane", LastName: "Quillfeather",
			BirthDate: "2019-06-01", NationalID: "2 19 06 69 123 456 40" /* a valid NIR of her birth month (E2) */, Address: "7 allée des Plumes, Lyon", Relationship: "parent",
			LegalStatus: accounts.LegalMinor, Consent: true}); err != nil {
			t.Fatal(err)
		}
		// A failed login counts against his address.
		c := e.client("secretaires.localhost")
		c.login("", email, "not his password")
		loginBucket := accounts.ThrottleAccount(email)
		probes := map[string]string{"e-mail": email, "name": name, "birth date": birth, "mobile": mobile,
			"complaint words": words, "user agent": agent, "secret question": quest, "login counter": loginBucket,
			"account id": u.ID, "request address": ip, "child's id number": "219066912345640", "child's address": "allée des Plumes"}
		// Where a probe may still be found after the erasure, on purpose.
		keptMay := map[string][]string{
			"account id":      {"audit_log.actor", "audit_log.subject", "audit_log.resource", "jobs.payload", "jobs.idempotency_key"},
			"request address": {"audit_log.ip"},
		}
		before := find(t, whole, schema, probes)
		for _, p := range []string{"e-mail", "name", "birth date", "mobile", "complaint words", "user agent", "secret question", "login counter",
			"child's id number", "child's address"} {
			if len(before[p]) == 0 {
				t.Fatalf("seeding left no %s to erase", p)
			}
		}
		for _, want := range []string{"users", "sessions", "user_tokens", "terms_acceptances", "consents", "casbin_rule", "outbox",
			"outbox_attachments", "complaints", "complaint_files", "login_throttles", "audit_log", "dependants"} {
			found := false
			for _, cols := range before {
				for _, c := range cols {
					found = found || strings.HasPrefix(c, want+".")
				}
			}
			if !found {
				t.Errorf("seeding put nothing of the person in %s", want)
			}
		}

		// 3. He leaves, through the account page as a person does.
		c = e.client("secretaires.localhost")
		if r := c.login("", email, "first password!"); r.Status != 303 {
			t.Fatalf("login: %d", r.Status)
		}
		// Signed in: his second factors (set up now, as the sign-in above asked for none), and a sign-in waiting for its second step.
		if _, err := e.srv.Accounts.BeginTOTP(ctx, tn, u); err != nil {
			t.Fatal(err)
		}
		if _, err := e.srv.Accounts.NewRecoveryCodes(ctx, tn, u.ID); err != nil {
			t.Fatal(err)
		}
		if _, _, err := e.srv.Accounts.StartChallenge(ctx, tn, u.ID, false, "/account"); err != nil {
			t.Fatal(err)
		}
		if err := e.srv.DB.InTenant(ctx, tn.ID, func(ctx context.Context, sc *db.Scope) error {
			_, err := sc.Insert(&accounts.Passkey{TenantID: tn.ID, ID: "pk-erasure-probe", UserID: u.ID, CredentialID: "cred-erasure-probe",
				Credential: "{}", Name: name + "'s key", CreatedAt: time.Now()}).Exec(ctx)
			return err
		}); err != nil {
			t.Fatal(err)
		}

		for tb, n := range map[string]int{"user_totp": 1, "user_recovery_codes": 10, "user_passkeys": 1, "mfa_challenges": 1} {
			if got := count(t, e, tn.ID, tb, u.ID); got != n {
				t.Fatalf("seeding put %d rows of his in %s, want %d", got, tb, n)
			}
		}
		if r := c.post("/account/delete", "/account/delete", url.Values{"reason": {"plus besoin"}, "password": {"first password!"}}); r.Status != 200 {
			t.Fatalf("delete: %d %s", r.Status, mainOf(r.Body))
		}

		// 4. Nothing of him is left but what is kept on purpose.
		after := find(t, whole, schema, probes)
		for p, cols := range after {
			for _, col := range cols {
				tb, cn, _ := strings.Cut(col, ".")
				if classOf(tb, cn) == kept && contains(keptMay[p], col) {
					continue
				}
				t.Errorf("after erasure, his %s is still in %s (%s)", p, col, classOf(tb, cn))
			}
		}
		if _, err := e.srv.Trail.Verify(ctx, tn.ID); err != nil {
			t.Errorf("the audit chain no longer verifies after the erasure: %v", err)
		}
	})
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

// find reads every row of every table and returns, per probe, the columns that hold it
// (case-insensitively, as text or within bytes).
func find(t *testing.T, q *sql.DB, schema map[string][]string, probes map[string]string) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for tb, cols := range schema {
		rows, err := q.QueryContext(context.Background(), fmt.Sprintf(`SELECT * FROM "%s"`, tb))
		if err != nil {
			t.Fatalf("%s: %v", tb, err)
		}
		names, _ := rows.Columns()
		seen := map[string]bool{}
		for rows.Next() {
			vals := make([]any, len(names))
			ptrs := make([]any, len(names))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatalf("%s: %v", tb, err)
			}
			for i, v := range vals {
				var s string
				switch v := v.(type) {
				case nil:
					continue
				case []byte:
					s = string(v)
				default:
					s = fmt.Sprint(v)
				}
				s = strings.ToLower(s)
				for p, val := range probes {
					key := p + "|" + tb + "." + names[i]
					if !seen[key] && strings.Contains(s, strings.ToLower(val)) {
						seen[key] = true
						out[p] = append(out[p], tb+"."+names[i])
					}
				}
			}
		}
		if err := rows.Err(); err != nil {
			t.Fatalf("%s: %v", tb, err)
		}
		rows.Close()
		_ = cols
	}
	return out
}
