package server

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/alexedwards/argon2id"
	"github.com/gofiber/fiber/v2"

	"carenet.dev/platform/core/accounts"
	"carenet.dev/platform/core/authz"
	"carenet.dev/platform/core/db"
	"carenet.dev/platform/core/form"
	"carenet.dev/platform/core/jobs"
	"carenet.dev/platform/core/tenancy"
	"carenet.dev/platform/core/terms"
	"carenet.dev/platform/plugins/kit/country"
	"carenet.dev/platform/plugins/kit/natid"
)

// The account holder's login address and his consent to the processing of his data (E2):
// changing the address (a link to the new one must be followed first; the old one is told),
// and withdrawing the consent, which closes the account after the tenant's notice unless he
// gives it again before.

// Audit actions of this file.
const (
	ActEmailChangeAsked = "account.email_change_asked"
	ActEmailChanged     = "account.email_changed"
	ActConsentWithdrawn = "account.consent_withdrawn"
	ActConsentRestored  = "account.consent_restored"
)

// Jobs: the closing of one account on its day, and the sweep that closes any whose job was
// lost (the safety net).
const (
	jobCloseWithdrawn      = "core.close_withdrawn"
	jobSweepWithdrawn      = "core.close_withdrawn_sweep"
	tmplEmailChange        = "email_change"
	tmplEmailChanged       = "email_changed"
	tmplEmailTaken         = "email_taken"
	tmplConsentWithdrawn   = "consent_withdrawn"
	tmplConsentRestored    = "consent_restored"
	tmplClosedWithdrawn    = "closed_withdrawn"
	closedWithdrawnAppeals = "account.closed_appeal_days"
)

func init() {
	CoreAuditActions = append(CoreAuditActions, ActEmailChangeAsked, ActEmailChanged, ActConsentWithdrawn, ActConsentRestored)
	coreTemplates = append(coreTemplates, tmplEmailChange, tmplEmailChanged, tmplEmailTaken, tmplConsentWithdrawn, tmplConsentRestored,
		tmplClosedWithdrawn)
	coreJobs[jobCloseWithdrawn] = coreJob{Run: func(ctx context.Context, s *Server, t *tenancy.Tenant, payload []byte) error {
		return s.closeWithdrawn(ctx, t, string(payload))
	}}
	coreJobs[jobSweepWithdrawn] = coreJob{Cron: "7 * * * *", Run: func(ctx context.Context, s *Server, t *tenancy.Tenant, _ []byte) error {
		due, err := s.Accounts.ClosingDue(ctx, t.ID)
		if err != nil {
			return err
		}
		for _, u := range due {
			if err := s.closeWithdrawn(ctx, t, u.ID); err != nil {
				return err
			}
		}
		return nil
	}}
}

func (s *Server) bindPeople() {
	s.post("/account/email", authz.PermAccount, s.limitByIP("reset", "security.reset_per_ip"), s.askEmailChange)
	s.get("/account/email/confirm", authz.PermPublic, s.emailConfirmForm)
	s.post("/account/email/confirm", authz.PermPublic, s.limitByIP("reset", "security.reset_per_ip"), s.confirmEmailChange)
	s.post("/account/consent/withdraw", authz.PermAccount, s.withdrawConsent)
	s.post("/account/consent/restore", authz.PermAccount, s.restoreConsent)
}

// peopleData adds to the account page what this file shows: the address a change link waits
// for, and the day the account closes after a withdrawal.
func (s *Server) peopleData(c *fiber.Ctx, data map[string]any) {
	st := St(c)
	pending, err := s.Accounts.PendingEmail(c.UserContext(), st.Tenant.ID, st.User.ID)
	if err != nil {
		s.Log.Error("pending e-mail", "request_id", st.RequestID, "err", err)
	}
	data["PendingEmail"] = pending
	// E15: what the account keeps of the person, each registration field by its label.
	data["Profile"] = s.keptRows(st, st.User)
	// The day the account would close if the consent were withdrawn today.
	data["WithdrawOn"] = formatDay(st.Lang, s.Accounts.Now().AddDate(0, 0, int(st.Tenant.IntRule(accounts.RuleWithdrawalNoticeDays))), st.Tenant)
	if !st.User.ClosingAt.IsZero() {
		data["ClosingOn"] = formatDay(st.Lang, st.User.ClosingAt.Time, st.Tenant)
	}
}

func (s *Server) renderAccountForm(c *fiber.Ctx, which string, values map[string]string, errs form.Errors) error {
	st := St(c)
	if values == nil {
		values = map[string]string{}
	}
	values["name"] = st.User.Name
	return s.render(c, fiber.StatusUnprocessableEntity, "account", "account.title", s.accountData(c, which, st.User.Locale),
		&Form{Values: values, Errors: errs})
}

