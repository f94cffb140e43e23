package eshop

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"carenet.dev/platform/locales"
	"carenet.dev/platform/plugins/kit"
	"carenet.dev/platform/plugins/kit/store"
	"carenet.dev/platform/plugins/kit/upload"
	"carenet.dev/platform/plugins/kit/workdays"
	"carenet.dev/platform/plugins/sdk"
	"github.com/nyaruka/phonenumbers"
	"github.com/uptrace/bun"
)

// The results part's rules (each tenant's; labels rule.eshop.<name> in eshop_results.*.toml).
var (
	// E11: the external partner's page for expert advice and the consultation of results;
	// empty: no link is shown.
	consultationURL = kit.String("eshop.consultation_url", "", nil, "E11")
	// E10: how long the SMS link opens its result without login.
	resultLinkHours = kit.Int("eshop.result_link_hours", 72, 1, 720, "E10")
	// E13: how long results are kept once detached from a deleted account (health
	// documentation, Act No. 576/2004 Coll. § 22).
	resultRetentionYears = kit.Int("eshop.result_retention_years", 20, 1, 100, "E13")
	// E12: a complaint is lodged within these days of the defect's discovery and settled
	// within those days of being lodged.
	complaintLodgeDays  = kit.Int("eshop.complaint_lodge_days", 30, 1, 365, "E12")
	complaintSettleDays = kit.Int("eshop.complaint_settle_days", 30, 1, 365, "E12")
)

// Messages (mail.<template>.subject/body/action/name, sms.<template>).
const (
	tmplResultPublished = "eshop_result_published"
	tmplResultCritical  = "eshop_result_critical"
	tmplClaimAccepted   = "eshop_claim_accepted"
	tmplClaimRefused    = "eshop_claim_refused"
	// E12: the customer is told how his complaint was settled.
	tmplComplaintSettled = "eshop_complaint_settled"
)

// Audit actions.
const (
	auditResultRead      = "eshop.result_read"
	auditResultPublished = "eshop.result_published"
	auditCriticalContact = "eshop.critical_contact"
	auditClaimDecided    = "eshop.claim_decided"
	auditComplaintRemedy = "eshop.complaint_remedy"
)

const jobRetention = "eshop.results_retention"

// Result is the sample registered for one order item and, once published, its PDF (E10).
type Result struct {
	bun.BaseModel `bun:"table:eshop_results,alias:rs"`

	TenantID     string       `bun:"tenant_id,pk"`
	ItemID       string       `bun:"item_id,pk"`
	OrderID      string       `bun:"order_id"`
	OrderNumber  string       `bun:"order_number"`
	UserID       string       `bun:"user_id"` // "" once the account is deleted (E13)
	PersonName   string       `bun:"person_name"`
	TestName     string       `bun:"test_name"`
	PriceMinor   int64        `bun:"price_minor"`
	Currency     string       `bun:"currency"`
	RegisteredAt time.Time    `bun:"registered_at"`
	RegisteredBy string       `bun:"registered_by"`
	DueOn        string       `bun:"due_on"` // the TAT's last working day, "2006-01-02"
	PublishedAt  bun.NullTime `bun:"published_at"`
	PublishedBy  string       `bun:"published_by"`
	BlobID       string       `bun:"blob_id"`
	Late         bool         `bun:"late"`
	ClaimUntil   string       `bun:"claim_until"` // a late result: the last day to claim
	Critical     bool         `bun:"critical"`
	DetachedAt   bun.NullTime `bun:"detached_at"`
	KeepUntil    bun.NullTime `bun:"keep_until"`
}

// resultKey is the tenant's key for signing result links.
type resultKey struct {
	bun.BaseModel `bun:"table:eshop_result_keys,alias:rk"`

	TenantID  string    `bun:"tenant_id,pk"`
	Secret    string    `bun:"secret"`
	CreatedAt time.Time `bun:"created_at"`
}

// CriticalContact is one contact staff made with a customer about a critical value.
type CriticalContact struct {
	bun.BaseModel `bun:"table:eshop_critical_contacts,alias:cc"`

	TenantID  string    `bun:"tenant_id,pk"`
	ID        string    `bun:"id,pk"`
	ResultID  string    `bun:"result_id"`
	StaffID   string    `bun:"staff_id"`
	StaffName string    `bun:"staff_name"`
	At        time.Time `bun:"at"`
	Channel   string    `bun:"channel"` // phone, sms
	Outcome   string    `bun:"outcome"` // reached, no_answer, message_left, sms_sent, sms_not_sent
	Note      string    `bun:"note"`
}

var (
	errNotRegistrable = errors.New("eshop: the item is not waiting for its sample registration")
	errAlreadyDone    = errors.New("eshop: already done")
)

