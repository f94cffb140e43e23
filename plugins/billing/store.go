package billing

import (
	"time"

	"github.com/uptrace/bun"
)

// The module's shared records (migration 20261201100001_billing). Money is in minor units
// (cents) of the tenant's currency, excluding VAT unless named otherwise. Calendar dates are
// Date values ('YYYY-MM-DD' in the tenant's time zone). Each part adds its own tables in its
// own migrations; these are the ones several parts read.

// Product kinds (B1–B3).
const (
	kindPlan   = "plan"
	kindOption = "option"
)

// Tariff states (B4): a draft is being prepared; announced, its notice went out and it takes
// effect on EffectiveOn; in force, it is (or was) the current one. The tariff in force on a
// date is the latest announced or in-force tariff whose EffectiveOn is on or before it.
const (
	tariffDraft     = "draft"
	tariffAnnounced = "announced"
	tariffInForce   = "in_force"
)

// Subscription states (B1, B6, B8): pending until the client accepted the terms and signed;
// active; suspended (unpaid, B6); terminated (its end date passed, B8).
const (
	subPending    = "pending"
	subActive     = "active"
	subSuspended  = "suspended"
	subTerminated = "terminated"
)

// Invoice kinds and states (B5): a draft has no number yet; issued; paid in full; credited
// (cancelled by a credit note).
const (
	invInvoice    = "invoice"
	invCreditNote = "credit_note"

	invDraft    = "draft"
	invIssued   = "issued"
	invPaid     = "paid"
	invCredited = "credited"
)

// Invoice line kinds.
const (
	linePlan        = "plan"
	lineOption      = "option"
	lineCallOverage = "call_overage"
	lineSMSOverage  = "sms_overage"
	lineCredit      = "credit"
)

// Payment methods (B5).
const (
	payDebit    = "debit"
	payCheque   = "cheque"
	payTransfer = "transfer"
)

// Usage kinds (B3).
const (
	usageCall = "call"
	usageSMS  = "sms"
)

// Product is a plan (monthly fee, allowances of calls and SMS) or an option (monthly fee).
// Its prices are in tariffs.
type Product struct {
	bun.BaseModel `bun:"table:billing_products,alias:prod"`

	TenantID      string       `bun:"tenant_id,pk"`
	ID            string       `bun:"id,pk"`
	Kind          string       `bun:"kind"`
	Code          string       `bun:"code"`
	Name          string       `bun:"name"`
	Description   string       `bun:"description"`
	CallsIncluded int          `bun:"calls_included"`
	SMSIncluded   int          `bun:"sms_included"`
	Position      int          `bun:"position"`
	WithdrawnAt   bun.NullTime `bun:"withdrawn_at"`
}

// Tariff is a price list with the date it takes effect (B4).
type Tariff struct {
	bun.BaseModel `bun:"table:billing_tariffs,alias:tar"`

	TenantID    string       `bun:"tenant_id,pk"`
	ID          string       `bun:"id,pk"`
	Name        string       `bun:"name"`
	EffectiveOn Date         `bun:"effective_on"`
	State       string       `bun:"state"`
	AnnouncedAt bun.NullTime `bun:"announced_at"`
	CreatedBy   string       `bun:"created_by"`
	CreatedAt   time.Time    `bun:"created_at"`
}

// Price is a product's price in a tariff: the monthly fee, and for a plan the price of each
// call and SMS beyond its allowance.
type Price struct {
	bun.BaseModel `bun:"table:billing_prices,alias:price"`

	TenantID        string `bun:"tenant_id,pk"`
	TariffID        string `bun:"tariff_id,pk"`
	ProductID       string `bun:"product_id,pk"`
	MonthlyFeeMinor int64  `bun:"monthly_fee_minor"`
	CallMinor       int64  `bun:"call_minor"`
	SMSMinor        int64  `bun:"sms_minor"`
}

