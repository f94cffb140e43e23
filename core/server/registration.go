package server

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/uptrace/bun"

	"carenet.dev/platform/core/accounts"
	"carenet.dev/platform/core/db"
	"carenet.dev/platform/core/jobs"
	"carenet.dev/platform/core/tenancy"
	"carenet.dev/platform/core/terms"
)

// jobRegistration is the core job that acts on a registration (queueRegistration).
const jobRegistration = "core.registration"

// registration is a registration waiting for its job: what the form held, checked and
// hashed, and what the person accepted, when and from where.
type registration struct {
	bun.BaseModel `bun:"table:registrations,alias:rg"`

	TenantID  string    `bun:"tenant_id,pk"`
	ID        string    `bun:"id,pk"`
	Data      string    `bun:"data"`
	CreatedAt time.Time `bun:"created_at"`
}

// registrationData is a registration's data column.
type registrationData struct {
	Account accounts.Pending `json:"account"`
	// The platform's terms in force when the form was sent (none when the tenant has none).
	TermsID      string          `json:"terms_id,omitempty"`
	TermsDoc     string          `json:"terms_doc,omitempty"`
	TermsVersion int             `json:"terms_version,omitempty"`
	Consents     map[string]bool `json:"consents"`
	IP           string          `json:"ip"`
	Lang         string          `json:"lang"`
	// The links on the host the form came through: verification (without its token) and
	// password reset.
	VerifyLink string `json:"verify_link"`
	ResetLink  string `json:"reset_link"`
}

func init() {
	coreJobs[jobRegistration] = coreJob{Run: func(ctx context.Context, s *Server, t *tenancy.Tenant, payload []byte) error {
		return s.actOnRegistration(ctx, t, string(payload))
	}}
}

// queueRegistration hashes a checked registration, keeps it with what the person accepted
// and queues the job that acts on it: one row and one job, whatever the address (P2).
func (s *Server) queueRegistration(c *fiber.Ctx, in accounts.RegisterInput, extra []accounts.Field) error {
	st := St(c)
	ctx := c.UserContext()
	p, err := s.Accounts.Prepare(st.Tenant, in, extra)
	if err != nil {
		return err
	}
	d := registrationData{Account: *p, Consents: map[string]bool{terms.ConsentDataProcessing: true}, IP: c.IP(), Lang: st.Lang,
		VerifyLink: s.absURL(c, "/verify?token="), ResetLink: s.absURL(c, "/reset")}
	if v, err := s.Terms.InForce(ctx, st.Tenant.ID, terms.DocPlatform); err == nil {
		d.TermsID, d.TermsDoc, d.TermsVersion = v.ID, v.Doc, v.Version
	} else if !errors.Is(err, terms.ErrNotFound) {
		return err
	}
	for _, k := range consentKinds(st.Tenant) {
		d.Consents[k] = c.FormValue("consent_"+k) == "yes"
	}
	// E2: the declarations made (majority by marriage, full legal capacity), recorded with
	// the account as granted consents of their kinds.
	for _, k := range in.Declarations(st.Tenant) {
		d.Consents[k] = true
	}
	raw, err := json.Marshal(d)
	if err != nil {
		return err
	}
	r := &registration{TenantID: st.Tenant.ID, ID: tenancy.NewID(), Data: string(raw), CreatedAt: p.At}
	return s.DB.InTenant(ctx, st.Tenant.ID, func(ctx context.Context, sc *db.Scope) error {
		if _, err := sc.Insert(r).Exec(ctx); err != nil {
			return err
		}
		_, err := s.Jobs.EnqueueIn(ctx, sc, jobs.Spec{Module: jobs.CoreModule, Name: jobRegistration, Key: "registration:" + r.ID,
			At: time.Now(), Payload: []byte(r.ID)})
		return err
	})
}

// actOnRegistration makes the account of a waiting registration and mails the verification
// link — or, when the address has an account already, tells its owner instead of the person
// at the form. The row goes in the transaction that makes the account (a failure leaves it
// for the job's next attempt), or once the owner of a known address is told.
func (s *Server) actOnRegistration(ctx context.Context, t *tenancy.Tenant, id string) error {
	var r registration
	err := s.DB.ReadTenant(ctx, t.ID, func(ctx context.Context, sc *db.Scope) error {
		return sc.Select(&r).Where("id = ?", id).Scan(ctx)
	})
	if errors.Is(err, sql.ErrNoRows) {
		return nil // acted on already
	}
	if err != nil {
		return err
	}
	forget := func(ctx context.Context, sc *db.Scope) error {
		_, err := sc.Delete((*registration)(nil)).Where("id = ?", id).Exec(ctx)
		return err
	}
	var d registrationData
	if err := json.Unmarshal([]byte(r.Data), &d); err != nil {
		return fmt.Errorf("registration %s: %w", id, err)
	}
	u, token, created, err := s.Accounts.Create(ctx, t, &d.Account, func(ctx context.Context, sc *db.Scope, userID string) error {
		if err := forget(ctx, sc); err != nil {
			return err
		}
		if d.TermsID != "" {
			v := &terms.Version{ID: d.TermsID, Doc: d.TermsDoc, Version: d.TermsVersion}
			if err := s.Terms.AcceptAt(ctx, sc, userID, v, d.IP, d.Lang, terms.Explicit, d.Account.At); err != nil {
				return err
			}
		}
		for k, granted := range d.Consents {
			if err := s.Terms.SetConsent(ctx, sc, userID, k, granted, d.IP); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	if created {
		return s.sendMail(ctx, t, u.Email, u.Name, d.Lang, "verify", d.VerifyLink+token,
			"Hours", t.IntRule("account.verification_hours"))
	}
	// The address has an account already: tell its owner, not the person at the form.
	if err := s.DB.InTenant(ctx, t.ID, forget); err != nil {
		return err
	}
	return s.sendMail(ctx, t, u.Email, u.Name, t.Lang(u.Locale, d.Lang), "exists", d.ResetLink)
}