func (m *Module) resultsPart() part {
	return part{
		Routes: []kit.Route{
			kit.Perm("GET /eshop/lab", permSampling, m.labPage),
			kit.Perm("POST /eshop/lab/items/{id}/register", permSampling, m.registerPost),
			kit.Perm("POST /eshop/lab/results/{id}/publish", permSampling, m.publishPost),
			kit.Perm("GET /eshop/lab/results/{id}", permSampling, m.labResultPage),
			kit.Perm("GET /eshop/lab/results/{id}/pdf", permSampling, m.labResultPDF),
			kit.Perm("POST /eshop/lab/results/{id}/contact", permSampling, m.contactPost).Multiline("note"),
			kit.Perm("GET /eshop/lab/claims", permSampling, m.claimsPage),
			kit.Perm("POST /eshop/lab/claims/{id}/decide", permSampling, m.decidePost).Multiline("reason"),
			kit.Perm("GET /eshop/lab/complaints", permSampling, m.labComplaintsPage),
			kit.Perm("POST /eshop/lab/complaints", permSampling, m.labComplaintPost).Multiline("body"),
			kit.Perm("POST /eshop/lab/complaints/{id}/remedy", permSampling, m.remedyPost).Multiline("note"),
			kit.Perm("GET /eshop/results", permOrder, m.resultsPage).Lands(20, "customers"),
			kit.Perm("GET /eshop/results/{id}", permOrder, m.resultPage),
			kit.Perm("GET /eshop/orders/{id}/invoice", permOrder, m.orderInvoiceLink),
			kit.Perm("GET /eshop/results/{id}/pdf", permOrder, m.resultPDF),
			kit.Perm("POST /eshop/results/{id}/claim", permOrder, m.claimPost).Multiline("note"),
			kit.Public("GET /eshop/r/{token}", m.linkPage),
			kit.Public("GET /eshop/r/{token}/pdf", m.linkPDF),
			kit.Perm("GET /eshop/complaints/new", permOrder, m.complaintForm),
			kit.Perm("POST /eshop/complaints", permOrder, m.complaintPost).Multiline("body"),
			kit.Public("GET /eshop/data", m.dataPage),
		},
		Rules:         []kit.Rule{consultationURL, resultLinkHours, resultRetentionYears, complaintLodgeDays, complaintSettleDays},
		Jobs:          []kit.Job{{Name: jobRetention, Cron: "17 3 * * *", Run: m.retentionJob}},
		Notifications: []string{tmplResultPublished, tmplResultCritical, tmplClaimAccepted, tmplClaimRefused, tmplComplaintSettled},
		AuditActions:  []string{auditResultRead, auditResultPublished, auditCriticalContact, auditClaimDecided, auditComplaintRemedy},
		Forget:        m.forgetResults,
		Export:        m.exportResults,
	}
}

// ---- dates ----

// dayOf is the calendar day of at in the tenant's zone, at midnight UTC (for day arithmetic).
func dayOf(t sdk.Tenant, at time.Time) time.Time {
	y, mo, d := at.In(zone(t)).Date()
	return time.Date(y, mo, d, 0, 0, 0, 0, time.UTC)
}

func countryOf(t sdk.Tenant) string {
	if t.Country == "" {
		return "SK"
	}
	return t.Country
}

// addWorkdays is the day n working days after day in the tenant's country (E10: Slovak
// working days, weekends and public holidays skipped).
func addWorkdays(t sdk.Tenant, day time.Time, n int) time.Time {
	if n <= 0 {
		return day
	}
	return dayOf(t, workdays.AddWorkdays(workCalendar(t), day.Add(12*time.Hour), n))
}

// tatDue is the last day of the turnaround time of a sample registered at: tat working
// days after its registration, extended by the force majeure days over that span (E10, E13).
func (m *Module) tatDue(ctx context.Context, sc *store.Scope, t sdk.Tenant, at time.Time, tat int) (time.Time, error) {
	start := dayOf(t, at)
	due := addWorkdays(t, start, tat)
	fm, err := m.forceMajeureDays(ctx, sc, start, due.AddDate(0, 0, 1))
	if err != nil {
		return time.Time{}, err
	}
	if fm > 0 {
		due = due.AddDate(0, 0, fm)
	}
	return due, nil
}

// lateness says whether a result due on dueOn and published at is late (published more than
// the grace's working days after the due day, E10) and, if so, the last day to claim.
func lateness(t sdk.Tenant, dueOn string, at time.Time) (bool, string) {
	due, err := time.Parse(time.DateOnly, dueOn)
	if err != nil {
		return false, ""
	}
	limit := addWorkdays(t, due, int(tatGraceWorkingDays.Of(t)))
	pub := dayOf(t, at)
	if !pub.After(limit) {
		return false, ""
	}
	return true, pub.AddDate(0, 0, int(claimDays.Of(t))).Format(time.DateOnly)
}

// ---- registration and publication ----

// registerSample registers the sample of order item itemID at the lab (E10): the item must
// be sampled (or checked in) on a paid order; the TAT starts. A second registration of the
// same item is refused by the key.
func (m *Module) registerSample(ctx context.Context, t sdk.Tenant, itemID, staffID string) (*Result, error) {
	var out *Result
	err := m.In(ctx, t, func(ctx context.Context, sc *store.Scope) error {
		var it OrderItem
		if err := sc.Select(&it).Where("id = ?", itemID).Scan(ctx); err != nil {
			if errors.Is(err, sql.ErrNoRows) {
				return kit.ErrNotFound
			}
			return err
		}
		if it.Status != itemSampled && it.Status != itemCheckedIn {
			return errNotRegistrable
		}
		var o Order
		if err := sc.Select(&o).Where("id = ?", it.OrderID).Scan(ctx); err != nil {
			return err
		}
		if o.Status != orderPaid && o.Status != orderCompleted {
			return errNotRegistrable
		}
		now := m.now()
		due, err := m.tatDue(ctx, sc, t, now, it.TATDays)
		if err != nil {
			return err
		}
		r := &Result{TenantID: sc.TenantID, ItemID: it.ID, OrderID: o.ID, OrderNumber: o.Number, UserID: o.UserID, PersonName: it.PersonName,
			TestName: it.Name, PriceMinor: it.PriceMinor, Currency: o.Currency, RegisteredAt: now, RegisteredBy: staffID, DueOn: due.Format(time.DateOnly)}
		if r.PersonName == "" {
			r.PersonName = o.BuyerName
		}
		if _, err := sc.Insert(r).Exec(ctx); err != nil {
			if store.IsUniqueViolation(err) {
				return errAlreadyDone
			}
			return err
		}
		out = r
		return nil
	})
	return out, err
}

