package main

import (
	"context"
	"database/sql"
	"html"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"carenet.dev/platform/core/db"
	coremail "carenet.dev/platform/core/mail"
	"carenet.dev/platform/plugins/kit/pdfdoc"
)

// isoUse is one isolation case: who tries which path of A's host with B's id, the page whose
// form gives the CSRF token for a POST, the form (and, for a multipart form, its file), the
// answer wanted, or why the route takes no object id.
type isoUse struct {
	who       *browser
	path      string
	page      string
	form      url.Values
	file      string // the multipart form's file field, when the route takes a file
	data      []byte
	want      int
	exemption string
}

var (
	shopItemRe      = regexp.MustCompile(`href="/eshop/items/([0-9a-f-]{36})"`)
	shopPointRe     = regexp.MustCompile(`href="/eshop/points/([0-9a-f-]{36})"`)
	shopCategoryRe  = regexp.MustCompile(`action="/eshop/manage/categories/([0-9a-f-]{36})/delete"`)
	shopLineRe      = regexp.MustCompile(`action="/eshop/cart/lines/([0-9a-f-]{36})/remove"`)
	shopSlotRe      = regexp.MustCompile(`name="slot" value="([^"]+)"`)
	shopPointValRe  = regexp.MustCompile(`name="point" value="([0-9a-f-]{36})"`)
	shopOrderRe     = regexp.MustCompile(`href="/eshop/orders/([0-9a-f-]{36})">[^<]*DEMO-1001`)
	shopDoneOrderRe = regexp.MustCompile(`href="/eshop/orders/([0-9a-f-]{36})">[^<]*DEMO-1000`)
	shopApptRe      = regexp.MustCompile(`name="appointment" value="([^"]+)"`)
	shopResRe       = regexp.MustCompile(`action="/eshop/staff/reschedules/([0-9a-f-]{36})/refuse"`)
	shopCheckinRe   = regexp.MustCompile(`action="/eshop/staff/items/([0-9a-f-]{36})/checkin"`)
	shopNextDayRe   = regexp.MustCompile(`href="(/eshop/staff\?[^"]+)" rel="next"`)
	shopClaimRe     = regexp.MustCompile(`action="/eshop/lab/claims/([0-9a-f-]{36})/decide"`)
	shopRemedyRe    = regexp.MustCompile(`action="/eshop/lab/complaints/([0-9a-f-]{36})/remedy"`)
	shopBuyRe       = regexp.MustCompile(`href="/eshop/vouchers/buy\?item=([0-9a-f-]{36})"`)
	shopSandboxRe   = regexp.MustCompile(`/eshop/sandbox/([0-9a-f-]{36})`)
	shopToggleRe    = regexp.MustCompile(`action="/eshop/manage/vouchers/([0-9a-f-]{36})/toggle"`)
	shopTokenRe     = regexp.MustCompile(`/eshop/r/([A-Za-z0-9_.-]+)`)
)

// lookup reads one text value from a module's database, as its administrator.
func (p *platform) lookup(t *testing.T, module, query string, args ...any) string {
	t.Helper()
	d := p.moduleDB(t, module)
	defer d.Close()
	if p.dsn != "" {
		query = pgPlaceholders(query)
	}
	var s string
	if err := d.QueryRow(query, args...).Scan(&s); err != nil {
		t.Fatalf("%s %v: %v", query, args, err)
	}
	return s
}

