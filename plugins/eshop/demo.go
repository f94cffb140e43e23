package eshop

import (
	"bytes"
	"context"
	"database/sql"
	_ "embed"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/BurntSushi/toml"
	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"carenet.dev/platform/locales"
	"carenet.dev/platform/plugins/kit"
	"carenet.dev/platform/plugins/kit/pdfdoc"
	"carenet.dev/platform/plugins/kit/store"
	"carenet.dev/platform/plugins/kit/textfold"
	"carenet.dev/platform/plugins/kit/workdays"
	"carenet.dev/platform/plugins/sdk"
)

// The demo tenant's shop (issue 14.10): a Slovak self-pay catalog and three collection
// points, written in demodata/catalog.toml, and for the demo customer a paid order to come
// and a completed one whose result is out.

//go:embed demodata/catalog.toml
var demoCatalogTOML []byte

// demoCatalog is demodata/catalog.toml.
type demoCatalog struct {
	Consent    string            `toml:"consent"`
	Info       string            `toml:"info"`
	Prep       map[string]string `toml:"prep"`
	Categories []struct {
		Key  string `toml:"key"`
		Name string `toml:"name"`
	} `toml:"categories"`
	Tests    []demoItem  `toml:"tests"`
	Packages []demoItem  `toml:"packages"`
	Points   []demoPoint `toml:"points"`
}

// demoItem is a test or a package of the demo catalog; Tests are a package's tests' codes.
type demoItem struct {
	Code        string   `toml:"code"`
	Category    string   `toml:"category"`
	Name        string   `toml:"name"`
	Description string   `toml:"description"`
	Prep        []string `toml:"prep"`
	PrepExtra   string   `toml:"prep_extra"`
	Price       int64    `toml:"price"`
	TAT         int      `toml:"tat"`
	From6       bool     `toml:"from6"`
	Voucher     bool     `toml:"voucher"`
	VAT         bool     `toml:"vat"`
	Tests       []string `toml:"tests"`
}

// demoPoint is a collection point of the demo; ClosedNote, when set, closes it one day.
type demoPoint struct {
	Key         string  `toml:"key"`
	Name        string  `toml:"name"`
	Street      string  `toml:"street"`
	Town        string  `toml:"town"`
	Postcode    string  `toml:"postcode"`
	Building    string  `toml:"building"`
	Floor       string  `toml:"floor"`
	Room        string  `toml:"room"`
	Lat         float64 `toml:"lat"`
	Lon         float64 `toml:"lon"`
	Phone       string  `toml:"phone"`
	Directions  string  `toml:"directions"`
	SlotMinutes int     `toml:"slot_minutes"`
	Capacity    int     `toml:"capacity"`
	Hours       []struct {
		Weekday int    `toml:"weekday"`
		Opens   string `toml:"opens"`
		Closes  string `toml:"closes"`
	} `toml:"hours"`
	ClosedNote string `toml:"closed_note"`
}

// demoData reads the embedded catalog once and checks that it holds together.
var demoData = sync.OnceValues(func() (*demoCatalog, error) {
	var c demoCatalog
	md, err := toml.NewDecoder(bytes.NewReader(demoCatalogTOML)).Decode(&c)
	if err != nil {
		return nil, fmt.Errorf("eshop demo catalog: %w", err)
	}
	if un := md.Undecoded(); len(un) > 0 {
		return nil, fmt.Errorf("eshop demo catalog: unknown keys %v", un)
	}
	return &c, c.check()
})

