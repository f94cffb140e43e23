package server

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"carenet.dev/platform/core/authz"
	"carenet.dev/platform/core/i18n"
	"carenet.dev/platform/core/tenancy"
	"carenet.dev/platform/plugins/kit/store"
)

// Cookie names. Cookies are scoped to the tenant's base path, so the development fallback
// /t/{slug}/ keeps tenants apart on one host.
const (
	cookieSession = "sid"
	cookieCSRF    = "csrf"
	cookieLang    = "lang"
	cookieFlash   = "flash"
)

// requestLog gives each request an id, counts what it costs the databases (its reads share
// one read transaction), logs it in one line with its tenant, route, status, duration and
// statements, and records its metrics.
func (s *Server) requestLog(c *fiber.Ctx) error {
	start := time.Now()
	st := St(c)
	st.RequestID = uuid.Must(uuid.NewV7()).String()
	c.Set("X-Request-Id", st.RequestID)
	ctx, cost := store.WithRequest(c.UserContext())
	c.SetUserContext(ctx)
	err := c.Next()
	cost.Close()
	if err != nil {
		if herr := s.App.Config().ErrorHandler(c, err); herr != nil {
			c.Status(fiber.StatusInternalServerError)
		}
	}
	status := c.Response().StatusCode()
	tenant := "-"
	if st.Tenant != nil {
		tenant = st.Tenant.Slug
	}
	route := c.Route().Path
	if status == fiber.StatusNotFound && st.Perm == "" {
		route = "unmatched"
	}
	s.metrics.observe(tenant, c.Method(), route, status, time.Since(start))
	statements := cost.Statements()
	if s.Cfg.Dev {
		// What the page cost, for the developer's eye and the statement budget's test.
		c.Set("X-Statements", fmt.Sprintf("core=%d module=%d", statements, st.ModuleStatements))
	}
	s.Log.Info("request", "request_id", st.RequestID, "tenant", tenant, "method", c.Method(), "path", c.Path(), "route", route,
		"status", status, "duration_ms", time.Since(start).Milliseconds(), "statements", statements, "module_statements", st.ModuleStatements)
	return nil
}

// contentPolicy is the Content-Security-Policy of the platform's pages; images come from its
// own origin, and from imgOrigin when one is given (a module's map tiles, mapTileOrigin).
func contentPolicy(imgOrigin string) string {
	img := "'self' data:"
	if imgOrigin != "" {
		img += " " + imgOrigin
	}
	return "default-src 'self'; img-src " + img + "; style-src 'self'; script-src 'self'; " +
		"form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
}