// exec changes a module's database, as its administrator: what no page can do (a clock).
func (p *platform) exec(t *testing.T, module, query string, args ...any) {
	t.Helper()
	var d *sql.DB
	if p.dsn == "" {
		var err error
		if d, err = sql.Open("sqlite", "file:"+filepath.Join(p.data, "modules", module+".db")+"?_pragma=busy_timeout(5000)"); err != nil {
			t.Fatal(err)
		}
	} else {
		d = p.moduleDB(t, module)
		query = pgPlaceholders(query)
	}
	defer d.Close()
	res, err := d.Exec(query, args...)
	if err != nil {
		t.Fatalf("%s %v: %v", query, args, err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		t.Fatalf("%s %v: %d rows", query, args, n)
	}
}

// smsLink waits for a text message of a tenant whose text matches re, and gives its group.
func (p *platform) smsLink(t *testing.T, slug string, re *regexp.Regexp) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		d, ten := p.tenantDB(t, slug)
		var rows []coremail.Entry
		err := d.ReadTenant(context.Background(), ten.ID, func(ctx context.Context, sc *db.Scope) error {
			return sc.Select(&rows).Where("channel = 'sms'").Order("id").Scan(ctx)
		})
		d.Close()
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rows {
			if m := re.FindStringSubmatch(string(r.Raw)); m != nil {
				// The mailbox lists it by what it is, in words, not by its template's id.
				if strings.Contains(r.Subject, "_") || r.Subject == "" {
					t.Errorf("a text message is listed as %q", r.Subject)
				}
				return m[1]
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no text message of %s matches %s", slug, re)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// resultPDF is a PDF a lab publishes as a result.
func resultPDF(t *testing.T) []byte {
	t.Helper()
	d := pdfdoc.New("Výsledok", "Unilabs", time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC))
	d.Heading("Výsledok vyšetrenia", 14)
	d.Text("Lipidový profil: v norme")
	b, err := d.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// eshopIsolation (issue 14, P1): the e-shop runs on unilabs (B, its Slovak demo shop) and on
// secretaires (A, its shop empty but its own). B's people make or find, through B's pages,
// one object of each kind the e-shop's routes take — an item, a point, a category, a cart
// line, an order and its item, a reschedule request, a result and its link, a late-result
// claim, a complaint, a voucher purchase with its payment, voucher and invoice, a voucher
// denomination — and A's people holding each route's permission try them on A's host. It
// gives the cases, and a check that nothing of B changed, to run after them.
func eshopIsolation(t *testing.T, p *platform) (map[string]isoUse, func()) {
	find := func(re *regexp.Regexp, body, what string) string {
		t.Helper()
		m := re.FindStringSubmatch(body)
		if m == nil {
			t.Fatalf("no %s found:\n%s", what, body)
		}
		return m[1]
	}
	bUser := p.browser("unilabs.localhost")
	bUser.login("user@unilabs.localhost", "demo-unilabs-user")
	bMan := p.browser("unilabs.localhost")
	bMan.login("shop-manager@unilabs.localhost", "demo-unilabs-shop_manager")
	bLab := p.browser("unilabs.localhost")
	bLab.login("lab-staff@unilabs.localhost", "demo-unilabs-lab_staff")

	// The catalog's objects, as B's customer and manager see them.
	_, catalog := bUser.do("GET", "/eshop", nil)
	bItem := find(shopItemRe, catalog, "item (of B)")
	_, points := bUser.do("GET", "/eshop/points", nil)
	bPoint := find(shopPointRe, points, "point (of B)")
	_, manage := bMan.do("GET", "/eshop/manage", nil)
	bCategory := find(shopCategoryRe, manage, "category (of B)")

	// B's customer orders the item at the first free slot its page offers, and pays on the
	// sandbox gateway: an order, its payment and its invoice of B.
	addLine := func() (point, slot string) {
		_, itemPage := bUser.do("GET", "/eshop/items/"+bItem, nil)
		point, slot = find(shopPointValRe, itemPage, "point of the item's page (of B)"), find(shopSlotRe, itemPage, "slot (of B)")
		if code, body := bUser.post("/eshop/items/"+bItem, "/eshop/cart", url.Values{"item": {bItem}, "person": {"self"}, "point": {point}, "slot": {slot}}); code != 303 {
			t.Fatalf("B's customer adds to his cart: %d\n%s", code, body)
		}
		return point, slot
	}
	newPoint, newSlot := addLine()
	_, checkout := bUser.do("GET", "/eshop/checkout", nil)
	lines := find(regexp.MustCompile(`name="lines" value="([^"]+)"`), checkout, "cart lines at checkout (of B)")
	form := url.Values{"lines": {lines}, "name": {"Demo User"}, "address": {"Lipová 12, 811 01 Bratislava"}, "mobile": {"+421 905 123 456"},
		"privacy": {"yes"}, "adult": {"yes"}}
	for _, l := range strings.Split(lines, ",") {
		form.Set("consent_"+l, "yes")
	}
	if code, body := bUser.post("/eshop/checkout", "/eshop/checkout", form); code != 303 {
		t.Fatalf("B's customer orders: %d\n%s", code, body)
	}
	bOrderPayment := find(shopSandboxRe, bUser.last.Get("Location"), "sandbox payment of the order (of B)")
	if code, body := bUser.post("/eshop/sandbox/"+bOrderPayment, "/eshop/sandbox/"+bOrderPayment, url.Values{"action": {"pay"}}); code != 303 {
		t.Fatalf("B's customer pays his order: %d\n%s", code, body)
	}
	if code, _ := bUser.do("GET", "/eshop/pay/"+bOrderPayment+"/return", nil); code != 200 {
		t.Fatalf("B's order payment's return page: %d", code)
	}
	var bNew string
	_, orders := bUser.do("GET", "/eshop/orders", nil)
	for _, m := range regexp.MustCompile(`href="/eshop/orders/([0-9a-f-]{36})">([^<]*)</a>`).FindAllStringSubmatch(orders, -1) {
		if !strings.Contains(m[2], "DEMO-") {
			bNew = m[1]
		}
	}
	if bNew == "" {
		t.Fatalf("B's new order is not among his orders:\n%s", orders)
	}
	// The invoice's id is on no page of the customer's: B's database gives it.
	bInvoice := p.lookup(t, "eshop", "SELECT id FROM eshop_invoices WHERE ref_id = ?", bNew)
	if code, _ := bUser.do("GET", "/eshop/invoices/"+bInvoice+".pdf", nil); code != 200 {
		t.Fatalf("B's invoice on B: %d", code)
	}
	// A line stays in his cart.
	addLine()
	_, cart := bUser.do("GET", "/eshop/cart", nil)
	bLine := find(shopLineRe, cart, "cart line (of B)")

	// His demo orders: the paid one to come, and the completed one.
	_, orders = bUser.do("GET", "/eshop/orders", nil)
	bOrder := find(shopOrderRe, orders, "paid order (of B)")
	bDone := find(shopDoneOrderRe, orders, "completed order (of B)")
	// He asks to move the paid one; the request waits in the lab's queue.
	resPath := "/eshop/orders/" + bOrder + "/reschedule"
	_, resPage := bUser.do("GET", resPath, nil)
	form = url.Values{"reasons": {"Som chorý."}, "preferences": {"Budúci týždeň ráno."}}
	if m := shopApptRe.FindStringSubmatch(resPage); m != nil {
		form.Set("appointment", m[1])
	}
	if code, body := bUser.post(resPath, resPath, form); code != 303 {
		t.Fatalf("B's customer asks to reschedule: %d\n%s", code, body)
	}
	_, queue := bLab.do("GET", "/eshop/staff/reschedules", nil)
	bReschedule := find(shopResRe, queue, "reschedule request (of B)")

	// The collection point's staff check the customer in on his new order's day (early: they
	// accept it) and take his sample; the lab registers it and publishes its result, whose
	// link goes to the customer by text message; he claims the late-result discount and
	// lodges a complaint. The demo's paid order keeps its appointment, found on the staff's
	// days to come.
	at, err := time.Parse(time.RFC3339, newSlot)
	if err != nil {
		t.Fatal(err)
	}
	newDay := "/eshop/staff?point=" + newPoint + "&day=" + at.In(mustZone(t, "Europe/Bratislava")).Format("2006-01-02")
	_, dayPage := bLab.do("GET", newDay, nil)
	bSample := find(shopCheckinRe, dayPage, "new order's appointment (of B)")
	var bBooked string
	for day, i := "/eshop/staff", 0; bBooked == ""; i++ {
		if i == 15 {
			t.Fatal("no appointment of the demo order on B's staff's days")
		}
		_, page := bLab.do("GET", day, nil)
		for _, m := range shopCheckinRe.FindAllStringSubmatch(page, -1) {
			if m[1] != bSample {
				bBooked = m[1]
			}
		}
		day = html.UnescapeString(find(shopNextDayRe, page, "next day (of B)"))
	}
	if code, body := bLab.post(newDay, "/eshop/staff/items/"+bSample+"/checkin", url.Values{"identity": {"yes"}, "instructions": {"yes"},
		"consent": {"yes"}, "accept_late": {"yes"}, "back": {newDay}}); code != 303 {
		t.Fatalf("B's staff check in: %d\n%s", code, body)
	}
	if code, body := bLab.post(newDay, "/eshop/staff/items/"+bSample+"/sampled", url.Values{"back": {newDay}}); code != 303 {
		t.Fatalf("B's staff take the sample: %d\n%s", code, body)
	}
	if code, body := bLab.post("/eshop/lab", "/eshop/lab/items/"+bSample+"/register", url.Values{}); code != 303 || !strings.Contains(bLab.last.Get("Location"), "/eshop/lab/results/"+bSample) {
		t.Fatalf("B's lab registers the sample: %d → %s\n%s", code, bLab.last.Get("Location"), body)
	}
	// No page moves a clock: the lab took too long as its database says so — the sample was
	// registered 40 days ago — and its publication is late.
	if p.dsn == "" {
		p.exec(t, "eshop", "UPDATE eshop_results SET registered_at = ? || substr(registered_at, 11) WHERE item_id = ?",
			time.Now().UTC().AddDate(0, 0, -40).Format("2006-01-02"), bSample)
	} else {
		p.exec(t, "eshop", "UPDATE eshop_results SET registered_at = registered_at - interval '40 days' WHERE item_id = ?", bSample)
	}
	labResult := "/eshop/lab/results/" + bSample
	if code, body := bLab.upload(labResult, labResult+"/publish", url.Values{}, "file", "vysledok.pdf", resultPDF(t)); code != 303 {
		t.Fatalf("B's lab publishes a result: %d\n%s", code, body)
	}
	bToken := p.smsLink(t, "unilabs", shopTokenRe)
	if code, _ := p.browser("unilabs.localhost").do("GET", "/eshop/r/"+bToken, nil); code != 200 {
		t.Fatalf("B's result link on B: %d", code)
	}
	bResult := bSample
	if code, body := bUser.post("/eshop/results/"+bResult, "/eshop/results/"+bResult+"/claim", url.Values{"note": {"Výsledok prišiel neskoro."}}); code != 303 {
		t.Fatalf("B's customer claims: %d\n%s", code, body)
	}
	_, claims := bLab.do("GET", "/eshop/lab/claims", nil)
	bClaim := find(shopClaimRe, claims, "claim (of B)")
	today := time.Now().In(mustZone(t, "Europe/Bratislava")).Format("2006-01-02")
	if code, body := bUser.post("/eshop/complaints/new", "/eshop/complaints", url.Values{"order": {"DEMO-1000"}, "about": {"quality"},
		"discovered": {today}, "body": {"Odber bol bolestivý."}}); code != 200 {
		t.Fatalf("B's customer lodges a complaint: %d\n%s", code, body)
	}
	_, complaints := bLab.do("GET", "/eshop/lab/complaints", nil)
	bComplaint := find(shopRemedyRe, complaints, "complaint (of B)")

	// He buys a test voucher and pays it on the sandbox gateway: a payment, a purchase, a
	// voucher and an invoice of B.
	_, offer := bUser.do("GET", "/eshop/vouchers", nil)
	bVoucherItem := find(shopBuyRe, offer, "voucher offer (of B)")
	if code, body := bUser.post("/eshop/vouchers/buy?item="+bVoucherItem, "/eshop/vouchers/buy", url.Values{"item": {bVoucherItem},
		"quantity": {"1"}, "gift": {"yes"}}); code != 303 {
		t.Fatalf("B's customer buys a voucher: %d\n%s", code, body)
	}
	bPayment := find(shopSandboxRe, bUser.last.Get("Location"), "sandbox payment (of B)")
	if code, body := bUser.post("/eshop/sandbox/"+bPayment, "/eshop/sandbox/"+bPayment, url.Values{"action": {"pay"}}); code != 303 {
		t.Fatalf("B's customer pays: %d\n%s", code, body)
	}
	// The paid purchase's return page sends him to the purchase, where its codes are shown once.
	if code, _ := bUser.do("GET", "/eshop/pay/"+bPayment+"/return", nil); code != 303 || !strings.Contains(bUser.last.Get("Location"), "/eshop/vouchers/purchases/") {
		t.Fatalf("B's payment's return page: %d to %q", code, bUser.last.Get("Location"))
	}
	bPurchase := p.lookup(t, "eshop", "SELECT ref_id FROM eshop_payments WHERE id = ?", bPayment)
	if !strings.HasSuffix(bUser.last.Get("Location"), "/eshop/vouchers/purchases/"+bPurchase) {
		t.Fatalf("the return page went to %q, not purchase %s", bUser.last.Get("Location"), bPurchase)
	}
	if code, _ := bUser.do("GET", "/eshop/vouchers/purchases/"+bPurchase, nil); code != 200 {
		t.Fatalf("B's voucher purchase on B: %d", code)
	}
	bVoucher := p.lookup(t, "eshop", "SELECT id FROM eshop_vouchers WHERE purchase_id = ?", bPurchase)
	// The manager offers a value voucher.
	if code, body := bMan.post("/eshop/manage/vouchers", "/eshop/manage/vouchers", url.Values{"value": {"25"}}); code != 303 {
		t.Fatalf("B's manager adds a voucher value: %d\n%s", code, body)
	}
	_, denoms := bMan.do("GET", "/eshop/manage/vouchers", nil)
	bDenom := find(shopToggleRe, denoms, "voucher value (of B)")

	// A's people, on A's host; A's own category and test answer them: a 404 below is B's
	// id's, not a refusal.
	aUser := p.browser("secretaires.localhost")
	aUser.login("user@secretaires.localhost", "demo-secretaires-user")
	aMan := p.browser("secretaires.localhost")
	aMan.login("shop-manager@secretaires.localhost", "demo-secretaires-shop_manager")
	aLab := p.browser("secretaires.localhost")
	aLab.login("lab-staff@secretaires.localhost", "demo-secretaires-lab_staff")
	if code, body := aMan.post("/eshop/manage", "/eshop/manage/categories", url.Values{"cat_name": {"Bilans"}, "cat_position": {"10"}}); code != 303 {
		t.Fatalf("A's manager adds a category: %d\n%s", code, body)
	}
	_, aManage := aMan.do("GET", "/eshop/manage", nil)
	aCategory := find(shopCategoryRe, aManage, "category (of A)")
	if code, body := aMan.post("/eshop/manage", "/eshop/manage/categories/"+aCategory, url.Values{"cat_name": {"Bilans sanguins"}, "cat_position": {"10"}}); code != 303 {
		t.Fatalf("A's manager renames his own category: %d\n%s", code, body)
	}

	if code, body := aMan.post("/eshop/manage/items/new", "/eshop/manage/items/new", url.Values{"kind": {"test"}, "category": {aCategory},
		"name": {"Glycémie à jeun"}, "price": {"12,00"}, "tat_days": {"2"}}); code != 303 {
		t.Fatalf("A's manager adds a test: %d\n%s", code, body)
	}
	_, aCatalog := aUser.do("GET", "/eshop", nil)
	aItem := find(shopItemRe, aCatalog, "item (of A)")
	for _, c := range []struct {
		who  *browser
		path string
	}{{aUser, "/eshop/items/" + aItem}, {aMan, "/eshop/manage/items/" + aItem}} {
		if code, _ := c.who.do("GET", c.path, nil); code != 200 {
			t.Fatalf("A's own item at %s: %d", c.path, code)
		}
	}

	item, point, order := "/eshop/items/"+bItem, "/eshop/manage/points/"+bPoint, "/eshop/orders/"+bOrder
	cases := map[string]isoUse{
		"GET /eshop/items/{id}":                            {who: aUser, path: item, want: 404},
		"GET /eshop/points/{id}":                           {who: aUser, path: "/eshop/points/" + bPoint, want: 404},
		"GET /eshop/points/{id}/plan":                      {who: aUser, path: "/eshop/points/" + bPoint + "/plan", want: 404},
		"GET /eshop/assets/{name}":                         {exemption: "a file of the shop's styles or map in the module's binary, the same for every tenant"},
		"GET /eshop/assets/{dir}/{name}":                   {exemption: "a file of the shop's styles or map in the module's binary, the same for every tenant"},
		"GET /eshop/manage/items/{id}":                     {who: aMan, path: "/eshop/manage/items/" + bItem, want: 404},
		"POST /eshop/manage/items/{id}":                    {who: aMan, path: "/eshop/manage/items/" + bItem, page: "/eshop/manage", form: url.Values{"kind": {"test"}, "name": {"Prise"}, "price": {"10,00"}, "tat_days": {"1"}}, want: 404},
		"POST /eshop/manage/items/{id}/withdraw":           {who: aMan, path: "/eshop/manage/items/" + bItem + "/withdraw", page: "/eshop/manage", want: 404},
		"POST /eshop/manage/categories/{id}":               {who: aMan, path: "/eshop/manage/categories/" + bCategory, page: "/eshop/manage", form: url.Values{"cat_name": {"Prise"}, "cat_position": {"1"}}, want: 404},
		"POST /eshop/manage/categories/{id}/delete":        {who: aMan, path: "/eshop/manage/categories/" + bCategory + "/delete", page: "/eshop/manage", want: 404},
		"GET /eshop/manage/points/{id}":                    {who: aMan, path: point, want: 404},
		"POST /eshop/manage/points/{id}":                   {who: aMan, path: point, page: "/eshop/manage/points", form: url.Values{"name": {"Prise"}}, want: 404},
		"POST /eshop/manage/points/{id}/hours":             {who: aMan, path: point + "/hours", page: "/eshop/manage/points", form: url.Values{"weekday": {"1"}, "opens": {"07:00"}, "closes": {"09:00"}}, want: 404},
		"POST /eshop/manage/points/{id}/hours/delete":      {who: aMan, path: point + "/hours/delete", page: "/eshop/manage/points", form: url.Values{"weekday": {"1"}, "opens": {"07:00"}}, want: 404},
		"POST /eshop/manage/points/{id}/exceptions":        {who: aMan, path: point + "/exceptions", page: "/eshop/manage/points", form: url.Values{"day": {"2031-03-03"}, "closed": {"yes"}}, want: 404},
		"POST /eshop/manage/points/{id}/exceptions/delete": {who: aMan, path: point + "/exceptions/delete", page: "/eshop/manage/points", form: url.Values{"day": {"2031-03-03"}}, want: 404},
		"POST /eshop/manage/points/{id}/plan":              {who: aMan, path: point + "/plan", page: "/eshop/manage/points", file: "plan", data: blankPNG(t, 200, 200), want: 404},
		"POST /eshop/cart/lines/{id}/remove":               {who: aUser, path: "/eshop/cart/lines/" + bLine + "/remove", page: "/eshop/cart", want: 404},
		"GET /eshop/orders/{id}":                           {who: aUser, path: order, want: 404},
		"GET /eshop/orders/{id}/pay":                       {who: aUser, path: order + "/pay", want: 404},
		"GET /eshop/orders/{id}/invoice":                   {who: aUser, path: order + "/invoice", want: 404},
		"POST /eshop/orders/{id}/pay":                      {who: aUser, path: order + "/pay", page: "/eshop/orders", want: 404},
		"GET /eshop/orders/{id}/reschedule":                {who: aUser, path: order + "/reschedule", want: 404},
		"POST /eshop/orders/{id}/reschedule":               {who: aUser, path: order + "/reschedule", page: "/eshop/orders", form: url.Values{"reasons": {"Malade."}, "preferences": {"Lundi."}}, want: 404},
		"POST /eshop/orders/{id}/reschedule/pick":          {who: aUser, path: order + "/reschedule/pick", page: "/eshop/orders", form: url.Values{"slot": {"2031-03-03T08:00:00Z"}}, want: 404},
		"GET /eshop/pay/{id}/return":                       {who: aUser, path: "/eshop/pay/" + bPayment + "/return", want: 404},
		"GET /eshop/gateway/{gateway}/notify":              {exemption: "the name of a payment gateway, not an object: the notification's reference is looked up among the tenant's payments"},
		"POST /eshop/gateway/{gateway}/notify":             {exemption: "the name of a payment gateway, not an object: the notification's reference is looked up among the tenant's payments"},
		"GET /eshop/sandbox/{id}":                          {who: aUser, path: "/eshop/sandbox/" + bPayment, want: 404},
		"POST /eshop/sandbox/{id}":                         {who: aUser, path: "/eshop/sandbox/" + bPayment, page: "/eshop/orders", form: url.Values{"action": {"fail"}}, want: 404},
		"GET /eshop/invoices/{id}":                         {who: aUser, path: "/eshop/invoices/" + bInvoice + ".pdf", want: 404},
		"POST /eshop/lab/items/{id}/register":              {who: aLab, path: "/eshop/lab/items/" + bSample + "/register", page: "/eshop/lab", want: 404},
		"POST /eshop/lab/results/{id}/publish":             {who: aLab, path: labResult + "/publish", page: "/eshop/lab", file: "file", data: resultPDF(t), want: 404},
		"GET /eshop/lab/results/{id}":                      {who: aLab, path: labResult, want: 404},
		"GET /eshop/lab/results/{id}/pdf":                  {who: aLab, path: labResult + "/pdf", want: 404},
		"POST /eshop/lab/results/{id}/contact":             {who: aLab, path: labResult + "/contact", page: "/eshop/lab", form: url.Values{"channel": {"phone"}, "outcome": {"reached"}, "note": {"Appelé."}}, want: 404},
		"POST /eshop/lab/claims/{id}/decide":               {who: aLab, path: "/eshop/lab/claims/" + bClaim + "/decide", page: "/eshop/lab/claims", form: url.Values{"decision": {"accept"}}, want: 404},
		"POST /eshop/lab/complaints/{id}/remedy":           {who: aLab, path: "/eshop/lab/complaints/" + bComplaint + "/remedy", page: "/eshop/lab/complaints", form: url.Values{"remedy": {"refund"}, "note": {"Remboursé."}}, want: 404},
		"GET /eshop/results/{id}":                          {who: aUser, path: "/eshop/results/" + bResult, want: 404},
		"GET /eshop/results/{id}/pdf":                      {who: aUser, path: "/eshop/results/" + bResult + "/pdf", want: 404},
		"POST /eshop/results/{id}/claim":                   {who: aUser, path: "/eshop/results/" + bResult + "/claim", page: "/eshop/results", form: url.Values{"note": {"En retard."}}, want: 404},
		"GET /eshop/r/{token}":                             {who: p.browser("secretaires.localhost"), path: "/eshop/r/" + bToken, want: 404},
		"GET /eshop/r/{token}/pdf":                         {who: p.browser("secretaires.localhost"), path: "/eshop/r/" + bToken + "/pdf", want: 404},
		"POST /eshop/staff/reschedules/{id}/refuse":        {who: aLab, path: "/eshop/staff/reschedules/" + bReschedule + "/refuse", page: "/eshop/staff/reschedules", form: url.Values{"refusal": {"Complet."}}, want: 404},
		"POST /eshop/staff/reschedules/{id}/offer":         {who: aLab, path: "/eshop/staff/reschedules/" + bReschedule + "/offer", page: "/eshop/staff/reschedules", form: url.Values{"slot1": {"2031-03-03T08:00"}, "slot2": {"2031-03-04T08:00"}, "slot3": {"2031-03-05T08:00"}}, want: 404},
		"POST /eshop/staff/items/{id}/checkin":             {who: aLab, path: "/eshop/staff/items/" + bBooked + "/checkin", page: "/eshop/staff", want: 404},
		"POST /eshop/staff/items/{id}/sampled":             {who: aLab, path: "/eshop/staff/items/" + bBooked + "/sampled", page: "/eshop/staff", want: 404},
		"POST /eshop/staff/items/{id}/no-show":             {who: aLab, path: "/eshop/staff/items/" + bBooked + "/no-show", page: "/eshop/staff", want: 404},
		"POST /eshop/staff/items/{id}/late-refuse":         {who: aLab, path: "/eshop/staff/items/" + bBooked + "/late-refuse", page: "/eshop/staff", want: 404},
		"POST /eshop/staff/items/{id}/refuse":              {who: aLab, path: "/eshop/staff/items/" + bBooked + "/refuse", page: "/eshop/staff", form: url.Values{"reason": {"other"}, "note": {"Refus."}}, want: 404},
		"POST /eshop/staff/items/{id}/cancel":              {who: aLab, path: "/eshop/staff/items/" + bBooked + "/cancel", page: "/eshop/staff", form: url.Values{"reason": {"Panne."}}, want: 404},
		"POST /eshop/staff/orders/{id}/withdraw":           {who: aLab, path: "/eshop/staff/orders/" + bOrder + "/withdraw", page: "/eshop/staff", form: url.Values{"note": {"Retrait."}}, want: 404},
		"GET /eshop/vouchers/purchases/{id}":               {who: aUser, path: "/eshop/vouchers/purchases/" + bPurchase, want: 404},
		"POST /eshop/vouchers/{id}/compensate":             {who: aUser, path: "/eshop/vouchers/" + bVoucher + "/compensate", page: "/eshop/vouchers/check", form: url.Values{"code": {"X"}}, want: 404},
		"POST /eshop/manage/vouchers/{id}/toggle":          {who: aMan, path: "/eshop/manage/vouchers/" + bDenom + "/toggle", page: "/eshop/manage/vouchers", want: 404},
	}

	// Nothing of B changed: each object is still as B's people left it, in B's database and
	// on B's pages.
	after := func() {
		for _, c := range []struct{ what, query, id string }{
			{"the active item", "SELECT count(*) FROM eshop_items WHERE id = ? AND active AND withdrawn_at IS NULL", bItem},
			{"the category", "SELECT count(*) FROM eshop_categories WHERE id = ? AND name <> 'Prise'", bCategory},
			{"the point", "SELECT count(*) FROM eshop_points WHERE id = ? AND name <> 'Prise'", bPoint},
			{"the cart line", "SELECT count(*) FROM eshop_cart_items WHERE id = ?", bLine},
			{"the paid order", "SELECT count(*) FROM eshop_orders WHERE id = ? AND status = 'paid'", bOrder},
			{"the completed order", "SELECT count(*) FROM eshop_orders WHERE id = ? AND status = 'completed'", bDone},
			{"the open reschedule request", "SELECT count(*) FROM eshop_reschedules WHERE id = ? AND status = 'requested'", bReschedule},
			{"the paid payment", "SELECT count(*) FROM eshop_payments WHERE id = ? AND status = 'paid'", bPayment},
			{"the order's paid payment", "SELECT count(*) FROM eshop_payments WHERE id = ? AND status = 'paid'", bOrderPayment},
			{"the new order, completed by its result", "SELECT count(*) FROM eshop_orders WHERE id = ? AND status = 'completed'", bNew},
			{"the booked appointment", "SELECT count(*) FROM eshop_order_items WHERE id = ? AND status = 'booked'", bBooked},
			{"the undecided claim", "SELECT count(*) FROM eshop_result_claims WHERE id = ? AND decided_at IS NULL", bClaim},
			{"the complaint without remedy", "SELECT count(*) FROM eshop_complaints WHERE id = ? AND remedy = ''", bComplaint},
			{"the active voucher", "SELECT count(*) FROM eshop_vouchers WHERE id = ? AND status = 'active'", bVoucher},
			{"the offered voucher value", "SELECT count(*) FROM eshop_voucher_denominations WHERE id = ? AND active", bDenom},
		} {
			if n := p.count(t, "eshop", c.query, c.id); n != 1 {
				t.Errorf("B's %s changed after A's tries", c.what)
			}
		}
		if code, _ := bUser.do("GET", "/eshop/results/"+bResult, nil); code != 200 {
			t.Errorf("B's customer lost his result: %d", code)
		}
		if code, _ := p.browser("unilabs.localhost").do("GET", "/eshop/r/"+bToken, nil); code != 200 {
			t.Errorf("B's result link after A's tries: %d", code)
		}
		if _, after := bUser.do("GET", "/eshop/cart", nil); !strings.Contains(after, bLine) {
			t.Error("B's cart line left B's cart")
		}
	}
	return cases, after
}

func mustZone(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}
