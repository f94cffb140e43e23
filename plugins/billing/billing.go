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
	"context"
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

// part is what one part of the module declares; New assembles them.
type part struct {
	Routes             []kit.Route
	Rules              []kit.Rule
	Jobs               []kit.Job
	Notifications      []string
	AuditActions       []string
	RegistrationFields []sdk.Field
	Funcs              template.FuncMap
	// Forget runs when an account is deleted (P11: invoices are kept, detached);
	// Export adds what the part holds of a user under its own keys.
	Forget func(ctx context.Context, t sdk.Tenant, userID string) error
	Export func(ctx context.Context, t sdk.Tenant, userID string) (map[string]any, error)
}

// Module is the billing module.
type Module struct {
	*kit.Module
	now   func() time.Time
	parts []part
}

// New returns the module.
func New() sdk.Module { return newModule() }

func newModule() *Module {
	m := &Module{now: func() time.Time { return time.Now().UTC() }}
	m.parts = []part{m.catalogPart(), m.subscriptionsPart(), m.usagePart(), m.invoicesPart(), m.documentsPart(), m.paymentsPart(), m.contractPart(), m.demoPart()}
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
		Rules:         append([]kit.Rule(nil), sharedRules...),
		Nav:           m.nav,
		OnDemo:        m.seedDemo,
		OnUserDeleted: m.forget,
		Export:        m.export,
	}
	for _, p := range m.parts {
		spec.Routes = append(spec.Routes, p.Routes...)
		spec.Rules = append(spec.Rules, p.Rules...)
		spec.Jobs = append(spec.Jobs, p.Jobs...)
		spec.Notifications = append(spec.Notifications, p.Notifications...)
		spec.AuditActions = append(spec.AuditActions, p.AuditActions...)
		spec.RegistrationFields = append(spec.RegistrationFields, p.RegistrationFields...)
		for k, f := range p.Funcs {
			spec.Funcs[k] = f
		}
	}
	m.Module = kit.New(spec)
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

// forget runs each part's Forget, the later parts first.
func (m *Module) forget(ctx context.Context, t sdk.Tenant, userID string) error {
	for i := len(m.parts) - 1; i >= 0; i-- {
		if p := m.parts[i]; p.Forget != nil {
			if err := p.Forget(ctx, t, userID); err != nil {
				return err
			}
		}
	}
	return nil
}

// export gathers each part's Export.
func (m *Module) export(ctx context.Context, t sdk.Tenant, userID string) (map[string]any, error) {
	out := map[string]any{}
	for _, p := range m.parts {
		if p.Export == nil {
			continue
		}
		got, err := p.Export(ctx, t, userID)
		if err != nil {
			return nil, err
		}
		for k, v := range got {
			out[k] = v
		}
	}
	return out, nil
}

// zone is the tenant's time zone; today is the tenant's current day in it.
func zone(t sdk.Tenant) *time.Location    { return view.Zone(t.TimeZone) }
func (m *Module) today(t sdk.Tenant) Date { return DateOf(m.now(), zone(t)) }

// newID is a random id (nothing to enumerate).
func newID() string { return uuid.NewString() }
