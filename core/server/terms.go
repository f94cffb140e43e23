package server

import (
	"context"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"net/url"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"

	"carenet.dev/platform/core/accounts"
	"carenet.dev/platform/core/authz"
	"carenet.dev/platform/core/db"
	"carenet.dev/platform/core/form"
	"carenet.dev/platform/core/i18n"
	"carenet.dev/platform/core/jobs"
	"carenet.dev/platform/core/tenancy"
	"carenet.dev/platform/core/terms"
)

// ImportTenants imports the tenant catalog of a directory (ImportCatalog).
func (s *Server) ImportTenants(ctx context.Context, dir string) ([]tenancy.ImportResult, error) {
	if _, err := os.Stat(dir); err != nil {
		return nil, fmt.Errorf("import tenants: %w", err)
	}
	return s.ImportCatalog(ctx, os.DirFS(dir), dir)
}

// ImportCatalog imports a tenant catalog (a directory, or the one built into the binary)
// and seeds each tenant's terms from its terms/<doc>.<locale>.md files (version 1, in force
// at once) where it has none yet.
func (s *Server) ImportCatalog(ctx context.Context, fsys fs.FS, where string) ([]tenancy.ImportResult, error) {
	res, err := s.Tenants.ImportFS(ctx, fsys, where)
	if err != nil {
		return res, err
	}
	for _, r := range res {
		t, err := s.Tenants.BySlug(ctx, r.Slug)
		if err != nil {
			return res, err
		}
		docs := make([]string, 0, len(r.File.Terms))
		for d := range r.File.Terms {
			docs = append(docs, d)
		}
		sort.Strings(docs)
		for _, doc := range docs {
			texts := map[string]terms.Text{}
			for l, tt := range r.File.Terms[doc] {
				texts[l] = terms.Text{Title: tt.Title, Body: tt.Body}
			}
			if err := s.Terms.Seed(ctx, t.ID, doc, texts); err != nil {
				return res, err
			}
		}
		if err := s.Tenants.Touch(ctx, t.ID); err != nil {
			return res, err
		}
	}
	return res, nil
}

// termsDocs are the documents of a tenant: the account's and its enabled modules'.
func termsDocs(t *tenancy.Tenant) []string {
	return append([]string{terms.DocPlatform}, t.EnabledModules()...)
}

func (s *Server) bindTerms() {
	s.get("/terms", authz.PermPublic, s.termsIndex)
	s.get("/terms.pdf", authz.PermPublic, s.termsPDF)
	s.get("/terms/accept", authz.PermAccount, s.termsAcceptPage)
	s.post("/terms/accept", authz.PermAccount, s.termsAccept)
	s.get("/terms/:doc.pdf", authz.PermPublic, s.termsDocPDF)
	s.get("/terms/:doc", authz.PermPublic, s.termsPage)
	s.post("/account/consents", authz.PermAccount, s.saveConsents)
	s.get("/admin/terms", authz.PermAdminTerms, s.adminTerms)
	s.get("/admin/terms/:doc/new", authz.PermAdminTerms, s.adminTermsNew)
	s.post("/admin/terms/:doc", authz.PermAdminTerms, s.adminTermsPublish)
}

type docView struct {
	Doc      string
	Name     string
	InForce  *terms.Version
	Upcoming *terms.Version
	Title    string
	HTML     template.HTML
	Accepted *terms.Acceptance
	Count    int
}

func (s *Server) docName(st *State, doc string) string {
	if doc == terms.DocPlatform {
		return docName(st.Loc, doc)
	}
	return s.moduleName(st, doc)
}

// docName is the name of a terms document in a language.
func docName(loc *i18n.Localizer, doc string) string {
	if doc == terms.DocPlatform {
		return loc.T("terms.doc.platform")
	}
	if !loc.Has("module." + doc + ".name") {
		return doc // an external module without the platform's words for it
	}
	return loc.T("module." + doc + ".name")
}