// check refuses a catalog whose items name an unknown category, preparation or test, or
// repeat a code.
func (c *demoCatalog) check() error {
	cats := map[string]bool{}
	for _, k := range c.Categories {
		cats[k.Key] = true
	}
	codes := map[string]bool{}
	for i, it := range append(append([]demoItem(nil), c.Tests...), c.Packages...) {
		if codes[it.Code] || it.Code == "" || it.Name == "" || it.Price <= 0 {
			return fmt.Errorf("eshop demo catalog: item %q: code repeated or empty, or no name or price", it.Code)
		}
		codes[it.Code] = true
		if !cats[it.Category] {
			return fmt.Errorf("eshop demo catalog: %s: unknown category %q", it.Code, it.Category)
		}
		for _, p := range it.Prep {
			if c.Prep[p] == "" {
				return fmt.Errorf("eshop demo catalog: %s: unknown preparation %q", it.Code, p)
			}
		}
		if i < len(c.Tests) && len(it.Tests) > 0 {
			return fmt.Errorf("eshop demo catalog: test %s lists tests", it.Code)
		}
	}
	for _, p := range c.Packages {
		if len(p.Tests) == 0 {
			return fmt.Errorf("eshop demo catalog: package %s lists no test", p.Code)
		}
		for _, code := range p.Tests {
			if !codes[code] || strings.HasPrefix(code, "BAL-") {
				return fmt.Errorf("eshop demo catalog: package %s: unknown test %q", p.Code, code)
			}
		}
	}
	return nil
}

// preparation is an item's preparation text.
func (c *demoCatalog) preparation(it demoItem) string {
	parts := make([]string, 0, len(it.Prep)+1)
	for _, p := range it.Prep {
		parts = append(parts, c.Prep[p])
	}
	if it.PrepExtra != "" {
		parts = append(parts, it.PrepExtra)
	}
	return strings.Join(parts, " ")
}

// demoID is the id of the demo's record key in tenant tenantID: the same at every seeding
// (which keeps seeding idempotent), and as unguessable from outside as any other id.
func demoID(tenantID, key string) string {
	return uuid.NewSHA1(uuid.NameSpaceOID, []byte("carenet/eshop/demo/"+tenantID+"/"+key)).String()
}

// demoZone is the tenant's time zone.
func demoZone(t sdk.Tenant) *time.Location {
	if loc, err := time.LoadLocation(t.TimeZone); err == nil && t.TimeZone != "" {
		return loc
	}
	return time.UTC
}

// seedDemo fills a Slovak demo tenant's shop (issue 14.10; --demo only): the catalog, the
// collection points, and for the demo customer ("user") a paid order to come — for himself
// and the child he represents — and a completed one whose result is published. The catalog
// is Slovak, so other countries' tenants get nothing. Every record has a fixed id and is
// inserted only when missing: seeding again changes nothing, and what the shop manager
// changed in the demo stays as he left it.
func (m *Module) seedDemo(ctx context.Context, t sdk.Tenant, accounts []kit.DemoAccount) error {
	if t.Country != "SK" {
		return nil
	}
	c, err := demoData()
	if err != nil {
		return err
	}
	if err := m.In(ctx, t, func(ctx context.Context, sc *store.Scope) error { return m.demoShop(ctx, sc, t, c) }); err != nil {
		return fmt.Errorf("eshop demo catalog: %w", err)
	}
	staffID := ""
	for _, a := range accounts {
		if a.Role == demoStaffRole {
			staffID = a.ID
		}
	}
	for _, a := range accounts {
		if a.Role != "user" {
			continue
		}
		if err := m.demoOrders(ctx, t, a.ID); err != nil {
			return fmt.Errorf("eshop demo orders: %w", err)
		}
		if err := m.seedDemoVouchers(ctx, t, a.ID); err != nil {
			return fmt.Errorf("eshop demo vouchers: %w", err)
		}
		if err := m.demoPaperwork(ctx, t, staffID); err != nil {
			return fmt.Errorf("eshop demo payments, invoices and result: %w", err)
		}
	}
	if err := m.demoStaffDays(ctx, t); err != nil {
		return fmt.Errorf("eshop demo collection days: %w", err)
	}
	return nil
}

