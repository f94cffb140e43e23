package server_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/chromedp/chromedp"

	"carenet.dev/platform/core/browsertest"
	"carenet.dev/platform/core/complaints"
	"carenet.dev/platform/core/db/dbtest"
)

// TestBrowserComplaintQuestion: the person asked about his complaint answers on its page in
// a phone's browser: the page fits 390 px and passes axe-core, an empty answer is refused
// next to the field, the answer is taken and the clock restarts (C17, issue 13.10).
func TestBrowserComplaintQuestion(t *testing.T) {
	execPath := browsertest.Need(t)
	checks := browsertest.NeedChecks(t)
	e := newLiveEnv(t, dbtest.Backends()[0]) // a browser run is slow: SQLite only
	p := &page{t: t, ctx: browsertest.Start(t, execPath, browserScenarioTimeout)}
	m := messages(t, "pl")
	p.do("phone viewport", chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile, chromedp.EmulateTouch))
	checkPage := func(what string) {
		t.Helper()
		p.fitsPhone(what)
		vs, err := checks.Axe(p.ctx)
		if err != nil {
			p.fatal("axe-core on "+what, err)
		}
		for _, v := range browsertest.Serious(vs) {
			t.Errorf("%s: axe-core: %s", what, v)
		}
	}
	ctx := context.Background()
	tn := e.tenant("elekarze")
	cp, err := e.srv.Complaints.Lodge(ctx, tn.ID, complaints.RulesOf(tn), complaints.Draft{Module: "platform", Category: "service",
		Body: "Nie mogę zarezerwować wizyty.", ReplyTo: "pacjent@example.org", Locale: "pl"}, func(string) bool { return true })
	if err != nil {
		t.Fatal(err)
	}
	_, key, err := e.srv.Complaints.Ask(ctx, tn.ID, cp.ID, "staff", "Proszę podać nazwisko lekarza i datę wizyty, której dotyczy reklamacja.")
	if err != nil {
		t.Fatal(err)
	}
	p.navigate("open the complaint's page", e.url("elekarze.localhost", "/complaints/explain/"+key))
	p.wantText("main h1", msg(t, m, "complaints.explain_title"))
	checkPage("the question")
	p.load("send an empty answer", 422, chromedp.Click(chromedp.CSS(`main form button[type=submit]`)))
	p.wantText("#e-explanation", msg(t, m, "form.required"))
	checkPage("the question with an error")
	p.do("type the answer", typeText(`#f-explanation`, "Dr Anna Nowak, 3 grudnia."))
	p.load("send the answer", 200, chromedp.Click(chromedp.CSS(`main form button[type=submit]`)))
	p.wantText("main h1", msg(t, m, "complaints.explained_title"))
	checkPage("the answer taken")
	got, _ := e.srv.Complaints.Get(ctx, tn.ID, cp.ID)
	if got.Paused() || len(got.Questions) != 1 || got.Questions[0].Explanation != "Dr Anna Nowak, 3 grudnia." {
		p.fatal("the answer stored", fmt.Errorf("%+v", got.Questions))
	}
	p.navigate("open the terms", e.url("elekarze.localhost", "/terms"))
	checkPage("the terms with their PDF links")
}
