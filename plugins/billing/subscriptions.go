package billing

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"math/big"
	"net/http"
	"net/mail"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/nyaruka/phonenumbers"
	"github.com/uptrace/bun"

	"carenet.dev/platform/plugins/kit"
	"carenet.dev/platform/plugins/kit/country"
	"carenet.dev/platform/plugins/kit/store"
	"carenet.dev/platform/plugins/sdk"
)

// Subscriptions (B1, B2, B12, P6): the clerk records a client's subscription — the client,
// the dedicated number, the plan and options, the answering hours, the specification (version
// 1), the special conditions, the payment method — and the firm assigns the client's login;
// the client accepts the general terms in force and signs in his portal (or the clerk records
// a paper order form); amendments add versions and may change the service from the next
// period. The portal home is in portal.go.

// Rules of the part.
var (
	// B2: the address of the client's shared agenda, when the firm runs it in the calendar
	// module ("" shows no link). A module is not told which modules its tenant enabled
	// (sdk.Tenant carries no such list), so the firm says where its agenda is.
	agendaURL = kit.String("billing.agenda_url", "", nil, "B2")
	// B1: the prefix of the subscriptions' references.
	referencePrefix = kit.String("billing.reference_prefix", "ABO", nil, "B1")
)

// Audit actions of the part.
const (
	auditSubCreated   = "billing.subscription_created"
	auditSubAmended   = "billing.subscription_amended"
	auditSubSigned    = "billing.subscription_signed"
	auditSubPaper     = "billing.subscription_signed_paper"
	auditSubInvited   = "billing.subscription_login_assigned"
	auditSubChangedOn = "billing.subscription_change_applied"
	jobApplyChanges   = "billing.apply_amendments"
)

// Specification kinds.
const (
	specSpecification = "specification"
	specAmendment     = "amendment"
)

// Signature methods.
const (
	signOnline = "online"
	signPaper  = "paper"
)

// SpecChange is what an amendment changes besides its text (migration
// 20261201100020_subscriptions).
type SpecChange struct {
	bun.BaseModel `bun:"table:billing_spec_changes,alias:chg"`

	TenantID        string       `bun:"tenant_id,pk"`
	SpecificationID string       `bun:"specification_id,pk"`
	SubscriptionID  string       `bun:"subscription_id"`
	PlanID          string       `bun:"plan_id"`
	ChangeOptions   bool         `bun:"change_options"`
	Options         string       `bun:"options"` // JSON list of product ids
	Hours           string       `bun:"hours"`
	AppliesOn       Date         `bun:"applies_on"`
	AppliedAt       bun.NullTime `bun:"applied_at"`
}

// Signature is how and when a subscription was signed, with the terms version accepted.
type Signature struct {
	bun.BaseModel `bun:"table:billing_signatures,alias:sig"`

	TenantID       string    `bun:"tenant_id,pk"`
	SubscriptionID string    `bun:"subscription_id,pk"`
	Method         string    `bun:"method"`
	SignedOn       Date      `bun:"signed_on"`
	TermsVersion   string    `bun:"terms_version"`
	RecordedBy     string    `bun:"recorded_by"`
	RecordedAt     time.Time `bun:"recorded_at"`
}

func (m *Module) subscriptionsPart() part {
	return part{
		Routes: []kit.Route{
			kit.Public("GET /billing", m.portalHome),
			// The same home, as the page a client lands on after signing in — on the clients'
			// portal (or a host without one): on a tenant that runs another module too, its
			// people sign in through their own portal and land on their own pages.
			kit.Perm("GET /billing/portal", permOwn, m.portalHome).Lands(3, "clients", ""),
			kit.Perm("GET /billing/sign/{id}", permOwn, m.signPage),
			kit.Perm("POST /billing/sign/{id}", permOwn, m.sign),
			kit.Perm("GET /billing/manage", permManage, m.subscriptionsList).Lands(2),
			kit.Perm("GET /billing/manage/subscriptions/new", permManage, m.newSubscriptionPage),
			kit.Perm("POST /billing/manage/subscriptions/new", permManage, m.createSubscription).Multiline("specification", "special_conditions"),
			kit.Perm("GET /billing/manage/subscriptions/{id}", permManage, m.subscriptionPage),
			kit.Perm("POST /billing/manage/subscriptions/{id}/amendments", permManage, m.addAmendment).Multiline("body"),
			kit.Perm("POST /billing/manage/subscriptions/{id}/paper", permManage, m.recordPaperSignature),
			kit.Perm("POST /billing/manage/subscriptions/{id}/invite", permManage, m.reinvite),
		},
		Rules: []kit.Rule{agendaURL, referencePrefix, fullServiceHours},
		// a country, a SIRET or SIREN and a phone number as people read them, for any
		// part's page ({{countryWords .Lang $s.Country}})
		Funcs:        template.FuncMap{"countryWords": countryWords, "legalIDWords": groupDigits, "phoneWords": formatPhone},
		Jobs:         []kit.Job{{Name: jobApplyChanges, Cron: "5 0 * * *", Run: m.applyChangesJob}},
		AuditActions: []string{auditSubCreated, auditSubAmended, auditSubSigned, auditSubPaper, auditSubInvited, auditSubChangedOn},
		Forget:       m.forgetSubscriptions,
		Export:       m.exportSubscriptions,
	}
}

// ---- checks ----

