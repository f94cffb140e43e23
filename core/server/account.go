package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"time"

	"github.com/alexedwards/argon2id"
	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"carenet.dev/platform/core/accounts"
	"carenet.dev/platform/core/authz"
	"carenet.dev/platform/core/form"
	"carenet.dev/platform/core/jobs"
	"carenet.dev/platform/core/tenancy"
	"carenet.dev/platform/core/terms"
	"carenet.dev/platform/plugins/sdk"
)

// messageData is the data of the generic message page.
type messageData struct {
	Lines    []string
	Detail   string
	LinkKey  string
	LinkHref string
}

func (s *Server) message(c *fiber.Ctx, status int, titleKey string, d messageData) error {
	return s.render(c, status, "message", titleKey, d, nil)
}

// flash leaves a one-line message (a message id) for the next page.
func (s *Server) flash(c *fiber.Ctx, key string) { s.setCookie(c, cookieFlash, key, time.Minute) }

// bindAccount mounts registration, verification, sign-in, reset and the account pages.
func (s *Server) bindAccount() {
	s.get("/register", authz.PermPublic, s.registerForm)
	s.post("/register", authz.PermPublic, s.limitByIP("register", "security.registration_per_ip"), s.register)
	s.get("/verify", authz.PermPublic, s.verifyForm)
	s.post("/verify", authz.PermPublic, s.verify)
	s.get("/login", authz.PermPublic, s.loginForm)
	s.post("/login", authz.PermPublic, s.limitByIP("login", "security.login_per_ip"), s.login)
	s.post("/logout", authz.PermAccount, s.logout)
	s.get("/reset", authz.PermPublic, s.resetRequestForm)
	s.post("/reset", authz.PermPublic, s.limitByIP("reset", "security.reset_per_ip"), s.resetRequest)
	s.get("/reset/confirm", authz.PermPublic, s.resetForm)
	s.post("/reset/confirm", authz.PermPublic, s.limitByIP("reset", "security.reset_per_ip"), s.reset)
	s.get("/account", authz.PermAccount, s.accountPage)
	s.post("/account", authz.PermAccount, s.updateProfile)
	s.post("/account/password", authz.PermAccount, s.changePassword)
	s.post("/account/secret", authz.PermAccount, s.changeSecret)
	s.get("/account/sessions", authz.PermAccount, s.sessionsPage)
	s.post("/account/sessions/:id/revoke", authz.PermAccount, s.revokeSession)
	s.get("/account/delete", authz.PermAccount, s.deleteForm)
	s.post("/account/delete", authz.PermAccount, s.deleteAccount)
}

func values(c *fiber.Ctx, names ...string) map[string]string {
	v := map[string]string{}
	for _, n := range names {
		v[n] = c.FormValue(n)
	}
	return v
}

func (s *Server) registerData(c *fiber.Ctx) map[string]any {
	st := St(c)
	t := st.Tenant
	return map[string]any{"MinAge": t.IntRule("account.min_age"), "Extra": s.registrationFields(st), "Consents": consentKinds(t),
		"Secret": t.BoolRule(accounts.RuleSecretQuestion), "SplitName": t.BoolRule(accounts.RuleSplitName),
		"MarriageAge": int(t.IntRule(accounts.RuleMajorityByMarriageAge)), "Capacity": t.BoolRule(accounts.RuleCapacityDeclaration)}
}

// checkboxValues keeps the ticked boxes of the registration form.
func checkboxValues(c *fiber.Ctx, v map[string]string) map[string]string {
	for _, k := range []string{"accept_terms", "consent_data_processing", "consent_marketing", "consent_geolocation", "declare_marriage", "declare_capacity"} {
		v[k] = c.FormValue(k)
	}
	return v
}

func (s *Server) registerForm(c *fiber.Ctx) error {
	if !St(c).Tenant.RegistrationOpen() {
		return fiber.ErrNotFound
	}
	return s.render(c, fiber.StatusOK, "register", "account.register.title", s.registerData(c), nil)
}