// Subscription is a client's contract (B1, B2): the client (a business), the plan and
// options, the dedicated number, the answering hours (JSON, hours.go), the terms version
// accepted before signing, the payment method, and the dates. StartsOn is the anniversary
// day of every period; EndsOn is set once a termination fixed it (B8).
type Subscription struct {
	bun.BaseModel `bun:"table:billing_subscriptions,alias:sub"`

	TenantID          string       `bun:"tenant_id,pk"`
	ID                string       `bun:"id,pk"`
	Reference         string       `bun:"reference"`
	UserID            string       `bun:"user_id"`
	State             string       `bun:"state"`
	ClientName        string       `bun:"client_name"`
	ContactName       string       `bun:"contact_name"`
	Email             string       `bun:"email"`
	Locale            string       `bun:"locale"`
	LegalID           string       `bun:"legal_id"` // SIRET (or the client's country's register number)
	VATID             string       `bun:"vat_id"`
	Street            string       `bun:"street"`
	Postcode          string       `bun:"postcode"`
	City              string       `bun:"city"`
	Country           string       `bun:"country"`
	PhoneNumber       string       `bun:"phone_number"` // E.164
	PlanID            string       `bun:"plan_id"`
	Hours             string       `bun:"hours"`
	SpecialConditions string       `bun:"special_conditions"`
	SetOffAgreed      bool         `bun:"set_off_agreed"`
	OrderFormRef      string       `bun:"order_form_ref"`
	PaymentMethod     string       `bun:"payment_method"`
	MandateRef        string       `bun:"mandate_ref"`
	StartsOn          Date         `bun:"starts_on"`
	EndsOn            Date         `bun:"ends_on"`
	TermsVersion      string       `bun:"terms_version"`
	TermsAcceptedAt   bun.NullTime `bun:"terms_accepted_at"`
	SignedAt          bun.NullTime `bun:"signed_at"`
	SuspendedAt       bun.NullTime `bun:"suspended_at"`
	CreatedBy         string       `bun:"created_by"`
	CreatedAt         time.Time    `bun:"created_at"`
}

// SubscriptionOption is an option a subscription has.
type SubscriptionOption struct {
	bun.BaseModel `bun:"table:billing_subscription_options,alias:sopt"`

	TenantID       string `bun:"tenant_id,pk"`
	SubscriptionID string `bun:"subscription_id,pk"`
	ProductID      string `bun:"product_id,pk"`
}

// Specification is a version of a subscription's specification (cahier des charges) or an
// amendment to it (B1); versions are never edited.
type Specification struct {
	bun.BaseModel `bun:"table:billing_specifications,alias:spec"`

	TenantID       string    `bun:"tenant_id,pk"`
	ID             string    `bun:"id,pk"`
	SubscriptionID string    `bun:"subscription_id"`
	Version        int       `bun:"version"`
	Kind           string    `bun:"kind"`
	Body           string    `bun:"body"`
	EffectiveOn    Date      `bun:"effective_on"`
	CreatedBy      string    `bun:"created_by"`
	CreatedAt      time.Time `bun:"created_at"`
}

// Usage is a call or SMS the telephony platform reported (B3); EventID is the platform's id.
// Counted: the event is in its period's counter (UsageCount); one stored before the counters
// existed is not, and is counted from the events.
type Usage struct {
	bun.BaseModel `bun:"table:billing_usage,alias:use"`

	TenantID       string    `bun:"tenant_id,pk"`
	EventID        string    `bun:"event_id,pk"`
	SubscriptionID string    `bun:"subscription_id"`
	Kind           string    `bun:"kind"`
	OccurredAt     time.Time `bun:"occurred_at"`
	DurationS      int       `bun:"duration_s"`
	RecordingRef   string    `bun:"recording_ref"`
	ReceivedAt     time.Time `bun:"received_at"`
	Counted        bool      `bun:"counted"`
}

// UsageCount is a subscription's calls or SMS in one of its periods (B3, B5), kept as its
// events are stored (migration 20261201100031_usage_counts).
type UsageCount struct {
	bun.BaseModel `bun:"table:billing_usage_counts,alias:ucount"`

	TenantID       string `bun:"tenant_id,pk"`
	SubscriptionID string `bun:"subscription_id,pk"`
	PeriodStart    Date   `bun:"period_start,pk"`
	Kind           string `bun:"kind,pk"`
	N              int64  `bun:"n"`
}