// demoShop writes the catalog and the points that are missing, in one transaction.
func (m *Module) demoShop(ctx context.Context, sc *store.Scope, t sdk.Tenant, c *demoCatalog) error {
	now := m.now()
	catName := map[string]string{}
	cats := make([]Category, len(c.Categories))
	for i, k := range c.Categories {
		cats[i] = Category{TenantID: sc.TenantID, ID: demoID(t.ID, "category/"+k.Key), Name: k.Name, Position: (i + 1) * 10}
		catName[k.Key] = k.Name
	}
	if _, err := sc.Insert(&cats).On("CONFLICT DO NOTHING").Exec(ctx); err != nil {
		return err
	}
	var items []Item
	var links []PackageTest
	add := func(kind string, it demoItem) {
		id := demoID(t.ID, "item/"+it.Code)
		items = append(items, Item{TenantID: sc.TenantID, ID: id, Kind: kind, Code: it.Code, CategoryID: demoID(t.ID, "category/"+it.Category),
			Name: it.Name, Description: it.Description, Preparation: c.preparation(it), Info: c.Info, ConsentText: c.Consent,
			PriceMinor: it.Price, VATIncluded: it.VAT, TATDays: it.TAT, SuitableFrom6: it.From6, VoucherSellable: it.Voucher,
			SearchKey: " " + textfold.Plain(strings.Join([]string{it.Code, it.Name, it.Description, catName[it.Category]}, " ")) + " ",
			Active:    true, CreatedAt: now, UpdatedAt: now})
		for _, code := range it.Tests {
			links = append(links, PackageTest{TenantID: sc.TenantID, PackageID: id, TestID: demoID(t.ID, "item/"+code)})
		}
	}
	for _, it := range c.Tests {
		add(kindTest, it)
	}
	for _, it := range c.Packages {
		add(kindPackage, it)
	}
	if _, err := sc.Insert(&items).On("CONFLICT DO NOTHING").Exec(ctx); err != nil {
		return err
	}
	if _, err := sc.Insert(&links).On("CONFLICT DO NOTHING").Exec(ctx); err != nil {
		return err
	}
	for _, dp := range c.Points {
		if err := m.demoPoint(ctx, sc, t, dp, now); err != nil {
			return err
		}
	}
	return nil
}

// demoPoint writes a collection point with its hours, once; a point that closes one day
// (ClosedNote) is closed on the first working day two weeks after it was written.
func (m *Module) demoPoint(ctx context.Context, sc *store.Scope, t sdk.Tenant, dp demoPoint, now time.Time) error {
	lat, lon := dp.Lat, dp.Lon
	p := &Point{TenantID: sc.TenantID, ID: demoID(t.ID, "point/"+dp.Key), Name: dp.Name, Street: dp.Street, Town: dp.Town, Postcode: dp.Postcode,
		Building: dp.Building, Floor: dp.Floor, Room: dp.Room, Latitude: &lat, Longitude: &lon, Phone: dp.Phone, Directions: dp.Directions,
		SlotMinutes: dp.SlotMinutes, Capacity: dp.Capacity, Active: true, CreatedAt: now, UpdatedAt: now}
	res, err := sc.Insert(p).On("CONFLICT DO NOTHING").Exec(ctx)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return nil // there already: its hours and days are the manager's now
	}
	hours := make([]PointHours, len(dp.Hours))
	for i, h := range dp.Hours {
		hours[i] = PointHours{TenantID: sc.TenantID, PointID: p.ID, Weekday: h.Weekday, Opens: h.Opens, Closes: h.Closes}
	}
	if _, err := sc.Insert(&hours).Exec(ctx); err != nil {
		return err
	}
	if dp.ClosedNote == "" {
		return nil
	}
	day := demoWorkday(t, now.In(demoZone(t)).AddDate(0, 0, 14))
	_, err = sc.Insert(&PointException{TenantID: sc.TenantID, PointID: p.ID, Day: day.Format("2006-01-02"), Closed: true, Note: dp.ClosedNote}).Exec(ctx)
	return err
}

// demoWorkday is the first working day of the tenant's country from day on (day itself if it
// is one).
func demoWorkday(t sdk.Tenant, day time.Time) time.Time {
	cal := workdays.Calendar(t.Country, 7, 15)
	for !cal.IsWorkday(day) {
		day = day.AddDate(0, 0, 1)
	}
	return day
}