func (s *Server) register(c *fiber.Ctx) error {
	st := St(c)
	if !st.Tenant.RegistrationOpen() {
		return fiber.ErrNotFound
	}
	extra := s.registrationFields(st)
	in := accounts.RegisterInput{Email: c.FormValue("email"), Password: c.FormValue("password"),
		Password2: c.FormValue("password2"), Name: c.FormValue("name"), BirthDate: c.FormValue("birth_date"),
		FirstName: c.FormValue("first_name"), LastName: c.FormValue("last_name"),
		Locale: st.Lang, Extra: map[string]string{}, Portal: st.Portal,
		SecretQuestion: c.FormValue("secret_question"), SecretAnswer: c.FormValue("secret_answer"),
		MarriageDeclared: c.FormValue("declare_marriage") == "yes", CapacityDeclared: c.FormValue("declare_capacity") == "yes"}
	// The secret answer is never echoed back into the form, like a password.
	names := []string{"email", "name", "first_name", "last_name", "birth_date", "secret_question"}
	for _, f := range extra {
		in.Extra[f.Name] = c.FormValue(f.Name)
		names = append(names, f.Name)
	}
	// Every problem at once: the fields, the terms to accept and the mandatory consent.
	errs := s.Accounts.ValidateRegistration(st.Tenant, &in, extra)
	if c.FormValue("accept_terms") != "yes" {
		errs.Add("accept_terms", "account.register.accept_required")
	}
	if c.FormValue("consent_data_processing") != "yes" {
		errs.Add("consent_data_processing", "account.register.consent_required")
	}
	if len(errs) > 0 {
		return s.render(c, fiber.StatusUnprocessableEntity, "register", "account.register.title", s.registerData(c),
			&Form{Values: checkboxValues(c, values(c, names...)), Errors: errs})
	}
	// The same answer and the same work whether the address has an account or not, so that
	// neither the page nor its timing tells (P2): the hashes, one waiting row and one job.
	// The job makes the account and mails the link, or tells the address's owner.
	if err := s.queueRegistration(c, in, extra); err != nil {
		return err
	}
	return s.message(c, fiber.StatusOK, "account.register.done_title", messageData{
		Lines: []string{"account.register.done_text"}})
}

func (s *Server) verifyForm(c *fiber.Ctx) error {
	return s.render(c, fiber.StatusOK, "verify", "account.verify.title", nil,
		&Form{Values: map[string]string{"token": c.Query("token")}})
}

func (s *Server) verify(c *fiber.Ctx) error {
	st := St(c)
	_, err := s.Accounts.Verify(c.UserContext(), st.Tenant, c.FormValue("token"))
	if errors.Is(err, accounts.ErrTokenInvalid) {
		return s.message(c, fiber.StatusBadRequest, "account.verify.invalid_title", messageData{
			Lines: []string{"account.verify.invalid_text"}, LinkKey: "nav.register", LinkHref: "/register"})
	}
	if err != nil {
		return err
	}
	// The account is active: the tenant's modules may link it to what they hold (R3).
	s.Modules.Deliver(c.UserContext(), st.Tenant)
	return s.message(c, fiber.StatusOK, "account.verify.done_title", messageData{
		Lines: []string{"account.verify.done_text"}, LinkKey: "nav.login", LinkHref: "/login"})
}

func (s *Server) loginForm(c *fiber.Ctx) error {
	if St(c).User != nil {
		return c.Redirect(St(c).URL("/account"), fiber.StatusSeeOther)
	}
	return s.render(c, fiber.StatusOK, "login", "account.login.title", map[string]any{},
		&Form{Values: map[string]string{"next": c.Query("next")}})
}