// validSIRET: 14 digits whose Luhn sum is a multiple of 10; La Poste's establishments (SIREN
// 356 000 000) follow INSEE's own rule instead: the sum of the digits is a multiple of 5.
func validSIRET(s string) bool {
	if len(s) != 14 {
		return false
	}
	sum, plain := 0, 0
	for i := 0; i < 14; i++ {
		d := int(s[i] - '0')
		if d < 0 || d > 9 {
			return false
		}
		plain += d
		if i%2 == 0 { // from the right, every second digit of 14 is at an even index
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
	}
	if strings.HasPrefix(s, "356000000") {
		return plain%5 == 0
	}
	return sum%10 == 0
}

// normalisePhone is raw in E.164, read with region (the tenant's country) when it has no
// international prefix; false when it is no valid number.
func normalisePhone(raw, region string) (string, bool) {
	n, err := phonenumbers.Parse(raw, strings.ToUpper(region))
	if err != nil || !phonenumbers.IsValidNumber(n) {
		return "", false
	}
	return phonenumbers.Format(n, phonenumbers.E164), true
}

// formatPhone is an E.164 number as people of its country write it.
func formatPhone(e164 string) string {
	n, err := phonenumbers.Parse(e164, "")
	if err != nil {
		return e164
	}
	return phonenumbers.Format(n, phonenumbers.INTERNATIONAL)
}

var clientLocales = []string{"fr", "pl", "sk"}

// Field limits.
const (
	maxLine = 200
	maxText = 20000
)

// checkText puts an error on field when it is empty but required, or too long.
func checkText(v *kit.View, field string, max int, required bool) {
	checkLength(v, field, max, required, "billing.subscriptions.err.required", "billing.subscriptions.err.too_long")
}

// checkLength puts the message key missing on field when it is empty but required, or
// tooLong when it has more than max characters.
func checkLength(v *kit.View, field string, max int, required bool, missing, tooLong string) {
	n := utf8.RuneCountInString(v.Values[field])
	switch {
	case n == 0 && required:
		v.Errors[field] = missing
	case n > max:
		v.Errors[field] = tooLong
	}
}

// formView is a view carrying the posted, trimmed values of fields.
func formView(c *kit.Ctx, title string, fields ...string) *kit.View {
	v := c.View(title)
	for _, f := range fields {
		v.Values[f] = strings.TrimSpace(c.Form(f))
	}
	return v
}

// hoursFromForm reads the answering hours of a form: "full", or "partial" with for each
// weekday d the span h<d>_opens – h<d>_closes (a day left empty is not answered).
func hoursFromForm(c *kit.Ctx, v *kit.View) (Hours, bool) {
	switch v.Values["hours_profile"] {
	case "", hoursFull:
		return fullHours(c.Tenant()), true
	case hoursPartial:
	default:
		v.Errors["hours_profile"] = "billing.subscriptions.err.hours"
		return Hours{}, false
	}
	h := Hours{Profile: hoursPartial}
	for wd := 1; wd <= 7; wd++ {
		o, cl := fmt.Sprintf("h%d_opens", wd), fmt.Sprintf("h%d_closes", wd)
		v.Values[o], v.Values[cl] = strings.TrimSpace(c.Form(o)), strings.TrimSpace(c.Form(cl))
		if v.Values[o] == "" && v.Values[cl] == "" {
			continue
		}
		h.Days = append(h.Days, HoursDay{Weekday: wd, Opens: v.Values[o], Closes: v.Values[cl]})
	}
	if _, err := parseHours(c.Tenant(), h.String()); err != nil || len(h.Days) == 0 {
		v.Errors["hours_profile"] = "billing.subscriptions.err.hours"
		return Hours{}, false
	}
	return h, true
}

// hoursValues puts h into a form's values.
func hoursValues(v *kit.View, h Hours) {
	v.Values["hours_profile"] = h.Profile
	if h.Profile != hoursPartial {
		return
	}
	for _, d := range h.Days {
		v.Values[fmt.Sprintf("h%d_opens", d.Weekday)], v.Values[fmt.Sprintf("h%d_closes", d.Weekday)] = d.Opens, d.Closes
	}
}

// hoursWords is h in words, one line per run of weekdays with the same spans ("lundi –
// vendredi : 08:00–20:00").
func hoursWords(c *kit.Ctx, h Hours) []string {
	spans := map[int][]string{}
	for _, d := range h.Days {
		spans[d.Weekday] = append(spans[d.Weekday], d.Opens+"–"+d.Closes)
	}
	var out []string
	for wd := 1; wd <= 7; {
		s := strings.Join(spans[wd], ", ")
		if s == "" {
			wd++
			continue
		}
		end := wd
		for end < 7 && strings.Join(spans[end+1], ", ") == s {
			end++
		}
		days := c.T(fmt.Sprintf("billing.subscriptions.weekday.%d", wd))
		if end > wd {
			days = c.T("billing.subscriptions.days_range", "From", days, "To", c.T(fmt.Sprintf("billing.subscriptions.weekday.%d", end)))
		}
		out = append(out, c.T("billing.subscriptions.hours_line", "Days", days, "Spans", s))
		wd = end + 1
	}
	if len(out) == 0 {
		out = append(out, c.T("billing.subscriptions.hours_none"))
	}
	return out
}

// ---- reads ----

// subOffer is what the forms offer: the plans and options not withdrawn.
type subOffer struct {
	Plans, Options []Product
	byID           map[string]Product
}

func loadOffer(ctx context.Context, sc *store.Scope) (*subOffer, error) {
	var prods []Product
	if err := sc.Select(&prods).Order("prod.position", "prod.name").Scan(ctx); err != nil {
		return nil, err
	}
	o := &subOffer{byID: map[string]Product{}}
	for _, p := range prods {
		o.byID[p.ID] = p
		if !p.WithdrawnAt.IsZero() {
			continue
		}
		if p.Kind == kindPlan {
			o.Plans = append(o.Plans, p)
		} else {
			o.Options = append(o.Options, p)
		}
	}
	return o, nil
}

// chosenOptions reads the form's options; false when one is not offered.
func (o *subOffer) chosenOptions(ids []string) ([]string, bool) {
	seen := map[string]bool{}
	var out []string
	for _, id := range ids {
		p, ok := o.byID[id]
		if !ok || p.Kind != kindOption || !p.WithdrawnAt.IsZero() {
			return nil, false
		}
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	sort.Strings(out)
	return out, true
}

func (o *subOffer) plan(id string) bool {
	p, ok := o.byID[id]
	return ok && p.Kind == kindPlan && p.WithdrawnAt.IsZero()
}

// subDetail is a subscription with what its pages show.
type subDetail struct {
	Sub       Subscription
	Plan      Product
	Options   []Product
	Hours     []string
	Specs     []Specification
	Changes   map[string]SpecChange
	Signature *Signature
	Prices    map[string]Price
}

// loadSub reads a subscription of the scope's tenant with its plan, options, specification
// versions and signature; ErrNotFound when there is none (or, with userID, when it is
// another's).
func loadSub(ctx context.Context, sc *store.Scope, id, userID string) (*subDetail, error) {
	d := &subDetail{Changes: map[string]SpecChange{}}
	q := sc.Select(&d.Sub).Where("sub.id = ?", id)
	if userID != "" {
		q = q.Where("sub.user_id = ?", userID)
	}
	if err := q.Scan(ctx); errors.Is(err, sql.ErrNoRows) {
		return nil, kit.ErrNotFound
	} else if err != nil {
		return nil, err
	}
	if err := sc.Select(&d.Plan).Where("prod.id = ?", d.Sub.PlanID).Scan(ctx); err != nil && !errors.Is(err, sql.ErrNoRows) {
		return nil, err
	}
	var opts []SubscriptionOption
	if err := sc.Select(&opts).Where("sopt.subscription_id = ?", id).Scan(ctx); err != nil {
		return nil, err
	}
	if len(opts) > 0 {
		ids := make([]string, len(opts))
		for i, o := range opts {
			ids[i] = o.ProductID
		}
		if err := sc.Select(&d.Options).Where("prod.id IN (?)", bun.In(ids)).Order("prod.position", "prod.name").Scan(ctx); err != nil {
			return nil, err
		}
	}
	if err := sc.Select(&d.Specs).Where("spec.subscription_id = ?", id).Order("spec.version").Scan(ctx); err != nil {
		return nil, err
	}
	var chg []SpecChange
	if err := sc.Select(&chg).Where("chg.subscription_id = ?", id).Scan(ctx); err != nil {
		return nil, err
	}
	for _, c := range chg {
		d.Changes[c.SpecificationID] = c
	}
	var sig Signature
	if err := sc.Select(&sig).Where("sig.subscription_id = ?", id).Scan(ctx); err == nil {
		d.Signature = &sig
	} else if !errors.Is(err, sql.ErrNoRows) {
		return nil, err
	}
	return d, nil
}

// prices fills d.Prices with the tariff in force on day (none when the tenant has none yet).
func (m *Module) prices(ctx context.Context, sc *store.Scope, d *subDetail, day Date) error {
	_, p, err := m.tariffAt(ctx, sc, &d.Sub, day)
	if errors.Is(err, errNoTariff) {
		return nil
	}
	d.Prices = p
	return err
}

// ---- clerk: list ----

func (m *Module) subscriptionsList(c *kit.Ctx) error {
	v := c.View("billing.subscriptions.title")
	q := strings.TrimSpace(c.Query("q"))
	v.Values["q"] = q
	var subs []Subscription
	if err := c.Read(func(ctx context.Context, sc *store.Scope) error {
		sel := sc.Select(&subs).OrderExpr("sub.created_at DESC").Limit(500)
		if q != "" {
			like := "%" + strings.ToLower(q) + "%"
			digits := strings.Map(func(r rune) rune {
				if r >= '0' && r <= '9' {
					return r
				}
				return -1
			}, q)
			sel = sel.WhereGroup(" AND ", func(w *bun.SelectQuery) *bun.SelectQuery {
				w = w.Where("LOWER(sub.client_name) LIKE ?", like).WhereOr("LOWER(sub.contact_name) LIKE ?", like).
					WhereOr("LOWER(sub.reference) LIKE ?", like).WhereOr("LOWER(sub.email) LIKE ?", like)
				if len(digits) >= 4 {
					if len(digits) > 9 {
						digits = digits[len(digits)-9:] // the national part, whatever prefix was typed
					}
					w = w.WhereOr("sub.phone_number LIKE ?", "%"+digits+"%")
				}
				return w
			})
		}
		return sel.Scan(ctx)
	}); err != nil {
		return err
	}
	v.Data["Subs"] = subs
	return c.Render(http.StatusOK, "billing_subscriptions_list", v)
}

// ---- clerk: new subscription ----

var newSubFields = []string{"client_name", "contact_name", "email", "locale", "country", "legal_id", "vat_id", "street", "postcode", "city",
	"phone", "plan", "hours_profile", "specification", "special_conditions", "set_off_agreed", "order_form_ref", "payment_method",
	"mandate_ref", "starts_on"}

func (m *Module) newSubscriptionPage(c *kit.Ctx) error {
	v := c.View("billing.subscriptions.new_title")
	if _, ok := v.Values["client_name"]; !ok {
		v.Values["locale"], v.Values["country"], v.Values["payment_method"], v.Values["hours_profile"] = "fr", c.Tenant().Country, payDebit, hoursFull
		if l := c.Tenant().Locale; l == "pl" || l == "sk" {
			v.Values["locale"] = l
		}
	}
	return m.renderNew(c, http.StatusOK, v, nil)
}

func (m *Module) renderNew(c *kit.Ctx, status int, v *kit.View, chosen []string) error {
	var o *subOffer
	if err := c.Read(func(ctx context.Context, sc *store.Scope) (err error) {
		o, err = loadOffer(ctx, sc)
		return err
	}); err != nil {
		return err
	}
	v.Data["Plans"], v.Data["Options"], v.Data["Locales"] = o.Plans, o.Options, clientLocales
	v.Data["Countries"] = country.Choices(c.Loc().Lang, c.Tenant().Country)
	v.Data["Chosen"] = setOf(chosen)
	v.Data["Weekdays"] = []int{1, 2, 3, 4, 5, 6, 7}
	v.Data["Methods"] = []string{payDebit, payTransfer, payCheque}
	return c.Render(status, "billing_subscriptions_new", v)
}

func setOf(xs []string) map[string]bool {
	s := map[string]bool{}
	for _, x := range xs {
		s[x] = true
	}
	return s
}

var (
	errPhoneTaken = errors.New("billing: the dedicated number is another live subscription's")
	referenceABC  = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"
)

// newReference is a readable reference: the tenant's prefix, the year, and five characters
// people do not confuse ("ABO-2026-7KQ3M").
func newReference(prefix string, year int) string {
	var b strings.Builder
	for i := 0; i < 5; i++ {
		n, _ := rand.Int(rand.Reader, big.NewInt(int64(len(referenceABC))))
		b.WriteByte(referenceABC[n.Int64()])
	}
	return fmt.Sprintf("%s-%d-%s", prefix, year, b.String())
}

func (m *Module) createSubscription(c *kit.Ctx) error {
	v := formView(c, "billing.subscriptions.new_title", newSubFields...)
	if err := c.R.ParseForm(); err != nil {
		return kit.ErrBadRequest
	}
	t := c.Tenant()
	chosenIDs := c.R.Form["options"]
	for _, f := range []string{"client_name", "contact_name", "email", "street", "postcode", "city", "vat_id", "order_form_ref", "mandate_ref"} {
		checkText(v, f, maxLine, f == "client_name" || f == "email")
	}
	// the client's address is on every invoice (a French invoice must carry it): street,
	// postcode and city are required of every client (walkthrough 14)
	for _, f := range []string{"street", "postcode", "city"} {
		checkLength(v, f, maxLine, true, "billing.subscriptions.err.address_required", "billing.subscriptions.err.too_long")
	}
	checkText(v, "specification", maxText, true)
	checkText(v, "special_conditions", maxText, false)
	if _, err := mail.ParseAddress(v.Values["email"]); v.Values["email"] != "" && (err != nil || strings.ContainsAny(v.Values["email"], "<> ")) {
		v.Errors["email"] = "billing.subscriptions.err.email"
	}
	loc := v.Values["locale"]
	if !setOf(clientLocales)[loc] {
		return kit.ErrBadRequest // not one of the form's choices
	}
	cc := strings.ToUpper(v.Values["country"])
	if cc == "" {
		cc = t.Country
	}
	if !country.Valid(cc) {
		v.Errors["country"] = "billing.subscriptions.err.country"
	}
	v.Values["country"] = cc
	siret := strings.ReplaceAll(strings.ReplaceAll(v.Values["legal_id"], " ", ""), ".", "")
	switch {
	case siret == "" && cc == "FR":
		v.Errors["legal_id"] = "billing.subscriptions.err.siret_required"
	case siret != "" && cc == "FR" && !validSIRET(siret):
		v.Errors["legal_id"] = "billing.subscriptions.err.siret"
	case len(siret) > 40:
		v.Errors["legal_id"] = "billing.subscriptions.err.too_long"
	}
	phone, ok := normalisePhone(v.Values["phone"], t.Country)
	if !ok {
		v.Errors["phone"] = "billing.subscriptions.err.phone"
	}
	method := v.Values["payment_method"]
	switch method {
	case payDebit:
		if v.Values["mandate_ref"] == "" {
			v.Errors["mandate_ref"] = "billing.subscriptions.err.mandate"
		}
	case payCheque, payTransfer:
		v.Values["mandate_ref"] = ""
	default:
		return kit.ErrBadRequest
	}
	today := m.today(t)
	var starts Date
	if s := v.Values["starts_on"]; s != "" {
		d, err := ParseDate(s)
		switch {
		case err != nil:
			v.Errors["starts_on"] = "billing.subscriptions.err.date"
		case d.Before(today):
			v.Errors["starts_on"] = "billing.subscriptions.err.date_past"
		default:
			starts = d
		}
	}
	hours, _ := hoursFromForm(c, v)
	var o *subOffer
	if err := c.Read(func(ctx context.Context, sc *store.Scope) (err error) {
		o, err = loadOffer(ctx, sc)
		return err
	}); err != nil {
		return err
	}
	if v.Values["plan"] == "" {
		v.Errors["plan"] = "billing.subscriptions.err.plan"
	} else if !o.plan(v.Values["plan"]) {
		return kit.ErrBadRequest
	}
	options, ok := o.chosenOptions(chosenIDs)
	if !ok {
		return kit.ErrBadRequest
	}
	if len(v.Errors) > 0 {
		return m.renderNew(c, http.StatusUnprocessableEntity, v, chosenIDs)
	}
	sub := &Subscription{ID: newID(), State: subPending, ClientName: v.Values["client_name"], ContactName: v.Values["contact_name"],
		Email: strings.ToLower(v.Values["email"]), Locale: loc, LegalID: siret, VATID: strings.ToUpper(strings.ReplaceAll(v.Values["vat_id"], " ", "")),
		Street: v.Values["street"], Postcode: v.Values["postcode"], City: v.Values["city"], Country: cc, PhoneNumber: phone,
		PlanID: v.Values["plan"], Hours: hours.String(), SpecialConditions: v.Values["special_conditions"], SetOffAgreed: v.Values["set_off_agreed"] != "",
		OrderFormRef: v.Values["order_form_ref"], PaymentMethod: method, MandateRef: v.Values["mandate_ref"], StartsOn: starts,
		CreatedBy: c.User().ID, CreatedAt: m.now()}
	err := c.In(func(ctx context.Context, sc *store.Scope) error {
		n, err := sc.Select((*Subscription)(nil)).Where("sub.phone_number = ? AND sub.state <> ?", phone, subTerminated).Count(ctx)
		if err != nil {
			return err
		}
		if n > 0 {
			return errPhoneTaken
		}
		for i := 0; ; i++ {
			sub.Reference = newReference(referencePrefix.Of(t), today.Y)
			n, err := sc.Select((*Subscription)(nil)).Where("sub.reference = ?", sub.Reference).Count(ctx)
			if err != nil {
				return err
			}
			if n == 0 || i == 20 {
				break
			}
		}
		sub.TenantID = sc.TenantID
		if _, err := sc.Insert(sub).Exec(ctx); err != nil {
			if store.IsUniqueViolation(err) && strings.Contains(err.Error(), "phone") {
				return errPhoneTaken
			}
			return err
		}
		for _, id := range options {
			if _, err := sc.Insert(&SubscriptionOption{TenantID: sc.TenantID, SubscriptionID: sub.ID, ProductID: id}).Exec(ctx); err != nil {
				return err
			}
		}
		_, err = sc.Insert(&Specification{TenantID: sc.TenantID, ID: newID(), SubscriptionID: sub.ID, Version: 1, Kind: specSpecification, Body: v.Values["specification"],
			EffectiveOn: today, CreatedBy: c.User().ID, CreatedAt: m.now()}).Exec(ctx)
		return err
	})
	if errors.Is(err, errPhoneTaken) {
		v.Errors["phone"] = "billing.subscriptions.err.phone_taken"
		return m.renderNew(c, http.StatusUnprocessableEntity, v, chosenIDs)
	}
	if err != nil {
		return err
	}
	done := "subscription_created"
	if err := m.assignLogin(c, sub); err != nil {
		c.LogFailure(fmt.Errorf("billing: assigning the client's login: %w", err))
		done = "subscription_created_no_login"
	}
	// about the client, once his account is known
	m.audit(c, auditSubCreated, sub, map[string]any{"reference": sub.Reference, "plan": sub.PlanID, "options": options})
	return c.Redirect("/billing/manage/subscriptions/"+sub.ID, done)
}

// assignLogin gives the client his login (B1) and keeps his account on the subscription.
func (m *Module) assignLogin(c *kit.Ctx, sub *Subscription) error {
	userID, err := m.inviteClient(c, sub)
	if err != nil {
		return err
	}
	if userID == "" {
		return errors.New("billing: no account for the client")
	}
	if err := c.In(func(ctx context.Context, sc *store.Scope) error {
		_, err := sc.Update((*Subscription)(nil)).Set("user_id = ?", userID).Where("sub.id = ?", sub.ID).Exec(ctx)
		return err
	}); err != nil {
		return err
	}
	sub.UserID = userID
	m.audit(c, auditSubInvited, sub, map[string]any{"reference": sub.Reference})
	return nil
}

// inviteClient creates or finds the tenant's account of the subscription's e-mail, which is
// sent a link to choose its password in the client's language (B1: the firm assigns the
// client's login at subscription), and returns its user id. The account is the core's
// "user", which holds the portal's permission.
func (m *Module) inviteClient(c *kit.Ctx, sub *Subscription) (string, error) {
	name := sub.ContactName
	if name == "" {
		name = sub.ClientName
	}
	u, _, err := c.Host().Invite(c.Context(), sub.Email, name, sub.Locale, "")
	if err != nil {
		return "", err
	}
	if u == nil {
		return "", errors.New("billing: the host opened no account")
	}
	return u.ID, nil
}

// reinvite assigns the client's login again when it failed at creation.
func (m *Module) reinvite(c *kit.Ctx) error {
	var d *subDetail
	if err := c.Read(func(ctx context.Context, sc *store.Scope) (err error) {
		d, err = loadSub(ctx, sc, c.Param("id"), "")
		return err
	}); err != nil {
		return err
	}
	if d.Sub.UserID != "" {
		return c.Redirect("/billing/manage/subscriptions/"+d.Sub.ID, "")
	}
	if err := m.assignLogin(c, &d.Sub); err != nil {
		c.LogFailure(fmt.Errorf("billing: assigning the client's login: %w", err))
		return c.Redirect("/billing/manage/subscriptions/"+d.Sub.ID, "login_failed")
	}
	return c.Redirect("/billing/manage/subscriptions/"+d.Sub.ID, "login_assigned")
}

func (m *Module) audit(c *kit.Ctx, action string, sub *Subscription, detail map[string]any) {
	if err := c.Host().Record(c.Context(), sdk.AuditRecord{Action: action, Subject: sub.UserID, Resource: "billing/subscription/" + sub.ID, Detail: detail}); err != nil {
		c.LogFailure(fmt.Errorf("billing: audit %s: %w", action, err))
	}
}

// ---- clerk: subscription page ----

func (m *Module) subscriptionPage(c *kit.Ctx) error {
	return m.renderSub(c, http.StatusOK, c.View("billing.subscriptions.sub_title"), nil)
}

func (m *Module) renderSub(c *kit.Ctx, status int, v *kit.View, chosen []string) error {
	var d *subDetail
	var o *subOffer
	t := c.Tenant()
	if err := c.Read(func(ctx context.Context, sc *store.Scope) (err error) {
		if d, err = loadSub(ctx, sc, c.Param("id"), ""); err != nil {
			return err
		}
		if err := m.prices(ctx, sc, d, m.today(t)); err != nil {
			return err
		}
		o, err = loadOffer(ctx, sc)
		return err
	}); err != nil {
		return err
	}
	h, err := parseHours(c.Tenant(), d.Sub.Hours)
	if err != nil {
		return err
	}
	d.Hours = hoursWords(c, h)
	if _, ok := v.Values["body"]; !ok {
		v.Values["effective_on"] = m.today(t).String()
		v.Values["paper_on"] = m.today(t).String()
	}
	v.Data["D"], v.Data["Plans"], v.Data["Options"], v.Data["Chosen"] = d, o.Plans, o.Options, setOf(chosen)
	v.Data["Weekdays"] = []int{1, 2, 3, 4, 5, 6, 7}
	v.Data["Currency"] = t.Currency
	v.Data["Phone"] = formatPhone(d.Sub.PhoneNumber)
	v.Data["ChangeWords"] = m.changeWords(c, d, o)
	return c.Render(status, "billing_subscriptions_sub", v)
}

// changeWords says, by specification id, what each amendment changes besides its text.
func (m *Module) changeWords(c *kit.Ctx, d *subDetail, o *subOffer) map[string][]string {
	out := map[string][]string{}
	for id, ch := range d.Changes {
		var w []string
		if ch.PlanID != "" {
			w = append(w, c.T("billing.subscriptions.change_plan", "Plan", o.byID[ch.PlanID].Name))
		}
		if ch.ChangeOptions {
			var ids []string
			_ = json.Unmarshal([]byte(ch.Options), &ids)
			var names []string
			for _, id := range ids {
				names = append(names, o.byID[id].Name)
			}
			if len(names) == 0 {
				w = append(w, c.T("billing.subscriptions.change_no_options"))
			} else {
				w = append(w, c.T("billing.subscriptions.change_options", "Options", strings.Join(names, ", ")))
			}
		}
		if ch.Hours != "" {
			if h, err := parseHours(c.Tenant(), ch.Hours); err == nil {
				w = append(w, c.T("billing.subscriptions.change_hours", "Hours", strings.Join(hoursWords(c, h), " ; ")))
			}
		}
		if len(w) > 0 {
			day := c.T("billing.subscriptions.change_pending", "Date", dayIn(c.Loc().Lang, ch.AppliesOn))
			if !ch.AppliedAt.IsZero() {
				day = c.T("billing.subscriptions.change_applied", "Date", dayIn(c.Loc().Lang, ch.AppliesOn))
			}
			out[id] = append(w, day)
		}
	}
	return out
}

// ---- amendments ----

// appliesOn is the day an amendment effective on eff changes the service of a subscription
// that starts (or started) on start: the first day of a period on or after eff (B1: a change
// takes effect at the next period, a month begun being due in full), the start itself when
// eff is not after it. Signed or not, a change never applies before its effective day; a
// subscription with no start yet takes it on eff, recomputed when it is signed (activate).
func appliesOn(start, eff Date) Date {
	if start.IsZero() {
		return eff
	}
	if !eff.After(start) {
		return start
	}
	k, first, _ := periodAt(start, eff)
	if first == eff {
		return eff
	}
	return periodStart(start, k+1)
}

func (m *Module) addAmendment(c *kit.Ctx) error {
	v := formView(c, "billing.subscriptions.sub_title", "body", "effective_on", "plan", "change_options", "hours_profile")
	if err := c.R.ParseForm(); err != nil {
		return kit.ErrBadRequest
	}
	t := c.Tenant()
	today := m.today(t)
	checkText(v, "body", maxText, true)
	eff, err := ParseDate(v.Values["effective_on"])
	if err != nil {
		v.Errors["effective_on"] = "billing.subscriptions.err.date"
	}
	var hours string
	if v.Values["hours_profile"] != "" {
		if h, ok := hoursFromForm(c, v); ok {
			hours = h.String()
		}
	}
	chosen := c.R.Form["options"]
	var d *subDetail
	var o *subOffer
	if err := c.Read(func(ctx context.Context, sc *store.Scope) (err error) {
		if d, err = loadSub(ctx, sc, c.Param("id"), ""); err != nil {
			return err
		}
		o, err = loadOffer(ctx, sc)
		return err
	}); err != nil {
		return err
	}
	if d.Sub.State == subTerminated {
		return kit.ErrNotFound
	}
	if p := v.Values["plan"]; p != "" && !o.plan(p) {
		return kit.ErrBadRequest
	}
	options, ok := o.chosenOptions(chosen)
	if !ok {
		return kit.ErrBadRequest
	}
	if len(v.Errors) > 0 {
		return m.renderSub(c, http.StatusUnprocessableEntity, v, chosen)
	}
	spec := &Specification{ID: newID(), SubscriptionID: d.Sub.ID, Kind: specAmendment, Body: v.Values["body"], EffectiveOn: eff,
		CreatedBy: c.User().ID, CreatedAt: m.now()}
	var change *SpecChange
	if v.Values["plan"] != "" || v.Values["change_options"] != "" || hours != "" {
		opts, _ := json.Marshal(options)
		change = &SpecChange{SpecificationID: spec.ID, SubscriptionID: d.Sub.ID, PlanID: v.Values["plan"], ChangeOptions: v.Values["change_options"] != "",
			Options: string(opts), Hours: hours, AppliesOn: appliesOn(d.Sub.StartsOn, eff)}
	}
	err = c.In(func(ctx context.Context, sc *store.Scope) error {
		// the next version number: the subscription's row is locked first (an update that
		// changes nothing), so that two clerks amending at once get successive versions; the
		// unique (subscription, version) key holds it in any case
		if _, err := sc.Update((*Subscription)(nil)).Set("reference = reference").Where("sub.id = ?", d.Sub.ID).Exec(ctx); err != nil {
			return err
		}
		var last int
		if err := sc.Select((*Specification)(nil)).ColumnExpr("COALESCE(MAX(spec.version), 0)").Where("spec.subscription_id = ?", d.Sub.ID).Scan(ctx, &last); err != nil {
			return err
		}
		spec.Version, spec.TenantID = last+1, sc.TenantID
		if _, err := sc.Insert(spec).Exec(ctx); err != nil {
			return err
		}
		if change == nil {
			return nil
		}
		change.TenantID = sc.TenantID
		if _, err := sc.Insert(change).Exec(ctx); err != nil {
			return err
		}
		// only a signed subscription's service changes now; an unsigned one's changes are
		// applied when it is signed, from its start
		if d.Sub.State != subPending && !change.AppliesOn.After(today) {
			sub := d.Sub
			return m.applyChange(ctx, sc, &sub, change)
		}
		return nil
	})
	if err != nil {
		return err
	}
	m.audit(c, auditSubAmended, &d.Sub, map[string]any{"reference": d.Sub.Reference, "version": spec.Version, "effective_on": eff.String()})
	return c.Redirect("/billing/manage/subscriptions/"+d.Sub.ID, "amendment_added")
}

// applyChange applies an amendment's change to sub, once.
func (m *Module) applyChange(ctx context.Context, sc *store.Scope, sub *Subscription, ch *SpecChange) error {
	res, err := sc.Update((*SpecChange)(nil)).Set("applied_at = ?", m.now()).
		Where("chg.specification_id = ? AND chg.applied_at IS NULL", ch.SpecificationID).Exec(ctx)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return nil // applied already
	}
	if ch.PlanID != "" {
		sub.PlanID = ch.PlanID
		if _, err := sc.Update((*Subscription)(nil)).Set("plan_id = ?", ch.PlanID).Where("sub.id = ?", sub.ID).Exec(ctx); err != nil {
			return err
		}
	}
	if ch.Hours != "" {
		sub.Hours = ch.Hours
		if _, err := sc.Update((*Subscription)(nil)).Set("hours = ?", ch.Hours).Where("sub.id = ?", sub.ID).Exec(ctx); err != nil {
			return err
		}
	}
	if ch.ChangeOptions {
		var ids []string
		if err := json.Unmarshal([]byte(ch.Options), &ids); err != nil {
			return err
		}
		if _, err := sc.Delete((*SubscriptionOption)(nil)).Where("sopt.subscription_id = ?", sub.ID).Exec(ctx); err != nil {
			return err
		}
		for _, id := range ids {
			if _, err := sc.Insert(&SubscriptionOption{TenantID: sc.TenantID, SubscriptionID: sub.ID, ProductID: id}).Exec(ctx); err != nil {
				return err
			}
		}
	}
	return nil
}

// applyAmendments applies the amendments of sub due on or before day (the invoices part may
// call it before it invoices the period that starts on day).
func (m *Module) applyAmendments(ctx context.Context, sc *store.Scope, sub *Subscription, day Date) error {
	var due []SpecChange
	if err := sc.Select(&due).Where("chg.subscription_id = ? AND chg.applied_at IS NULL AND chg.applies_on <= ?", sub.ID, day.String()).
		Order("chg.applies_on").Scan(ctx); err != nil {
		return err
	}
	for i := range due {
		if err := m.applyChange(ctx, sc, sub, &due[i]); err != nil {
			return err
		}
	}
	return nil
}

// applyChangesJob applies, each night, the amendments whose day came.
func (m *Module) applyChangesJob(ctx context.Context, job *sdk.Job) error {
	t := job.Tenant
	today := m.today(t)
	return m.In(ctx, t, func(ctx context.Context, sc *store.Scope) error {
		var due []SpecChange
		if err := sc.Select(&due).Where("chg.applied_at IS NULL AND chg.applies_on <= ?", today.String()).Order("chg.applies_on").Limit(1000).Scan(ctx); err != nil {
			return err
		}
		for i := range due {
			var sub Subscription
			if err := sc.Select(&sub).Where("sub.id = ?", due[i].SubscriptionID).Scan(ctx); err != nil {
				return err
			}
			if err := m.applyChange(ctx, sc, &sub, &due[i]); err != nil {
				return err
			}
		}
		return nil
	})
}

// ---- signature ----

// activate makes a pending subscription active under terms version version, signed on day
// (its service starts that day, or on the agreed start day when later). It is refused
// without a terms version, and changes nothing unless the subscription is pending.
func (m *Module) activate(ctx context.Context, sc *store.Scope, sub *Subscription, method, version string, day Date, by string, acceptedAt time.Time) (bool, error) {
	if version == "" {
		return false, errors.New("billing: a subscription cannot become active without a terms version")
	}
	starts := day
	if sub.StartsOn.After(day) {
		starts = sub.StartsOn
	}
	now := m.now()
	res, err := sc.Update((*Subscription)(nil)).Set("state = ?", subActive).Set("terms_version = ?", version).
		Set("terms_accepted_at = ?", acceptedAt).Set("signed_at = ?", now).Set("starts_on = ?", starts.String()).
		Where("sub.id = ? AND sub.state = ?", sub.ID, subPending).Exec(ctx)
	if err != nil {
		return false, err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return false, nil
	}
	if _, err := sc.Insert(&Signature{TenantID: sc.TenantID, SubscriptionID: sub.ID, Method: method, SignedOn: day, TermsVersion: version, RecordedBy: by, RecordedAt: now}).Exec(ctx); err != nil {
		return false, err
	}
	sub.State, sub.TermsVersion, sub.StartsOn = subActive, version, starts
	// the changes amended before the signature count their periods from the actual start
	var pending []SpecChange
	if err := sc.Select(&pending).Where("chg.subscription_id = ? AND chg.applied_at IS NULL", sub.ID).Scan(ctx); err != nil {
		return false, err
	}
	for _, ch := range pending {
		var spec Specification
		if err := sc.Select(&spec).Where("spec.id = ?", ch.SpecificationID).Scan(ctx); err != nil {
			return false, err
		}
		on := appliesOn(starts, spec.EffectiveOn)
		if on == ch.AppliesOn {
			continue
		}
		if _, err := sc.Update((*SpecChange)(nil)).Set("applies_on = ?", on.String()).Where("chg.specification_id = ?", ch.SpecificationID).Exec(ctx); err != nil {
			return false, err
		}
	}
	return true, m.applyAmendments(ctx, sc, sub, starts)
}

// recordPaperSignature: the client signed the order form on paper on a day (B1, P6: the
// terms version in force is stored).
func (m *Module) recordPaperSignature(c *kit.Ctx) error {
	v := formView(c, "billing.subscriptions.sub_title", "paper_on", "paper_terms")
	t := c.Tenant()
	today := m.today(t)
	day, err := ParseDate(v.Values["paper_on"])
	switch {
	case err != nil:
		v.Errors["paper_on"] = "billing.subscriptions.err.date"
	case day.After(today):
		v.Errors["paper_on"] = "billing.subscriptions.err.date_future"
	}
	if v.Values["paper_terms"] == "" {
		v.Errors["paper_terms"] = "billing.subscriptions.err.paper_terms"
	}
	var d *subDetail
	if err := c.Read(func(ctx context.Context, sc *store.Scope) (err error) {
		d, err = loadSub(ctx, sc, c.Param("id"), "")
		return err
	}); err != nil {
		return err
	}
	if d.Sub.State != subPending {
		return c.Redirect("/billing/manage/subscriptions/"+d.Sub.ID, "")
	}
	var terms *sdk.Terms
	if len(v.Errors) == 0 {
		terms, err = c.Host().Terms(c.Context(), "", "")
		if err != nil {
			return err
		}
		// the terms in force on the day of the paper: the version in force now, unless it
		// took effect after that day (the clerk then records the signature anew with the
		// paper's day no earlier than it)
		if !terms.Effective.IsZero() && DateOf(terms.Effective, zone(t)).After(day) {
			v.Errors["paper_on"] = "billing.subscriptions.err.terms_later"
		}
	}
	if len(v.Errors) > 0 {
		return m.renderSub(c, http.StatusUnprocessableEntity, v, nil)
	}
	var ok bool
	if err := c.In(func(ctx context.Context, sc *store.Scope) (err error) {
		ok, err = m.activate(ctx, sc, &d.Sub, signPaper, terms.VersionID, day, c.User().ID, day.In(zone(t)))
		return err
	}); err != nil {
		return err
	}
	if ok {
		m.audit(c, auditSubPaper, &d.Sub, map[string]any{"reference": d.Sub.Reference, "signed_on": day.String(), "terms_version": terms.VersionID})
	}
	return c.Redirect("/billing/manage/subscriptions/"+d.Sub.ID, "paper_signed")
}

// ---- P11 ----

// forgetSubscriptions keeps the subscriptions, business records, detached from the deleted
// account.
func (m *Module) forgetSubscriptions(ctx context.Context, t sdk.Tenant, userID string) error {
	return m.In(ctx, t, func(ctx context.Context, sc *store.Scope) error {
		_, err := sc.Update((*Subscription)(nil)).Set("user_id = ''").Where("sub.user_id = ?", userID).Exec(ctx)
		return err
	})
}

// exportSubscriptions is what the client's subscriptions hold.
func (m *Module) exportSubscriptions(ctx context.Context, t sdk.Tenant, userID string) (map[string]any, error) {
	var out []map[string]any
	err := m.Read(ctx, t, func(ctx context.Context, sc *store.Scope) error {
		var subs []Subscription
		if err := sc.Select(&subs).Where("sub.user_id = ?", userID).Order("sub.created_at").Scan(ctx); err != nil {
			return err
		}
		for _, s := range subs {
			d, err := loadSub(ctx, sc, s.ID, userID)
			if err != nil {
				return err
			}
			var opts, specs []map[string]any
			for _, o := range d.Options {
				opts = append(opts, map[string]any{"name": o.Name})
			}
			for _, sp := range d.Specs {
				specs = append(specs, map[string]any{"version": sp.Version, "kind": sp.Kind, "text": sp.Body, "effective_on": sp.EffectiveOn.String()})
			}
			out = append(out, map[string]any{"reference": s.Reference, "state": s.State, "client_name": s.ClientName, "contact_name": s.ContactName,
				"email": s.Email, "language": s.Locale, "siret": s.LegalID, "vat_id": s.VATID, "street": s.Street, "postcode": s.Postcode, "city": s.City,
				"country": s.Country, "phone_number": s.PhoneNumber, "plan": d.Plan.Name, "options": opts, "answering_hours": s.Hours,
				"special_conditions": s.SpecialConditions, "set_off_agreed": s.SetOffAgreed, "order_form_ref": s.OrderFormRef,
				"payment_method": s.PaymentMethod, "mandate_ref": s.MandateRef, "starts_on": s.StartsOn.String(), "ends_on": s.EndsOn.String(),
				"terms_version": s.TermsVersion, "signed_at": s.SignedAt.Time, "specification": specs})
		}
		return nil
	})
	if err != nil || len(out) == 0 {
		return nil, err
	}
	return map[string]any{"billing_subscriptions": out}, nil
}
