package server

// A second factor (issue 11, P2): the second step of sign-in, enrolment, and the account's
// second-factor page. The login handler hands over here when accounts.Login answers
// *accounts.SecondStepError (startSecondStep); the half-signed state lives in its own cookie
// and grants nothing until the second step opens the session.

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"html/template"
	"image/png"
	"net/url"
	"time"

	"github.com/alexedwards/argon2id"
	"github.com/gofiber/fiber/v2"
	"github.com/pquerna/otp"

	"carenet.dev/platform/core/accounts"
	"carenet.dev/platform/core/authz"
	"carenet.dev/platform/core/form"
)

// cookieSecondStep holds the token of the half-signed state.
const cookieSecondStep = "mfa"

// Audit actions of the second factor.
const (
	ActTOTPEnabled       = "account.mfa_totp_enabled"
	ActTOTPRemoved       = "account.mfa_totp_removed"
	ActPasskeyAdded      = "account.mfa_passkey_added"
	ActPasskeyRemoved    = "account.mfa_passkey_removed"
	ActRecoveryRenewed   = "account.mfa_recovery_renewed"
	ActRecoveryUsed      = "account.mfa_recovery_used"
	ActSecondFactorReset = "admin.mfa_reset"
)

func init() {
	CoreAuditActions = append(CoreAuditActions, ActTOTPEnabled, ActTOTPRemoved, ActPasskeyAdded, ActPasskeyRemoved,
		ActRecoveryRenewed, ActRecoveryUsed, ActSecondFactorReset)
}

func (s *Server) bindSecondFactor() {
	s.get("/login/second", authz.PermPublic, s.secondStepForm)
	s.post("/login/second", authz.PermPublic, s.limitByIP("login", "security.login_per_ip"), s.secondStepCode)
	s.post("/login/second/cancel", authz.PermPublic, s.secondStepCancel)
	s.post("/login/second/passkey/begin", authz.PermPublic, s.limitByIP("login", "security.login_per_ip"), s.secondStepPasskeyBegin)
	s.post("/login/second/passkey/finish", authz.PermPublic, s.limitByIP("login", "security.login_per_ip"), s.secondStepPasskeyFinish)
	s.get("/login/enrol", authz.PermPublic, s.enrolForm)
	s.post("/login/enrol", authz.PermPublic, s.limitByIP("login", "security.login_per_ip"), s.enrol)
	s.get("/account/security", authz.PermAccount, s.securityPage)
	s.get("/account/security/totp", authz.PermAccount, s.totpForm)
	s.post("/account/security/totp", authz.PermAccount, s.totpConfirm)
	s.post("/account/security/totp/remove", authz.PermAccount, s.totpRemove)
	s.post("/account/security/passkeys/begin", authz.PermAccount, s.passkeyBegin)
	s.post("/account/security/passkeys/finish", authz.PermAccount, s.passkeyFinish)
	s.post("/account/security/passkeys/:id/remove", authz.PermAccount, s.passkeyRemove)
	s.post("/account/security/recovery", authz.PermAccount, s.recoveryRenew)
	s.post("/admin/users/:id/second-factor/reset", authz.PermAdminUsers, s.adminResetSecondFactor)
}

// startSecondStep is where the login handler goes when the password was right and the
// account must pass a second step: the half-signed state opens (its own cookie, no session)
// and the person goes to the second step, or to enrolment if the tenant's rule asks for a
// factor the account does not have.
func (s *Server) startSecondStep(c *fiber.Ctx, second *accounts.SecondStepError) error {
	st := St(c)
	token, ch, err := s.Accounts.StartChallenge(c.UserContext(), st.Tenant, second.User.ID, second.Enrol, c.FormValue("next"))
	if err != nil {
		return err
	}
	// Whatever session this browser had ends now: the new one opens after the second step.
	if st.Token != "" {
		if err := s.Accounts.Logout(c.UserContext(), st.Tenant.ID, st.Token); err != nil {
			return err
		}
		s.clearCookie(c, cookieSession)
	}
	s.setCookie(c, cookieSecondStep, token, time.Until(ch.ExpiresAt))
	if second.Enrol {
		return c.Redirect(st.URL("/login/enrol"), fiber.StatusSeeOther)
	}
	return c.Redirect(st.URL("/login/second"), fiber.StatusSeeOther)
}