// publishResult stores the result PDF of a registered sample and publishes it (E10): once,
// by a guarded update; the item becomes published; the customer is told by e-mail (a link
// to log in) and, when the order has a mobile, by SMS with a signed link.
func (m *Module) publishResult(ctx context.Context, t sdk.Tenant, itemID, staffID, blobID string) (*Result, error) {
	var r Result
	var o Order
	now := m.now()
	err := m.In(ctx, t, func(ctx context.Context, sc *store.Scope) error {
		if err := sc.Select(&r).Where("item_id = ?", itemID).Scan(ctx); err != nil {
			if errors.Is(err, sql.ErrNoRows) {
				return kit.ErrNotFound
			}
			return err
		}
		// The due day again, with the force majeure recorded since the registration (E13).
		var it OrderItem
		if err := sc.Select(&it).Where("id = ?", itemID).Scan(ctx); err != nil {
			return err
		}
		due, err := m.tatDue(ctx, sc, t, r.RegisteredAt, it.TATDays)
		if err != nil {
			return err
		}
		dueOn := due.Format(time.DateOnly)
		late, until := lateness(t, dueOn, now)
		res, err := sc.Update((*Result)(nil)).Set("published_at = ?, published_by = ?, blob_id = ?, late = ?, claim_until = ?, due_on = ?", now, staffID, blobID, late, until, dueOn).
			Where("item_id = ? AND published_at IS NULL", itemID).Exec(ctx)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return errAlreadyDone
		}
		if _, err := sc.Update((*OrderItem)(nil)).Set("status = ?", itemPublished).Where("id = ?", itemID).Exec(ctx); err != nil {
			return err
		}
		if _, err := completeIfDone(ctx, sc, it.OrderID); err != nil {
			return err
		}
		if err := sc.Select(&r).Where("item_id = ?", itemID).Scan(ctx); err != nil {
			return err
		}
		return sc.Select(&o).Where("id = ?", r.OrderID).Scan(ctx)
	})
	if err != nil {
		return nil, err
	}
	// The result is out: a message the host could not queue is logged, not a failure of the
	// publication (the customer finds the result in his account all the same).
	if err := m.notifyPublished(ctx, t, &r, &o, now); err != nil {
		m.Log.Error("result published, message not queued", "tenant", t.Slug, "item", r.ItemID, "err", err.Error())
	}
	return &r, nil
}

// notifyPublished records the publication and tells the customer: an e-mail with a link to
// log in, and, when the order has a mobile, an SMS with a signed link (E10).
func (m *Module) notifyPublished(ctx context.Context, t sdk.Tenant, r *Result, o *Order, now time.Time) error {
	h := sdk.HostFrom(ctx)
	_ = h.Record(ctx, sdk.AuditRecord{Action: auditResultPublished, Subject: r.UserID, Resource: "eshop/result/" + r.ItemID,
		Detail: map[string]any{"test": r.TestName, "person": r.PersonName}})
	if r.UserID != "" {
		if _, err := h.Send(ctx, sdk.Message{UserID: r.UserID, Template: tmplResultPublished, Link: "/login?next=/eshop/results/" + r.ItemID,
			Data: map[string]any{"Tenant": t.Name, "Order": r.OrderNumber}}); err != nil {
			return fmt.Errorf("e-mail: %w", err)
		}
	}
	if o.Mobile != "" {
		tok, err := m.resultToken(ctx, t, r.ItemID, now.Add(time.Duration(resultLinkHours.Of(t))*time.Hour))
		if err != nil {
			return err
		}
		// No health data in the text: the tenant's name and the link only.
		if _, err := h.Send(ctx, sdk.Message{Channel: "sms", To: o.Mobile, Template: tmplResultPublished, Link: "/eshop/r/" + tok, Secret: true,
			Data: map[string]any{"Tenant": t.Name}}); err != nil {
			return fmt.Errorf("SMS: %w", err)
		}
	}
	return nil
}

// ---- signed links (E10) ----

// tenantSecret is the tenant's key for result links, made on first use.
func (m *Module) tenantSecret(ctx context.Context, t sdk.Tenant) ([]byte, error) {
	var k resultKey
	err := m.In(ctx, t, func(ctx context.Context, sc *store.Scope) error {
		var b [32]byte
		if _, err := rand.Read(b[:]); err != nil {
			return err
		}
		if _, err := sc.Insert(&resultKey{TenantID: sc.TenantID, Secret: hex.EncodeToString(b[:]), CreatedAt: m.now()}).
			On("CONFLICT DO NOTHING").Exec(ctx); err != nil {
			return err
		}
		return sc.Select(&k).Scan(ctx)
	})
	if err != nil {
		return nil, err
	}
	return hex.DecodeString(k.Secret)
}