func (s *Server) login(c *fiber.Ctx) error {
	st := St(c)
	email := c.FormValue("email")
	f := &Form{Values: values(c, "email", "next"), Errors: form.Errors{}}
	if accounts.NormalizeEmail(email) == "" {
		f.Errors.Add("email", "form.email.invalid")
		return s.render(c, fiber.StatusUnprocessableEntity, "login", "account.login.title", map[string]any{}, f)
	}
	res, err := s.Accounts.Login(c.UserContext(), st.Tenant, email, c.FormValue("password"), c.IP(), c.Get("User-Agent"))
	var blocked *accounts.BlockedError
	var second *accounts.SecondStepError // issue 11: the password was right, a second step follows (mfa.go)
	var throttled *accounts.ThrottledError
	switch {
	case errors.As(err, &second):
		return s.startSecondStep(c, second)
	case errors.As(err, &throttled):
		// This address failed too often for this account: it waits for its window to end;
		// the owner elsewhere is not held (P2).
		c.Set("Retry-After", strconv.Itoa(int(math.Ceil(throttled.RetryAfter.Seconds()))))
		return s.render(c, fiber.StatusTooManyRequests, "login", "account.login.title",
			map[string]any{"Throttled": int(math.Ceil(throttled.RetryAfter.Minutes()))}, f)
	case errors.As(err, &blocked):
		// The reason, and the way to appeal against the block (P2, R6).
		return s.render(c, fiber.StatusForbidden, "login", "account.login.title", map[string]any{"Blocked": blocked.Reason,
			"Appeal": appealPath}, f)
	case errors.Is(err, accounts.ErrUnverified):
		f.Errors.Add("email", "account.login.unverified")
		return s.render(c, fiber.StatusForbidden, "login", "account.login.title", map[string]any{}, f)
	case errors.Is(err, accounts.ErrBadCredentials):
		f.Errors.Add("password", "account.login.failed")
		return s.render(c, fiber.StatusUnauthorized, "login", "account.login.title", map[string]any{}, f)
	case err != nil:
		return err
	}
	// A new session id at every sign-in; any session this browser had is ended.
	if st.Token != "" {
		if err := s.Accounts.Logout(c.UserContext(), st.Tenant.ID, st.Token); err != nil {
			return err
		}
	}
	s.setCookie(c, cookieSession, res.Token, time.Until(res.Session.ExpiresAt))
	if res.User.Locale != "" && st.Tenant.AllowsLocale(res.User.Locale) {
		s.setCookie(c, cookieLang, res.User.Locale, 365*24*time.Hour)
	}
	return c.Redirect(s.landing(c, res.User, c.FormValue("next")), fiber.StatusSeeOther)
}

// landings are a module's landing pages by rank (the manifest check made each a GET page
// for signed-in users without parameters).
func landings(man *sdk.Manifest) []sdk.Route {
	var out []sdk.Route
	for _, r := range man.Routes {
		if r.Landing > 0 && !r.Public && !r.API {
			out = append(out, r)
		}
	}
	slices.SortStableFunc(out, func(a, b sdk.Route) int { return a.Landing - b.Landing })
	return out
}

// landing is where u goes once signed in: the safe page he asked for (next), else the first
// landing page a module of the tenant declares that he may open on this portal (a patient
// his results, a professional his patients', lab staff their queue: issue 12.11), else home.
func (s *Server) landing(c *fiber.Ctx, u *accounts.User, next string) string {
	st := St(c)
	if next != "" {
		if to := safeNext(st, next); to != st.URL("/") || next == st.URL("/") {
			return to
		}
	}
	for _, id := range st.Tenant.EnabledModules() {
		man := s.Modules.Manifest(id)
		if man == nil {
			continue // down: home, which says so, rather than an error page
		}
		for _, route := range landings(man) {
			if len(route.LandingPortals) > 0 && !contains(route.LandingPortals, st.Portal) {
				continue
			}
			ok, err := s.Authz.Allowed(c.UserContext(), st.Tenant.ID, st.Tenant.PolicyRev, u.ID, route.Permission)
			if err != nil {
				// Home is a fine place to land: the cause is logged, the sign-in goes on.
				s.Log.Error("landing page", "request_id", st.RequestID, "module", id, "err", err)
				return st.URL("/")
			}
			if ok {
				return st.URL(route.Path)
			}
		}
	}
	return st.URL("/")
}

func (s *Server) logout(c *fiber.Ctx) error {
	st := St(c)
	if err := s.Accounts.Logout(c.UserContext(), st.Tenant.ID, st.Token); err != nil {
		return err
	}
	s.clearCookie(c, cookieSession)
	s.flash(c, "account.logout.done")
	return c.Redirect(st.URL("/"), fiber.StatusSeeOther)
}

