package eshop

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/uptrace/bun"

	"carenet.dev/platform/plugins/kit"
	"carenet.dev/platform/plugins/kit/store"
	"carenet.dev/platform/plugins/sdk"
)

// Gift vouchers (E14): sold "as a gift voucher" to a signed-in customer and paid through the
// gateway (E14.d), issued once the payment is confirmed with a code of 100 random bits that is
// kept only as its keyed hash and shown once (the confirmation page and the e-mail), redeemed
// at the submission of an order (E14.e), with an append-only ledger per voucher whose value
// the database keeps from ever going below zero.

// Rules of the vouchers part (E14), beside the shared testVoucherMonths and valueVoucherMonths.
var (
	voucherTriesPerMinute     = kit.Int("eshop.voucher_tries_per_minute", 10, 1, 1000, "E14.e")
	compensationVoucherMonths = kit.Int("eshop.compensation_voucher_months", 3, 1, 60, "E14.a")
	voucherMaxQuantity        = kit.Int("eshop.voucher_max_quantity", 10, 1, 100, "E14.d")
	voucherRevealHours        = kit.Int("eshop.voucher_reveal_hours", 24, 1, 720, "E14.d")
)

// Voucher kinds, origins and states (E14.a, E14.b).
const (
	voucherTest  = "test"
	voucherValue = "value"

	originPurchase     = "purchase"
	originCompensation = "compensation"

	voucherActive      = "active"
	voucherUsed        = "used"
	voucherExpired     = "expired"
	voucherCompensated = "compensated"

	purchasePending = "pending"
	purchasePaid    = "paid"
)

// Ledger entry kinds (E14).
const (
	entryIssue        = "issue"
	entrySpend        = "spend"
	entryGiveBack     = "give_back"
	entryExpiry       = "expiry"
	entryCompensation = "compensation"
)

// Messages, jobs and audit actions of the part.
const (
	tmplVoucherIssued      = "eshop.voucher_issued"
	tmplVoucherCompensated = "eshop.voucher_compensated"

	jobExpireVouchers   = "eshop.expire_vouchers"
	jobSweepVoucherMail = "eshop.sweep_voucher_mail"

	auditVoucherCompensated = "eshop.voucher_compensated"
	auditDenominations      = "eshop.voucher_denominations_changed"
)

// msgCodeRefused is the one message for a code that does not apply — wrong, expired, used,
// another tenant's, or tried too often (E14.e): it tells a guesser nothing.
const msgCodeRefused = "eshop.voucher.err.code"

// VoucherDenomination is a value-voucher denomination the shop offers (E14.f).
type VoucherDenomination struct {
	bun.BaseModel `bun:"table:eshop_voucher_denominations,alias:vd"`

	TenantID   string    `bun:"tenant_id,pk"`
	ID         string    `bun:"id,pk"`
	ValueMinor int64     `bun:"value_minor"`
	Active     bool      `bun:"active"`
	CreatedAt  time.Time `bun:"created_at"`
}

// VoucherPurchase is a purchase "as a gift voucher" (E14.d): Quantity vouchers of one kind —
// a test voucher of an item, or a value voucher of FaceMinor — for AmountMinor in all.
type VoucherPurchase struct {
	bun.BaseModel `bun:"table:eshop_voucher_purchases,alias:vp"`

	TenantID      string       `bun:"tenant_id,pk"`
	ID            string       `bun:"id,pk"`
	UserID        string       `bun:"user_id"`
	Kind          string       `bun:"kind"`
	ItemID        string       `bun:"item_id"`
	ItemName      string       `bun:"item_name"`
	Quantity      int          `bun:"quantity"`
	FaceMinor     int64        `bun:"face_minor"`  // one voucher's worth: the test's price and fee, or the value
	PriceMinor    int64        `bun:"price_minor"` // a test voucher: the test's price at purchase
	VATPercent    int          `bun:"vat_percent"`
	FeeMinor      int64        `bun:"fee_minor"`
	FeeVATPercent int          `bun:"fee_vat_percent"`
	AmountMinor   int64        `bun:"amount_minor"`
	Currency      string       `bun:"currency"`
	Status        string       `bun:"status"`
	BuyerName     string       `bun:"buyer_name"`
	Locale        string       `bun:"locale"`
	CreatedAt     time.Time    `bun:"created_at"`
	PaidAt        bun.NullTime `bun:"paid_at"`
	MailedAt      bun.NullTime `bun:"mailed_at"`
	InvoiceNumber string       `bun:"invoice_number"`
}

// Voucher is an issued voucher (E14.a, E14.b). Only the keyed hash of its code is kept;
// CodeTail is its last four characters. ValueMinor is what it is worth (a test voucher: its
// test's price and fee when bought, the worth of a compensation, E14.a); BalanceMinor what is
// left of a value voucher. It may be used while now < ExpiresAt.
type Voucher struct {
	bun.BaseModel `bun:"table:eshop_vouchers,alias:vo"`

	TenantID      string    `bun:"tenant_id,pk"`
	ID            string    `bun:"id,pk"`
	Kind          string    `bun:"kind"`
	Origin        string    `bun:"origin"`
	CodeHash      string    `bun:"code_hash"`
	CodeTail      string    `bun:"code_tail"`
	PurchaseID    string    `bun:"purchase_id"`
	PurchaserID   string    `bun:"purchaser_id"`
	ItemID        string    `bun:"item_id"`
	ItemName      string    `bun:"item_name"`
	ValueMinor    int64     `bun:"value_minor"`
	BalanceMinor  int64     `bun:"balance_minor"`
	Currency      string    `bun:"currency"`
	Status        string    `bun:"status"`
	UsedOrderID   string    `bun:"used_order_id"`
	CompensatesID string    `bun:"compensates_id"`
	IssuedAt      time.Time `bun:"issued_at"`
	ExpiresAt     time.Time `bun:"expires_at"`
}