// challenge reads the browser's half-signed state; ok is false (and the person was sent back
// to the sign-in form) when there is none.
func (s *Server) challenge(c *fiber.Ctx) (ch *accounts.Challenge, u *accounts.User, ok bool, err error) {
	st := St(c)
	ch, u, err = s.Accounts.ChallengeUser(c.UserContext(), st.Tenant, c.Cookies(cookieSecondStep))
	if errors.Is(err, accounts.ErrChallengeInvalid) {
		s.clearCookie(c, cookieSecondStep)
		s.flash(c, "account.mfa.expired")
		return nil, nil, false, c.Redirect(st.URL("/login"), fiber.StatusSeeOther)
	}
	if err != nil {
		return nil, nil, false, err
	}
	return ch, u, true, nil
}

// codeLimited counts an attempt at a code of the account and reports whether it is over
// the tenant's rule (the answer, a 429 page, is then written).
func (s *Server) codeLimited(c *fiber.Ctx, userID string) (bool, error) {
	over, err := s.overLimit(c, codeBucket(userID), "security.second_factor_per_account")
	if err != nil || !over {
		return false, err
	}
	c.Set("Retry-After", "60")
	return true, nil
}

func codeBucket(userID string) string { return "mfa:account:" + userID }

// codeRight takes back the attempt of a code (or passkey) that was right: only wrong ones use
// up the account's limit.
func (s *Server) codeRight(c *fiber.Ctx, userID string) error { return s.unhit(c, codeBucket(userID)) }

// finishSignIn opens the signed-in browser after the second step: the session's cookie (a
// new session id), the person's language, and the half-signed state's cookie gone.
func (s *Server) finishSignIn(c *fiber.Ctx, u *accounts.User) error {
	st := St(c)
	res, err := s.Accounts.CompleteChallenge(c.UserContext(), st.Tenant, c.Cookies(cookieSecondStep), u, c.IP(), c.Get("User-Agent"))
	if err != nil {
		return err
	}
	s.clearCookie(c, cookieSecondStep)
	s.setCookie(c, cookieSession, res.Token, time.Until(res.Session.ExpiresAt))
	// A page this request still shows (the recovery codes, shown once) carries the new
	// session's form token: its language switch and its sign-out must not expire.
	st.Session, st.Token, st.User = res.Session, res.Token, u
	st.CSRF = s.csrfToken(st.Tenant.ID, "s:"+res.Session.ID)
	if u.Locale != "" && st.Tenant.AllowsLocale(u.Locale) {
		s.setCookie(c, cookieLang, u.Locale, 365*24*time.Hour)
	}
	return nil
}

func (s *Server) secondStepData(c *fiber.Ctx, u *accounts.User) (map[string]any, error) {
	f, err := s.Accounts.Factors(c.UserContext(), St(c).Tenant.ID, u.ID)
	if err != nil {
		return nil, err
	}
	return map[string]any{"TOTP": f.TOTP, "Passkeys": len(f.Passkeys) > 0, "Recovery": f.RecoveryLeft > 0}, nil
}

func (s *Server) secondStepForm(c *fiber.Ctx) error {
	ch, u, ok, err := s.challenge(c)
	if !ok {
		return err
	}
	if ch.Enrol {
		return c.Redirect(St(c).URL("/login/enrol"), fiber.StatusSeeOther)
	}
	data, err := s.secondStepData(c, u)
	if err != nil {
		return err
	}
	return s.render(c, fiber.StatusOK, "login_second", "account.mfa.second_title", data, nil)
}

// secondStepCode checks a TOTP or recovery code and, when right, signs the person in.
func (s *Server) secondStepCode(c *fiber.Ctx) error {
	st := St(c)
	ch, u, ok, err := s.challenge(c)
	if !ok {
		return err
	}
	if ch.Enrol {
		return c.Redirect(st.URL("/login/enrol"), fiber.StatusSeeOther)
	}
	data, err := s.secondStepData(c, u)
	if err != nil {
		return err
	}
	f := &Form{Values: map[string]string{}, Errors: form.Errors{}}
	if over, err := s.codeLimited(c, u.ID); err != nil || over {
		if err == nil {
			f.Errors.Add("code", "account.mfa.too_many")
			err = s.render(c, fiber.StatusTooManyRequests, "login_second", "account.mfa.second_title", data, f)
		}
		return err
	}
	recovery, err := s.Accounts.CheckCode(c.UserContext(), st.Tenant, u.ID, c.FormValue("code"))
	if errors.Is(err, accounts.ErrCodeWrong) {
		f.Errors.Add("code", "account.mfa.code_wrong")
		return s.render(c, fiber.StatusUnprocessableEntity, "login_second", "account.mfa.second_title", data, f)
	}
	if err != nil {
		return err
	}
	if err := s.codeRight(c, u.ID); err != nil {
		return err
	}
	if err := s.finishSignIn(c, u); err != nil {
		return err
	}
	if recovery {
		if err := s.record(c, "", ActRecoveryUsed, u.ID, "user:"+u.ID, nil); err != nil {
			return err
		}
		s.flash(c, "account.mfa.recovery_used")
	}
	return c.Redirect(s.landing(c, u, ch.Next), fiber.StatusSeeOther)
}