func linkMAC(secret []byte, tenantID, itemID string, exp int64) string {
	h := hmac.New(sha256.New, secret)
	fmt.Fprintf(h, "%s\x00%s\x00%d", tenantID, itemID, exp)
	return base64.RawURLEncoding.EncodeToString(h.Sum(nil))
}

// resultToken is a link token opening result itemID until exp: the item, the expiry and
// their HMAC under the tenant's key.
func (m *Module) resultToken(ctx context.Context, t sdk.Tenant, itemID string, exp time.Time) (string, error) {
	secret, err := m.tenantSecret(ctx, t)
	if err != nil {
		return "", err
	}
	e := exp.Unix()
	return itemID + "." + strconv.FormatInt(e, 10) + "." + linkMAC(secret, t.ID, itemID, e), nil
}

var (
	errLinkExpired = errors.New("eshop: the result link has expired")
	errLinkForged  = errors.New("eshop: the result link is not valid")
)

// openToken checks a link token: the item it opens, or errLinkForged / errLinkExpired.
func (m *Module) openToken(ctx context.Context, t sdk.Tenant, tok string) (string, error) {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 || len(tok) > 200 {
		return "", errLinkForged
	}
	exp, err := strconv.ParseInt(parts[1], 10, 64)
	if err != nil {
		return "", errLinkForged
	}
	secret, err := m.tenantSecret(ctx, t)
	if err != nil {
		return "", err
	}
	if !hmac.Equal([]byte(parts[2]), []byte(linkMAC(secret, t.ID, parts[0], exp))) {
		return "", errLinkForged
	}
	if !m.now().Before(time.Unix(exp, 0)) {
		return "", errLinkExpired
	}
	return parts[0], nil
}

// ---- reading ----

// resultOf is a published result of user userID ("" for any: the lab's staff, a link).
func (m *Module) resultOf(ctx context.Context, t sdk.Tenant, itemID, userID string, published bool) (*Result, error) {
	var r Result
	err := m.Read(ctx, t, func(ctx context.Context, sc *store.Scope) error {
		q := sc.Select(&r).Where("item_id = ?", itemID)
		if userID != "" {
			q = q.Where("user_id = ?", userID)
		}
		if published {
			q = q.Where("published_at IS NOT NULL")
		}
		return q.Scan(ctx)
	})
	if errors.Is(err, sql.ErrNoRows) {
		return nil, kit.ErrNotFound
	}
	return &r, err
}

// audited records a read of a result's PDF or page (P9).
func audited(c *kit.Ctx, r *Result, how string) {
	if err := c.Host().Record(c.Context(), sdk.AuditRecord{Action: auditResultRead, Subject: r.UserID, Resource: "eshop/result/" + r.ItemID,
		Detail: map[string]any{"test": r.TestName, "person": r.PersonName, "how": how}}); err != nil {
		c.LogFailure(fmt.Errorf("audit of a result read: %w", err))
	}
}

func (m *Module) servePDF(c *kit.Ctx, r *Result) error {
	b, err := c.Host().Blob(c.Context(), r.BlobID)
	if err != nil {
		return fmt.Errorf("result blob: %w", err)
	}
	k, err := upload.Check(b.Data, upload.PDF)
	if err != nil {
		return fmt.Errorf("result blob is not a PDF: %w", err)
	}
	upload.Serve(c.W.Header().Set, k, upload.DownloadName(r.TestName, "result", k), true)
	c.W.Header().Set("Cache-Control", "no-store")
	c.W.WriteHeader(http.StatusOK)
	_, err = c.W.Write(b.Data)
	return err
}

// ---- customer pages ----

func (m *Module) resultsPage(c *kit.Ctx) error {
	var rs []Result
	if err := c.Read(func(ctx context.Context, sc *store.Scope) error {
		return sc.Select(&rs).Where("user_id = ? AND published_at IS NOT NULL", c.User().ID).Order("published_at DESC").Limit(500).Scan(ctx)
	}); err != nil {
		return err
	}
	v := c.View("eshop.results.title")
	v.Data["Results"], v.Data["Consult"] = rs, consultationURL.Of(c.Tenant())
	return c.Render(http.StatusOK, "result_list", v)
}

func (m *Module) resultView(c *kit.Ctx, r *Result) (*kit.View, error) {
	v := c.View("eshop.result.title")
	v.Data["R"], v.Data["Consult"] = r, consultationURL.Of(c.Tenant())
	var cl Claim
	err := c.Read(func(ctx context.Context, sc *store.Scope) error {
		return sc.Select(&cl).Where("result_id = ?", r.ItemID).Scan(ctx)
	})
	switch {
	case err == nil:
		v.Data["Claim"] = &cl
	case !errors.Is(err, sql.ErrNoRows):
		return nil, err
	}
	if r.Late && err != nil {
		open := claimOpen(c.Tenant(), r, m.now())
		v.Data["ClaimOpen"] = open
		if open {
			v.Data["ClaimAmount"] = claimAmount(c.Tenant(), r)
		}
	}
	if r.ClaimUntil != "" {
		d, _ := time.Parse(time.DateOnly, r.ClaimUntil)
		v.Data["ClaimUntil"] = d.Add(12 * time.Hour)
	}
	return v, nil
}