// demoOrders gives the demo customer, once, a paid order to come at the Bratislava point —
// vitamin D for himself and a blood count for the first child he represents, their places
// held in their slots — and a completed order of three weeks ago whose lipid profile is
// published. Both are written straight into the orders' tables, as the orders part leaves
// them; no message is sent. Their payments, invoices and the result's PDF are demoPaperwork's
// (issue 14.10).
func (m *Module) demoOrders(ctx context.Context, t sdk.Tenant, userID string) error {
	host := sdk.HostFrom(ctx)
	u, err := host.User(ctx, userID)
	if err != nil {
		return err
	}
	deps, err := host.Dependants(ctx, userID)
	if err != nil {
		return err
	}
	loc, now := demoZone(t), m.now()
	return m.In(ctx, t, func(ctx context.Context, sc *store.Scope) error {
		var items []Item
		if err := sc.Select(&items).Where("id IN (?)", bun.In([]string{demoID(t.ID, "item/VITD"), demoID(t.ID, "item/KO5"), demoID(t.ID, "item/LIP")})).Scan(ctx); err != nil {
			return err
		}
		byCode := map[string]*Item{}
		for i := range items {
			byCode[items[i].Code] = &items[i]
		}
		if len(byCode) < 3 {
			return nil // the manager removed them: no demo order
		}
		pointID := demoID(t.ID, "point/ba")
		self := demoPerson{name: u.Name, birth: u.BirthDate}
		// A paid order to come, on the fifth working day at 8:00 (a slot of the point).
		day := demoWorkday(t, now.In(loc).AddDate(0, 0, 1))
		for range 4 {
			day = demoWorkday(t, day.AddDate(0, 0, 1))
		}
		at := time.Date(day.Year(), day.Month(), day.Day(), 8, 0, 0, 0, loc)
		lines := []demoLine{{item: byCode["VITD"], person: self, at: at}}
		for _, d := range deps {
			if d.RepresentedOn(day.Format("2006-01-02")) {
				p := demoPerson{name: strings.TrimSpace(d.FirstName + " " + d.LastName), birth: d.BirthDate, nationalID: d.NationalID,
					dependantID: d.ID, relationship: d.Relationship}
				lines = append(lines, demoLine{item: byCode["KO5"], person: p, at: at})
				break
			}
		}
		submitted := now.Add(-26 * time.Hour)
		if err := m.demoOrder(ctx, sc, t, u, "DEMO-1001", orderPaid, itemBooked, submitted, pointID, lines); err != nil {
			return err
		}
		// A completed order: sampled three weeks ago, its result published.
		day = demoWorkday(t, now.In(loc).AddDate(0, 0, -21))
		at = time.Date(day.Year(), day.Month(), day.Day(), 7, 30, 0, 0, loc)
		return m.demoOrder(ctx, sc, t, u, "DEMO-1000", orderCompleted, itemPublished, at.Add(-48*time.Hour), pointID,
			[]demoLine{{item: byCode["LIP"], person: self, at: at}})
	})
}

// demoPerson is whom a demo order's line is for.
type demoPerson struct{ name, birth, nationalID, dependantID, relationship string }

// demoLine is a line of a demo order.
type demoLine struct {
	item   *Item
	person demoPerson
	at     time.Time
}

// demoOrder writes order number for u with its lines, once (its fixed id): paid a few
// minutes after submission; a booked line's place is held in its slot, as a paid order's is.
func (m *Module) demoOrder(ctx context.Context, sc *store.Scope, t sdk.Tenant, u *sdk.User, number, status, itemStatus string, submitted time.Time, pointID string, lines []demoLine) error {
	return m.demoOrderOf(ctx, sc, t, u, demoContact{"+421905000001", "Lipová 12, 811 01 Bratislava"}, number, status, itemStatus, submitted, pointID, lines)
}

// demoContact is a demo buyer's mobile and address.
type demoContact struct{ mobile, address string }

