package eshop

import (
	"time"

	"github.com/uptrace/bun"
)

// The shop's shared records (migration 20261201000001_shop). Money is in minor units (cents)
// of the tenant's currency. Each part of the module adds its own tables in its own
// migrations; these are the ones several parts read.

// Item kinds (E1).
const (
	kindTest    = "test"
	kindPackage = "package"
)

// Hold purposes (E4, E7).
const (
	holdCart  = "cart"
	holdOrder = "order"
	holdOffer = "offer"
)

// Order states (E4, E5, E13): submitted and waiting for payment; payment overdue (its slots
// released, still binding); paid (the contract exists); cancelled (unpaid by the
// invitation's deadline); withdrawn (by the lab, E9/E13); completed.
const (
	orderSubmitted = "submitted"
	orderOverdue   = "overdue"
	orderPaid      = "paid"
	orderCancelled = "cancelled"
	orderWithdrawn = "withdrawn"
	orderCompleted = "completed"
)

// Order item states (E7–E10): booked (its slot held), then at the collection point
// checked_in and sampled, or no_show, refused (sampling refused, E9), late_refused (E8),
// cancelled_by_lab (E8, with an alternative); once the result is out, published.
const (
	itemBooked         = "booked"
	itemCheckedIn      = "checked_in"
	itemSampled        = "sampled"
	itemPublished      = "published"
	itemNoShow         = "no_show"
	itemRefused        = "refused"
	itemLateRefused    = "late_refused"
	itemCancelledByLab = "cancelled_by_lab"
	itemReleased       = "released" // the order's payment became overdue and its slot was freed (E5)
)

// Category groups the catalog (E1).
type Category struct {
	bun.BaseModel `bun:"table:eshop_categories,alias:cat"`

	TenantID string `bun:"tenant_id,pk"`
	ID       string `bun:"id,pk"`
	Name     string `bun:"name"`
	Position int    `bun:"position"`
}

// Item is a laboratory test or a package of tests (E1). PriceMinor is the catalog price;
// VATIncluded marks a price that includes VAT at the tenant's rate (the others are exempt).
// SuitableFrom6: the test may be done from the lower minimum age rule, else from the default
// one. VoucherSellable: it can be bought as a test voucher (E14.f).
type Item struct {
	bun.BaseModel `bun:"table:eshop_items,alias:it"`

	TenantID        string       `bun:"tenant_id,pk"`
	ID              string       `bun:"id,pk"`
	Kind            string       `bun:"kind"`
	Code            string       `bun:"code"`
	CategoryID      string       `bun:"category_id"`
	Name            string       `bun:"name"`
	Description     string       `bun:"description"`
	Preparation     string       `bun:"preparation"`
	Info            string       `bun:"info"`
	ConsentText     string       `bun:"consent_text"` // the pre-sampling information the customer accepts (E4)
	PriceMinor      int64        `bun:"price_minor"`
	VATIncluded     bool         `bun:"vat_included"`
	TATDays         int          `bun:"tat_days"`
	SuitableFrom6   bool         `bun:"suitable_from_6"`
	VoucherSellable bool         `bun:"voucher_sellable"`
	SearchKey       string       `bun:"search_key"`
	Active          bool         `bun:"active"`
	WithdrawnAt     bun.NullTime `bun:"withdrawn_at"` // the lab no longer performs it (E14.a)
	CreatedAt       time.Time    `bun:"created_at"`
	UpdatedAt       time.Time    `bun:"updated_at"`
}

// PackageTest says a package includes a test.
type PackageTest struct {
	bun.BaseModel `bun:"table:eshop_package_tests,alias:pt"`

	TenantID  string `bun:"tenant_id,pk"`
	PackageID string `bun:"package_id,pk"`
	TestID    string `bun:"test_id,pk"`
}

// Point is a collection point (E3).
type Point struct {
	bun.BaseModel `bun:"table:eshop_points,alias:pn"`

	TenantID    string    `bun:"tenant_id,pk"`
	ID          string    `bun:"id,pk"`
	Name        string    `bun:"name"`
	Street      string    `bun:"street"`
	Town        string    `bun:"town"`
	Postcode    string    `bun:"postcode"`
	Building    string    `bun:"building"`
	Floor       string    `bun:"floor"`
	Room        string    `bun:"room"`
	Latitude    *float64  `bun:"latitude"`
	Longitude   *float64  `bun:"longitude"`
	Phone       string    `bun:"phone"`
	Directions  string    `bun:"directions"`
	SitePlan    string    `bun:"site_plan"` // a blob id (image or PDF), or ""
	SlotMinutes int       `bun:"slot_minutes"`
	Capacity    int       `bun:"capacity"` // people per slot
	Active      bool      `bun:"active"`
	CreatedAt   time.Time `bun:"created_at"`
	UpdatedAt   time.Time `bun:"updated_at"`
}

// PointHours are a point's opening hours on a weekday (0 = Sunday), "HH:MM" in the tenant's
// zone; a day may have several ranges.
type PointHours struct {
	bun.BaseModel `bun:"table:eshop_point_hours,alias:ph"`

	TenantID string `bun:"tenant_id,pk"`
	PointID  string `bun:"point_id,pk"`
	Weekday  int    `bun:"weekday,pk"`
	Opens    string `bun:"opens,pk"`
	Closes   string `bun:"closes"`
}