func (m *Module) resultPage(c *kit.Ctx) error {
	r, err := m.resultOf(c.Context(), c.Tenant(), c.Param("id"), c.User().ID, true)
	if err != nil {
		return err
	}
	audited(c, r, "page")
	v, err := m.resultView(c, r)
	if err != nil {
		return err
	}
	return c.Render(http.StatusOK, "result_page", v)
}

func (m *Module) resultPDF(c *kit.Ctx) error {
	r, err := m.resultOf(c.Context(), c.Tenant(), c.Param("id"), c.User().ID, true)
	if err != nil {
		return err
	}
	audited(c, r, "pdf")
	return m.servePDF(c, r)
}

// linkResult is the result a link token opens, or a page saying the link cannot be used.
func (m *Module) linkResult(c *kit.Ctx) (*Result, error) {
	id, err := m.openToken(c.Context(), c.Tenant(), c.Param("token"))
	if errors.Is(err, errLinkForged) || errors.Is(err, errLinkExpired) {
		v := c.View("eshop.link.title")
		v.Data["Expired"] = errors.Is(err, errLinkExpired)
		status := http.StatusNotFound
		if errors.Is(err, errLinkExpired) {
			status = http.StatusGone
		}
		return nil, c.Render(status, "result_link_bad", v)
	}
	if err != nil {
		return nil, err
	}
	return m.resultOf(c.Context(), c.Tenant(), id, "", true)
}

func (m *Module) linkPage(c *kit.Ctx) error {
	r, err := m.linkResult(c)
	if r == nil {
		return err
	}
	audited(c, r, "link")
	v := c.View("eshop.result.title")
	v.Data["R"], v.Data["Consult"], v.Data["Token"] = r, consultationURL.Of(c.Tenant()), c.Param("token")
	return c.Render(http.StatusOK, "result_link", v)
}

func (m *Module) linkPDF(c *kit.Ctx) error {
	r, err := m.linkResult(c)
	if r == nil {
		return err
	}
	audited(c, r, "link")
	return m.servePDF(c, r)
}

// orderInvoiceLink sends the signed-in customer to the invoice of one of his paid orders (the
// order's page links here, E5): the one issued with the payment's confirmation, or issued now
// when the confirmation has not gone out yet (issueInvoice gives an order one invoice). An
// unpaid order, or another's, is not found.
func (m *Module) orderInvoiceLink(c *kit.Ctx) error {
	var o Order
	var items []OrderItem
	var byTestVoucher map[string]bool
	err := c.Read(func(ctx context.Context, sc *store.Scope) error {
		if err := sc.Select(&o).Where("id = ? AND user_id = ?", c.Param("id"), c.User().ID).Scan(ctx); err != nil {
			return err
		}
		var err error
		if byTestVoucher, err = testVoucherLines(ctx, sc, o.ID); err != nil {
			return err
		}
		return sc.Select(&items).Where("order_id = ?", o.ID).Order("starts_at", "id").Scan(ctx)
	})
	if errors.Is(err, sql.ErrNoRows) {
		return kit.ErrNotFound
	}
	if err != nil {
		return err
	}
	if o.PaidAt.IsZero() || len(items) == 0 {
		return kit.ErrNotFound
	}
	inv, err := m.invoiceOf(c.Context(), c.Tenant(), purposeOrder, o.ID)
	if errors.Is(err, sql.ErrNoRows) {
		lang := o.Locale
		if !locales.IsSupported(lang) {
			lang = c.Tenant().Locale
		}
		if _, _, err = m.issueInvoice(c.Context(), c.Tenant(), orderInvoice(m.Msgs.For(lang), &o, items, byTestVoucher)); err != nil {
			return fmt.Errorf("invoice of order %s: %w", o.ID, err)
		}
		inv, err = m.invoiceOf(c.Context(), c.Tenant(), purposeOrder, o.ID)
	}
	if err != nil {
		return fmt.Errorf("invoice of order %s: %w", o.ID, err)
	}
	return c.Redirect(invoicePath(inv.ID), "")
}

// ---- the lab's pages ----

// labRow is an order item on the lab's page, with its result if registered.
type labRow struct {
	Item   OrderItem
	Number string
	Result *Result
}