// demoOrderOf is demoOrder for a buyer with his own mobile and address.
func (m *Module) demoOrderOf(ctx context.Context, sc *store.Scope, t sdk.Tenant, u *sdk.User, contact demoContact, number, status, itemStatus string, submitted time.Time, pointID string, lines []demoLine) error {
	o := &Order{TenantID: sc.TenantID, ID: demoID(t.ID, "order/"+number), Number: number, UserID: u.ID, Status: status, Locale: "sk",
		BuyerName: u.Name, Email: u.Email, Mobile: contact.mobile, Address: contact.address, Currency: t.Currency,
		SubmittedAt: submitted, PayBy: submitted.Add(time.Duration(paymentMinutes.Of(t)) * time.Minute)}
	o.PaidAt.Time = submitted.Add(4 * time.Minute)
	ois := make([]OrderItem, len(lines))
	for i, l := range lines {
		pr := linePrice(t, l.item)
		ois[i] = OrderItem{TenantID: sc.TenantID, ID: demoID(t.ID, fmt.Sprintf("order/%s/%d", number, i)), OrderID: o.ID, ItemID: l.item.ID,
			Kind: l.item.Kind, Name: l.item.Name, Preparation: l.item.Preparation, ConsentText: l.item.ConsentText,
			PriceMinor: pr.PriceMinor, VATPercent: pr.VATPercent, FeeMinor: pr.FeeMinor, FeeVATPercent: pr.FeeVATPercent, TATDays: l.item.TATDays,
			DependantID: l.person.dependantID, PersonName: l.person.name, PersonBirthDate: l.person.birth, PersonNationalID: l.person.nationalID,
			Relationship: l.person.relationship, PointID: pointID, StartsAt: l.at.UTC(), Status: itemStatus}
		o.TotalMinor += pr.Gross()
	}
	o.DueMinor = o.TotalMinor
	res, err := sc.Insert(o).On("CONFLICT DO NOTHING").Exec(ctx)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return nil // seeded before
	}
	for i := range ois {
		if itemStatus != itemBooked {
			continue
		}
		hold, at, err := m.demoHold(ctx, sc, t, pointID, ois[i].StartsAt, ois[i].ID, u.ID)
		if err != nil {
			return err
		}
		ois[i].HoldID, ois[i].StartsAt = hold, at
	}
	_, err = sc.Insert(&ois).Exec(ctx)
	return err
}

// demoHold holds a place for an order item at start, or at the first later slot of the
// point's grid within the hour that has one, and says which; when none has (the demo's
// customers filled the morning), the line keeps its time without a place.
func (m *Module) demoHold(ctx context.Context, sc *store.Scope, t sdk.Tenant, pointID string, start time.Time, refID, userID string) (string, time.Time, error) {
	var p Point
	if err := sc.Select(&p).Where("id = ?", pointID).Scan(ctx); err != nil {
		return "", start, err
	}
	step := time.Duration(p.SlotMinutes) * time.Minute
	for at := start; at.Before(start.Add(time.Hour)); at = at.Add(step) {
		id, err := m.holdPlace(ctx, sc, t, pointID, at, holdOrder, refID, userID, nil)
		if errors.Is(err, errSlotFull) || errors.Is(err, errNoSlot) {
			continue
		}
		return id, at, err
	}
	return "", start, nil
}

// demoStaffRole is the role of the demo's lab staff login (the core names a module's role
// after the module).
const demoStaffRole = "eshop.lab_staff"

