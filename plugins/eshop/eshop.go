// Package eshop is the lab e-shop and gift-voucher module (REQUIREMENTS E1–E15): self-pay
// lab tests, collection slots, payment and vouchers. It runs as its own process; it imports
// only the SDK, the kit and the locales.
//
// The module is assembled from its parts, each in its own files with its own routes, rules,
// jobs, messages and migrations: the catalog and the collection points (catalog.go,
// points.go, slots.go), the cart, checkout and orders (orders.go), payment and invoices
// (pay.go), vouchers (vouchers.go), the collection point's work — rescheduling, attendance,
// refusals, force majeure (staff.go) —, results and claims (results.go), and the people and
// the demo (people.go, demo.go).
package eshop

import (
	"embed"
	"html/template"
	"time"

	"github.com/google/uuid"

	"carenet.dev/platform/plugins/kit"
	"carenet.dev/platform/plugins/sdk"
)

//go:embed migrations
var migrations embed.FS

//go:embed templates/*.html
var templates embed.FS

// Rules, with the defaults REQUIREMENTS.md gives; each tenant may change them. Each part
// declares its own beside these shared ones.
var (
	paymentMinutes              = kit.Int("eshop.payment_minutes", 30, 5, 1440, "E5")
	cartHoldMinutes             = kit.Int("eshop.cart_hold_minutes", 30, 5, 1440, "E4")
	rescheduleNoticeWorkingDays = kit.Int("eshop.reschedule_notice_working_days", 3, 0, 30, "E7")
	arrivalToleranceMinutes     = kit.Int("eshop.arrival_tolerance_minutes", 30, 0, 240, "E8")
	tatGraceWorkingDays         = kit.Int("eshop.tat_grace_working_days", 2, 0, 30, "E10")
	lateResultDiscountPercent   = kit.Int("eshop.late_result_discount_percent", 30, 0, 100, "E10")
	claimDays                   = kit.Int("eshop.claim_days", 30, 1, 365, "E10, E12")
	testVoucherMonths           = kit.Int("eshop.test_voucher_months", 3, 1, 60, "E14.a")
	valueVoucherMonths          = kit.Int("eshop.value_voucher_months", 6, 1, 60, "E14.b")
	minAgeSuitable              = kit.Int("eshop.min_age_suitable", 6, 0, 18, "E1")
	minAgeDefault               = kit.Int("eshop.min_age_default", 10, 0, 18, "E1")
	// E1: the legal VAT rate of the marked prices and of the handling fee (Slovakia: 23 %
	// since 2025), and the handling fee added to each test or package, VAT included.
	vatPercent       = kit.Int("eshop.vat_percent", 23, 0, 100, "E1")
	handlingFeeMinor = kit.Int("eshop.handling_fee_minor", 300, 0, 100000, "E1")
	sharedRules      = []kit.Rule{paymentMinutes, cartHoldMinutes, rescheduleNoticeWorkingDays, arrivalToleranceMinutes, tatGraceWorkingDays, lateResultDiscountPercent, claimDays, testVoucherMonths, valueVoucherMonths, minAgeSuitable, minAgeDefault, vatPercent, handlingFeeMinor}
)

// Permissions.
const (
	permOrder    = "eshop.order"    // E4, E14.d: a signed-in customer
	permManage   = "eshop.manage"   // E1, E3, E14.f: the shop manager
	permSampling = "eshop.sampling" // E7–E10: the lab's staff
)

// part is what one part of the module declares (kit.Part); New assembles them.
type part = kit.Part

// Module is the e-shop module.
type Module struct {
	*kit.Module
	now func() time.Time
}

// New returns the module.
func New() sdk.Module { return newModule() }

func newModule() *Module {
	m := &Module{now: func() time.Time { return time.Now().UTC() }}
	parts := []part{m.catalogPart(), m.ordersPart(), m.payPart(), m.voucherPart(), m.staffPart(), m.resultsPart(), m.peoplePart()}
	spec := kit.Spec{
		ID: "eshop", Version: "0.2.0", Migrations: migrations, Templates: templates, Pattern: "templates/*.html",
		Funcs:   template.FuncMap{},
		Portals: []string{"customers"},
		Roles:   []sdk.Role{{ID: "shop_manager"}, {ID: "lab_staff"}},
		Permissions: []sdk.Permission{
			{Name: permOrder, Grants: []string{"user"}},
			{Name: permManage, Grants: []string{"shop_manager", "tenant_admin"}},
			{Name: permSampling, Grants: []string{"lab_staff"}},
		},
		Rules:  append([]kit.Rule(nil), sharedRules...),
		Nav:    m.nav,
		OnDemo: m.seedDemo,
	}
	m.Module = kit.New(kit.WithParts(spec, parts...))
	return m
}

// nav is the shop's own navigation for the request's person: the catalog, where to find us and
// the gift vouchers for everyone; the cart, orders, results and vouchers of a customer; the
// day list, the lab and their queues for lab staff; the catalog's, points' and vouchers'
// management for the shop manager.
func (m *Module) nav(c *kit.Ctx) []kit.NavLink {
	links := []kit.NavLink{{Path: "/eshop", LabelKey: "eshop.nav.catalog", Also: []string{"/eshop/items"}}, {Path: "/eshop/points", LabelKey: "eshop.nav.points"},
		{Path: "/eshop/vouchers", LabelKey: "eshop.nav.vouchers"}}
	if c.Can(permOrder) {
		links = append(links, kit.NavLink{Path: "/eshop/cart", LabelKey: "eshop.nav.cart"}, kit.NavLink{Path: "/eshop/orders", LabelKey: "eshop.nav.orders"},
			kit.NavLink{Path: "/eshop/results", LabelKey: "eshop.nav.results"}, kit.NavLink{Path: "/eshop/vouchers/mine", LabelKey: "eshop.nav.my_vouchers"})
	}
	if c.Can(permSampling) {
		links = append(links, kit.NavLink{Path: "/eshop/staff", LabelKey: "eshop.nav.staff"}, kit.NavLink{Path: "/eshop/staff/reschedules", LabelKey: "eshop.nav.reschedules"},
			kit.NavLink{Path: "/eshop/lab", LabelKey: "eshop.nav.lab"}, kit.NavLink{Path: "/eshop/lab/claims", LabelKey: "eshop.nav.claims"},
			kit.NavLink{Path: "/eshop/lab/complaints", LabelKey: "eshop.nav.complaints"}, kit.NavLink{Path: "/eshop/staff/force-majeure", LabelKey: "eshop.nav.force_majeure"})
	}
	if c.Can(permManage) {
		links = append(links, kit.NavLink{Path: "/eshop/manage", LabelKey: "eshop.nav.manage"}, kit.NavLink{Path: "/eshop/manage/points", LabelKey: "eshop.nav.manage_points"},
			kit.NavLink{Path: "/eshop/manage/vouchers", LabelKey: "eshop.nav.manage_vouchers"})
		if !c.Can(permSampling) {
			links = append(links, kit.NavLink{Path: "/eshop/manage/force-majeure", LabelKey: "eshop.nav.force_majeure"})
		}
	}
	return links
}

// newID is a random id (nothing to enumerate).
func newID() string { return uuid.NewString() }