func (m *Module) labPage(c *kit.Ctx) error {
	q := strings.TrimSpace(c.Query("q"))
	v := c.View("eshop.lab.title")
	v.Values["q"] = q
	var rows []labRow
	err := c.Read(func(ctx context.Context, sc *store.Scope) error {
		var orders []Order
		oq := sc.Select(&orders).Where("status IN (?)", bun.In([]string{orderPaid, orderCompleted})).Order("submitted_at DESC").Limit(50)
		if q != "" {
			like := "%" + strings.ToLower(q) + "%"
			oq = oq.WhereGroup(" AND ", func(g *bun.SelectQuery) *bun.SelectQuery {
				return g.Where("number = ?", q).WhereOr("lower(buyer_name) LIKE ?", like).
					WhereOr("id IN (?)", sc.Select((*OrderItem)(nil)).Column("order_id").Where("lower(person_name) LIKE ?", like))
			})
		} else {
			oq = oq.Where("id IN (?)", sc.Select((*OrderItem)(nil)).Column("order_id").Where("status IN (?)", bun.In([]string{itemSampled, itemCheckedIn})))
		}
		if err := oq.Scan(ctx); err != nil || len(orders) == 0 {
			return err
		}
		ids, number := []string{}, map[string]string{}
		for _, o := range orders {
			ids, number[o.ID] = append(ids, o.ID), o.Number
		}
		var items []OrderItem
		if err := sc.Select(&items).Where("order_id IN (?)", bun.In(ids)).Order("starts_at").Scan(ctx); err != nil {
			return err
		}
		var rs []Result
		if err := sc.Select(&rs).Where("order_id IN (?)", bun.In(ids)).Scan(ctx); err != nil {
			return err
		}
		byItem := map[string]*Result{}
		for i := range rs {
			byItem[rs[i].ItemID] = &rs[i]
		}
		for _, it := range items {
			r := byItem[it.ID]
			if q == "" && it.Status != itemSampled && it.Status != itemCheckedIn {
				continue
			}
			if r == nil && it.Status != itemSampled && it.Status != itemCheckedIn && it.Status != itemPublished {
				continue
			}
			rows = append(rows, labRow{Item: it, Number: number[it.OrderID], Result: r})
		}
		return nil
	})
	if err != nil {
		return err
	}
	v.Data["Rows"] = rows
	return c.Render(http.StatusOK, "result_lab", v)
}

func (m *Module) registerPost(c *kit.Ctx) error {
	_, err := m.registerSample(c.Context(), c.Tenant(), c.Param("id"), c.User().ID)
	switch {
	case errors.Is(err, errAlreadyDone):
		return c.Redirect("/eshop/lab", "sample_already")
	case errors.Is(err, errNotRegistrable):
		return c.Redirect("/eshop/lab", "sample_not_ready")
	case err != nil:
		return err
	}
	return c.Redirect("/eshop/lab/results/"+c.Param("id"), "sample_registered")
}

func (m *Module) labResultView(c *kit.Ctx, r *Result) (*kit.View, error) {
	v := c.View("eshop.lab_result.title")
	var contacts []CriticalContact
	var mobile *phoneText
	err := c.Read(func(ctx context.Context, sc *store.Scope) error {
		var o Order
		if err := sc.Select(&o).Where("id = ?", r.OrderID).Scan(ctx); err != nil {
			return err
		}
		mobile = readablePhone(o.Mobile, c.Tenant().Country)
		return sc.Select(&contacts).Where("result_id = ?", r.ItemID).Order("at DESC").Scan(ctx)
	})
	if err != nil {
		return nil, err
	}
	v.Data["R"], v.Data["Contacts"], v.Data["Mobile"] = r, contacts, mobile
	if due, err := time.Parse(time.DateOnly, r.DueOn); err == nil {
		v.Data["Due"] = due.Add(12 * time.Hour)
	}
	return v, nil
}

func (m *Module) labResultPage(c *kit.Ctx) error {
	r, err := m.resultOf(c.Context(), c.Tenant(), c.Param("id"), "", false)
	if err != nil {
		return err
	}
	v, err := m.labResultView(c, r)
	if err != nil {
		return err
	}
	return c.Render(http.StatusOK, "result_lab_one", v)
}

// labResultPDF is a published result's PDF for the lab's staff, audited as every read.
func (m *Module) labResultPDF(c *kit.Ctx) error {
	r, err := m.resultOf(c.Context(), c.Tenant(), c.Param("id"), "", true)
	if err != nil {
		return err
	}
	audited(c, r, "lab")
	return m.servePDF(c, r)
}

// maxResultBytes caps a result PDF.
const maxResultBytes = 20 << 20

func (m *Module) publishPost(c *kit.Ctx) error {
	r, err := m.resultOf(c.Context(), c.Tenant(), c.Param("id"), "", false)
	if err != nil {
		return err
	}
	invalid := func(id string) error {
		v, err := m.labResultView(c, r)
		if err != nil {
			return err
		}
		v.Errors["file"] = id
		return kit.Invalid("result_lab_one", v)
	}
	if !r.PublishedAt.IsZero() {
		return c.Redirect("/eshop/lab/results/"+r.ItemID, "result_already")
	}
	f, _, err := c.R.FormFile("file")
	if err != nil {
		return invalid("eshop.lab_result.err.file_missing")
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxResultBytes+1))
	if err != nil {
		return kit.ErrBadRequest
	}
	if len(data) > maxResultBytes {
		return invalid("eshop.lab_result.err.file_large")
	}
	k, err := upload.Check(data, upload.PDF)
	if err != nil {
		return invalid("eshop.lab_result.err.file_pdf")
	}
	id, err := c.Host().PutBlob(c.Context(), sdk.Blob{Name: "result" + k.Ext, ContentType: k.ContentType, Data: data})
	if err != nil {
		return err
	}
	if _, err := m.publishResult(c.Context(), c.Tenant(), r.ItemID, c.User().ID, id); err != nil {
		if errors.Is(err, errAlreadyDone) {
			_ = c.Host().DeleteBlob(c.Context(), id)
			return c.Redirect("/eshop/lab/results/"+r.ItemID, "result_already")
		}
		return err
	}
	return c.Redirect("/eshop/lab/results/"+r.ItemID, "result_published")
}

