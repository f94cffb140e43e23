// Package server is the core's HTTP side: the Fiber app, the middleware chain in the order
// ARCHITECTURE.md fixes (request id and logs → recover → security headers → tenant →
// session → locale → CSRF → rate limits → permission → handler → layout), the route table
// where every route declares its permission, and the core's pages. Domain rules live in the
// domain packages; this package only maps them to pages.
package server

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"runtime/debug"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/recover"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/uptrace/bun"

	"carenet.dev/platform/core/accounts"
	"carenet.dev/platform/core/apikeys"
	"carenet.dev/platform/core/audit"
	"carenet.dev/platform/core/authz"
	"carenet.dev/platform/core/complaints"
	"carenet.dev/platform/core/db"
	"carenet.dev/platform/core/i18n"
	"carenet.dev/platform/core/jobs"
	"carenet.dev/platform/core/mail"
	"carenet.dev/platform/core/modules"
	"carenet.dev/platform/core/tenancy"
	"carenet.dev/platform/core/terms"
)

// Config is what the server needs to know from the command line.
type Config struct {
	DataDir string
	// ConsoleHost is the hostname of the platform administration console.
	ConsoleHost string
	// PublicURL is how people reach the platform (scheme, and port if not the default),
	// e.g. http://localhost:8080. E-mail links are built from it and the tenant's hostnames.
	PublicURL string
	// TrustedProxies are the addresses (IPs or CIDRs) of the reverse proxies in front of
	// the platform: only from them are X-Forwarded-For and X-Forwarded-Proto believed, for
	// rate limits by client address and for Secure cookies behind TLS termination.
	TrustedProxies []string
	// SMTP delivers e-mail when set; otherwise messages go to the development mailbox.
	SMTP *mail.SMTP
	// SMS delivers SMS when set; otherwise they go to the development mailbox.
	SMS mail.Transport
	// Dev marks a development run: mail goes to the development mailbox and logs are verbose.
	Dev bool
	// AuditKeys sign the audit trail's checkpoints (the newest private key) and verify them
	// (every key). Kept outside the database; without them no checkpoint is signed.
	AuditKeys *audit.Keyring
}

// Server is the core's web application.
type Server struct {
	App        *fiber.App
	Cfg        Config
	DB         *db.DB
	Tenants    *tenancy.Store
	Accounts   *accounts.Service
	Authz      *authz.Service
	I18n       *i18n.Bundle
	Mail       *mail.Outbox
	Jobs       *jobs.Store
	Trail      *audit.Trail
	Terms      *terms.Service
	Complaints *complaints.Service
	APIKeys    *apikeys.Service
	Views      *Views
	Log        *slog.Logger
	// Modules are the business modules: their manifests, calls, HostAPI and events.
	Modules *modules.Service
	// Launch starts a module no tenant ran when a tenant switches it on (set by the command).
	Launch ModuleLauncher

	secret  []byte
	routes  []Route
	pages   map[string]pageRoute // the GET routes, by path: the pages forms are on
	metrics *metrics
	// What every page of a tenant reads, kept per revision of the tenant.
	maintenance  tenancy.Memo[[]Maintenance]
	termsInForce tenancy.Memo[[]terms.Version]
	accepted     acceptedMemo
	// frames keeps the layout around pages (frame.go); noFrames renders it every time (tests
	// compare the two).
	frames   frames
	noFrames bool
}

// Route is an entry of the route table: every route declares the permission it needs.
type Route struct {
	Method string
	Path   string
	Perm   string
}