// askEmailChange sends the link that confirms a new login address. The answer is the same
// whether the address is free or another account's (that account's owner is told instead),
// so the form tells nobody which addresses have accounts.
func (s *Server) askEmailChange(c *fiber.Ctx) error {
	st := St(c)
	newEmail := c.FormValue("new_email")
	token, err := s.Accounts.RequestEmailChange(c.UserContext(), st.Tenant, st.User, c.FormValue("email_password"), newEmail)
	var ferr form.Errors
	switch {
	case errors.As(err, &ferr):
		return s.renderAccountForm(c, "email", map[string]string{"new_email": newEmail}, ferr)
	case errors.Is(err, accounts.ErrEmailTaken):
		if err := s.sendMail(c.UserContext(), st.Tenant, accounts.NormalizeEmail(newEmail), "", st.Lang, tmplEmailTaken, s.absURL(c, "/reset")); err != nil {
			return err
		}
	case err != nil:
		return err
	default:
		if err := s.sendMail(c.UserContext(), st.Tenant, accounts.NormalizeEmail(newEmail), st.User.Name, st.Lang, tmplEmailChange,
			s.absURL(c, "/account/email/confirm?token=")+token, "Hours", st.Tenant.IntRule("account.verification_hours")); err != nil {
			return err
		}
	}
	if err := s.record(c, "", ActEmailChangeAsked, st.User.ID, "user:"+st.User.ID, nil); err != nil {
		return err
	}
	s.flash(c, "account.email.sent")
	return c.Redirect(st.URL("/account")+"#email", fiber.StatusSeeOther)
}

// emailConfirmForm shows the button that confirms the new address: following the link
// changes nothing by itself (a mail scanner that opens it does not spend it).
func (s *Server) emailConfirmForm(c *fiber.Ctx) error {
	return s.render(c, fiber.StatusOK, "email_confirm", "account.email.confirm_title", nil,
		&Form{Values: map[string]string{"token": c.Query("token")}})
}

func (s *Server) confirmEmailChange(c *fiber.Ctx) error {
	st := St(c)
	ch, err := s.Accounts.ConfirmEmailChange(c.UserContext(), st.Tenant, c.FormValue("token"))
	switch {
	case errors.Is(err, accounts.ErrTokenInvalid):
		return s.message(c, fiber.StatusBadRequest, "account.email.invalid_title", messageData{
			Lines: []string{"account.email.invalid_text"}, LinkKey: "nav.account", LinkHref: "/account"})
	case errors.Is(err, accounts.ErrEmailTaken):
		return s.message(c, fiber.StatusConflict, "account.email.invalid_title", messageData{
			Lines: []string{"account.email.taken_text"}, LinkKey: "nav.account", LinkHref: "/account"})
	case err != nil:
		return err
	}
	u := ch.User
	if err := s.recordFor(c, ActEmailChanged, u.ID); err != nil {
		return err
	}
	// The old address is told, so that a change its owner did not make does not go unseen.
	lang := st.Tenant.Lang(u.Locale, st.Lang)
	if err := s.sendMail(c.UserContext(), st.Tenant, ch.OldEmail, u.Name, lang, tmplEmailChanged, s.absURL(c, "/reset"),
		"Email", u.Email); err != nil {
		return err
	}
	return s.message(c, fiber.StatusOK, "account.email.done_title", messageData{
		Lines: []string{"account.email.done_text"}, LinkKey: "nav.account", LinkHref: "/account"})
}

// recordFor records an action on the account userID, by its holder when he is the one signed
// in (a link may be followed in a browser signed out).
func (s *Server) recordFor(c *fiber.Ctx, action, userID string) error {
	return s.record(c, "", action, userID, "user:"+userID, nil)
}

// withdrawConsent withdraws the consent to the processing of data: confirmed by the
// password, it sets the day the account closes, schedules the closing and tells the holder.
func (s *Server) withdrawConsent(c *fiber.Ctx) error {
	st := St(c)
	u := st.User
	if ok, err := argon2id.ComparePasswordAndHash(c.FormValue("withdraw_password"), u.PasswordHash); err != nil || !ok {
		return s.renderAccountForm(c, "withdraw", nil, form.Errors{"withdraw_password": "account.password.current_wrong"})
	}
	at, err := s.Accounts.WithdrawConsent(c.UserContext(), st.Tenant, u.ID, func(ctx context.Context, sc *db.Scope, at time.Time) error {
		if err := s.Terms.SetConsent(ctx, sc, u.ID, terms.ConsentDataProcessing, false, c.IP()); err != nil {
			return err
		}
		// The durable job that closes the account on its day; its key is the withdrawal's.
		_, err := s.Jobs.EnqueueIn(ctx, sc, jobs.Spec{Module: jobs.CoreModule, Name: jobCloseWithdrawn,
			Key: "close_withdrawn:" + u.ID + ":" + strconv.FormatInt(at.UnixNano(), 10), At: at, Payload: []byte(u.ID)})
		return err
	})
	if errors.Is(err, accounts.ErrNoWithdrawal) {
		s.flash(c, "account.withdraw.pending")
		return c.Redirect(st.URL("/account")+"#consent", fiber.StatusSeeOther)
	}
	if err != nil {
		return err
	}
	if err := s.record(c, "", ActConsentWithdrawn, u.ID, "user:"+u.ID, map[string]any{"closing_at": at}); err != nil {
		return err
	}
	if err := s.sendMail(c.UserContext(), st.Tenant, u.Email, u.Name, st.Tenant.Lang(u.Locale, st.Lang), tmplConsentWithdrawn,
		s.absURL(c, "/account#consent"), "Date", formatDay(st.Tenant.Lang(u.Locale, st.Lang), at, st.Tenant)); err != nil {
		return err
	}
	s.flash(c, "account.withdraw.done")
	return c.Redirect(st.URL("/account")+"#consent", fiber.StatusSeeOther)
}