// demoPaperwork gives the demo customer's two orders what paying and the lab leave behind:
// each its payment, paid through the sandbox and fulfilled, and its invoice, which the
// customer downloads from the order's page; and the completed order's result its PDF, a
// lipid-profile report stored as a published result is, which the customer and the lab's
// staff open. Each is written once: a payment by its fixed id, an invoice by the pay part's
// issueInvoice (one per order), a result by its item's key.
func (m *Module) demoPaperwork(ctx context.Context, t sdk.Tenant, staffID string) error {
	for _, number := range []string{"DEMO-1000", "DEMO-1001"} {
		var o Order
		var items []OrderItem
		err := m.Read(ctx, t, func(ctx context.Context, sc *store.Scope) error {
			if err := sc.Select(&o).Where("id = ?", demoID(t.ID, "order/"+number)).Scan(ctx); err != nil {
				return err
			}
			return sc.Select(&items).Where("order_id = ?", o.ID).Order("id").Scan(ctx)
		})
		if errors.Is(err, sql.ErrNoRows) || err == nil && len(items) == 0 {
			continue // no demo order (the manager removed its tests)
		}
		if err != nil {
			return err
		}
		if err := m.In(ctx, t, func(ctx context.Context, sc *store.Scope) error {
			p := &Payment{TenantID: sc.TenantID, ID: demoID(t.ID, "payment/"+number), Purpose: purposeOrder, RefID: o.ID, UserID: o.UserID,
				AmountMinor: o.DueMinor, Currency: o.Currency, Locale: o.Locale, Status: payPaid, Gateway: "sandbox", GatewayRef: "demo-" + number,
				CreatedAt: o.SubmittedAt.Add(time.Minute)}
			p.PaidAt.Time, p.FulfilledAt.Time = o.PaidAt.Time, o.PaidAt.Time
			_, err := sc.Insert(p).On("CONFLICT DO NOTHING").Exec(ctx)
			return err
		}); err != nil {
			return err
		}
		if _, _, err := m.issueInvoice(ctx, t, orderInvoice(m.Msgs.For(demoLang(t, &o)), &o, items, nil)); err != nil {
			return err
		}
		if o.Status != orderCompleted {
			continue
		}
		for i := range items {
			if items[i].Status == itemPublished {
				if err := m.demoResult(ctx, t, &o, &items[i], staffID); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// demoLang is the language of the order's documents.
func demoLang(t sdk.Tenant, o *Order) string {
	if locales.IsSupported(o.Locale) {
		return o.Locale
	}
	return t.Locale
}

// demoResult publishes the result of a demo order's item, once: registered an hour and a half
// after the sampling, published the same afternoon, its PDF stored in the host's blobs as the
// lab's upload is (publishPost).
func (m *Module) demoResult(ctx context.Context, t sdk.Tenant, o *Order, it *OrderItem, staffID string) error {
	var n int64
	if err := m.Read(ctx, t, func(ctx context.Context, sc *store.Scope) error {
		c, err := sc.Select((*Result)(nil)).Where("item_id = ?", it.ID).Count(ctx)
		n = c
		return err
	}); err != nil {
		return err
	}
	if n > 0 {
		return nil
	}
	registered := it.StartsAt.Add(90 * time.Minute)
	published := registered.Add(6 * time.Hour)
	pdf, err := m.demoResultPDF(t, demoLang(t, o), o, it, registered, published)
	if err != nil {
		return err
	}
	h := sdk.HostFrom(ctx)
	if h == nil {
		return errors.New("eshop: demo result outside a host call")
	}
	blob, err := h.PutBlob(ctx, sdk.Blob{Name: "result.pdf", ContentType: "application/pdf", Data: pdf})
	if err != nil {
		return err
	}
	kept := false
	err = m.In(ctx, t, func(ctx context.Context, sc *store.Scope) error {
		due, err := m.tatDue(ctx, sc, t, registered, it.TATDays)
		if err != nil {
			return err
		}
		r := &Result{TenantID: sc.TenantID, ItemID: it.ID, OrderID: o.ID, OrderNumber: o.Number, UserID: o.UserID, PersonName: it.PersonName,
			TestName: it.Name, PriceMinor: it.PriceMinor, Currency: o.Currency, RegisteredAt: registered, RegisteredBy: staffID,
			DueOn: due.Format(time.DateOnly), PublishedBy: staffID, BlobID: blob}
		r.PublishedAt.Time = published
		res, err := sc.Insert(r).On("CONFLICT DO NOTHING").Exec(ctx)
		if err != nil {
			return err
		}
		n, _ := res.RowsAffected()
		kept = n == 1
		return nil
	})
	if !kept {
		// Another start wrote it first, or the write failed: this PDF is nobody's.
		if derr := h.DeleteBlob(ctx, blob); derr != nil {
			m.Log.Error("eshop demo: an unused result PDF kept", "tenant", t.Slug, "err", derr.Error())
		}
	}
	return err
}

// demoLipids are the demo's lipid profile: a value in mmol/l, its reference limit, and
// whether the limit is an upper one (the value should stay below it). The LDL is
// Friedewald's (total − HDL − triacylglycerols / 2.2), the non-HDL total − HDL.
var demoLipids = []struct {
	key          string
	value, limit float64
	upper        bool
}{
	{"chol", 5.62, 5.0, true},
	{"hdl", 1.38, 1.0, false},
	{"ldl", 3.71, 3.0, true},
	{"tg", 1.16, 1.7, true},
	{"nonhdl", 4.24, 3.8, true},
}

// demoResultPDF is the lab's report of the demo's lipid profile for item it, in lang: the
// lab, the person, the order, the sampling, the sample's registration and the release, the
// values with their units and reference limits (those outside in bold and flagged), and the
// lab's notes.
func (m *Module) demoResultPDF(t sdk.Tenant, lang string, o *Order, it *OrderItem, registered, published time.Time) ([]byte, error) {
	loc, zone := m.Msgs.For(lang), demoZone(t)
	d := pdfdoc.New(loc.T("eshop.demo.report.title"), t.Name, published)
	d.Heading(t.Name, 14)
	d.Heading(loc.T("eshop.demo.report.title"), 12)
	d.Text(loc.T("eshop.demo.report.sample"))
	d.Pair(loc.T("eshop.demo.report.person"), it.PersonName)
	if it.PersonBirthDate != "" {
		if b, err := time.Parse(time.DateOnly, it.PersonBirthDate); err == nil {
			d.Pair(loc.T("eshop.demo.report.birth"), locales.FormatDate(lang, b, time.UTC))
		}
	}
	d.Pair(loc.T("eshop.demo.report.order"), o.Number)
	d.Pair(loc.T("eshop.demo.report.test"), it.Name)
	d.Pair(loc.T("eshop.demo.report.sampled"), locales.FormatDateTime(lang, it.StartsAt, zone))
	d.Pair(loc.T("eshop.demo.report.registered"), locales.FormatDateTime(lang, registered, zone))
	d.Pair(loc.T("eshop.demo.report.released"), locales.FormatDateTime(lang, published, zone))
	rows := make([][]string, len(demoLipids))
	bold := make([]bool, len(demoLipids))
	for i, l := range demoLipids {
		limit, out := "> "+locales.FormatDecimal(lang, l.limit, 1), l.value < l.limit
		if l.upper {
			limit, out = "< "+locales.FormatDecimal(lang, l.limit, 1), l.value >= l.limit
		}
		flag := ""
		if out && l.upper {
			flag = loc.T("eshop.demo.report.high")
		} else if out {
			flag = loc.T("eshop.demo.report.low")
		}
		rows[i] = []string{loc.T("eshop.demo.lipid." + l.key), locales.FormatDecimal(lang, l.value, 2), "mmol/l", limit, flag}
		bold[i] = out
	}
	d.TableRows([]string{loc.T("eshop.demo.report.col.test"), loc.T("eshop.demo.report.col.value"), loc.T("eshop.demo.report.col.unit"),
		loc.T("eshop.demo.report.col.range"), loc.T("eshop.demo.report.col.flag")}, rows, nil, bold)
	d.Text(loc.T("eshop.demo.report.note"))
	d.Text(loc.T("eshop.demo.report.validated", "Name", "MUDr. Eva Ukážková"))
	d.Text(loc.T("eshop.demo.report.demo"))
	return d.Bytes()
}

// demoVisitor is a person who comes to the Bratislava point on a day of the demo.
type demoVisitor struct {
	name, birth, email, mobile, address, code string
	hour, minute                              int
}

// demoVisitors: the first three come on the day the demo starts (when it is a working day),
// the others on the next working day.
var demoVisitors = []demoVisitor{
	{"Jana Kováčová", "1984-02-11", "jana.kovacova@example.sk", "+421905000011", "Trnavská cesta 40, 821 02 Bratislava", "TSH", 7, 30},
	{"Peter Horváth", "1971-09-30", "peter.horvath@example.sk", "+421905000012", "Ružinovská 8, 821 01 Bratislava", "LIP", 8, 10},
	{"Lucia Nováková", "1995-06-04", "lucia.novakova@example.sk", "+421905000013", "Bajkalská 19, 821 08 Bratislava", "VITD", 9, 40},
	{"Martin Baláž", "1968-12-01", "martin.balaz@example.sk", "+421905000014", "Prievozská 2, 821 09 Bratislava", "KO5", 7, 20},
	{"Zuzana Tóthová", "1990-03-17", "zuzana.tothova@example.sk", "+421905000015", "Miletičova 33, 821 08 Bratislava", "FERR", 8, 30},
	{"Michal Varga", "1979-07-23", "michal.varga@example.sk", "+421905000016", "Záhradnícka 60, 821 08 Bratislava", "GLU", 10, 0},
}

// demoStaffDays gives the lab's staff a day to work on (issue 14.10): paid orders of people
// who have no demo login, each for one test at the Bratislava point, on the day the demo starts
// (when it is a working day: those whose time has passed are sampled already, the others
// booked in their slots) and on the next working day. Their orders carry no account, as a
// deleted account's orders do: what the staff send them (a withdrawal's notice) goes to the
// order's e-mail, and no customer sees them in his account. They are the day's: a start on
// the same day writes nothing more, a start on another day adds that day's.
func (m *Module) demoStaffDays(ctx context.Context, t sdk.Tenant) error {
	loc, now := demoZone(t), m.now()
	l := now.In(loc)
	today := time.Date(l.Year(), l.Month(), l.Day(), 0, 0, 0, 0, loc)
	next := demoWorkday(t, today.AddDate(0, 0, 1))
	type visit struct {
		day time.Time
		v   demoVisitor
	}
	var visits []visit
	if demoWorkday(t, today).Equal(today) {
		for _, v := range demoVisitors[:3] {
			visits = append(visits, visit{today, v})
		}
	}
	for _, v := range demoVisitors[3:] {
		visits = append(visits, visit{next, v})
	}
	ids := []string{}
	for _, v := range demoVisitors {
		ids = append(ids, demoID(t.ID, "item/"+v.code))
	}
	pointID := demoID(t.ID, "point/ba")
	return m.In(ctx, t, func(ctx context.Context, sc *store.Scope) error {
		var items []Item
		if err := sc.Select(&items).Where("id IN (?)", bun.In(ids)).Scan(ctx); err != nil {
			return err
		}
		byCode := map[string]*Item{}
		for i := range items {
			byCode[items[i].Code] = &items[i]
		}
		if n, err := sc.Select((*Point)(nil)).Where("id = ? AND active", pointID).Count(ctx); err != nil || n == 0 {
			return err // the manager closed the point: no visits
		}
		for i, vs := range visits {
			it := byCode[vs.v.code]
			if it == nil {
				continue
			}
			at := time.Date(vs.day.Year(), vs.day.Month(), vs.day.Day(), vs.v.hour, vs.v.minute, 0, 0, loc)
			status := itemBooked
			if !at.After(now) {
				status = itemSampled
			}
			number := fmt.Sprintf("DEMO-%s-%d", vs.day.Format("060102"), i%3+1)
			u := &sdk.User{Name: vs.v.name, Email: vs.v.email}
			p := demoPerson{name: vs.v.name, birth: vs.v.birth}
			if err := m.demoOrderOf(ctx, sc, t, u, demoContact{vs.v.mobile, vs.v.address}, number, orderPaid, status, vs.day.AddDate(0, 0, -2).Add(19*time.Hour), pointID,
				[]demoLine{{item: it, person: p, at: at}}); err != nil {
				return err
			}
		}
		return nil
	})
}