// LastDay is the last day the voucher may be used (it expires at the end of that day).
func (v *Voucher) LastDay() time.Time { return v.ExpiresAt.Add(-time.Second) }

// VoucherEntry is a line of a voucher's append-only ledger (E14): AmountMinor is the signed
// change of its value.
type VoucherEntry struct {
	bun.BaseModel `bun:"table:eshop_voucher_ledger,alias:vl"`

	TenantID    string    `bun:"tenant_id,pk"`
	ID          string    `bun:"id,pk"`
	VoucherID   string    `bun:"voucher_id"`
	Kind        string    `bun:"kind"`
	AmountMinor int64     `bun:"amount_minor"`
	OrderID     string    `bun:"order_id"`
	OrderItemID string    `bun:"order_item_id"`
	At          time.Time `bun:"at"`
}

// voucherReveal holds a new code until the purchaser saw it once and its e-mail went.
type voucherReveal struct {
	bun.BaseModel `bun:"table:eshop_voucher_reveals,alias:vr"`

	TenantID   string    `bun:"tenant_id,pk"`
	VoucherID  string    `bun:"voucher_id,pk"`
	PurchaseID string    `bun:"purchase_id"`
	Code       string    `bun:"code"`
	Shown      bool      `bun:"shown"`
	Mailed     bool      `bun:"mailed"`
	CreatedAt  time.Time `bun:"created_at"`
}

// voucherKey is the tenant's pepper for the codes' hashes.
type voucherKey struct {
	bun.BaseModel `bun:"table:eshop_voucher_keys,alias:vk"`

	TenantID  string    `bun:"tenant_id,pk"`
	Pepper    string    `bun:"pepper"`
	CreatedAt time.Time `bun:"created_at"`
}

// voucherTry counts the tries of codes of one bucket (an account or an address) in a minute.
type voucherTry struct {
	bun.BaseModel `bun:"table:eshop_voucher_tries,alias:vt"`

	TenantID    string `bun:"tenant_id,pk"`
	Bucket      string `bun:"bucket,pk"`
	WindowStart int64  `bun:"window_start,pk"`
	Hits        int64  `bun:"hits"`
}

// voucherModels are the part's tables (its tests check they are reached only in a scope).
var voucherModels = []any{(*VoucherDenomination)(nil), (*VoucherPurchase)(nil), (*Voucher)(nil), (*VoucherEntry)(nil),
	(*voucherReveal)(nil), (*voucherKey)(nil), (*voucherTry)(nil)}

// voucherPart: gift vouchers — their sale, codes, ledger and redemption (E14).
func (m *Module) voucherPart() part {
	return part{
		Routes: []kit.Route{
			kit.Public("GET /eshop/vouchers", m.voucherCatalog),
			kit.Perm("GET /eshop/vouchers/buy", permOrder, m.voucherBuyForm),
			kit.Perm("POST /eshop/vouchers/buy", permOrder, m.voucherBuy),
			kit.Perm("GET /eshop/vouchers/purchases/{id}", permOrder, m.voucherPurchasePage),
			kit.Perm("GET /eshop/vouchers/mine", permOrder, m.voucherMine),
			kit.Perm("GET /eshop/vouchers/check", permOrder, m.voucherCheckForm),
			kit.Perm("POST /eshop/vouchers/check", permOrder, m.voucherCheck),
			kit.Perm("POST /eshop/vouchers/{id}/compensate", permOrder, m.voucherCompensate),
			kit.Perm("GET /eshop/manage/vouchers", permManage, m.voucherManage),
			kit.Perm("POST /eshop/manage/vouchers", permManage, m.voucherManageAdd),
			kit.Perm("POST /eshop/manage/vouchers/{id}/toggle", permManage, m.voucherManageToggle),
		},
		Rules: []kit.Rule{voucherTriesPerMinute, compensationVoucherMonths, voucherMaxQuantity, voucherRevealHours},
		Jobs: []kit.Job{
			{Name: jobExpireVouchers, Cron: "7 0 * * *", Run: m.runExpireVouchers},
			{Name: jobSweepVoucherMail, Cron: "*/10 * * * *", Run: m.sweepVoucherMail},
		},
		Notifications: []string{tmplVoucherIssued, tmplVoucherCompensated},
		AuditActions:  []string{auditVoucherCompensated, auditDenominations},
		Forget:        m.forgetVouchers,
		Export:        m.exportVouchers,
	}
}

// errCodeRefused is the generic refusal of a code (E14.e).
func errCodeRefused() error { return sdk.FieldErrors{"code": msgCodeRefused} }

// codeAlphabet is Crockford's base 32: no I, L, O, U to misread.
const codeAlphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

// codeLen characters of 5 bits: 100 random bits (E14: at least 80).
const codeLen = 20