// New builds the server on an opened, migrated database.
func New(ctx context.Context, cfg Config, d *db.DB, log *slog.Logger, reg prometheus.Registerer) (*Server, error) {
	bundle, err := i18n.Load()
	if err != nil {
		return nil, err
	}
	views, err := LoadViews(bundle)
	if err != nil {
		return nil, err
	}
	az := authz.NewService(d)
	s := &Server{
		Cfg: cfg, DB: d, Tenants: &tenancy.Store{DB: d}, Authz: az, Accounts: accounts.NewService(d, az),
		I18n: bundle, Mail: &mail.Outbox{DB: d}, Jobs: jobs.NewStore(d), Trail: audit.New(d), Terms: terms.New(d), Complaints: complaints.New(d), APIKeys: apikeys.New(d), Views: views, Log: log,
	}
	s.Modules = &modules.Service{DB: d, Tenants: s.Tenants, Accounts: s.Accounts, Authz: az, Trail: s.Trail, Jobs: s.Jobs, Terms: s.Terms,
		Complaints: s.Complaints, APIKeys: s.APIKeys, I18n: bundle, Outbox: s.Mail, Mailer: mailer{s}, Log: log,
		Blobs: &modules.Blobs{DB: d, Store: modules.DBBlobs{}, Max: 50 << 20, LegacyDir: filepath.Join(cfg.DataDir, "blobs")}}
	s.Tenants.ValidateModule = s.Modules.ValidateRules
	if err := s.loadCatalog(ctx); err != nil {
		return nil, err
	}
	s.Accounts.Tenants = s.Tenants
	// What changes an account is told to the modules in the same transaction (P11: an erasure
	// reaches every module, even one that is down when it happens).
	s.Accounts.Changed = func(ctx context.Context, sc *db.Scope, t *tenancy.Tenant, kind, userID string) error {
		return s.Modules.Tell(ctx, sc, t, kind, []byte(userID))
	}
	s.Accounts.Erase = s.erasePerson
	// A core event is retried until the module acknowledges it.
	s.Jobs.Forever = modules.IsEvent
	if cfg.SMTP != nil {
		s.Mail.Email = cfg.SMTP
	}
	s.Mail.SMS = cfg.SMS
	s.Mail.Retry = s.retryMessage
	if s.secret, err = loadSecret(ctx, d, "csrf"); err != nil {
		return nil, err
	}
	if s.metrics, err = newMetrics(reg); err != nil {
		return nil, err
	}
	s.App = fiber.New(fiber.Config{
		ErrorHandler:          s.errorHandler,
		DisableStartupMessage: true,
		BodyLimit:             26 << 20, // complaint attachments: 5 files of 5 MiB at most
		ReadTimeout:           30 * time.Second,
		WriteTimeout:          60 * time.Second,
		IdleTimeout:           120 * time.Second,
		ReadBufferSize:        16 << 10,
		// Forwarded headers (X-Forwarded-Host, -Proto, -For) count only from configured
		// proxies, always: without the check Fiber believes them from anyone, and a client
		// could pick another tenant's host or make a cookie Secure over plain HTTP. With no
		// proxy configured, no address is trusted.
		EnableTrustedProxyCheck: true,
		TrustedProxies:          cfg.TrustedProxies,
		ProxyHeader:             proxyHeader(cfg.TrustedProxies),
		// Every string Fiber hands out (method, path, params, query, headers, cookies, form
		// values, host, IP) is a copy, not a view into fasthttp's buffers, which are reused
		// by the next request: such strings outlive the handler in metrics labels, logs,
		// caches, maps and goroutines, and a view kept by mistake corrupts them silently.
		// One setting holds for every present and future reader, where copying at each
		// place it is kept would rely on every author remembering; it costs a few small
		// allocations per request.
		Immutable: true,
	})
	s.App.Use(s.requestLog, headAsGet)
	s.App.Use(recover.New(recover.Config{EnableStackTrace: true, StackTraceHandler: func(c *fiber.Ctx, e any) {
		s.Log.Error("panic", "request_id", St(c).RequestID, "panic", fmt.Sprint(e), "stack", string(debug.Stack()))
	}}))
	s.App.Use(s.securityHeaders)
	s.bindOps()
	s.bindStatic()
	s.App.Use(s.resolveTenant, s.markAPI, s.loadSession, s.negotiateLocale, s.csrf, s.termsGate)
	s.bindPublic()
	s.bindAccount()
	s.bindDependants()
	s.bindPeople()
	s.bindCredentials()
	s.bindAdmin()
	s.bindSettings()
	s.bindPlatform()
	s.bindModules()
	s.bindJobs()
	s.bindAudit()
	s.bindTerms()
	s.bindMaintenance()
	s.bindComplaints()
	s.bindPrivacy()
	s.bindTemplates()
	s.bindIdentity()
	s.bindAPIKeys()
	s.bindSecondFactor()
	return s, nil
}