// ---- critical values ----

var contactOutcomes = []string{"reached", "no_answer", "message_left"}

// contactCustomer records a contact about a critical value of result itemID and flags it
// critical: a phone call with its outcome, or an SMS asking the customer to call the lab
// (sent now; its outcome is whether it was queued).
func (m *Module) contactCustomer(ctx context.Context, t sdk.Tenant, itemID string, staff *sdk.User, channel, outcome, note string) (*CriticalContact, error) {
	r, err := m.resultOf(ctx, t, itemID, "", false)
	if err != nil {
		return nil, err
	}
	if channel == "sms" {
		var o Order
		if err := m.Read(ctx, t, func(ctx context.Context, sc *store.Scope) error {
			return sc.Select(&o).Where("id = ?", r.OrderID).Scan(ctx)
		}); err != nil {
			return nil, err
		}
		outcome = "sms_not_sent"
		if o.Mobile != "" {
			id, err := sdk.HostFrom(ctx).Send(ctx, sdk.Message{Channel: "sms", To: o.Mobile, Template: tmplResultCritical, Data: map[string]any{"Tenant": t.Name}})
			if err != nil {
				return nil, err
			}
			if id != "" {
				outcome = "sms_sent"
			}
		}
	}
	cc := &CriticalContact{TenantID: t.ID, ID: newID(), ResultID: r.ItemID, StaffID: staff.ID, StaffName: staff.Name, At: m.now(), Channel: channel, Outcome: outcome, Note: note}
	err = m.In(ctx, t, func(ctx context.Context, sc *store.Scope) error {
		if _, err := sc.Update((*Result)(nil)).Set("critical = TRUE").Where("item_id = ?", r.ItemID).Exec(ctx); err != nil {
			return err
		}
		_, err := sc.Insert(cc).Exec(ctx)
		return err
	})
	if err != nil {
		return nil, err
	}
	_ = sdk.HostFrom(ctx).Record(ctx, sdk.AuditRecord{Action: auditCriticalContact, Subject: r.UserID, Resource: "eshop/result/" + r.ItemID,
		Detail: map[string]any{"test": r.TestName, "person": r.PersonName, "channel": channel, "outcome": outcome}})
	return cc, nil
}

func (m *Module) contactPost(c *kit.Ctx) error {
	r, err := m.resultOf(c.Context(), c.Tenant(), c.Param("id"), "", false)
	if err != nil {
		return err
	}
	channel, outcome, note := c.Form("channel"), c.Form("outcome"), strings.TrimSpace(c.Form("note"))
	errs := map[string]string{}
	switch channel {
	case "sms":
	case "phone":
		if !oneOf(outcome, contactOutcomes) {
			errs["outcome"] = "eshop.lab_result.err.outcome"
		}
	default:
		errs["channel"] = "eshop.lab_result.err.channel"
	}
	if len(note) > 2000 {
		errs["note"] = "eshop.err.too_long"
	}
	if len(errs) > 0 {
		v, err := m.labResultView(c, r)
		if err != nil {
			return err
		}
		for k, e := range errs {
			v.Errors[k] = e
		}
		v.Values["channel"], v.Values["outcome"], v.Values["note"] = channel, outcome, note
		return kit.Invalid("result_lab_one", v)
	}
	if _, err := m.contactCustomer(c.Context(), c.Tenant(), r.ItemID, c.User(), channel, outcome, note); err != nil {
		return err
	}
	return c.Redirect("/eshop/lab/results/"+r.ItemID, "contact_logged")
}

func oneOf(s string, xs []string) bool {
	for _, x := range xs {
		if s == x {
			return true
		}
	}
	return false
}

// ---- retention (E13) and export (P11) ----

// forgetResults keeps the results of a deleted account, detached from it (its user id
// cleared, the person's name kept) until the retention period ends (E13); the user's claims
// and complaints lose his id too.
func (m *Module) forgetResults(ctx context.Context, t sdk.Tenant, userID string) error {
	if userID == "" {
		return nil
	}
	now := m.now()
	years := int(resultRetentionYears.Of(t))
	return m.In(ctx, t, func(ctx context.Context, sc *store.Scope) error {
		var rs []Result
		if err := sc.Select(&rs).Where("user_id = ?", userID).Scan(ctx); err != nil {
			return err
		}
		for _, r := range rs {
			// The legal period runs from the examination: the result's publication, or
			// the sample's registration for a result not out yet.
			from := r.RegisteredAt
			if !r.PublishedAt.IsZero() {
				from = r.PublishedAt.Time
			}
			if _, err := sc.Update((*Result)(nil)).Set("user_id = '', detached_at = ?, keep_until = ?", now, from.AddDate(years, 0, 0)).
				Where("item_id = ? AND user_id = ?", r.ItemID, userID).Exec(ctx); err != nil {
				return err
			}
		}
		if _, err := sc.Update((*Claim)(nil)).Set("user_id = ''").Where("user_id = ?", userID).Exec(ctx); err != nil {
			return err
		}
		_, err := sc.Update((*ShopComplaint)(nil)).Set("user_id = ''").Where("user_id = ?", userID).Exec(ctx)
		return err
	})
}