// newCode is a fresh voucher code, grouped by five ("7K3QD-…").
func newCode() string {
	var b [codeLen]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand does not fail on the platforms the module runs on
	}
	var s strings.Builder
	for i, x := range b {
		if i > 0 && i%5 == 0 {
			s.WriteByte('-')
		}
		s.WriteByte(codeAlphabet[x&31]) // 256 is a multiple of 32: each character is uniform
	}
	return s.String()
}

// normalizeCode reads a code as a person may type it: any case, spaces and dashes, O for 0
// and I or L for 1. It returns "" for what cannot be a code.
func normalizeCode(in string) string {
	var s strings.Builder
	for _, r := range strings.ToUpper(in) {
		switch {
		case r == ' ' || r == '-' || r == '\t':
			continue
		case r == 'O':
			r = '0'
		case r == 'I' || r == 'L':
			r = '1'
		}
		if !strings.ContainsRune(codeAlphabet, r) {
			return ""
		}
		s.WriteRune(r)
	}
	if s.Len() != codeLen {
		return ""
	}
	return s.String()
}

// pepper is the tenant's key for the codes' hashes; create makes it on first use (in a write
// transaction), else "" when there is none yet (then no code exists either).
func (m *Module) pepper(ctx context.Context, sc *store.Scope, create bool) (string, error) {
	var k voucherKey
	err := sc.Select(&k).Scan(ctx)
	if err == nil {
		return k.Pepper, nil
	}
	if !errors.Is(err, sql.ErrNoRows) || !create {
		if errors.Is(err, sql.ErrNoRows) {
			return "", nil
		}
		return "", err
	}
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	if _, err := sc.Insert(&voucherKey{TenantID: sc.TenantID, Pepper: hex.EncodeToString(b[:]), CreatedAt: m.now()}).On("CONFLICT DO NOTHING").Exec(ctx); err != nil {
		return "", err
	}
	if err := sc.Select(&k).Scan(ctx); err != nil {
		return "", err
	}
	return k.Pepper, nil
}

// hashCode is what is kept of a normalized code: HMAC-SHA-256 under the tenant's pepper.
func hashCode(pepper, code string) string {
	mac := hmac.New(sha256.New, []byte(pepper))
	mac.Write([]byte(code))
	return hex.EncodeToString(mac.Sum(nil))
}

// expiryAfter is the end (exclusive) of the last day of a validity of months from `from`, in
// the tenant's zone: a voucher bought on 10 March for 3 months may be used through 10 June.
func expiryAfter(t sdk.Tenant, from time.Time, months int) time.Time {
	loc, err := time.LoadLocation(t.TimeZone)
	if err != nil {
		loc = time.UTC
	}
	d := from.In(loc).AddDate(0, months, 0)
	return time.Date(d.Year(), d.Month(), d.Day()+1, 0, 0, 0, 0, loc).UTC()
}

// issueVoucher writes a new voucher with a fresh code, and its first ledger entry (kind
// entryIssue or entryCompensation), in the caller's transaction; it returns the voucher and
// its code.
func (m *Module) issueVoucher(ctx context.Context, sc *store.Scope, v *Voucher, entry string) (string, error) {
	pep, err := m.pepper(ctx, sc, true)
	if err != nil {
		return "", err
	}
	code := newCode()
	norm := normalizeCode(code)
	v.TenantID, v.ID, v.CodeHash, v.CodeTail, v.Status = sc.TenantID, newID(), hashCode(pep, norm), norm[codeLen-4:], voucherActive
	if v.Kind == voucherValue {
		v.BalanceMinor = v.ValueMinor
	}
	if _, err := sc.Insert(v).Exec(ctx); err != nil {
		return "", err
	}
	if err := m.ledger(ctx, sc, v.ID, entry, v.ValueMinor, "", ""); err != nil {
		return "", err
	}
	return code, nil
}

// ledger appends an entry to a voucher's ledger.
func (m *Module) ledger(ctx context.Context, sc *store.Scope, voucherID, kind string, amount int64, orderID, itemID string) error {
	_, err := sc.Insert(&VoucherEntry{TenantID: sc.TenantID, ID: newID(), VoucherID: voucherID, Kind: kind, AmountMinor: amount,
		OrderID: orderID, OrderItemID: itemID, At: m.now()}).Exec(ctx)
	return err
}

// findCode is the voucher a code names in the tenant, usable now, or nil for a code that does
// not apply (unknown, expired, used, compensated, another currency's).
func (m *Module) findCode(ctx context.Context, sc *store.Scope, t sdk.Tenant, code string) (*Voucher, error) {
	norm := normalizeCode(code)
	if norm == "" {
		return nil, nil
	}
	pep, err := m.pepper(ctx, sc, false)
	if err != nil || pep == "" {
		return nil, err
	}
	var v Voucher
	err = sc.Select(&v).Where("code_hash = ?", hashCode(pep, norm)).Scan(ctx)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if v.Status != voucherActive || !m.now().Before(v.ExpiresAt) || (v.Kind == voucherValue && v.BalanceMinor == 0) || v.Currency != t.Currency {
		return nil, nil
	}
	return &v, nil
}

