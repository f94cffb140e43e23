package calendar

import (
	"context"
	"strings"
	"time"

	"github.com/uptrace/bun"
)

// Who a directory record belongs to (C1): the operator's own, a licensed directory's
// import (which updates the records it owns), or a doctor's or facility's account.
const (
	ownerOperator = "operator"
	ownerImport   = "import"
	ownerAccount  = "account"
)

// Booking states (C5–C11).
const (
	statusHeld             = "held"
	statusAwaiting         = "awaiting_confirmation"
	statusConfirmed        = "confirmed"
	statusCancelledPatient = "cancelled_patient"
	statusCancelledDoctor  = "cancelled_doctor"
	statusCompleted        = "completed"
	statusNoShow           = "no_show"
	statusExpired          = "expired"
)

// liveStatuses hold the doctor's time and count towards a patient's day (C8, C9): the
// migrations' constraints name the same list.
var liveStatuses = []string{statusHeld, statusAwaiting, statusConfirmed, statusCompleted, statusNoShow}

// liveSQL is liveStatuses as the migrations' partial indexes spell their predicate.
const liveSQL = "status IN ('held', 'awaiting_confirmation', 'confirmed', 'completed', 'no_show')"

// Facility is a place where doctors give visits (C1, C2).
type Facility struct {
	bun.BaseModel `bun:"table:calendar_facilities,alias:fa"`

	TenantID       string    `bun:"tenant_id,pk"`
	ID             string    `bun:"id,pk"`
	Name           string    `bun:"name"`
	Address        string    `bun:"address"`
	PostalCode     string    `bun:"postal_code"`
	City           string    `bun:"city"`
	CityKey        string    `bun:"city_key"` // City folded for search
	Latitude       *float64  `bun:"latitude"`
	Longitude      *float64  `bun:"longitude"`
	OpeningHours   string    `bun:"opening_hours"`
	Phone          string    `bun:"phone"`
	Email          string    `bun:"email"`
	RegisterNumber string    `bun:"register_number"` // register of medical entities
	OwnerKind      string    `bun:"owner_kind"`
	OwnerRef       string    `bun:"owner_ref"`
	UserID         string    `bun:"user_id"`
	CreatedAt      time.Time `bun:"created_at"`
	UpdatedAt      time.Time `bun:"updated_at"`
	// RemovedAt: the administrator removed it from the directory (C1).
	RemovedAt bun.NullTime `bun:"removed_at"`
}

// Doctor is a doctor of the directory (C1). Bookable says whether he takes bookings online
// at all; OnlineCalendar whether he keeps his calendar online now (C15: stopped at
// CalendarStoppedAt, later bookings show only date and time with a note).
type Doctor struct {
	bun.BaseModel `bun:"table:calendar_doctors,alias:dr"`

	TenantID          string       `bun:"tenant_id,pk"`
	ID                string       `bun:"id,pk"`
	Title             string       `bun:"title"`
	FirstName         string       `bun:"first_name"`
	LastName          string       `bun:"last_name"`
	LicenceNumber     string       `bun:"licence_number"`
	Description       string       `bun:"description"`
	Competences       string       `bun:"competences"`
	Languages         string       `bun:"languages"` // locale codes, comma-separated
	Bookable          bool         `bun:"bookable"`
	OnlineCalendar    bool         `bun:"online_calendar"`
	CalendarStoppedAt bun.NullTime `bun:"calendar_stopped_at"`
	OwnerKind         string       `bun:"owner_kind"`
	OwnerRef          string       `bun:"owner_ref"`
	UserID            string       `bun:"user_id"`
	// SearchKey is the folded text a keyword search reads: names, competences, and the
	// specialties' names in every language.
	SearchKey string    `bun:"search_key"`
	PhotoBlob string    `bun:"photo_blob"` // the photo's blob, or ""
	CreatedAt time.Time `bun:"created_at"`
	UpdatedAt time.Time `bun:"updated_at"`
	// RemovedAt: the administrator removed him from the directory (C1); his bookings stay.
	RemovedAt bun.NullTime `bun:"removed_at"`
}