// retentionJob deletes the detached results whose retention period is over, with their PDF.
func (m *Module) retentionJob(ctx context.Context, job *sdk.Job) error {
	t := job.Tenant
	var gone []Result
	err := m.In(ctx, t, func(ctx context.Context, sc *store.Scope) error {
		return sc.Select(&gone).Where("user_id = '' AND keep_until IS NOT NULL AND keep_until < ?", m.now()).Limit(1000).Scan(ctx)
	})
	if err != nil {
		return err
	}
	h := sdk.HostFrom(ctx)
	for _, r := range gone {
		if r.BlobID != "" {
			if err := h.DeleteBlob(ctx, r.BlobID); err != nil {
				return fmt.Errorf("retention: result PDF: %w", err)
			}
		}
		err := m.In(ctx, t, func(ctx context.Context, sc *store.Scope) error {
			if _, err := sc.Delete((*CriticalContact)(nil)).Where("result_id = ?", r.ItemID).Exec(ctx); err != nil {
				return err
			}
			_, err := sc.Delete((*Result)(nil)).Where("item_id = ? AND user_id = ''", r.ItemID).Exec(ctx)
			return err
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// exportResults is the user's results, claims and complaints (P11).
func (m *Module) exportResults(ctx context.Context, t sdk.Tenant, userID string) (map[string]any, error) {
	type res struct {
		Order       string     `json:"order"`
		Test        string     `json:"test"`
		Person      string     `json:"person"`
		Registered  time.Time  `json:"sample_registered_at"`
		Due         string     `json:"due_on"`
		PublishedAt *time.Time `json:"published_at,omitempty"`
		Late        bool       `json:"late"`
		Critical    bool       `json:"critical"`
	}
	out := []res{}
	var claims []Claim
	var complaints []ShopComplaint
	err := m.Read(ctx, t, func(ctx context.Context, sc *store.Scope) error {
		var rs []Result
		if err := sc.Select(&rs).Where("user_id = ?", userID).Order("registered_at").Scan(ctx); err != nil {
			return err
		}
		for _, r := range rs {
			x := res{Order: r.OrderNumber, Test: r.TestName, Person: r.PersonName, Registered: r.RegisteredAt, Due: r.DueOn, Late: r.Late, Critical: r.Critical}
			if !r.PublishedAt.IsZero() {
				p := r.PublishedAt.Time
				x.PublishedAt = &p
			}
			out = append(out, x)
		}
		if err := sc.Select(&claims).Where("user_id = ?", userID).Order("claimed_at").Scan(ctx); err != nil {
			return err
		}
		return sc.Select(&complaints).Where("user_id = ?", userID).Order("created_at").Scan(ctx)
	})
	if err != nil {
		return nil, err
	}
	cl := []map[string]any{}
	for _, c := range claims {
		cl = append(cl, map[string]any{"state": c.State, "percent": c.Percent, "amount_minor": c.AmountMinor, "currency": c.Currency, "claimed_at": c.ClaimedAt, "note": c.Note, "decision_reason": c.DecisionReason})
	}
	cp := []map[string]any{}
	for _, c := range complaints {
		cp = append(cp, map[string]any{"reference": c.Reference, "order": c.OrderNumber, "about": c.About, "discovered_on": c.DiscoveredOn, "lodged_on": c.LodgedOn, "remedy": c.Remedy})
	}
	return map[string]any{"results": out, "result_claims": cl, "complaints": cp}, nil
}

// dataKinds are the kinds of personal data the shop keeps, in the order the page lists them
// (E15: the list of data kept, with what each is for and how long it is kept).
var dataKinds = []string{"account", "dependants", "orders", "payments", "sampling", "results", "claims", "complaints", "audit"}

// dataPage lists the personal data the shop keeps (E15), with the results' retention from
// the tenant's rule and the consultation partner if any.
func (m *Module) dataPage(c *kit.Ctx) error {
	v := c.View("eshop.data.title")
	v.Data["Kinds"], v.Data["Years"] = dataKinds, resultRetentionYears.Of(c.Tenant())
	return c.Render(http.StatusOK, "result_data", v)
}

// phoneText is a phone number for a page: Text to read (the national format when the
// number is of the tenant's country, else the international one, its spaces
// non-breaking), Tel for a tel: link (E.164).
type phoneText struct{ Text, Tel string }

// readablePhone formats raw (E.164 as stored, or as typed) for reading; nil when empty. A
// number the library cannot read is shown as given.
func readablePhone(raw, country string) *phoneText {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return nil
	}
	if country == "" {
		country = "SK"
	}
	n, err := phonenumbers.Parse(raw, strings.ToUpper(country))
	if err != nil {
		tel := strings.Map(func(r rune) rune {
			if r == '+' || r >= '0' && r <= '9' {
				return r
			}
			return -1
		}, raw)
		return &phoneText{Text: strings.ReplaceAll(raw, " ", "\u00a0"), Tel: tel}
	}
	format := phonenumbers.INTERNATIONAL
	if phonenumbers.GetRegionCodeForNumber(n) == strings.ToUpper(country) {
		format = phonenumbers.NATIONAL
	}
	return &phoneText{Text: strings.ReplaceAll(phonenumbers.Format(n, format), " ", "\u00a0"), Tel: phonenumbers.Format(n, phonenumbers.E164)}
}