// tryCodes counts n tries of a code by the account userID and from the address ip in the
// current minute, in a transaction of its own (a try counts whatever the code), and refuses
// them all with the generic error once either has used up the tenant's budget (E14.e). The
// cart calls it when a customer types a code, before anything else reads the code.
func (m *Module) tryCodes(ctx context.Context, t sdk.Tenant, userID, ip string, n int) error {
	if n <= 0 {
		return nil
	}
	limit := voucherTriesPerMinute.Of(t)
	window := m.now().Truncate(time.Minute).Unix()
	buckets := []string{"user:" + userID}
	if ip != "" {
		buckets = append(buckets, "ip:"+ip)
	}
	over := false
	err := m.In(ctx, t, func(ctx context.Context, sc *store.Scope) error {
		for _, b := range buckets {
			var hits int64
			err := sc.Tx.NewRaw(`INSERT INTO eshop_voucher_tries (tenant_id, bucket, window_start, hits) VALUES (?, ?, ?, ?)
ON CONFLICT (tenant_id, bucket, window_start) DO UPDATE SET hits = eshop_voucher_tries.hits + excluded.hits RETURNING hits`,
				sc.TenantID, b, window, n).Scan(ctx, &hits)
			if err != nil {
				return err
			}
			over = over || hits > limit
		}
		return nil
	})
	if err != nil {
		return err
	}
	if over {
		return errCodeRefused()
	}
	return nil
}

// CodeCover is what one code covers of an order's lines (previewCodes, redeemCodes).
type CodeCover struct {
	Code         string
	Kind         string
	ItemName     string
	CoveredMinor int64
	BalanceMinor int64 // a value voucher's balance after this order
	LastDay      time.Time
}

// previewCodes says what codes would cover of lines — the cart's lines priced as they would
// be submitted (OrderItem with ItemID, PriceMinor and FeeMinor) — without spending anything:
// the cart page shows it under its discount-code field (E14.e). A code that does not apply
// gives the generic error. It only reads; count the tries with tryCodes first.
func (m *Module) previewCodes(ctx context.Context, t sdk.Tenant, userID string, codes []string, lines []*OrderItem) ([]CodeCover, int64, error) {
	if len(codes) == 0 {
		return nil, 0, nil
	}
	if userID == "" {
		return nil, 0, errCodeRefused()
	}
	copies := make([]*OrderItem, len(lines))
	for i, l := range lines {
		c := *l
		copies[i] = &c
	}
	var covers []CodeCover
	var total int64
	err := m.Read(ctx, t, func(ctx context.Context, sc *store.Scope) error {
		vs, err := m.vouchersOf(ctx, sc, t, codes)
		if err != nil {
			return err
		}
		covers, total, err = m.cover(ctx, sc, "", vs, copies, false)
		return err
	})
	return covers, total, err
}

// codedVoucher is a voucher and the code it was typed with.
type codedVoucher struct {
	*Voucher
	code string
}

// vouchersOf reads the vouchers codes name, each once, test vouchers first and then value
// vouchers by their expiry (the one that lapses first is spent first); any code that does not
// apply refuses them all.
func (m *Module) vouchersOf(ctx context.Context, sc *store.Scope, t sdk.Tenant, codes []string) ([]codedVoucher, error) {
	seen := map[string]bool{}
	var out []codedVoucher
	for _, c := range codes {
		v, err := m.findCode(ctx, sc, t, c)
		if err != nil {
			return nil, err
		}
		if v == nil {
			return nil, errCodeRefused()
		}
		if !seen[v.ID] {
			seen[v.ID] = true
			out = append(out, codedVoucher{v, c})
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Kind != out[j].Kind {
			return out[i].Kind == voucherTest
		}
		return out[i].ExpiresAt.Before(out[j].ExpiresAt)
	})
	return out, nil
}

// cover applies vouchers to lines: a test voucher covers in full (price and fee) one line of
// its item that no other test voucher covers; value vouchers cover what is left, up to their
// balances. With spend, it spends them in sc — a test voucher by its guarded change from
// active to used, a value voucher by a guarded decrement of its balance that the database
// never lets below zero — and writes the ledger; without, it only computes. A voucher that
// would cover nothing refuses them all (the generic error).
func (m *Module) cover(ctx context.Context, sc *store.Scope, orderID string, vs []codedVoucher, lines []*OrderItem, spend bool) ([]CodeCover, int64, error) {
	now := m.now()
	left := func(l *OrderItem) int64 { return l.PriceMinor + l.FeeMinor - l.VoucherMinor }
	byTest := map[string]bool{}
	var covers []CodeCover
	var total int64
	for _, v := range vs {
		cc := CodeCover{Code: v.code, Kind: v.Kind, ItemName: v.ItemName, LastDay: v.LastDay()}
		if v.Kind == voucherTest {
			var line *OrderItem
			for _, l := range lines {
				if l.ItemID == v.ItemID && !byTest[l.ID] && left(l) > 0 {
					line = l
					break
				}
			}
			if line == nil {
				return nil, 0, errCodeRefused()
			}
			amount := left(line)
			if spend {
				res, err := sc.Update((*Voucher)(nil)).Set("status = ?", voucherUsed).Set("used_order_id = ?", orderID).
					Where("id = ? AND status = ? AND expires_at > ?", v.ID, voucherActive, now).Exec(ctx)
				if err != nil {
					return nil, 0, err
				}
				if n, _ := res.RowsAffected(); n != 1 {
					return nil, 0, errCodeRefused() // used by a concurrent order
				}
				if err := m.ledger(ctx, sc, v.ID, entrySpend, -amount, orderID, line.ID); err != nil {
					return nil, 0, err
				}
			}
			byTest[line.ID] = true
			line.VoucherMinor += amount
			cc.CoveredMinor = amount
			total += amount
			covers = append(covers, cc)
			continue
		}
		var need int64
		for _, l := range lines {
			need += left(l)
		}
		if need == 0 {
			// Test vouchers covered everything: the value voucher is kept whole.
			cc.BalanceMinor = v.BalanceMinor
			covers = append(covers, cc)
			continue
		}
		balance := v.BalanceMinor
		take := min(balance, need)
		if spend {
			for attempt := 0; ; attempt++ {
				take = min(balance, need)
				if take <= 0 {
					break
				}
				res, err := sc.Update((*Voucher)(nil)).Set("balance_minor = balance_minor - ?", take).
					Where("id = ? AND status = ? AND expires_at > ? AND balance_minor >= ?", v.ID, voucherActive, now, take).Exec(ctx)
				if err != nil {
					return nil, 0, err
				}
				if n, _ := res.RowsAffected(); n == 1 {
					break
				}
				// Another order spent from it meanwhile: read what is left and take that.
				var cur Voucher
				if err := sc.Select(&cur).Where("id = ?", v.ID).Scan(ctx); err != nil {
					return nil, 0, err
				}
				if cur.Status != voucherActive || !now.Before(cur.ExpiresAt) || attempt > 20 {
					return nil, 0, errCodeRefused()
				}
				balance = cur.BalanceMinor
			}
		}
		if take <= 0 {
			return nil, 0, errCodeRefused()
		}
		rest := take
		for _, l := range lines {
			a := min(left(l), rest)
			if a <= 0 {
				continue
			}
			if spend {
				if err := m.ledger(ctx, sc, v.ID, entrySpend, -a, orderID, l.ID); err != nil {
					return nil, 0, err
				}
			}
			l.VoucherMinor += a
			rest -= a
		}
		cc.CoveredMinor, cc.BalanceMinor = take, balance-take
		total += take
		covers = append(covers, cc)
	}
	return covers, total, nil
}