// Invoice is an invoice or a credit note (B5). Number, Year and Seq are set at issue.
// Parties is the seller's and buyer's identity as issued (JSON, so that a later change of
// address never rewrites an issued invoice).
type Invoice struct {
	bun.BaseModel `bun:"table:billing_invoices,alias:inv"`

	TenantID       string       `bun:"tenant_id,pk"`
	ID             string       `bun:"id,pk"`
	Kind           string       `bun:"kind"`
	SubscriptionID string       `bun:"subscription_id"`
	State          string       `bun:"state"`
	Number         *string      `bun:"number"`
	Year           *int         `bun:"year"`
	Seq            *int64       `bun:"seq"`
	PeriodStart    Date         `bun:"period_start"`
	PeriodEnd      Date         `bun:"period_end"` // the last day of the period, included
	IssuedOn       Date         `bun:"issued_on"`
	DueOn          Date         `bun:"due_on"`
	CreditsID      string       `bun:"credits_id"`
	TariffID       string       `bun:"tariff_id"`
	Final          bool         `bun:"final"`
	Currency       string       `bun:"currency"`
	Locale         string       `bun:"locale"`
	NetMinor       int64        `bun:"net_minor"`
	VATMinor       int64        `bun:"vat_minor"`
	TotalMinor     int64        `bun:"total_minor"`
	PaidMinor      int64        `bun:"paid_minor"`
	PaidOn         Date         `bun:"paid_on"`
	Parties        string       `bun:"parties"`
	PDFBlob        string       `bun:"pdf_blob"`
	RunID          string       `bun:"run_id"`
	CreatedAt      time.Time    `bun:"created_at"`
	IssuedAt       bun.NullTime `bun:"issued_at"`

	Lines []InvoiceLine `bun:"-"`

	// CreditedMinor (invoices part, B5): the total (TTC) of the credit notes issued against
	// this invoice; it lowers the amount due (see due).
	CreditedMinor int64 `bun:"credited_minor"`
}

// InvoiceLine is a line of an invoice, its words frozen in the invoice's language.
type InvoiceLine struct {
	bun.BaseModel `bun:"table:billing_invoice_lines,alias:line"`

	TenantID    string `bun:"tenant_id,pk"`
	InvoiceID   string `bun:"invoice_id,pk"`
	Position    int    `bun:"position,pk"`
	Kind        string `bun:"kind"`
	Description string `bun:"description"`
	Quantity    int64  `bun:"quantity"`
	UnitMinor   int64  `bun:"unit_minor"`
	AmountMinor int64  `bun:"amount_minor"`
	VATPercent  int    `bun:"vat_percent"`
}

// Payment is money received against one invoice (B5, B6). SourceKey makes an imported bank
// line count once.
type Payment struct {
	bun.BaseModel `bun:"table:billing_payments,alias:pay"`

	TenantID    string    `bun:"tenant_id,pk"`
	ID          string    `bun:"id,pk"`
	InvoiceID   string    `bun:"invoice_id"`
	Method      string    `bun:"method"`
	AmountMinor int64     `bun:"amount_minor"`
	ReceivedOn  Date      `bun:"received_on"`
	Reference   string    `bun:"reference"`
	SourceKey   *string   `bun:"source_key"`
	CreatedBy   string    `bun:"created_by"`
	CreatedAt   time.Time `bun:"created_at"`
}

// Party is a seller's or a buyer's identity on an invoice.
type Party struct {
	Name         string `json:"name"`
	Street       string `json:"street"`
	Postcode     string `json:"postcode"`
	City         string `json:"city"`
	Country      string `json:"country"` // ISO 3166 alpha-2
	LegalID      string `json:"legal_id"`
	Registration string `json:"registration,omitempty"`
	VATID        string `json:"vat_id"`
	Email        string `json:"email"`
	Contact      string `json:"contact,omitempty"`
}

// Parties is what an invoice names beside its lines, frozen at issue (Invoice.Parties): the
// seller (the tenant's legal identity), the buyer (the subscription's client), the contract's
// reference, and how it is paid (B5: the method, the direct-debit mandate, the firm's bank
// account for a transfer).
type Parties struct {
	Seller          Party  `json:"seller"`
	Buyer           Party  `json:"buyer"`
	SubscriptionRef string `json:"subscription_ref"`
	PaymentMethod   string `json:"payment_method"`
	MandateRef      string `json:"mandate_ref,omitempty"`
	CreditorID      string `json:"creditor_id,omitempty"`
	IBAN            string `json:"iban,omitempty"`
	BIC             string `json:"bic,omitempty"`
	// documents part: a credit note's document names the invoice it credits (its number,
	// and its issue day as YYYY-MM-DD); the invoices part fills them when it issues one.
	CreditedNumber   string `json:"credited_number,omitempty"`
	CreditedIssuedOn string `json:"credited_issued_on,omitempty"`
}