// DoctorSpecialty is one specialty a doctor gives visits in (a code; its name is in the
// locale files, calendar.specialty.<code>).
type DoctorSpecialty struct {
	bun.BaseModel `bun:"table:calendar_doctor_specialties,alias:ds"`

	TenantID  string `bun:"tenant_id,pk"`
	DoctorID  string `bun:"doctor_id,pk"`
	Specialty string `bun:"specialty,pk"`
}

// DoctorFacility says a doctor works at a facility.
type DoctorFacility struct {
	bun.BaseModel `bun:"table:calendar_doctor_facilities,alias:df"`

	TenantID   string `bun:"tenant_id,pk"`
	DoctorID   string `bun:"doctor_id,pk"`
	FacilityID string `bun:"facility_id,pk"`
	// BufferMinutes is kept free before and after each of his visits there (C4).
	BufferMinutes int `bun:"buffer_minutes"`
}

// Service is a visit a doctor gives at a facility: its length and gross price, VAT
// included, in minor units of the currency (C4, C5).
type Service struct {
	bun.BaseModel `bun:"table:calendar_services,alias:sv"`

	TenantID        string    `bun:"tenant_id,pk"`
	ID              string    `bun:"id,pk"`
	DoctorID        string    `bun:"doctor_id"`
	FacilityID      string    `bun:"facility_id"`
	Name            string    `bun:"name"`
	Specialty       string    `bun:"specialty"`
	DurationMinutes int       `bun:"duration_minutes"`
	PriceMinor      int64     `bun:"price_minor"`
	Currency        string    `bun:"currency"`
	VATIncluded     bool      `bun:"vat_included"`
	Active          bool      `bun:"active"`
	CreatedAt       time.Time `bun:"created_at"`
}

// Window is a weekly window of a doctor at a facility, in the tenant's local time (C4).
type Window struct {
	bun.BaseModel `bun:"table:calendar_windows,alias:wi"`

	TenantID    string `bun:"tenant_id,pk"`
	ID          string `bun:"id,pk"`
	DoctorID    string `bun:"doctor_id"`
	FacilityID  string `bun:"facility_id"`
	Weekday     int    `bun:"weekday"` // ISO: 1 Monday … 7 Sunday
	StartMinute int    `bun:"start_minute"`
	EndMinute   int    `bun:"end_minute"`
	ValidFrom   string `bun:"valid_from"`  // YYYY-MM-DD, or "" from always
	ValidUntil  string `bun:"valid_until"` // YYYY-MM-DD inclusive, or "" for ever
}

// Exception is an absence of a doctor (at one facility, or all when FacilityID is ""), or
// an extra window.
type Exception struct {
	bun.BaseModel `bun:"table:calendar_exceptions,alias:ex"`

	TenantID   string    `bun:"tenant_id,pk"`
	ID         string    `bun:"id,pk"`
	DoctorID   string    `bun:"doctor_id"`
	FacilityID string    `bun:"facility_id"`
	Kind       string    `bun:"kind"` // absence, extra
	StartsAt   time.Time `bun:"starts_at"`
	EndsAt     time.Time `bun:"ends_at"`
	Note       string    `bun:"note"`
}

