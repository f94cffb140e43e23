package server

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"carenet.dev/platform/core/accounts"
	"carenet.dev/platform/core/audit"
	"carenet.dev/platform/core/authz"
	"carenet.dev/platform/core/db"
	"carenet.dev/platform/core/form"
	"carenet.dev/platform/core/jobs"
	"carenet.dev/platform/core/mail"
	"carenet.dev/platform/core/tenancy"
)

// Credential changes by the operator (P2, B10 [001 art. 3]): a tenant admin schedules, on a
// user's page, a new login address and/or a password reset with its reason; the holder is
// told at once by e-mail (and by SMS when the tenant sends SMS and he gave a mobile number),
// in his language, of what changes, why and from which day (the tenant's notice in business
// days); a durable job applies it on that day, unless the admin cancelled it before.

// Audit actions of credential changes.
const (
	ActCredentialChangeScheduled = "admin.credential_change_scheduled"
	ActCredentialChangeCancelled = "admin.credential_change_cancelled"
	ActCredentialChangeApplied   = "account.credential_change_applied"
)

// Jobs and messages of credential changes.
const (
	jobCredentialChange        = "core.credential_change"
	jobCredentialChangeSweep   = "core.credential_change_sweep"
	tmplCredentialNotice       = "credential_notice"
	tmplCredentialCancelled    = "credential_cancelled"
	tmplCredentialEmailApplied = "credential_email_applied"
	tmplCredentialPassword     = "credential_password"
)

func init() {
	CoreAuditActions = append(CoreAuditActions, ActCredentialChangeScheduled, ActCredentialChangeCancelled, ActCredentialChangeApplied)
	coreTemplates = append(coreTemplates, tmplCredentialNotice, tmplCredentialCancelled, tmplCredentialEmailApplied, tmplCredentialPassword)
	coreJobs[jobCredentialChange] = coreJob{Run: func(ctx context.Context, s *Server, t *tenancy.Tenant, payload []byte) error {
		return s.applyCredentialChange(ctx, t, string(payload))
	}}
	// The safety net: a change whose job was lost is applied all the same.
	coreJobs[jobCredentialChangeSweep] = coreJob{Cron: "*/15 * * * *", Run: func(ctx context.Context, s *Server, t *tenancy.Tenant, _ []byte) error {
		due, err := s.Accounts.CredentialChangesDue(ctx, t.ID)
		if err != nil {
			return err
		}
		for _, ch := range due {
			if err := s.applyCredentialChange(ctx, t, ch.ID); err != nil {
				return err
			}
		}
		return nil
	}}
}

func (s *Server) bindCredentials() {
	s.post("/admin/users/:id/credentials", authz.PermAdminUsers, s.scheduleCredentialChange)
	s.post("/admin/users/:id/credentials/:change/cancel", authz.PermAdminUsers, s.cancelCredentialChange)
}

// credentialData is what the user page shows of credential changes: the account's changes,
// the notice and the day a change scheduled now would take effect.
func (s *Server) credentialData(c *fiber.Ctx, u *accounts.User, data map[string]any) error {
	st := St(c)
	list, err := s.Accounts.CredentialChanges(c.UserContext(), st.Tenant.ID, u.ID)
	if err != nil {
		return err
	}
	data["CredentialChanges"] = list
	data["CredentialNotice"] = int(st.Tenant.IntRule(accounts.RuleCredentialNoticeDays))
	data["CredentialDay"] = accounts.CredentialChangeDay(st.Tenant, s.Accounts.Now())
	return nil
}

func credentialKey(id string) string { return "credential_change:" + id }