// Prepare makes the database ready to serve: the console tenant, the platform rules and the
// core grants in every tenant.
func (s *Server) Prepare(ctx context.Context, defaultLocale string) error {
	if _, err := s.Tenants.EnsureConsole(ctx, s.Cfg.ConsoleHost, defaultLocale); err != nil {
		return err
	}
	if err := s.Authz.InstallPlatformRules(ctx); err != nil {
		return fmt.Errorf("platform rules: %w", err)
	}
	ids, err := s.Tenants.IDs(ctx)
	if err != nil {
		return err
	}
	for _, id := range ids {
		err := s.DB.InTenant(ctx, id, func(ctx context.Context, sc *db.Scope) error {
			return s.Authz.InstallGrants(ctx, sc, authz.CoreGrants)
		})
		if err != nil {
			return fmt.Errorf("core grants: %w", err)
		}
	}
	return s.Tenants.BumpPolicy(ctx, "")
}

// InstallModuleGrants installs the running modules' default grants in every tenant that
// switched them on.
func (s *Server) InstallModuleGrants(ctx context.Context) error { return s.Modules.InstallGrants(ctx) }

// Routes lists the route table: the core's routes and the running modules' manifest routes.
func (s *Server) Routes() []Route {
	return append(append([]Route(nil), s.routes...), s.ModuleRoutes()...)
}

// route registers a route with its permission; the permission check happens in authorize,
// the one place every route passes through.
func (s *Server) route(method, path, perm string, handlers ...fiber.Handler) {
	if perm == "" {
		panic("server: route " + method + " " + path + " declares no permission")
	}
	s.routes = append(s.routes, Route{Method: method, Path: path, Perm: perm})
	if perm == PermModuleRoute {
		// A module's forms and bodies are checked by the module frame.
		s.App.Add(method, path, append([]fiber.Handler{s.authorize(perm)}, handlers...)...)
		return
	}
	if method == fiber.MethodGet && len(handlers) == 1 {
		if s.pages == nil {
			s.pages = map[string]pageRoute{}
		}
		s.pages[path] = pageRoute{perm: perm, h: handlers[0]}
	}
	s.App.Add(method, path, append([]fiber.Handler{s.authorize(perm), s.checkText(method, path)}, handlers...)...)
}

func (s *Server) get(path, perm string, h ...fiber.Handler) {
	s.route(fiber.MethodGet, path, perm, h...)
}
func (s *Server) post(path, perm string, h ...fiber.Handler) {
	s.route(fiber.MethodPost, path, perm, h...)
}

// Listen serves on addr until ctx is done, then shuts down cleanly.
func (s *Server) Listen(ctx context.Context, ln net.Listener) error {
	errc := make(chan error, 1)
	go func() { errc <- s.App.Listener(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		return s.App.ShutdownWithContext(sctx)
	}
}

// loadSecret returns the installation's secret of that name, creating it once. Every core
// instance on the same database shares it.
func loadSecret(ctx context.Context, d *db.DB, name string) ([]byte, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, err
	}
	_, err := d.Bun.NewInsert().Model(&platformSecret{Name: name, Value: b[:]}).
		On("CONFLICT (name) DO NOTHING").Exec(ctx)
	if err != nil {
		return nil, fmt.Errorf("secret %s: %w", name, err)
	}
	var out platformSecret
	if err := d.Bun.NewSelect().Model(&out).Where("name = ?", name).Scan(ctx); err != nil {
		return nil, fmt.Errorf("secret %s: %w", name, err)
	}
	if len(out.Value) < 32 {
		return nil, errors.New("secret too short")
	}
	return out.Value, nil
}

type platformSecret struct {
	bun.BaseModel `bun:"table:platform_secrets,alias:ps"`

	Name  string `bun:"name,pk"`
	Value []byte `bun:"value"`
}

func proxyHeader(trusted []string) string {
	if len(trusted) == 0 {
		return ""
	}
	return fiber.HeaderXForwardedFor
}

// headAsGet answers HEAD as the GET of the same resource, without its body (RFC 9110
// §9.3.2): pages, files, health checks and module pages all answer it, as monitors, link
// checkers and caches expect. The route table declares GET only; fasthttp leaves the body
// out because the request on the wire is still a HEAD.
func headAsGet(c *fiber.Ctx) error {
	if c.Method() == fiber.MethodHead {
		c.Method(fiber.MethodGet)
	}
	return c.Next()
}