// PointException is a day a point is closed, or open at other hours ("2006-01-02").
type PointException struct {
	bun.BaseModel `bun:"table:eshop_point_exceptions,alias:pe"`

	TenantID string `bun:"tenant_id,pk"`
	PointID  string `bun:"point_id,pk"`
	Day      string `bun:"day,pk"`
	Closed   bool   `bun:"closed"`
	Opens    string `bun:"opens"`
	Closes   string `bun:"closes"`
	Note     string `bun:"note"`
}

// SlotLoad counts the live holds on one slot of a point; the database keeps Taken within
// Capacity (E4).
type SlotLoad struct {
	bun.BaseModel `bun:"table:eshop_slot_load,alias:sl"`

	TenantID string    `bun:"tenant_id,pk"`
	PointID  string    `bun:"point_id,pk"`
	StartsAt time.Time `bun:"starts_at,pk"`
	Capacity int       `bun:"capacity"`
	Taken    int       `bun:"taken"`
}

// Hold is one place of a slot, held for a cart item (until ExpiresAt), an order item, or a
// rescheduling offer (E4, E7).
type Hold struct {
	bun.BaseModel `bun:"table:eshop_holds,alias:ho"`

	TenantID  string       `bun:"tenant_id,pk"`
	ID        string       `bun:"id,pk"`
	PointID   string       `bun:"point_id"`
	StartsAt  time.Time    `bun:"starts_at"`
	Purpose   string       `bun:"purpose"`
	RefID     string       `bun:"ref_id"`
	UserID    string       `bun:"user_id"`
	ExpiresAt bun.NullTime `bun:"expires_at"`
	CreatedAt time.Time    `bun:"created_at"`
}

// CartItem is a line of a customer's cart (E4): an item for himself (DependantID "") or a
// person he represents, at a point and slot whose place is held until ExpiresAt.
type CartItem struct {
	bun.BaseModel `bun:"table:eshop_cart_items,alias:ci"`

	TenantID    string    `bun:"tenant_id,pk"`
	ID          string    `bun:"id,pk"`
	UserID      string    `bun:"user_id"`
	ItemID      string    `bun:"item_id"`
	DependantID string    `bun:"dependant_id"`
	PointID     string    `bun:"point_id"`
	StartsAt    time.Time `bun:"starts_at"`
	HoldID      string    `bun:"hold_id"`
	AddedAt     time.Time `bun:"added_at"`
	ExpiresAt   time.Time `bun:"expires_at"`
}

// Order is a binding order (E4–E6). TotalMinor = VoucherMinor (covered by vouchers, E14) +
// DueMinor (to pay through the gateway).
type Order struct {
	bun.BaseModel `bun:"table:eshop_orders,alias:o"`

	TenantID       string       `bun:"tenant_id,pk"`
	ID             string       `bun:"id,pk"`
	Number         string       `bun:"number"` // what the customer and staff quote
	UserID         string       `bun:"user_id"`
	Status         string       `bun:"status"`
	Locale         string       `bun:"locale"`
	BuyerName      string       `bun:"buyer_name"`
	Email          string       `bun:"email"`
	Mobile         string       `bun:"mobile"`
	Address        string       `bun:"address"`
	BillingName    string       `bun:"billing_name"`
	BillingAddress string       `bun:"billing_address"`
	TermsVersion   string       `bun:"terms_version"`
	Consents       string       `bun:"consents"`
	Declarations   string       `bun:"declarations"`
	Currency       string       `bun:"currency"`
	TotalMinor     int64        `bun:"total_minor"`
	VoucherMinor   int64        `bun:"voucher_minor"`
	DueMinor       int64        `bun:"due_minor"`
	SubmittedAt    time.Time    `bun:"submitted_at"`
	PayBy          time.Time    `bun:"pay_by"`
	OverdueAt      bun.NullTime `bun:"overdue_at"`
	InviteDeadline bun.NullTime `bun:"invite_deadline"`
	PaidAt         bun.NullTime `bun:"paid_at"`
	CancelledAt    bun.NullTime `bun:"cancelled_at"`
}

// OrderItem is a test or package of an order for one person, with the catalog's price,
// fee, VAT and texts as they were at submission (E6).
type OrderItem struct {
	bun.BaseModel `bun:"table:eshop_order_items,alias:oi"`

	TenantID         string    `bun:"tenant_id,pk"`
	ID               string    `bun:"id,pk"`
	OrderID          string    `bun:"order_id"`
	ItemID           string    `bun:"item_id"`
	Kind             string    `bun:"kind"`
	Name             string    `bun:"name"`
	Preparation      string    `bun:"preparation"`
	ConsentText      string    `bun:"consent_text"`
	PriceMinor       int64     `bun:"price_minor"`
	VATPercent       int       `bun:"vat_percent"` // 0: exempt
	FeeMinor         int64     `bun:"fee_minor"`   // the handling fee, VAT included
	FeeVATPercent    int       `bun:"fee_vat_percent"`
	VoucherMinor     int64     `bun:"voucher_minor"` // what vouchers covered of this line
	TATDays          int       `bun:"tat_days"`
	DependantID      string    `bun:"dependant_id"` // "": the customer himself
	PersonName       string    `bun:"person_name"`
	PersonBirthDate  string    `bun:"person_birth_date"`
	PersonNationalID string    `bun:"person_national_id"`
	Relationship     string    `bun:"relationship"`
	PointID          string    `bun:"point_id"`
	StartsAt         time.Time `bun:"starts_at"`
	HoldID           string    `bun:"hold_id"`
	Status           string    `bun:"status"`
	Rescheduled      bool      `bun:"rescheduled"`
}