// redeemCodes applies the discount codes a customer typed in his cart to the lines of an
// order he is submitting, in the order's transaction (E14.e): a test voucher covers its
// test's line (price and fee) in full, a value voucher the rest up to its balance. It sets
// each line's VoucherMinor, records the spending in the vouchers' ledgers, and returns the
// total covered; a code that does not apply gives sdk.FieldErrors{"code": …} with one generic
// message. The lines must carry their ids (the ledger names them). Vouchers apply only to an
// order being submitted: never to one that already took vouchers or is past submission
// (E14.c). The tries were counted when the codes were typed (tryCodes).
func (m *Module) redeemCodes(ctx context.Context, sc *store.Scope, t sdk.Tenant, userID, orderID string, codes []string, lines []*OrderItem) (int64, error) {
	if len(codes) == 0 {
		return 0, nil
	}
	if userID == "" || orderID == "" {
		return 0, errCodeRefused()
	}
	for _, l := range lines {
		if l.ID == "" {
			return 0, fmt.Errorf("eshop: redeem codes on order %s: a line without its id", orderID)
		}
	}
	// E14.c: not on an order already made.
	if n, err := sc.Select((*VoucherEntry)(nil)).Where("order_id = ?", orderID).Count(ctx); err != nil || n > 0 {
		if err != nil {
			return 0, err
		}
		return 0, errCodeRefused()
	}
	var o Order
	err := sc.Select(&o).Where("id = ?", orderID).Scan(ctx)
	switch {
	case err == nil && (o.Status != orderSubmitted || o.UserID != userID || o.VoucherMinor > 0):
		return 0, errCodeRefused()
	case err != nil && !errors.Is(err, sql.ErrNoRows):
		return 0, err
	}
	vs, err := m.vouchersOf(ctx, sc, t, codes)
	if err != nil {
		return 0, err
	}
	_, total, err := m.cover(ctx, sc, orderID, vs, lines, true)
	return total, err
}

// giveBackVouchers returns to their vouchers what order orderID took from them, once, in the
// caller's transaction: the order was cancelled unpaid (E5, E14). A value voucher gets its
// amount back (lost at once, with its expiry entry, if the voucher expired meanwhile); a test
// voucher becomes usable again. The give-back entry is unique per voucher and order, so a
// second call changes nothing.
func (m *Module) giveBackVouchers(ctx context.Context, sc *store.Scope, t sdk.Tenant, orderID string) error {
	var spent []VoucherEntry
	if err := sc.Select(&spent).Where("order_id = ? AND kind = ?", orderID, entrySpend).Order("at").Scan(ctx); err != nil {
		return err
	}
	sums := map[string]int64{}
	var ids []string
	for _, e := range spent {
		if _, ok := sums[e.VoucherID]; !ok {
			ids = append(ids, e.VoucherID)
		}
		sums[e.VoucherID] -= e.AmountMinor
	}
	now := m.now()
	for _, id := range ids {
		amount := sums[id]
		res, err := sc.Insert(&VoucherEntry{TenantID: sc.TenantID, ID: newID(), VoucherID: id, Kind: entryGiveBack, AmountMinor: amount,
			OrderID: orderID, At: now}).On("CONFLICT DO NOTHING").Exec(ctx)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			continue // given back already
		}
		var v Voucher
		if err := sc.Select(&v).Where("id = ?", id).Scan(ctx); err != nil {
			return err
		}
		if v.Kind == voucherTest {
			if _, err := sc.Update((*Voucher)(nil)).Set("status = ?", voucherActive).Set("used_order_id = ''").
				Where("id = ? AND status = ? AND used_order_id = ?", id, voucherUsed, orderID).Exec(ctx); err != nil {
				return err
			}
			continue
		}
		back := int64(0)
		if v.Status == voucherActive && now.Before(v.ExpiresAt) {
			res, err := sc.Update((*Voucher)(nil)).Set("balance_minor = balance_minor + ?", amount).
				Where("id = ? AND status = ? AND expires_at > ?", id, voucherActive, now).Exec(ctx)
			if err != nil {
				return err
			}
			back, _ = res.RowsAffected()
		}
		if back != 1 {
			// E14.b: value left at expiry is lost — the amount comes back and goes at once.
			if err := m.ledger(ctx, sc, id, entryExpiry, -amount, orderID, ""); err != nil {
				return err
			}
		}
	}
	return nil
}