// scheduleCredentialChange records the change, schedules its job and tells the holder.
func (s *Server) scheduleCredentialChange(c *fiber.Ctx) error {
	st := St(c)
	u, err := s.actOn(c)
	if err != nil {
		return s.outOfReach(c, err)
	}
	f := &Form{Values: values(c, "new_email", "reset_password", "change_reason")}
	ch, err := s.Accounts.ScheduleCredentialChange(c.UserContext(), st.Tenant, u, c.FormValue("new_email"), c.FormValue("reset_password") != "",
		c.FormValue("change_reason"), st.User.ID, func(ctx context.Context, sc *db.Scope, ch *accounts.CredentialChange) error {
			_, err := s.Jobs.EnqueueIn(ctx, sc, jobs.Spec{Module: jobs.CoreModule, Name: jobCredentialChange, Key: credentialKey(ch.ID),
				At: ch.EffectiveAt, Payload: []byte(ch.ID)})
			return err
		})
	var ferr form.Errors
	switch {
	case errors.As(err, &ferr):
		f.Errors = ferr
		return s.renderAdminUser(c, fiber.StatusUnprocessableEntity, u, f)
	case errors.Is(err, accounts.ErrChangeWaiting):
		f.Errors = form.Errors{"new_email": "admin.credentials.waiting"}
		return s.renderAdminUser(c, fiber.StatusConflict, u, f)
	case err != nil:
		return err
	}
	if err := s.record(c, "", ActCredentialChangeScheduled, u.ID, "user:"+u.ID, map[string]any{"change": ch.ID,
		"new_email": ch.NewEmail != "", "reset_password": ch.ResetPassword,
		"effective_at": ch.EffectiveAt.Format(time.RFC3339)}); err != nil {
		return err
	}
	if err := s.noticeCredentialChange(c.UserContext(), st.Tenant, u, ch); err != nil {
		return err
	}
	s.flash(c, "admin.credentials.scheduled")
	return c.Redirect(st.URL("/admin/users/"+u.ID)+"#credentials", fiber.StatusSeeOther)
}

// credentialWhat says what a change does, in lang: one sentence per change.
func (s *Server) credentialWhat(lang string, ch *accounts.CredentialChange) string {
	loc := s.I18n.For(lang)
	var parts []string
	if ch.NewEmail != "" {
		parts = append(parts, loc.T("admin.credentials.what_email", "Email", ch.NewEmail))
	}
	if ch.ResetPassword {
		parts = append(parts, loc.T("admin.credentials.what_password"))
	}
	return strings.Join(parts, " ")
}

// noticeCredentialChange tells the holder of a scheduled change by e-mail, and by SMS when
// the tenant sends SMS and he gave a mobile number.
func (s *Server) noticeCredentialChange(ctx context.Context, t *tenancy.Tenant, u *accounts.User, ch *accounts.CredentialChange) error {
	lang := t.Lang(u.Locale, "")
	day := formatDay(lang, ch.EffectiveAt, t)
	if err := s.sendMail(ctx, t, u.Email, u.Name, lang, tmplCredentialNotice, s.absLink(t, u.Portal, "/login"),
		"Date", day, "What", s.credentialWhat(lang, ch), "Reason", ch.Reason); err != nil {
		return err
	}
	return s.sendUserSMS(ctx, t, u, lang, tmplCredentialNotice, "Date", day)
}

// sendUserSMS sends the core's SMS "sms.<tmpl>" (or the tenant's wording of it) to the
// user's mobile number. A tenant that has not switched SMS on, or a user without a valid
// mobile number, gets none; the log says why (P7).
func (s *Server) sendUserSMS(ctx context.Context, t *tenancy.Tenant, u *accounts.User, lang, tmpl string, kv ...any) error {
	if !t.BoolRule("notifications.sms") {
		return nil
	}
	raw := strings.TrimSpace(u.Profile["mobile"])
	if raw == "" {
		return nil
	}
	to, key := accounts.NormalizeMobile(raw, t.Settings.Country)
	if key != "" {
		s.Log.Info("sms not sent: the user's mobile number is not valid", "tenant", t.Slug, "template", tmpl, "user", u.ID)
		return nil
	}
	text, err := mailer{s}.SMSText(ctx, t, lang, tmpl, append([]any{"Tenant", t.Settings.Branding.Name}, kv...)...)
	if err != nil {
		return err
	}
	_, err = s.Mail.Send(ctx, t, mail.Message{Channel: "sms", To: to, Subject: s.I18n.For(lang).T("mail." + tmpl + ".name"),
		Text: text, Template: tmpl, Locale: lang})
	return err
}