func (s *Server) resetRequestForm(c *fiber.Ctx) error {
	return s.render(c, fiber.StatusOK, "reset_request", "account.reset.title", nil, nil)
}

func (s *Server) resetRequest(c *fiber.Ctx) error {
	st := St(c)
	email := c.FormValue("email")
	if accounts.NormalizeEmail(email) == "" {
		return s.render(c, fiber.StatusUnprocessableEntity, "reset_request", "account.reset.title", nil,
			&Form{Values: values(c, "email"), Errors: form.Errors{"email": "form.email.invalid"}})
	}
	// The same answer and the same work whether the address has an account or not, so that
	// neither the page nor its timing tells (P2): one lookup and one job. The job makes the
	// link and sends it after the answer; for an unknown address it does nothing.
	u, err := s.Accounts.ByEmail(c.UserContext(), st.Tenant.ID, email)
	job := resetJob{Lang: st.Lang, Link: s.absURL(c, "/reset/confirm?token=")}
	switch {
	case err == nil:
		job.User = u.ID
	case !errors.Is(err, accounts.ErrNotFound):
		return err
	}
	payload, err := json.Marshal(job)
	if err != nil {
		return err
	}
	_, err = s.Jobs.Enqueue(c.UserContext(), st.Tenant.ID, jobs.Spec{Module: jobs.CoreModule, Name: jobResetLink,
		Key: "reset:" + uuid.Must(uuid.NewV7()).String(), At: time.Now(), Payload: payload})
	if err != nil {
		return err
	}
	return s.message(c, fiber.StatusOK, "account.reset.sent_title", messageData{Lines: []string{"account.reset.sent_text"}})
}

// jobResetLink is the core job that sends a reset link (resetRequest).
const jobResetLink = "core.reset_link"

// resetJob is what a reset request leaves its job: the account (none for an unknown
// address), the language of the request and the link on the host it came through, without
// its token. No e-mail address.
type resetJob struct {
	User string `json:"user"`
	Lang string `json:"lang"`
	Link string `json:"link"`
}

func init() {
	coreJobs[jobResetLink] = coreJob{Run: func(ctx context.Context, s *Server, t *tenancy.Tenant, payload []byte) error {
		return s.sendResetLink(ctx, t, payload)
	}}
}

// sendResetLink makes a reset token for the account of a reset request and mails the link.
func (s *Server) sendResetLink(ctx context.Context, t *tenancy.Tenant, payload []byte) error {
	var job resetJob
	if err := json.Unmarshal(payload, &job); err != nil {
		return fmt.Errorf("reset job: %w", err)
	}
	if job.User == "" {
		return nil // an address without an account: nothing to send
	}
	u, token, err := s.Accounts.ResetToken(ctx, t, job.User)
	if errors.Is(err, accounts.ErrNotFound) {
		return nil // deleted since
	}
	if err != nil {
		return err
	}
	return s.sendMail(ctx, t, u.Email, u.Name, t.Lang(u.Locale, job.Lang), "reset", job.Link+token,
		"Minutes", t.IntRule("account.reset_link_minutes"))
}

// renderReset shows the new-password form; when the tenant asks for secret answers and the
// account has one, the form asks it too, with the account's question (P2, R2).
func (s *Server) renderReset(c *fiber.Ctx, status int, token string, f *Form) error {
	st := St(c)
	question, err := s.Accounts.ResetQuestion(c.UserContext(), st.Tenant, token)
	if err != nil {
		return err
	}
	if f == nil {
		f = &Form{Values: map[string]string{}}
	}
	f.Values["token"] = token
	return s.render(c, status, "reset", "account.reset.confirm_title", map[string]any{"Question": question}, f)
}

func (s *Server) resetForm(c *fiber.Ctx) error {
	return s.renderReset(c, fiber.StatusOK, c.Query("token"), nil)
}