// voucherPurchasePaid issues the vouchers of a paid voucher purchase, in the payment
// event's transaction; it reports whether this call issued them. The purchase changes from
// pending to paid by a guarded update, so a payment event delivered twice issues once. The
// codes wait in the reveal table for the confirmation page and the e-mail.
func (m *Module) voucherPurchasePaid(ctx context.Context, sc *store.Scope, t sdk.Tenant, purchaseID string) (bool, error) {
	now := m.now()
	res, err := sc.Update((*VoucherPurchase)(nil)).Set("status = ?", purchasePaid).Set("paid_at = ?", now).
		Where("id = ? AND status = ?", purchaseID, purchasePending).Exec(ctx)
	if err != nil {
		return false, err
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return false, nil
	}
	var p VoucherPurchase
	if err := sc.Select(&p).Where("id = ?", purchaseID).Scan(ctx); err != nil {
		return false, err
	}
	months := valueVoucherMonths.Of(t)
	if p.Kind == voucherTest {
		months = testVoucherMonths.Of(t)
	}
	for i := 0; i < p.Quantity; i++ {
		v := &Voucher{Kind: p.Kind, Origin: originPurchase, PurchaseID: p.ID, PurchaserID: p.UserID, ItemID: p.ItemID, ItemName: p.ItemName,
			ValueMinor: p.FaceMinor, Currency: p.Currency, IssuedAt: now, ExpiresAt: expiryAfter(t, now, int(months))}
		code, err := m.issueVoucher(ctx, sc, v, entryIssue)
		if err != nil {
			return false, err
		}
		if _, err := sc.Insert(&voucherReveal{TenantID: sc.TenantID, VoucherID: v.ID, PurchaseID: p.ID, Code: code, CreatedAt: now}).Exec(ctx); err != nil {
			return false, err
		}
	}
	return true, nil
}

// invoiceLines are the lines of a voucher purchase's invoice. A test voucher is a
// single-purpose voucher: its test and handling fee are invoiced with their VAT at sale. A
// value voucher is a multi-purpose one: no VAT at sale (it is charged on the tests it pays).
func (p *VoucherPurchase) invoiceLines(name, fee string) []InvoiceLine {
	if p.Kind == voucherValue {
		return []InvoiceLine{{Name: name, Quantity: p.Quantity, GrossMinor: p.FaceMinor, NotSubject: true}}
	}
	return []InvoiceLine{{Name: name, Quantity: p.Quantity, GrossMinor: p.PriceMinor, VATPercent: p.VATPercent},
		{Name: fee, Quantity: p.Quantity, GrossMinor: p.FeeMinor, VATPercent: p.FeeVATPercent}}
}

