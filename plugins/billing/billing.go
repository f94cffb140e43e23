// Package billing is the secretariat-billing module (REQUIREMENTS B1–B12): the billing a
// telesecretariat firm runs for the doctors it answers the phone for. It runs as its own
// process; it imports only the SDK, the kit and the locales.
//
// The module is assembled from its parts, each in its own files with its own routes, rules,
// jobs, messages and migrations: the catalog (catalog.go), subscriptions and the client portal
// (subscriptions.go), usage, messages and retention from the telephony platform (usage.go),
// invoices and billing runs (invoices.go, runs.go), the invoice documents and e-invoices
// (invoicepdf.go, facturx.go), payments and dunning (payments.go, dunning.go), and tariff
// changes, termination and the liability cap (tariffs.go, termination.go), then the demo
// (demo.go).
package billing

import (
	"embed"
	"html/template"
	"time"

	"github.com/google/uuid"

	"carenet.dev/platform/plugins/kit"
	"carenet.dev/platform/plugins/kit/view"
	"carenet.dev/platform/plugins/sdk"
)

//go:embed migrations
var migrations embed.FS

//go:embed templates/*.html
var templates embed.FS

// Rules, with the defaults REQUIREMENTS.md gives; each tenant may change them. Each part
// declares its own beside these shared ones.
var (
	tariffNoticeMonths           = kit.Int("billing.tariff_notice_months", 1, 0, 12, "B4")
	tariffRefusalDays            = kit.Int("billing.tariff_refusal_days", 10, 0, 90, "B4")
	paymentDay                   = kit.Int("billing.payment_day", 5, 1, 28, "B5")
	latePenaltyLegalRateMultiple = kit.Int("billing.late_penalty_legal_rate_multiple", 2, 0, 10, "B6")
	formalNoticeDays             = kit.Int("billing.formal_notice_days", 15, 1, 90, "B6")
	terminationNoticeMonths      = kit.Int("billing.termination_notice_months", 3, 0, 24, "B8")
	recordingRetentionMonths     = kit.Int("billing.recording_retention_months", 2, 0, 120, "B2")
	// B5: the VAT rate of the firm's services (France: 20 %), and the flat recovery fee owed
	// on a late payment by a business (Code de commerce L441-10: 40 €).
	vatPercent       = kit.Int("billing.vat_percent", 20, 0, 100, "B5")
	recoveryFeeMinor = kit.Int("billing.recovery_fee_minor", 4000, 0, 1000000, "B5, B6")
	sharedRules      = []kit.Rule{tariffNoticeMonths, tariffRefusalDays, paymentDay, latePenaltyLegalRateMultiple, formalNoticeDays, terminationNoticeMonths, recordingRetentionMonths, vatPercent, recoveryFeeMinor}
)

// Permissions.
const (
	permOwn    = "billing.view_own"     // B1, B5, B12: a client, in his portal
	permManage = "billing.manage"       // B1–B8: the billing clerk
	permUsage  = "billing.record_usage" // B3: the telephony platform (an API key) and the secretariat
)

// part is what one part of the module declares (kit.Part); New assembles them.
type part = kit.Part

// Module is the billing module.
type Module struct {
	*kit.Module
	now func() time.Time
}

// New returns the module.
func New() sdk.Module { return newModule() }

func newModule() *Module {
	m := &Module{now: func() time.Time { return time.Now().UTC() }}
	parts := []part{m.catalogPart(), m.subscriptionsPart(), m.usagePart(), m.invoicesPart(), m.documentsPart(), m.paymentsPart(), m.contractPart(), m.demoPart()}
	spec := kit.Spec{
		ID: "billing", Version: "0.2.0", Migrations: migrations, Templates: templates, Pattern: "templates/*.html",
		// i64 turns a count into the int64 the view's number helpers take.
		Funcs:   template.FuncMap{"i64": func(n int) int64 { return int64(n) }},
		Portals: []string{"clients"},
		Roles:   []sdk.Role{{ID: "billing_clerk"}, {ID: "secretariat_agent"}},
		Permissions: []sdk.Permission{
			{Name: permOwn, Grants: []string{"user"}},
			{Name: permManage, Grants: []string{"billing_clerk", "tenant_admin"}},
			{Name: permUsage, Grants: []string{"secretariat_agent", "billing_clerk"}},
		},
		Rules: append([]kit.Rule(nil), sharedRules...),
		// The nav marks /billing/manage/subscriptions as the subscriptions' place: the
		// address answers with their list rather than a 404.
		Routes: []kit.Route{kit.Perm("GET /billing/manage/subscriptions", permManage, func(c *kit.Ctx) error { return c.Redirect("/billing/manage", "") })},
		Nav:    m.nav,
		OnDemo: m.seedDemo,
	}
	m.Module = kit.New(kit.WithParts(spec, parts...))
	return m
}

// nav is the module's own navigation for the request's person: a client's portal (his
// contract, consumption, messages, invoices); the billing clerk's places (subscriptions,
// invoices and runs, payments, dunning, catalog and tariffs).
func (m *Module) nav(c *kit.Ctx) []kit.NavLink {
	var links []kit.NavLink
	if c.Can(permOwn) && !c.Can(permManage) {
		links = append(links, kit.NavLink{Path: "/billing", LabelKey: "billing.nav.portal", Also: []string{"/billing/portal"}},
			kit.NavLink{Path: "/billing/usage", LabelKey: "billing.nav.usage"},
			kit.NavLink{Path: "/billing/messages", LabelKey: "billing.nav.messages"},
			kit.NavLink{Path: "/billing/invoices", LabelKey: "billing.nav.invoices"},
			kit.NavLink{Path: "/billing/contract", LabelKey: "billing.nav.contract"})
	}
	if c.Can(permManage) {
		links = append(links, kit.NavLink{Path: "/billing/manage", LabelKey: "billing.nav.subscriptions", Also: []string{"/billing/manage/subscriptions"}},
			kit.NavLink{Path: "/billing/manage/invoices", LabelKey: "billing.nav.manage_invoices", Also: []string{"/billing/manage/runs"}},
			kit.NavLink{Path: "/billing/manage/payments", LabelKey: "billing.nav.payments"},
			kit.NavLink{Path: "/billing/manage/dunning", LabelKey: "billing.nav.dunning"},
			kit.NavLink{Path: "/billing/manage/catalog", LabelKey: "billing.nav.catalog", Also: []string{"/billing/manage/tariffs"}})
	}
	return links
}

// zone is the tenant's time zone; today is the tenant's current day in it.
func zone(t sdk.Tenant) *time.Location    { return view.Zone(t.TimeZone) }
func (m *Module) today(t sdk.Tenant) Date { return DateOf(m.now(), zone(t)) }

// newID is a random id (nothing to enumerate).
func newID() string { return uuid.NewString() }