// securityHeaders sets the headers every response carries.
func (s *Server) securityHeaders(c *fiber.Ctx) error {
	c.Set("Content-Security-Policy", contentPolicy(""))
	c.Set("X-Content-Type-Options", "nosniff")
	c.Set("X-Frame-Options", "DENY")
	c.Set("Referrer-Policy", "same-origin")
	c.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=(self)")
	c.Set("Cache-Control", "no-store")
	if c.Protocol() == "https" {
		c.Set("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
	}
	return c.Next()
}

var prefixRe = regexp.MustCompile(`^/t/([a-z][a-z0-9-]{1,30})(/.*)?$`)

// resolveTenant finds the tenant by Host (port ignored), or by the /t/{slug}/ prefix when
// the host is not a tenant's. Anything else is a 404 that belongs to no tenant.
func (s *Server) resolveTenant(c *fiber.Ctx) error {
	st := St(c)
	t, h, err := s.Tenants.ByHost(c.UserContext(), c.Hostname())
	switch {
	case err == nil:
		st.Tenant, st.Portal = t, h.Portal
	case errors.Is(err, tenancy.ErrNotFound):
		m := prefixRe.FindStringSubmatch(c.Path())
		if m == nil {
			return fiber.ErrNotFound
		}
		t, err := s.Tenants.BySlug(c.UserContext(), m[1])
		if errors.Is(err, tenancy.ErrNotFound) {
			return fiber.ErrNotFound
		}
		if err != nil {
			return err
		}
		st.Tenant, st.Base = t, "/t/"+t.Slug
		if len(t.Hostnames) > 0 {
			st.Portal = t.Hostnames[0].Portal
		}
		rest := m[2]
		if rest == "" {
			rest = "/"
		}
		c.Path(rest)
	default:
		return err
	}
	if st.Tenant.Status != "active" {
		return fiber.ErrServiceUnavailable
	}
	// What a tenant answers depends on the host it was asked at: a shared cache must not
	// give one tenant's public answer (branding, logo, a module's public file) to another's.
	c.Vary(fiber.HeaderHost)
	if len(s.Cfg.TrustedProxies) > 0 {
		c.Vary(fiber.HeaderXForwardedHost)
	}
	return c.Next()
}

func (s *Server) cookiePath(c *fiber.Ctx) string {
	if b := St(c).Base; b != "" {
		return b + "/"
	}
	return "/"
}

func (s *Server) setCookie(c *fiber.Ctx, name, value string, maxAge time.Duration) {
	c.Cookie(&fiber.Cookie{Name: name, Value: value, Path: s.cookiePath(c), HTTPOnly: true,
		Secure: c.Protocol() == "https", SameSite: fiber.CookieSameSiteLaxMode, MaxAge: int(maxAge.Seconds())})
}

func (s *Server) clearCookie(c *fiber.Ctx, name string) {
	c.Cookie(&fiber.Cookie{Name: name, Value: "", Path: s.cookiePath(c), HTTPOnly: true,
		Secure: c.Protocol() == "https", SameSite: fiber.CookieSameSiteLaxMode, MaxAge: -1,
		Expires: time.Unix(1, 0)})
}

// loadSession resolves the session cookie to the signed-in user and his roles.
func (s *Server) loadSession(c *fiber.Ctx) error {
	st := St(c)
	tok := c.Cookies(cookieSession)
	if tok == "" || st.API {
		return c.Next()
	}
	sess, u, err := s.Accounts.SessionUser(c.UserContext(), st.Tenant.ID, tok)
	if err != nil {
		return err
	}
	if u == nil {
		s.clearCookie(c, cookieSession)
		return c.Next()
	}
	st.Session, st.User, st.Token = sess, u, tok
	// The roles come from the tenant's permission rules in memory, as the checks do.
	if st.Roles, err = s.Authz.Roles(c.UserContext(), st.Tenant.ID, st.Tenant.PolicyRev, u.ID); err != nil {
		return err
	}
	return c.Next()
}

// negotiateLocale picks the language: user preference → switcher cookie →
// Accept-Language → tenant default.
func (s *Server) negotiateLocale(c *fiber.Ctx) error {
	st := St(c)
	pref := ""
	if st.User != nil {
		pref = st.User.Locale
		// The switcher's choice in this session comes before the account's preference.
		if l := s.sessionLang(c, st); l != "" {
			pref = l
		}
	}
	st.Lang = i18n.Negotiate(st.Tenant.Settings.Locales, pref, c.Cookies(cookieLang), c.Get("Accept-Language"), st.Tenant.Settings.DefaultLocale)
	st.Loc = s.I18n.For(st.Lang)
	c.Set("Content-Language", st.Lang)
	c.Vary("Accept-Language", "Cookie")
	return c.Next()
}

// csrf issues the token every form carries and refuses a state-changing request without it.
// The token is an HMAC of the tenant and of the session (or, before sign-in, of a random
// cookie), keyed by the installation's secret: a token from another session, another tenant
// or another browser does not pass.
func (s *Server) csrf(c *fiber.Ctx) error {
	st := St(c)
	if st.API {
		// A machine presents its API key on every request: no cookie to ride on, no form.
		return c.Next()
	}
	binding := ""
	if st.Session != nil {
		binding = "s:" + st.Session.ID
	} else {
		n := c.Cookies(cookieCSRF)
		if len(n) < 20 || len(n) > 64 {
			var b [18]byte
			_, _ = rand.Read(b[:])
			n = base64.RawURLEncoding.EncodeToString(b[:])
			s.setCookie(c, cookieCSRF, n, 0)
			c.Request().Header.SetCookie(cookieCSRF, n)
		}
		binding = "n:" + n
	}
	st.CSRF = s.csrfToken(st.Tenant.ID, binding)
	switch c.Method() {
	case fiber.MethodGet, fiber.MethodHead, fiber.MethodOptions:
		return c.Next()
	}
	got := c.FormValue("_csrf")
	if got == "" {
		got = c.Get("X-CSRF-Token")
	}
	if subtle.ConstantTimeCompare([]byte(got), []byte(st.CSRF)) != 1 {
		return s.render(c, fiber.StatusForbidden, "error", "error.csrf.title", errorData{Message: "error.csrf.text"}, nil)
	}
	return c.Next()
}

func (s *Server) csrfToken(tenantID, binding string) string {
	m := hmac.New(sha256.New, s.secret)
	m.Write([]byte(tenantID + "|" + binding))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// can reports whether the request's user holds perm in the request's tenant.
func (s *Server) can(c *fiber.Ctx, perm string) bool {
	st := St(c)
	if st.Tenant == nil {
		return false
	}
	if perm == authz.PermPublic {
		return true
	}
	if st.User == nil {
		return false
	}
	if strings.HasPrefix(perm, "platform.") && st.Tenant.Kind != tenancy.KindConsole {
		return false
	}
	ok, err := s.Authz.Allowed(c.UserContext(), st.Tenant.ID, st.Tenant.PolicyRev, st.User.ID, perm)
	if err != nil {
		s.Log.Error("authorize", "request_id", st.RequestID, "err", err)
		return false
	}
	return ok
}

// authorize is the permission check of every route.
func (s *Server) authorize(perm string) fiber.Handler {
	return func(c *fiber.Ctx) error {
		if refused, err := s.require(c, perm); refused || err != nil {
			return err
		}
		return c.Next()
	}
}

// require is the one place a permission is checked, for core routes and module routes alike.
// When the request may not go on, it answers the refusal itself and reports refused: an
// anonymous GET is sent to the login page, any other anonymous request gets a 401, and a
// signed-in user without the permission a 403. Platform permissions exist only on the console.
func (s *Server) require(c *fiber.Ctx, perm string) (refused bool, err error) {
	st := St(c)
	st.Perm = perm
	// A module's path space is checked per manifest route, by dispatch, through here again.
	if perm == authz.PermPublic || perm == PermModuleRoute {
		return false, nil
	}
	if strings.HasPrefix(perm, "platform.") && st.Tenant.Kind != tenancy.KindConsole {
		return true, fiber.ErrNotFound
	}
	if st.User == nil {
		if c.Method() == fiber.MethodGet {
			return true, c.Redirect(st.URL("/login?next="+url.QueryEscape(st.URL(c.OriginalURL()[len(st.Base):]))), fiber.StatusSeeOther)
		}
		return true, s.render(c, fiber.StatusUnauthorized, "error", "error.unauthorized.title", errorData{Message: "error.unauthorized.text"}, nil)
	}
	if !s.can(c, perm) {
		return true, s.render(c, fiber.StatusForbidden, "error", "error.forbidden.title", errorData{Message: "error.forbidden.text"}, nil)
	}
	return false, nil
}

type errorData struct {
	Message string
}

// safeNext keeps a post-login redirect on this site: a path, never a scheme or another host.
func safeNext(st *State, next string) string {
	if next == "" || !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.Contains(next, `\`) {
		return st.URL("/")
	}
	if st.Base != "" && !strings.HasPrefix(next, st.Base+"/") {
		return st.URL("/")
	}
	return next
}

// errorHandler turns errors into pages: a 4xx keeps its status; anything else is logged
// with its cause and shown as a 500 without details.
func (s *Server) errorHandler(c *fiber.Ctx, err error) error {
	st := St(c)
	code := fiber.StatusInternalServerError
	var fe *fiber.Error
	if errors.As(err, &fe) {
		code = fe.Code
	}
	if code >= 500 && code != fiber.StatusServiceUnavailable {
		tenant, module := "-", "-"
		if st.Tenant != nil {
			tenant = st.Tenant.Slug
		}
		if id, _, _ := strings.Cut(strings.TrimPrefix(c.Path(), "/"), "/"); tenancy.IsKnownModule(id) {
			module = id
		}
		s.Log.Error("request failed", "request_id", st.RequestID, "tenant", tenant, "module", module, "method", c.Method(), "path", c.Path(), "err", err)
		code = fiber.StatusInternalServerError
	}
	if s.wantsJSON(c) {
		status, code, msg := apiErrorCode(code)
		return s.apiError(c, status, code, msg)
	}
	key := "error.generic"
	switch code {
	case fiber.StatusNotFound:
		key = "error.not_found"
	case fiber.StatusMethodNotAllowed:
		key = "error.method"
	case fiber.StatusRequestEntityTooLarge:
		key = "error.too_large"
	case fiber.StatusBadRequest:
		key = "error.bad_request"
	case fiber.StatusServiceUnavailable:
		key = "error.unavailable"
	case fiber.StatusTooManyRequests:
		key = "error.rate_limited"
	}
	if st.Tenant != nil && st.Loc == nil {
		st.Lang = i18n.Negotiate(st.Tenant.Settings.Locales, "", c.Cookies(cookieLang), c.Get("Accept-Language"), st.Tenant.Settings.DefaultLocale)
		st.Loc = s.I18n.For(st.Lang)
	}
	if rerr := s.render(c, code, "error", key+".title", errorData{Message: key + ".text"}, nil); rerr != nil {
		s.Log.Error("render error page", "request_id", st.RequestID, "err", rerr)
		c.Status(code)
		return c.SendString(fiber.ErrInternalServerError.Message)
	}
	return nil
}