// docView loads a document in force with its text in the page's language.
func (s *Server) docView(c *fiber.Ctx, doc string, withText bool) (*docView, error) {
	st := St(c)
	v := &docView{Doc: doc, Name: s.docName(st, doc)}
	cur, err := s.Terms.InForce(c.UserContext(), st.Tenant.ID, doc)
	if err != nil && !errors.Is(err, terms.ErrNotFound) {
		return nil, err
	}
	v.InForce = cur
	if up, err := s.Terms.Upcoming(c.UserContext(), st.Tenant.ID, doc); err == nil {
		v.Upcoming = up
	}
	if cur != nil && withText {
		txt, err := s.Terms.Text(c.UserContext(), st.Tenant.ID, cur.ID, st.Lang, st.Tenant.Settings.DefaultLocale)
		if err != nil {
			return nil, err
		}
		v.Title, v.HTML = txt.Title, terms.Render(txt.Body)
	}
	if cur != nil && st.User != nil {
		if v.Accepted, err = s.Terms.Accepted(c.UserContext(), st.Tenant.ID, st.User.ID, cur.ID); err != nil {
			return nil, err
		}
	}
	return v, nil
}

func (s *Server) termsIndex(c *fiber.Ctx) error {
	var docs []*docView
	for _, d := range termsDocs(St(c).Tenant) {
		v, err := s.docView(c, d, false)
		if err != nil {
			return err
		}
		if v.InForce != nil {
			docs = append(docs, v)
		}
	}
	return s.render(c, fiber.StatusOK, "terms_index", "terms.title", map[string]any{"Docs": docs}, nil)
}

func (s *Server) termsPage(c *fiber.Ctx) error {
	doc := c.Params("doc")
	if !contains(termsDocs(St(c).Tenant), doc) {
		return fiber.ErrNotFound
	}
	v, err := s.docView(c, doc, true)
	if err != nil {
		return err
	}
	if v.InForce == nil {
		return fiber.ErrNotFound
	}
	return s.renderPage(c, fiber.StatusOK, "terms_doc", v.Title, map[string]any{"Doc": v}, nil)
}

// inForce are the versions in force of the tenant's documents now, from the versions read
// once per revision of the tenant (publishing one bumps it).
func (s *Server) inForce(ctx context.Context, t *tenancy.Tenant) (map[string]*terms.Version, error) {
	all, err := s.termsInForce.Get(t, func() ([]terms.Version, error) { return s.Terms.All(ctx, t.ID) })
	if err != nil {
		return nil, err
	}
	return s.Terms.InForceOf(all), nil
}

// pendingTerms lists the versions in force the user has not accepted: of the account's terms,
// and of each module's whose terms he accepted some version of. His acceptances are read
// again only when his AcceptedRev moved (read with the session on every request).
func (s *Server) pendingTerms(ctx context.Context, st *State) ([]*terms.Version, error) {
	current, err := s.inForce(ctx, st.Tenant)
	if err != nil {
		return nil, err
	}
	docs, accepted, err := s.accepted.get(st.Tenant.ID, st.User, func() (map[string]bool, map[string]bool, error) {
		return s.Terms.AcceptedBy(ctx, st.Tenant.ID, st.User.ID)
	})
	if err != nil {
		return nil, err
	}
	required := []string{terms.DocPlatform}
	for _, d := range st.Tenant.EnabledModules() {
		if docs[d] {
			required = append(required, d)
		}
	}
	var out []*terms.Version
	for _, d := range required {
		if v := current[d]; v != nil && !accepted[v.ID] {
			out = append(out, v)
		}
	}
	return out, nil
}

// termsGate: once a new version is in force, either continued use counts as acceptance (it
// is recorded so), or the user must accept it before anything else — the tenant's rule.
func (s *Server) termsGate(c *fiber.Ctx) error {
	st := St(c)
	if st.User == nil || st.Tenant.Kind == tenancy.KindConsole {
		return c.Next()
	}
	p := c.Path()
	// What a person may reach before accepting: the terms themselves, leaving (logout,
	// account deletion), the language, the legal notice, and the page's own assets.
	for _, free := range []string{"/terms", "/logout", "/lang", "/account/delete", "/legal", "/branding.css", "/branding/logo", "/favicon.ico"} {
		if p == free || strings.HasPrefix(p, free+"/") {
			return c.Next()
		}
	}
	pending, err := s.pendingTerms(c.UserContext(), st)
	if err != nil {
		return err
	}
	if len(pending) == 0 {
		return c.Next()
	}
	if !st.Tenant.BoolRule("terms.explicit_reacceptance") {
		for _, v := range pending {
			if err := s.Terms.AcceptNow(c.UserContext(), st.Tenant.ID, st.User.ID, v, c.IP(), st.Lang, terms.ContinuedUse); err != nil {
				return err
			}
		}
		return c.Next()
	}
	if c.Method() == fiber.MethodGet {
		return c.Redirect(st.URL("/terms/accept?next="+url.QueryEscape(st.URL(c.OriginalURL()[len(st.Base):]))), fiber.StatusSeeOther)
	}
	return s.render(c, fiber.StatusForbidden, "error", "terms.gate.title", errorData{Message: "terms.gate.text"}, nil)
}