func (s *Server) secondStepCancel(c *fiber.Ctx) error {
	st := St(c)
	if tok := c.Cookies(cookieSecondStep); tok != "" {
		if err := s.Accounts.CancelChallenge(c.UserContext(), st.Tenant.ID, tok); err != nil {
			return err
		}
	}
	s.clearCookie(c, cookieSecondStep)
	return c.Redirect(st.URL("/login"), fiber.StatusSeeOther)
}

// relyingParty is the WebAuthn relying party of the request: the tenant's public URL for
// the host the request came to (its origin) and that host (RP ID).
func (s *Server) relyingParty(c *fiber.Ctx) (accounts.RP, error) {
	st := St(c)
	u, err := url.Parse(s.absURL(c, "/"))
	if err != nil || u.Host == "" {
		return accounts.RP{}, fiber.ErrBadRequest
	}
	return accounts.RP{ID: u.Hostname(), Origin: u.Scheme + "://" + u.Host, Name: st.Tenant.Settings.Branding.Name}, nil
}

// ceremonyBody is what the page's script posts to finish a passkey ceremony.
type ceremonyBody struct {
	Ceremony   string          `json:"ceremony"`
	Credential json.RawMessage `json:"credential"`
}

// jsonError answers the page's script: a sentence in the person's language.
func (s *Server) jsonError(c *fiber.Ctx, status int, key string) error {
	return c.Status(status).JSON(fiber.Map{"error": St(c).Loc.T(key)})
}

func (s *Server) secondStepPasskeyBegin(c *fiber.Ctx) error {
	st := St(c)
	ch, u, err := s.Accounts.ChallengeUser(c.UserContext(), st.Tenant, c.Cookies(cookieSecondStep))
	if errors.Is(err, accounts.ErrChallengeInvalid) || (err == nil && ch.Enrol) {
		return s.jsonError(c, fiber.StatusUnauthorized, "account.mfa.expired")
	}
	if err != nil {
		return err
	}
	rp, err := s.relyingParty(c)
	if err != nil {
		return err
	}
	opts, id, err := s.Accounts.BeginPasskeyLogin(c.UserContext(), st.Tenant, u, rp)
	if errors.Is(err, accounts.ErrPasskey) {
		return s.jsonError(c, fiber.StatusBadRequest, "account.mfa.passkey_failed")
	}
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"ceremony": id, "options": json.RawMessage(opts)})
}

func (s *Server) secondStepPasskeyFinish(c *fiber.Ctx) error {
	st := St(c)
	ch, u, err := s.Accounts.ChallengeUser(c.UserContext(), st.Tenant, c.Cookies(cookieSecondStep))
	if errors.Is(err, accounts.ErrChallengeInvalid) || (err == nil && ch.Enrol) {
		return s.jsonError(c, fiber.StatusUnauthorized, "account.mfa.expired")
	}
	if err != nil {
		return err
	}
	body, rp, answered, err := s.ceremonyAnswer(c, u.ID)
	if answered || err != nil {
		return err
	}
	err = s.Accounts.FinishPasskeyLogin(c.UserContext(), st.Tenant, u, rp, body.Ceremony, body.Credential)
	if errors.Is(err, accounts.ErrPasskey) {
		s.Log.Info("passkey sign-in refused", "request_id", st.RequestID, "tenant", st.Tenant.Slug, "err", err)
		return s.jsonError(c, fiber.StatusBadRequest, "account.mfa.passkey_failed")
	}
	if err != nil {
		return err
	}
	if err := s.codeRight(c, u.ID); err != nil {
		return err
	}
	if err := s.finishSignIn(c, u); err != nil {
		return err
	}
	return c.JSON(fiber.Map{"redirect": s.landing(c, u, ch.Next)})
}