// cancelCredentialChange cancels a waiting change before its day and tells the holder.
func (s *Server) cancelCredentialChange(c *fiber.Ctx) error {
	st := St(c)
	u, err := s.actOn(c)
	if err != nil {
		return s.outOfReach(c, err)
	}
	id := c.Params("change")
	if len(id) > 64 {
		return fiber.ErrNotFound
	}
	ch, err := s.Accounts.CancelCredentialChange(c.UserContext(), st.Tenant, u.ID, id, st.User.ID)
	if errors.Is(err, accounts.ErrNoChange) {
		s.flash(c, "admin.credentials.not_cancellable")
		return c.Redirect(st.URL("/admin/users/"+u.ID)+"#credentials", fiber.StatusSeeOther)
	}
	if err != nil {
		return err
	}
	if err := s.Jobs.Cancel(c.UserContext(), st.Tenant.ID, jobs.CoreModule, credentialKey(ch.ID)); err != nil {
		return err
	}
	if err := s.record(c, "", ActCredentialChangeCancelled, u.ID, "user:"+u.ID, map[string]any{"change": ch.ID}); err != nil {
		return err
	}
	lang := st.Tenant.Lang(u.Locale, "")
	if err := s.sendMail(c.UserContext(), st.Tenant, u.Email, u.Name, lang, tmplCredentialCancelled, "",
		"Date", formatDay(lang, ch.EffectiveAt, st.Tenant)); err != nil {
		return err
	}
	s.flash(c, "admin.credentials.cancelled")
	return c.Redirect(st.URL("/admin/users/"+u.ID)+"#credentials", fiber.StatusSeeOther)
}

// applyCredentialChange applies a change on its day: a new login address is told at both
// addresses; a password reset sends the link that sets a new one. A change cancelled or
// applied already is nothing to do; one whose new address became another account's is
// marked failed (the admin sees it on the user's page) and the holder keeps his address.
func (s *Server) applyCredentialChange(ctx context.Context, t *tenancy.Tenant, id string) error {
	done, err := s.Accounts.ApplyCredentialChange(ctx, t, id)
	switch {
	case errors.Is(err, accounts.ErrNoChange):
		return nil
	case errors.Is(err, accounts.ErrEmailTaken):
		s.Log.Warn("credential change failed: the new address belongs to another account", "tenant", t.Slug, "change", id)
		return nil
	case err != nil:
		return fmt.Errorf("credential change: %w", err)
	}
	u, ch := done.User, done.Change
	if err := s.Trail.Append(ctx, t.ID, audit.Entry{Actor: ch.CreatedBy, Action: ActCredentialChangeApplied, Subject: u.ID,
		Resource: "user:" + u.ID, Detail: map[string]any{"change": ch.ID, "new_email": ch.NewEmail != "", "reset_password": ch.ResetPassword}}); err != nil {
		return err
	}
	lang := t.Lang(u.Locale, "")
	if ch.NewEmail != "" {
		// Both addresses are told: the new one that it now signs in, the old one that it no
		// longer does.
		for _, to := range []string{u.Email, done.OldEmail} {
			if err := s.sendMail(ctx, t, to, u.Name, lang, tmplCredentialEmailApplied, s.absLink(t, u.Portal, "/login"),
				"Email", u.Email, "Date", formatDay(lang, ch.NoticedAt, t)); err != nil {
				return err
			}
		}
	}
	if ch.ResetPassword {
		if _, err := s.sendMailWith(ctx, t, u.Email, u.Name, lang, tmplCredentialPassword,
			s.absLink(t, u.Portal, "/reset/confirm?token="+done.Token), mail.Message{Secret: true},
			"Count", t.IntRule("account.verification_hours")); err != nil {
			return err
		}
	}
	return nil
}