// restoreConsent gives the consent again before the closing day: the account stays.
func (s *Server) restoreConsent(c *fiber.Ctx) error {
	st := St(c)
	u := st.User
	err := s.Accounts.RestoreConsent(c.UserContext(), st.Tenant, u.ID, func(ctx context.Context, sc *db.Scope) error {
		return s.Terms.SetConsent(ctx, sc, u.ID, terms.ConsentDataProcessing, true, c.IP())
	})
	if errors.Is(err, accounts.ErrNoWithdrawal) {
		return c.Redirect(st.URL("/account")+"#consent", fiber.StatusSeeOther)
	}
	if err != nil {
		return err
	}
	if err := s.record(c, "", ActConsentRestored, u.ID, "user:"+u.ID, nil); err != nil {
		return err
	}
	if err := s.sendMail(c.UserContext(), st.Tenant, u.Email, u.Name, st.Tenant.Lang(u.Locale, st.Lang), tmplConsentRestored,
		s.absURL(c, "/account")); err != nil {
		return err
	}
	s.flash(c, "account.withdraw.restored")
	return c.Redirect(st.URL("/account")+"#consent", fiber.StatusSeeOther)
}

// closeWithdrawn closes the account userID on its day after a withdrawal that still stands,
// by the core's closure (the modules are told the account is deleted), and tells the person,
// with the way to appeal. A withdrawal cancelled meanwhile, or an account closed already, is
// nothing to do.
func (s *Server) closeWithdrawn(ctx context.Context, t *tenancy.Tenant, userID string) error {
	cl, u, err := s.Accounts.CloseWithdrawn(ctx, t, userID, int(t.IntRule(closedWithdrawnAppeals)))
	if errors.Is(err, accounts.ErrNoWithdrawal) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("close after withdrawal: %w", err)
	}
	s.Modules.Deliver(ctx, t)
	lang := t.Lang(u.Locale, "")
	if err := s.sendMail(ctx, t, u.Email, u.Name, lang, tmplClosedWithdrawn, s.absLink(t, u.Portal, appealPath),
		"Until", formatDay(lang, cl.AppealUntil, t)); err != nil {
		return err
	}
	s.Log.Info("account closed after consent withdrawal", "tenant", t.Slug)
	return nil
}

// keptRows are the registration fields stored with the account, each labelled in the page's
// language and its value in words (E15); a field no running module declares any more is
// left out rather than shown by its internal name.
func (s *Server) keptRows(st *State, u *accounts.User) []profileRow {
	p := &Page{State: st}
	var out []profileRow
	seen := map[string]bool{}
	for _, f := range s.Modules.RegistrationFields(st.Tenant) {
		v, ok := u.Profile[f.Name]
		if !ok || v == "" || seen[f.Name] {
			continue
		}
		seen[f.Name] = true
		key := f.LabelKey
		if f.Type == "national_id" && natid.Known(st.Tenant.Settings.Country) {
			key = "form.natid." + st.Tenant.Settings.Country + ".label"
		}
		if !st.Loc.Has(key) {
			continue
		}
		out = append(out, profileRow{Label: st.Loc.T(key), Value: p.ProfileValue(f.Type, v)})
	}
	return out
}

// CountryChoice describes a select of countries (a registration field of type "country",
// E2) for the "choice" partial: each country's name in the page's language, in its
// alphabetical order, the tenant's country first.
func (p *Page) CountryChoice(name, labelKey string, required bool) ChoiceView {
	v := ChoiceView{FieldView: p.F(name, labelKey, "select", "country", required), Choose: p.T("form.choose")}
	first := ""
	if p.Tenant != nil {
		first = p.Tenant.Settings.Country
	}
	for _, c := range country.Choices(p.Lang, first) {
		v.Options = append(v.Options, ChoiceOption{Value: c.Code, Label: c.Name, Selected: c.Code == v.Value})
	}
	return v
}

// SexChoice describes the select of a registration field of type "sex" (E2).
func (p *Page) SexChoice(name, labelKey string, required bool) ChoiceView {
	return p.Choice(name, labelKey, "account.dependants.sex.", accounts.Sexes, required)
}

// ProfileValue is a registration field's stored value as a person reads it: a country's
// name, a sex in words; other values as they are.
func (p *Page) ProfileValue(typ, v string) string {
	switch typ {
	case accounts.FieldCountry:
		if n := country.Name(p.Lang, v); n != "" {
			return n
		}
	case accounts.FieldSex:
		if key := "account.dependants.sex." + v; p.Loc != nil && p.Loc.Has(key) {
			return p.Loc.T(key)
		}
	}
	return v
}