// afterVoucherPaid runs once the transaction that issued a purchase's vouchers committed:
// it e-mails the codes with the invoice (E14.d) to the purchaser's login e-mail, as a secret
// message (its text is not kept in the outbox once delivered). It sends once: the purchase's
// mailed_at is claimed first, and released again if the sending fails.
func (m *Module) afterVoucherPaid(ctx context.Context, t sdk.Tenant, purchaseID string) error {
	h := sdk.HostFrom(ctx)
	if h == nil {
		return errors.New("eshop: no HostAPI to send the vouchers")
	}
	var p VoucherPurchase
	var reveals []voucherReveal
	var vouchers []Voucher
	claimed := false
	err := m.In(ctx, t, func(ctx context.Context, sc *store.Scope) error {
		res, err := sc.Update((*VoucherPurchase)(nil)).Set("mailed_at = ?", m.now()).
			Where("id = ? AND status = ? AND mailed_at IS NULL", purchaseID, purchasePaid).Exec(ctx)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return nil
		}
		claimed = true
		if err := sc.Select(&p).Where("id = ?", purchaseID).Scan(ctx); err != nil {
			return err
		}
		if err := sc.Select(&vouchers).Where("purchase_id = ?", purchaseID).Order("issued_at", "id").Scan(ctx); err != nil {
			return err
		}
		return sc.Select(&reveals).Where("purchase_id = ?", purchaseID).Scan(ctx)
	})
	if err != nil || !claimed {
		return err
	}
	unclaim := func(cause error) error {
		if uerr := m.In(ctx, t, func(ctx context.Context, sc *store.Scope) error {
			_, err := sc.Update((*VoucherPurchase)(nil)).Set("mailed_at = NULL").Where("id = ?", purchaseID).Exec(ctx)
			return err
		}); uerr != nil {
			return errors.Join(cause, uerr)
		}
		return cause
	}
	lang := p.Locale
	if u, err := h.User(ctx, p.UserID); err == nil && u.Locale != "" {
		lang = u.Locale
	}
	loc := m.Msgs.For(lang)
	name := loc.T("eshop.voucher.kind.value")
	if p.Kind == voucherTest {
		name = loc.T("eshop.voucher.invoice.test", "Item", p.ItemName)
	}
	number, pdf, err := m.issueInvoice(ctx, t, invoiceFor{Purpose: purposeVoucher, RefID: p.ID, UserID: p.UserID, BuyerName: p.BuyerName,
		Lines: p.invoiceLines(name, loc.T("eshop.voucher.invoice.fee"))})
	if err != nil {
		return unclaim(fmt.Errorf("vouchers of purchase %s: invoice: %w", p.ID, err))
	}
	codes := map[string]string{}
	for _, r := range reveals {
		codes[r.VoucherID] = r.Code
	}
	var lines []string
	for _, v := range vouchers {
		if c := codes[v.ID]; c != "" {
			lines = append(lines, c)
		}
	}
	if len(lines) == 0 {
		return unclaim(fmt.Errorf("vouchers of purchase %s: no code left to send", p.ID))
	}
	last := vouchers[0].LastDay()
	what := loc.TN("eshop.voucher.mail.bought_value", p.Quantity, "Value", m.money(lang, p.FaceMinor, p.Currency))
	if p.Kind == voucherTest {
		what = loc.TN("eshop.voucher.mail.bought_test", p.Quantity, "Item", p.ItemName)
	}
	data := map[string]any{"Codes": strings.Join(lines, "\n"), "What": what, "Until": m.date(lang, t, last), "Invoice": number}
	msg := sdk.Message{UserID: p.UserID, Template: tmplVoucherIssued, Data: data, Link: "/eshop/vouchers/mine", Secret: true,
		Attachments: []sdk.Blob{{Name: loc.T("eshop.pay.invoice.file", "Number", number), ContentType: "application/pdf", Data: pdf}}}
	if _, err := h.Send(ctx, msg); err != nil {
		return unclaim(fmt.Errorf("vouchers of purchase %s: send: %w", p.ID, err))
	}
	return m.In(ctx, t, func(ctx context.Context, sc *store.Scope) error {
		if _, err := sc.Update((*VoucherPurchase)(nil)).Set("invoice_number = ?", number).Where("id = ?", p.ID).Exec(ctx); err != nil {
			return err
		}
		if _, err := sc.Update((*voucherReveal)(nil)).Set("mailed = TRUE").Where("purchase_id = ?", p.ID).Exec(ctx); err != nil {
			return err
		}
		_, err := sc.Delete((*voucherReveal)(nil)).Where("purchase_id = ? AND shown AND mailed", p.ID).Exec(ctx)
		return err
	})
}

// sweepVoucherMail is the safety net of afterVoucherPaid: a paid purchase whose e-mail did
// not go (the process stopped, the invoice or the sending failed) gets it now.
func (m *Module) sweepVoucherMail(ctx context.Context, job *sdk.Job) error {
	var ids []string
	if err := m.Read(ctx, job.Tenant, func(ctx context.Context, sc *store.Scope) error {
		return sc.Select((*VoucherPurchase)(nil)).Column("id").Where("status = ? AND mailed_at IS NULL", purchasePaid).
			Order("paid_at").Limit(200).Scan(ctx, &ids)
	}); err != nil {
		return err
	}
	var errs []error
	for _, id := range ids {
		if err := m.afterVoucherPaid(ctx, job.Tenant, id); err != nil {
			errs = append(errs, err)
		}
	}
	// The codes e-mailed that nobody came to see on the confirmation page are not kept longer
	// than the rule says (a code not yet e-mailed stays until it is).
	cut := m.now().Add(-time.Duration(voucherRevealHours.Of(job.Tenant)) * time.Hour)
	errs = append(errs, m.In(ctx, job.Tenant, func(ctx context.Context, sc *store.Scope) error {
		_, err := sc.Delete((*voucherReveal)(nil)).Where("mailed AND created_at < ?", cut).Exec(ctx)
		return err
	}))
	return errors.Join(errs...)
}

// compensate gives the holder of test voucher id, whose test the lab no longer performs, a
// value voucher worth its original price (E14.a), valid the rule's months, once: the test
// voucher changes from active to compensated by a guarded update, before its expiry. It
// returns the new voucher and its code, or errNoCompensation.
func (m *Module) compensate(ctx context.Context, sc *store.Scope, t sdk.Tenant, id, userID string) (*Voucher, string, error) {
	var old Voucher
	if err := sc.Select(&old).Where("id = ?", id).Scan(ctx); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, "", errNoCompensation
		}
		return nil, "", err
	}
	var it Item
	if err := sc.Select(&it).Where("id = ?", old.ItemID).Scan(ctx); err != nil && !errors.Is(err, sql.ErrNoRows) {
		return nil, "", err
	}
	now := m.now()
	if old.Kind != voucherTest || it.ID == "" || it.WithdrawnAt.IsZero() || it.WithdrawnAt.Time.After(now) {
		return nil, "", errNoCompensation
	}
	res, err := sc.Update((*Voucher)(nil)).Set("status = ?", voucherCompensated).
		Where("id = ? AND status = ? AND expires_at > ?", id, voucherActive, now).Exec(ctx)
	if err != nil {
		return nil, "", err
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return nil, "", errNoCompensation
	}
	if err := m.ledger(ctx, sc, old.ID, entryCompensation, -old.ValueMinor, "", ""); err != nil {
		return nil, "", err
	}
	nv := &Voucher{Kind: voucherValue, Origin: originCompensation, PurchaserID: userID, ItemName: old.ItemName, ValueMinor: old.ValueMinor,
		Currency: old.Currency, CompensatesID: old.ID, IssuedAt: now, ExpiresAt: expiryAfter(t, now, int(compensationVoucherMonths.Of(t)))}
	code, err := m.issueVoucher(ctx, sc, nv, entryCompensation)
	if err != nil {
		return nil, "", err
	}
	return nv, code, nil
}

