package calendar

import (
	"time"

	"github.com/uptrace/bun"
)

// RightsRequest is a person's request about the booking data a doctor keeps as its
// controller (C16): access, rectification, erasure or objection; anyone may make one,
// with or without an account, and the doctor answers before DueAt.
type RightsRequest struct {
	bun.BaseModel `bun:"table:calendar_rights_requests,alias:rr"`

	TenantID   string       `bun:"tenant_id,pk"`
	ID         string       `bun:"id,pk"`
	DoctorID   string       `bun:"doctor_id"`
	Kind       string       `bun:"kind"`
	Name       string       `bun:"name"`
	PESEL      string       `bun:"pesel"`
	Email      string       `bun:"email"`
	Message    string       `bun:"message"`
	UserID     string       `bun:"user_id"`
	Status     string       `bun:"status"` // open, done, refused
	Answer     string       `bun:"answer"`
	AnsweredBy string       `bun:"answered_by"`
	CreatedAt  time.Time    `bun:"created_at"`
	DueAt      time.Time    `bun:"due_at"`
	AnsweredAt bun.NullTime `bun:"answered_at"`
}