// Booking is a visit booked with a doctor (C5–C11).
type Booking struct {
	bun.BaseModel `bun:"table:calendar_bookings,alias:bk"`

	TenantID    string    `bun:"tenant_id,pk"`
	ID          string    `bun:"id,pk"`
	DoctorID    string    `bun:"doctor_id"`
	FacilityID  string    `bun:"facility_id"`
	ServiceID   string    `bun:"service_id"`
	ServiceName string    `bun:"service_name"`
	Specialty   string    `bun:"specialty"`
	PriceMinor  int64     `bun:"price_minor"`
	Currency    string    `bun:"currency"`
	StartsAt    time.Time `bun:"starts_at"`
	EndsAt      time.Time `bun:"ends_at"`
	// VisitDay is the visit's date in the tenant's time zone; DaySlot the place among the
	// patient's bookings with this doctor that day (1…the tenant's limit, C8).
	VisitDay         string       `bun:"visit_day"`
	DaySlot          int          `bun:"day_slot"`
	Status           string       `bun:"status"`
	PatientFirstName string       `bun:"patient_first_name"`
	PatientLastName  string       `bun:"patient_last_name"`
	PESEL            string       `bun:"pesel"`
	Email            string       `bun:"email"`
	Mobile           string       `bun:"mobile"`
	UserID           string       `bun:"user_id"`   // the patient's account, if any
	BookedBy         string       `bun:"booked_by"` // the account that booked, if any
	ForOther         bool         `bun:"for_other"`
	TermsVersion     string       `bun:"terms_version"`
	Consents         string       `bun:"consents"` // the consents given, comma-separated
	CancelReason     string       `bun:"cancel_reason"`
	CreatedAt        time.Time    `bun:"created_at"`
	HoldExpiresAt    bun.NullTime `bun:"hold_expires_at"`
	ConfirmedAt      bun.NullTime `bun:"confirmed_at"`
	CancelledAt      bun.NullTime `bun:"cancelled_at"`
	// DocumentsRequestedAt: when the doctor asked the patient for documents confirming the
	// booking data (C14), with his note.
	DocumentsRequestedAt bun.NullTime `bun:"documents_requested_at"`
	DocumentsNote        string       `bun:"documents_note"`
	// HeldUntil is the end of the doctor's time the booking holds while it is live: its end
	// and the buffer the doctor keeps after each visit at the facility (C4, C9). The
	// database refuses two live bookings whose [starts_at, held_until) overlap, so two
	// visits are never closer than the buffer.
	HeldUntil time.Time `bun:"held_until"`
}

var _ bun.BeforeAppendModelHook = (*Booking)(nil)

// BeforeAppendModel makes a booking stored without its hold (a booking written outside
// reserve) hold at least its own time.
func (b *Booking) BeforeAppendModel(_ context.Context, q bun.Query) error {
	if _, ok := q.(*bun.InsertQuery); ok && b.HeldUntil.Before(b.EndsAt) {
		b.HeldUntil = b.EndsAt
	}
	return nil
}

// slotCell is a 5-minute cell of a doctor's time a live booking holds (SQLite's guard of
// C9; PostgreSQL holds it with an exclusion constraint).
type slotCell struct {
	bun.BaseModel `bun:"table:calendar_slot_cells,alias:sc"`

	TenantID  string    `bun:"tenant_id,pk"`
	DoctorID  string    `bun:"doctor_id,pk"`
	CellAt    time.Time `bun:"cell_at,pk"`
	BookingID string    `bun:"booking_id"`
}

// models are the module's tenant tables on every engine (kittest checks them).
var models = []any{(*Facility)(nil), (*Doctor)(nil), (*DoctorSpecialty)(nil), (*DoctorFacility)(nil),
	(*Service)(nil), (*Window)(nil), (*Exception)(nil), (*Booking)(nil),
	(*BlacklistEntry)(nil), (*PortalEntry)(nil), (*RemovalRequest)(nil), (*Waiter)(nil), (*Offer)(nil),
	(*Application)(nil), (*RightsRequest)(nil),
	(*confirmToken)(nil),
	(*Report)(nil), (*directoryState)(nil)}

// telHref is a phone number for a tel: link; telText the same number that never breaks
// across lines.
func telHref(s string) string { return strings.NewReplacer(" ", "", "\u00a0", "").Replace(s) }
func telText(s string) string { return strings.ReplaceAll(s, " ", "\u00a0") }

// PhoneHref and PhoneText are the facility's phone for a link and its text.
func (f Facility) PhoneHref() string { return telHref(f.Phone) }

// PhoneText is the facility's phone as its link's text.
func (f Facility) PhoneText() string { return telText(f.Phone) }

// MobileHref and MobileText are the patient's mobile for a link and its text.
func (b Booking) MobileHref() string { return telHref(b.Mobile) }

// MobileText is the patient's mobile as its link's text.
func (b Booking) MobileText() string { return telText(b.Mobile) }