func (s *Server) termsAcceptPage(c *fiber.Ctx) error {
	return s.renderTermsAccept(c, fiber.StatusOK, nil)
}

func (s *Server) renderTermsAccept(c *fiber.Ctx, status int, f *Form) error {
	st := St(c)
	doc := c.Query("doc")
	if f != nil {
		doc = f.Values["doc"]
	}
	pending, err := s.pendingAt(c.UserContext(), st, doc)
	if err != nil {
		return err
	}
	if len(pending) == 0 && f == nil {
		return c.Redirect(safeNext(st, c.Query("next")), fiber.StatusSeeOther)
	}
	var docs []*docView
	for _, v := range pending {
		dv, err := s.docView(c, v.Doc, true)
		if err != nil {
			return err
		}
		docs = append(docs, dv)
	}
	if f == nil {
		f = &Form{Values: map[string]string{"next": c.Query("next"), "doc": doc}}
	}
	// Asked by a module's route (its first use, or a new version): said so (P6).
	if f.Values["doc"] != "" {
		return s.render(c, status, "terms_accept", "terms.accept.title_use", map[string]any{"Docs": docs, "AtUse": true}, f)
	}
	return s.render(c, status, "terms_accept", "terms.accept.title", map[string]any{"Docs": docs}, f)
}

func (s *Server) termsAccept(c *fiber.Ctx) error {
	st := St(c)
	if c.FormValue("accept") != "yes" {
		return s.renderTermsAccept(c, fiber.StatusUnprocessableEntity, &Form{Values: values(c, "next", "doc"),
			Errors: form.Errors{"accept": "terms.accept.required"}})
	}
	pending, err := s.pendingAt(c.UserContext(), st, c.FormValue("doc"))
	if err != nil {
		return err
	}
	for _, v := range pending {
		if err := s.Terms.AcceptNow(c.UserContext(), st.Tenant.ID, st.User.ID, v, c.IP(), st.Lang, terms.Explicit); err != nil {
			return err
		}
	}
	return c.Redirect(safeNext(st, c.FormValue("next")), fiber.StatusSeeOther)
}

// consentKinds are the optional consents a tenant asks: those its rule lists (P6; known
// kinds only, in their fixed order), and geolocation where a module needs the person's
// position (the calendar's search near me).
func consentKinds(t *tenancy.Tenant) []string {
	listed := splitList(t.StringRule(tenancy.RuleOptionalConsents))
	var out []string
	for _, k := range terms.OptionalConsents {
		if contains(listed, k) || (k == terms.ConsentGeolocation && contains(t.EnabledModules(), "calendar")) {
			out = append(out, k)
		}
	}
	return out
}

// splitList reads a rule's comma-separated list.
func splitList(s string) []string {
	var out []string
	for _, x := range strings.Split(s, ",") {
		if x = strings.TrimSpace(x); x != "" {
			out = append(out, x)
		}
	}
	return out
}

