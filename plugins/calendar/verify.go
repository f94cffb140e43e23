package calendar

import (
	"time"

	"github.com/uptrace/bun"
)

// Application is an account's request to be a doctor or a facility of the directory (C2):
// the administrator checks the register number and the documents before the role is given.
type Application struct {
	bun.BaseModel `bun:"table:calendar_applications,alias:ap"`

	TenantID       string       `bun:"tenant_id,pk"`
	ID             string       `bun:"id,pk"`
	UserID         string       `bun:"user_id"`
	Kind           string       `bun:"kind"`            // doctor, facility
	RegisterNumber string       `bun:"register_number"` // NPWZ, or the register of medical entities
	Name           string       `bun:"name"`            // the facility's name; "" for a doctor
	City           string       `bun:"city"`
	Documents      string       `bun:"documents"` // blob ids, comma-separated
	Status         string       `bun:"status"`    // pending, approved, refused
	Reason         string       `bun:"reason"`
	DecidedBy      string       `bun:"decided_by"`
	CreatedAt      time.Time    `bun:"created_at"`
	DecidedAt      bun.NullTime `bun:"decided_at"`
}