// qrImage is the QR code of an otpauth:// URL as a PNG data URL.
func qrImage(k *accounts.TOTPKey) (template.URL, error) {
	key, err := otp.NewKeyFromURL(k.URL)
	if err != nil {
		return "", err
	}
	img, err := key.Image(220, 220)
	if err != nil {
		return "", err
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return "", err
	}
	// A PNG the server drew from its own URL: safe as an image source.
	return template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(buf.Bytes())), nil //nolint:gosec
}

// totpData is the data of a TOTP set-up page: the secret as text (grouped by four) and its
// QR code.
func (s *Server) totpData(c *fiber.Ctx, u *accounts.User, action string) (map[string]any, error) {
	k, err := s.Accounts.BeginTOTP(c.UserContext(), St(c).Tenant, u)
	if err != nil {
		return nil, err
	}
	qr, err := qrImage(k)
	if err != nil {
		return nil, err
	}
	grouped := ""
	for i, r := range k.Secret {
		if i > 0 && i%4 == 0 {
			grouped += " "
		}
		grouped += string(r)
	}
	return map[string]any{"Secret": grouped, "QR": qr, "Action": action}, nil
}

// enrolForm is the set-up of a second factor the tenant's rule requires, before anything else.
func (s *Server) enrolForm(c *fiber.Ctx) error {
	ch, u, ok, err := s.challenge(c)
	if !ok {
		return err
	}
	if !ch.Enrol {
		return c.Redirect(St(c).URL("/login/second"), fiber.StatusSeeOther)
	}
	data, err := s.totpData(c, u, "/login/enrol")
	if errors.Is(err, accounts.ErrFactorExists) {
		// Set up meanwhile (another tab): start again from the password.
		return s.secondStepCancel(c)
	}
	if err != nil {
		return err
	}
	data["Required"] = true
	return s.render(c, fiber.StatusOK, "totp_setup", "account.mfa.enrol_title", data, nil)
}

// enrol confirms the new TOTP secret with a first code, signs the person in and shows the
// recovery codes, once.
func (s *Server) enrol(c *fiber.Ctx) error {
	st := St(c)
	ch, u, ok, err := s.challenge(c)
	if !ok {
		return err
	}
	if !ch.Enrol {
		return c.Redirect(st.URL("/login/second"), fiber.StatusSeeOther)
	}
	codes, done, err := s.confirmTOTP(c, u, "/login/enrol", true)
	if errors.Is(err, accounts.ErrFactorExists) {
		return s.secondStepCancel(c)
	}
	if done {
		return err
	}
	if err := s.finishSignIn(c, u); err != nil {
		return err
	}
	st.User = u
	if err := s.record(c, "", ActTOTPEnabled, u.ID, "user:"+u.ID, nil); err != nil {
		return err
	}
	return s.showRecovery(c, codes, s.landing(c, u, ch.Next))
}

// confirmTOTP checks the first code of a TOTP set-up; done is true when the answer (the form
// again, with its error) is written or err is set.
func (s *Server) confirmTOTP(c *fiber.Ctx, u *accounts.User, action string, required bool) (codes []string, done bool, err error) {
	st := St(c)
	again := func(status int, key string) ([]string, bool, error) {
		data, err := s.totpData(c, u, action)
		if err != nil {
			return nil, true, err
		}
		data["Required"] = required
		return nil, true, s.render(c, status, "totp_setup", "account.mfa.enrol_title", data,
			&Form{Values: map[string]string{}, Errors: form.Errors{"code": key}})
	}
	if over, err := s.codeLimited(c, u.ID); err != nil {
		return nil, true, err
	} else if over {
		return again(fiber.StatusTooManyRequests, "account.mfa.too_many")
	}
	codes, err = s.Accounts.ConfirmTOTP(c.UserContext(), st.Tenant, u.ID, c.FormValue("code"))
	var ferr form.Errors
	if errors.As(err, &ferr) {
		return again(fiber.StatusUnprocessableEntity, ferr["code"])
	}
	if err != nil {
		return nil, true, err
	}
	return codes, false, s.codeRight(c, u.ID)
}