// reset sets the new password. A wrong secret answer is a field error: the link stays
// usable, and every attempt counts in the reset limit of the address (the route's limiter).
func (s *Server) reset(c *fiber.Ctx) error {
	st := St(c)
	token := c.FormValue("token")
	_, err := s.Accounts.ResetPassword(c.UserContext(), st.Tenant, token, c.FormValue("password"), c.FormValue("password2"),
		c.FormValue("secret_answer"))
	var ferr form.Errors
	switch {
	case errors.As(err, &ferr):
		return s.renderReset(c, fiber.StatusUnprocessableEntity, token, &Form{Values: map[string]string{}, Errors: ferr})
	case errors.Is(err, accounts.ErrTokenInvalid):
		return s.message(c, fiber.StatusBadRequest, "account.reset.invalid_title", messageData{
			Lines: []string{"account.reset.invalid_text"}, LinkKey: "account.reset.again", LinkHref: "/reset"})
	case err != nil:
		return err
	}
	if st.Token != "" {
		s.clearCookie(c, cookieSession)
	}
	s.flash(c, "account.reset.done")
	return c.Redirect(st.URL("/login"), fiber.StatusSeeOther)
}

// consentViews are the optional consents of the account page, as the user last set them.
func (s *Server) consentViews(c *fiber.Ctx) ([]terms.Consent, error) {
	st := St(c)
	cur, err := s.Terms.Consents(c.UserContext(), st.Tenant.ID, st.User.ID)
	if err != nil {
		return nil, err
	}
	var out []terms.Consent
	for _, k := range consentKinds(st.Tenant) {
		v := cur[k]
		v.Kind = k
		out = append(out, v)
	}
	return out, nil
}

// accountData is the data of the account page; which names the form that came back with
// errors ("profile", "password", "secret" or "").
func (s *Server) accountData(c *fiber.Ctx, which, locale string) map[string]any {
	st := St(c)
	cs, err := s.consentViews(c)
	if err != nil {
		s.Log.Error("consents", "request_id", st.RequestID, "err", err)
	}
	deps, err := s.dependantViews(c)
	if err != nil {
		s.Log.Error("dependants", "request_id", st.RequestID, "err", err)
	}
	data := map[string]any{"Locale": locale, "Form": which, "Consents": cs, "Dependants": deps,
		"Secret": st.Tenant.BoolRule(accounts.RuleSecretQuestion) || st.User.SecretAnswerHash != ""}
	s.peopleData(c, data)
	return data
}

func (s *Server) accountPage(c *fiber.Ctx) error {
	u := St(c).User
	return s.render(c, fiber.StatusOK, "account", "account.title", s.accountData(c, "", u.Locale),
		&Form{Values: map[string]string{"name": u.Name, "secret_question": u.SecretQuestion}})
}

func (s *Server) updateProfile(c *fiber.Ctx) error {
	st := St(c)
	err := s.Accounts.UpdateProfile(c.UserContext(), st.Tenant, st.User, c.FormValue("name"), c.FormValue("locale"))
	var ferr form.Errors
	if errors.As(err, &ferr) {
		return s.render(c, fiber.StatusUnprocessableEntity, "account", "account.title",
			s.accountData(c, "profile", c.FormValue("locale")), &Form{Values: values(c, "name"), Errors: ferr})
	}
	if err != nil {
		return err
	}
	if st.User.Locale != "" {
		s.setCookie(c, cookieLang, st.User.Locale, 365*24*time.Hour)
	}
	// The pages follow the preference just chosen, not a choice the switcher made before.
	s.clearCookie(c, cookieSessionLang)
	s.flash(c, "account.profile.saved")
	return c.Redirect(st.URL("/account"), fiber.StatusSeeOther)
}

func (s *Server) changePassword(c *fiber.Ctx) error {
	st := St(c)
	err := s.Accounts.ChangePassword(c.UserContext(), st.Tenant, st.User, st.Session.ID,
		c.FormValue("current"), c.FormValue("password"), c.FormValue("password2"))
	var ferr form.Errors
	if errors.As(err, &ferr) {
		return s.render(c, fiber.StatusUnprocessableEntity, "account", "account.title",
			s.accountData(c, "password", st.User.Locale), &Form{Values: map[string]string{"name": st.User.Name}, Errors: ferr})
	}
	if err != nil {
		return err
	}
	s.flash(c, "account.password.changed")
	return c.Redirect(st.URL("/account"), fiber.StatusSeeOther)
}