// saveConsents records the user's optional consents as the account page sets them; each
// change is a new record (the history stays).
func (s *Server) saveConsents(c *fiber.Ctx) error {
	st := St(c)
	current, err := s.Terms.Consents(c.UserContext(), st.Tenant.ID, st.User.ID)
	if err != nil {
		return err
	}
	err = s.DB.InTenant(c.UserContext(), st.Tenant.ID, func(ctx context.Context, sc *db.Scope) error {
		for _, k := range consentKinds(st.Tenant) {
			want := c.FormValue("consent_"+k) == "yes"
			if cur, ok := current[k]; ok && cur.Granted == want {
				continue
			}
			if err := s.Terms.SetConsent(ctx, sc, st.User.ID, k, want, c.IP()); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	s.flash(c, "account.consents.saved")
	return c.Redirect(st.URL("/account"), fiber.StatusSeeOther)
}

// ---- tenant admin ----

func (s *Server) adminTerms(c *fiber.Ctx) error {
	st := St(c)
	var docs []map[string]any
	for _, d := range termsDocs(st.Tenant) {
		vs, err := s.Terms.Versions(c.UserContext(), st.Tenant.ID, d)
		if err != nil {
			return err
		}
		type row struct {
			terms.Version
			Count int
		}
		var rows []row
		for _, v := range vs {
			n, err := s.Terms.CountAcceptances(c.UserContext(), st.Tenant.ID, v.ID)
			if err != nil {
				return err
			}
			rows = append(rows, row{Version: v, Count: n})
		}
		docs = append(docs, map[string]any{"Doc": d, "Name": s.docName(st, d), "Versions": rows})
	}
	return s.render(c, fiber.StatusOK, "admin_terms", "admin.terms.title", map[string]any{"Docs": docs,
		"Notice": int(st.Tenant.IntRule("terms.notice_days"))}, nil)
}

// noticeRules are the tenant rules that give the notice period of each kind of change (P6).
var noticeRules = map[string]string{terms.ChangeGeneral: "terms.notice_days", terms.ChangeFees: "terms.notice_days_fees",
	terms.ChangeClosing: "terms.notice_days_closing"}

// noticeDays is the tenant's notice period of a kind of change, in days.
func noticeDays(t *tenancy.Tenant, change string) int {
	return int(t.IntRule(noticeRules[change]))
}

type noticeView struct {
	Change string
	Days   int
}

func (s *Server) renderTermsForm(c *fiber.Ctx, status int, doc string, f *Form) error {
	st := St(c)
	var notices []noticeView
	for _, ch := range terms.Changes {
		notices = append(notices, noticeView{Change: ch, Days: noticeDays(st.Tenant, ch)})
	}
	if f == nil {
		f = &Form{Values: map[string]string{"change": terms.ChangeGeneral}}
		earliest := s.Terms.Now().In(st.Tenant.Location()).AddDate(0, 0, noticeDays(st.Tenant, terms.ChangeGeneral))
		f.Values["effective"] = earliest.Format("2006-01-02")
		if cur, err := s.Terms.InForce(c.UserContext(), st.Tenant.ID, doc); err == nil {
			for _, l := range st.Tenant.Settings.Locales {
				if t, err := s.Terms.Text(c.UserContext(), st.Tenant.ID, cur.ID, l, ""); err == nil && t.Locale == l {
					f.Values["title_"+l], f.Values["body_"+l] = t.Title, t.Body
				}
			}
		}
	}
	return s.render(c, status, "admin_terms_new", "admin.terms.new_title", map[string]any{"Doc": doc, "Name": s.docName(st, doc),
		"Locales": st.Tenant.Settings.Locales, "Notices": notices}, f)
}

func (s *Server) adminTermsNew(c *fiber.Ctx) error {
	doc := c.Params("doc")
	if !contains(termsDocs(St(c).Tenant), doc) {
		return fiber.ErrNotFound
	}
	return s.renderTermsForm(c, fiber.StatusOK, doc, nil)
}

// adminTermsPublish publishes a new version; the people concerned are told by e-mail (a job).
func (s *Server) adminTermsPublish(c *fiber.Ctx) error {
	st := St(c)
	doc := c.Params("doc")
	if !contains(termsDocs(st.Tenant), doc) {
		return fiber.ErrNotFound
	}
	f := &Form{Values: values(c, "effective", "change"), Errors: form.Errors{}}
	change := f.Values["change"]
	if change == "" {
		change = terms.ChangeGeneral
	}
	if _, ok := noticeRules[change]; !ok {
		f.Errors.Add("change", "form.invalid")
	}
	d := terms.Draft{Doc: doc, Change: change, By: st.User.ID, Texts: map[string]terms.Text{}}
	for _, l := range st.Tenant.Settings.Locales {
		f.Values["title_"+l], f.Values["body_"+l] = c.FormValue("title_"+l), c.FormValue("body_"+l)
		d.Texts[l] = terms.Text{Title: c.FormValue("title_" + l), Body: c.FormValue("body_" + l)}
	}
	if v := f.Values["effective"]; v != "" {
		eff, err := time.ParseInLocation("2006-01-02", v, st.Tenant.Location())
		if err != nil {
			f.Errors.Add("effective", "form.date.invalid")
		}
		d.Effective = eff
	}
	if len(f.Errors) > 0 {
		return s.renderTermsForm(c, fiber.StatusUnprocessableEntity, doc, f)
	}
	// Each kind of change has its own notice period (P6): general, new fees, closing.
	notice := time.Duration(noticeDays(st.Tenant, change)) * 24 * time.Hour
	v, err := s.Terms.Publish(c.UserContext(), st.Tenant.ID, d, st.Tenant.Settings.Locales, notice, st.Tenant.Location())
	if err == nil {
		// The terms gate of every page reads the versions: every instance reads them again.
		err = s.Tenants.Touch(c.UserContext(), st.Tenant.ID)
	}
	var ferr form.Errors
	if errors.As(err, &ferr) {
		f.Errors = ferr
		return s.renderTermsForm(c, fiber.StatusUnprocessableEntity, doc, f)
	}
	if err != nil {
		return err
	}
	if err := s.record(c, "", ActTermsPublished, "", "terms:"+doc, map[string]any{"version": v.Version,
		"effective": v.EffectiveAt.Format(time.RFC3339), "change": v.Change}); err != nil {
		return err
	}
	if _, err := s.Jobs.Enqueue(c.UserContext(), st.Tenant.ID, jobs.Spec{Module: jobs.CoreModule, Name: "core.terms_notify",
		Key: "terms_notify:" + v.ID, At: time.Now(), Payload: []byte(v.ID)}); err != nil {
		return err
	}
	s.flash(c, "admin.terms.published_flash")
	return c.Redirect(st.URL("/admin/terms"), fiber.StatusSeeOther)
}

// notifyTerms e-mails every person concerned by a new version, in his language: everyone for
// the account's terms, those who accepted the module's terms for a module's.
func (s *Server) notifyTerms(ctx context.Context, t *tenancy.Tenant, versionID string) error {
	var v terms.Version
	err := s.DB.ReadTenant(ctx, t.ID, func(ctx context.Context, sc *db.Scope) error {
		return sc.Select(&v).Where("id = ?", versionID).Scan(ctx)
	})
	if err != nil {
		return err
	}
	link := s.tenantURL(t, "/terms/"+v.Doc)
	return s.mailActiveUsers(ctx, t, func(u accounts.User, lang string) error {
		if v.Doc != terms.DocPlatform {
			docs, err := s.Terms.AcceptedDocs(ctx, t.ID, u.ID)
			if err != nil || !docs[v.Doc] {
				return err
			}
		}
		return s.sendMail(ctx, t, u.Email, u.Name, lang, "terms_published", link, "Document", docName(s.I18n.For(lang), v.Doc),
			"Date", formatDay(lang, v.EffectiveAt, t))
	})
}

// acceptedMemo keeps, per account, what it accepted, at the AcceptedRev it was read at: every
// acceptance bumps that rev in its own transaction, and the session read of every request
// brings the current one, so no instance ever uses an outdated list.
type acceptedMemo struct {
	mu sync.Mutex
	m  map[string]acceptedEntry
}

type acceptedEntry struct {
	rev            int64
	docs, versions map[string]bool
}

// maxAccepted bounds the accounts remembered; past it, the memo starts again.
const maxAccepted = 100_000

func (a *acceptedMemo) get(tenantID string, u *accounts.User, load func() (map[string]bool, map[string]bool, error)) (map[string]bool, map[string]bool, error) {
	key := tenantID + "/" + u.ID
	a.mu.Lock()
	e, ok := a.m[key]
	a.mu.Unlock()
	if ok && e.rev == u.AcceptedRev {
		return e.docs, e.versions, nil
	}
	docs, versions, err := load()
	if err != nil {
		return nil, nil, err
	}
	a.mu.Lock()
	if a.m == nil || len(a.m) >= maxAccepted {
		a.m = map[string]acceptedEntry{}
	}
	a.m[key] = acceptedEntry{rev: u.AcceptedRev, docs: docs, versions: versions}
	a.mu.Unlock()
	return docs, versions, nil
}