// showRecovery shows new recovery codes, once (they are stored hashed).
func (s *Server) showRecovery(c *fiber.Ctx, codes []string, next string) error {
	return s.render(c, fiber.StatusOK, "recovery_codes", "account.mfa.recovery_title", map[string]any{"Codes": codes, "Next": next}, nil)
}

func (s *Server) securityData(c *fiber.Ctx) (map[string]any, error) {
	st := St(c)
	f, err := s.Accounts.Factors(c.UserContext(), st.Tenant.ID, st.User.ID)
	if err != nil {
		return nil, err
	}
	return map[string]any{"Factors": f, "Required": accounts.RequiresSecondFactor(st.Tenant, st.Roles)}, nil
}

func (s *Server) renderSecurity(c *fiber.Ctx, status int, f *Form) error {
	data, err := s.securityData(c)
	if err != nil {
		return err
	}
	return s.render(c, status, "account_security", "account.mfa.title", data, f)
}

func (s *Server) securityPage(c *fiber.Ctx) error { return s.renderSecurity(c, fiber.StatusOK, nil) }

func (s *Server) totpForm(c *fiber.Ctx) error {
	st := St(c)
	data, err := s.totpData(c, st.User, "/account/security/totp")
	if errors.Is(err, accounts.ErrFactorExists) {
		return c.Redirect(st.URL("/account/security"), fiber.StatusSeeOther)
	}
	if err != nil {
		return err
	}
	return s.render(c, fiber.StatusOK, "totp_setup", "account.mfa.enrol_title", data, nil)
}

func (s *Server) totpConfirm(c *fiber.Ctx) error {
	st := St(c)
	codes, done, err := s.confirmTOTP(c, st.User, "/account/security/totp", false)
	if errors.Is(err, accounts.ErrFactorExists) {
		return c.Redirect(st.URL("/account/security"), fiber.StatusSeeOther)
	}
	if done {
		return err
	}
	if err := s.record(c, "", ActTOTPEnabled, st.User.ID, "user:"+st.User.ID, nil); err != nil {
		return err
	}
	if len(codes) > 0 {
		return s.showRecovery(c, codes, st.URL("/account/security"))
	}
	s.flash(c, "account.mfa.totp_enabled")
	return c.Redirect(st.URL("/account/security"), fiber.StatusSeeOther)
}

// reauth checks the current password sent with a change of the second factor; false when
// the page, with the error next to the field, was written.
func (s *Server) reauth(c *fiber.Ctx, field string) (bool, error) {
	st := St(c)
	if ok, err := argon2id.ComparePasswordAndHash(c.FormValue(field), st.User.PasswordHash); err == nil && ok {
		return true, nil
	}
	return false, s.renderSecurity(c, fiber.StatusUnprocessableEntity,
		&Form{Values: map[string]string{}, Errors: form.Errors{field: "account.password.current_wrong"}})
}

// factorRemoved answers a removal: refused when the rule requires a factor and none would
// be left.
func (s *Server) factorRemoved(c *fiber.Ctx, err error, field, action, resource string) error {
	st := St(c)
	switch {
	case errors.Is(err, accounts.ErrFactorRequired):
		return s.renderSecurity(c, fiber.StatusUnprocessableEntity,
			&Form{Values: map[string]string{}, Errors: form.Errors{field: "account.mfa.required_keep"}})
	case errors.Is(err, accounts.ErrNotFound):
		return fiber.ErrNotFound
	case err != nil:
		return err
	}
	if err := s.record(c, "", action, st.User.ID, resource, nil); err != nil {
		return err
	}
	s.flash(c, "account.mfa.removed")
	return c.Redirect(st.URL("/account/security"), fiber.StatusSeeOther)
}

func (s *Server) totpRemove(c *fiber.Ctx) error {
	st := St(c)
	if ok, err := s.reauth(c, "totp_password"); !ok {
		return err
	}
	err := s.Accounts.RemoveTOTP(c.UserContext(), st.Tenant, st.User.ID)
	return s.factorRemoved(c, err, "totp_password", ActTOTPRemoved, "user:"+st.User.ID)
}

