package server_test

import (
	"context"
	"html"
	"strings"
	"testing"
	"time"

	"carenet.dev/platform/core/db/dbtest"
	"carenet.dev/platform/core/i18n"
	"carenet.dev/platform/core/jobs"
	"carenet.dev/platform/core/server"
)

// TestCoreJobsAndTemplatesHaveNames: issue 12.13. Every job of the core (scheduled, one-off,
// and each core event carried to a module) and every e-mail of the core has a name in fr, pl
// and sk: the jobs and messages pages show it instead of "core core.remove_unverified" or
// "closed_inactive". (The modules' own: cmd/platform TestModuleJobsAndTemplatesHaveNames.)
func TestCoreJobsAndTemplatesHaveNames(t *testing.T) {
	b, err := i18n.Load()
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, name := range server.CoreJobNames() {
		keys = append(keys, server.JobNameKey(jobs.CoreModule, name))
	}
	for _, kind := range server.CoreEventKinds {
		keys = append(keys, server.JobNameKey("results", "event:"+kind))
	}
	for _, tmpl := range server.CoreTemplates() {
		keys = append(keys, server.TemplateNameKey(tmpl))
	}
	if len(keys) < 20 {
		t.Fatalf("only %d names to check: the lists are broken", len(keys))
	}
	for _, k := range keys {
		for _, lang := range []string{"fr", "pl", "sk"} {
			if !b.Has(lang, k) {
				t.Errorf("%s: no %q", lang, k)
			}
		}
	}
}

// TestJobsAndMessagesPagesInWords: issue 12.13. The jobs page names each job and who runs
// it in the reader's language, with its state and time in words, never the job's internal
// name or its English error; the message templates page names each message (a module's
// from its message file), with the languages by their names.
func TestJobsAndMessagesPagesInWords(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, b dbtest.Backend) {
		e := newEnv(t, b)
		f := e.withFakeResults()
		f.man.Templates = []string{"results.published"}
		ctx := context.Background()
		ml := e.tenant("mlab")
		// One job that failed, with an error in English, and one pending.
		j, err := e.srv.Jobs.Enqueue(ctx, ml.ID, jobs.Spec{Module: jobs.CoreModule, Name: "core.close_inactive", Key: "t1", At: time.Now()})
		if err != nil {
			t.Fatal(err)
		}
		claimed, err := e.srv.Jobs.ClaimDue(ctx, 10)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range claimed {
			if c.ID == j {
				c.Attempts = 99
				if err := e.srv.Jobs.Finish(ctx, c, errFake("dial tcp: connection refused")); err != nil {
					t.Fatal(err)
				}
			}
		}
		if _, err := e.srv.Jobs.Enqueue(ctx, ml.ID, jobs.Spec{Module: "results", Name: "results.retention", Key: "t2", At: time.Now().Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
		admin := e.client("mlab.localhost")
		if r := admin.login("", "admin@mlab.localhost", "demo-mlab-admin"); r.Status != 303 {
			t.Fatal("login")
		}
		for _, lang := range []string{"fr", "pl", "sk"} {
			loc := e.srv.I18n.For(lang)
			admin.post("/", "/lang", map[string][]string{"lang": {lang}})
			r := admin.get("/admin/jobs")
			mustContain(t, r, html.EscapeString(loc.T("job.results.retention")), html.EscapeString(loc.T("module.results.name")),
				html.EscapeString(loc.T("admin.jobs.state.pending")))
			mustNotContain(t, r, "core.", "results.retention", "<code>", "connection refused")
			r = admin.get("/admin/messages")
			mustContain(t, r, html.EscapeString(loc.T("mail.closed_inactive.name")), html.EscapeString(loc.T("mail.results.published.name")), "Polski", "Slovenčina")
			mustNotContain(t, r, "<code>", ">closed_inactive<", ">results.published<", `lang="pl">pl<`)
		}
		// The failed job, in words: its state, and where its cause is (the log), not the cause.
		r := admin.get("/admin/jobs?status=failed")
		sk := e.srv.I18n.For("sk")
		mustContain(t, r, html.EscapeString(sk.T("job.core.close_inactive")), html.EscapeString(sk.T("admin.jobs.platform")), html.EscapeString(sk.T("admin.jobs.error_logged")))
		console := e.consoleAdmin()
		r = console.get("/platform/jobs")
		fr := e.srv.I18n.For("fr")
		mustContain(t, r, html.EscapeString(fr.T("job.core.close_inactive")), "MLab Laboratoires")
		mustNotContain(t, r, "core.close_inactive", "connection refused")
	})
}

type errFake string

func (e errFake) Error() string { return string(e) }

// TestTemplateNameKey: a module's SMS wording is named after its e-mail.
func TestTemplateNameKey(t *testing.T) {
	if k := server.TemplateNameKey("sms.results.published"); k != "mail.results.published.name" || !strings.HasPrefix(server.JobNameKey("x", "run"), "job.x.") {
		t.Fatal(k)
	}
}