// errNoCompensation: the voucher cannot be compensated (not a test voucher, its test still
// performed, already used, compensated or expired).
var errNoCompensation = errors.New("eshop: no compensation for this voucher")

// expireVouchers ends the vouchers whose validity ran out by now (E14.b): a value voucher's
// balance is lost, with its expiry entry (unique per voucher), a test voucher simply lapses.
// Each change is guarded, so the job and a redemption racing it never both take the value.
func (m *Module) expireVouchers(ctx context.Context, t sdk.Tenant) (int, error) {
	now := m.now()
	var due []Voucher
	if err := m.Read(ctx, t, func(ctx context.Context, sc *store.Scope) error {
		return sc.Select(&due).Where("status = ? AND expires_at <= ?", voucherActive, now).Limit(1000).Scan(ctx)
	}); err != nil {
		return 0, err
	}
	done := 0
	for _, v := range due {
		err := m.In(ctx, t, func(ctx context.Context, sc *store.Scope) error {
			var cur Voucher
			if err := sc.Select(&cur).Where("id = ?", v.ID).Scan(ctx); err != nil {
				return err
			}
			res, err := sc.Update((*Voucher)(nil)).Set("status = ?", voucherExpired).Set("balance_minor = 0").
				Where("id = ? AND status = ? AND balance_minor = ?", v.ID, voucherActive, cur.BalanceMinor).Exec(ctx)
			if err != nil {
				return err
			}
			if n, _ := res.RowsAffected(); n != 1 {
				return nil
			}
			done++
			if cur.Kind == voucherValue && cur.BalanceMinor > 0 {
				return m.ledger(ctx, sc, v.ID, entryExpiry, -cur.BalanceMinor, "", "")
			}
			return nil
		})
		if err != nil {
			return done, fmt.Errorf("expire voucher %s: %w", v.ID, err)
		}
	}
	err := m.In(ctx, t, func(ctx context.Context, sc *store.Scope) error {
		_, err := sc.Delete((*voucherTry)(nil)).Where("window_start < ?", now.Add(-24*time.Hour).Unix()).Exec(ctx)
		return err
	})
	return done, err
}

// runExpireVouchers is the daily job of expireVouchers.
func (m *Module) runExpireVouchers(ctx context.Context, job *sdk.Job) error {
	_, err := m.expireVouchers(ctx, job.Tenant)
	return err
}

// forgetVouchers: a deleted account's vouchers stay valid for whoever holds their codes (a
// gift belongs to its holder), but no longer name him; his pending purchases and the codes
// waiting to be shown go.
func (m *Module) forgetVouchers(ctx context.Context, t sdk.Tenant, userID string) error {
	return m.In(ctx, t, func(ctx context.Context, sc *store.Scope) error {
		var ids []string
		if err := sc.Select((*VoucherPurchase)(nil)).Column("id").Where("user_id = ?", userID).Scan(ctx, &ids); err != nil {
			return err
		}
		if len(ids) > 0 {
			if _, err := sc.Delete((*voucherReveal)(nil)).Where("purchase_id IN (?)", bun.In(ids)).Exec(ctx); err != nil {
				return err
			}
		}
		if _, err := sc.Update((*Voucher)(nil)).Set("purchaser_id = ''").Where("purchaser_id = ?", userID).Exec(ctx); err != nil {
			return err
		}
		if _, err := sc.Delete((*VoucherPurchase)(nil)).Where("user_id = ? AND status = ?", userID, purchasePending).Exec(ctx); err != nil {
			return err
		}
		_, err := sc.Update((*VoucherPurchase)(nil)).Set("user_id = ''").Set("buyer_name = ''").Where("user_id = ?", userID).Exec(ctx)
		return err
	})
}

// exportVouchers: the purchases and vouchers of a user (P11), never a code.
func (m *Module) exportVouchers(ctx context.Context, t sdk.Tenant, userID string) (map[string]any, error) {
	type vout struct {
		Kind, Item, Status, Currency string
		Value, Balance               int64
		Issued, Expires              time.Time
	}
	var ps []VoucherPurchase
	var vs []Voucher
	err := m.Read(ctx, t, func(ctx context.Context, sc *store.Scope) error {
		if err := sc.Select(&ps).Where("user_id = ?", userID).Order("created_at").Scan(ctx); err != nil {
			return err
		}
		return sc.Select(&vs).Where("purchaser_id = ?", userID).Order("issued_at").Scan(ctx)
	})
	if err != nil {
		return nil, err
	}
	out := make([]vout, 0, len(vs))
	for _, v := range vs {
		out = append(out, vout{Kind: v.Kind, Item: v.ItemName, Status: v.Status, Currency: v.Currency, Value: v.ValueMinor, Balance: v.BalanceMinor,
			Issued: v.IssuedAt, Expires: v.ExpiresAt})
	}
	return map[string]any{"voucher_purchases": ps, "vouchers": out}, nil
}