// changeSecret changes the secret question and answer, confirmed by the current password
// (P2, R2).
func (s *Server) changeSecret(c *fiber.Ctx) error {
	st := St(c)
	u := *st.User
	err := s.Accounts.SetSecret(c.UserContext(), st.Tenant, &u, c.FormValue("secret_current"), c.FormValue("secret_question"),
		c.FormValue("secret_answer"))
	var ferr form.Errors
	if errors.As(err, &ferr) {
		return s.render(c, fiber.StatusUnprocessableEntity, "account", "account.title", s.accountData(c, "secret", st.User.Locale),
			&Form{Values: map[string]string{"name": st.User.Name, "secret_question": c.FormValue("secret_question")}, Errors: ferr})
	}
	if err != nil {
		return err
	}
	if err := s.record(c, "", ActSecretChanged, u.ID, "user:"+u.ID, nil); err != nil {
		return err
	}
	s.flash(c, "account.secret.saved")
	return c.Redirect(st.URL("/account"), fiber.StatusSeeOther)
}

func (s *Server) sessionsPage(c *fiber.Ctx) error {
	st := St(c)
	list, err := s.Accounts.Sessions(c.UserContext(), st.Tenant.ID, st.User.ID)
	if err != nil {
		return err
	}
	return s.render(c, fiber.StatusOK, "sessions", "account.sessions.title", map[string]any{"Sessions": list}, nil)
}

// pathID returns the :id parameter if it is a well-formed id, else a 404.
func pathID(c *fiber.Ctx) (string, error) {
	id := c.Params("id")
	if _, err := uuid.Parse(id); err != nil {
		return "", fiber.ErrNotFound
	}
	return id, nil
}

func (s *Server) revokeSession(c *fiber.Ctx) error {
	st := St(c)
	id, err := pathID(c)
	if err != nil {
		return err
	}
	if err := s.Accounts.RevokeSession(c.UserContext(), st.Tenant.ID, st.User.ID, id); errors.Is(err, accounts.ErrNoSession) {
		return fiber.ErrNotFound
	} else if err != nil {
		return err
	}
	s.flash(c, "account.sessions.revoked")
	return c.Redirect(st.URL("/account/sessions"), fiber.StatusSeeOther)
}

func (s *Server) deleteForm(c *fiber.Ctx) error {
	return s.render(c, fiber.StatusOK, "delete", "account.delete.title", nil, nil)
}

func (s *Server) deleteAccount(c *fiber.Ctx) error {
	st := St(c)
	f := &Form{Values: values(c, "reason"), Errors: form.Errors{}}
	if ok, err := argon2id.ComparePasswordAndHash(c.FormValue("password"), st.User.PasswordHash); err != nil || !ok {
		f.Errors.Add("password", "account.password.current_wrong")
		return s.render(c, fiber.StatusUnprocessableEntity, "delete", "account.delete.title", nil, f)
	}
	u := *st.User
	err := s.Accounts.Delete(c.UserContext(), st.Tenant, u.ID, "self", c.FormValue("reason"))
	var ferr form.Errors
	if errors.As(err, &ferr) {
		f.Errors = ferr
		return s.render(c, fiber.StatusUnprocessableEntity, "delete", "account.delete.title", nil, f)
	}
	if err != nil {
		return err
	}
	if err := s.record(c, "", ActAccountDeleted, u.ID, "user:"+u.ID, nil); err != nil {
		return err
	}
	// Every module erases what it holds of the person.
	s.Modules.Deliver(c.UserContext(), st.Tenant)
	if err := s.sendMail(c.UserContext(), st.Tenant, u.Email, u.Name, st.Lang, "deleted", ""); err != nil {
		return err
	}
	s.clearCookie(c, cookieSession)
	st.User, st.Session = nil, nil
	return s.message(c, fiber.StatusOK, "account.delete.done_title", messageData{Lines: []string{"account.delete.done_text"}})
}