// ceremonyAnswer reads the browser's answer to a passkey ceremony of account userID, within
// the account's attempt limit, and the relying party it was made for. answered is true when
// it has refused the request itself (too many attempts, a malformed answer).
func (s *Server) ceremonyAnswer(c *fiber.Ctx, userID string) (body ceremonyBody, rp accounts.RP, answered bool, err error) {
	if over, err := s.codeLimited(c, userID); err != nil || over {
		if err == nil {
			err = s.jsonError(c, fiber.StatusTooManyRequests, "account.mfa.too_many")
		}
		return body, rp, true, err
	}
	if err := json.Unmarshal(c.Body(), &body); err != nil || body.Ceremony == "" {
		return body, rp, true, s.jsonError(c, fiber.StatusBadRequest, "account.mfa.passkey_failed")
	}
	rp, err = s.relyingParty(c)
	return body, rp, false, err
}

func (s *Server) passkeyBegin(c *fiber.Ctx) error {
	st := St(c)
	rp, err := s.relyingParty(c)
	if err != nil {
		return err
	}
	opts, id, err := s.Accounts.BeginPasskey(c.UserContext(), st.Tenant, st.User, rp)
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"ceremony": id, "options": json.RawMessage(opts)})
}

func (s *Server) passkeyFinish(c *fiber.Ctx) error {
	st := St(c)
	body, rp, answered, err := s.ceremonyAnswer(c, st.User.ID)
	if answered || err != nil {
		return err
	}
	err = s.Accounts.FinishPasskey(c.UserContext(), st.Tenant, st.User, rp, body.Ceremony, body.Credential)
	if errors.Is(err, accounts.ErrPasskey) {
		s.Log.Info("passkey refused", "request_id", st.RequestID, "tenant", st.Tenant.Slug, "err", err)
		return s.jsonError(c, fiber.StatusBadRequest, "account.mfa.passkey_failed")
	}
	if err != nil {
		return err
	}
	if err := s.codeRight(c, st.User.ID); err != nil {
		return err
	}
	if err := s.record(c, "", ActPasskeyAdded, st.User.ID, "user:"+st.User.ID, nil); err != nil {
		return err
	}
	s.flash(c, "account.mfa.passkey_added")
	return c.JSON(fiber.Map{"redirect": st.URL("/account/security")})
}

func (s *Server) passkeyRemove(c *fiber.Ctx) error {
	st := St(c)
	id, err := pathID(c)
	if err != nil {
		return err
	}
	if ok, err := s.reauth(c, "passkey_password"); !ok {
		return err
	}
	err = s.Accounts.RemovePasskey(c.UserContext(), st.Tenant, st.User.ID, id)
	return s.factorRemoved(c, err, "passkey_password", ActPasskeyRemoved, "passkey:"+id)
}

// recoveryRenew replaces the recovery codes (the current password required) and shows the
// new ones, once.
func (s *Server) recoveryRenew(c *fiber.Ctx) error {
	st := St(c)
	if ok, err := s.reauth(c, "recovery_password"); !ok {
		return err
	}
	f, err := s.Accounts.Factors(c.UserContext(), st.Tenant.ID, st.User.ID)
	if err != nil {
		return err
	}
	if !f.Any() {
		return s.renderSecurity(c, fiber.StatusUnprocessableEntity,
			&Form{Values: map[string]string{}, Errors: form.Errors{"recovery_password": "account.mfa.recovery_needs_factor"}})
	}
	codes, err := s.Accounts.NewRecoveryCodes(c.UserContext(), st.Tenant, st.User.ID)
	if err != nil {
		return err
	}
	if err := s.record(c, "", ActRecoveryRenewed, st.User.ID, "user:"+st.User.ID, nil); err != nil {
		return err
	}
	return s.showRecovery(c, codes, st.URL("/account/security"))
}

// adminResetSecondFactor removes every second factor of a user of the tenant (lost phone):
// the next sign-in asks for a new one where the rule requires it.
func (s *Server) adminResetSecondFactor(c *fiber.Ctx) error {
	st := St(c)
	// The one rule of whose account a person may act on holds here too (P3, issue 11.4).
	u, err := s.actOn(c)
	if err != nil {
		return s.outOfReach(c, err)
	}
	id := u.ID
	err = s.Accounts.ResetSecondFactor(c.UserContext(), st.Tenant, id)
	if errors.Is(err, accounts.ErrNotFound) {
		return fiber.ErrNotFound
	}
	if err != nil {
		return err
	}
	if err := s.record(c, "", ActSecondFactorReset, id, "user:"+id, nil); err != nil {
		return err
	}
	s.flash(c, "admin.mfa.reset_done")
	return c.Redirect(st.URL("/admin/users/"+id), fiber.StatusSeeOther)
}
