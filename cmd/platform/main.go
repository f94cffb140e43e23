// Command platform is the one binary of the platform: it serves the core and its tenants,
// migrates the database and imports tenants. Every flag has a PLATFORM_… environment
// variable; a flag given on the command line wins.
package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	_ "net/http/pprof" // served only on --pprof's own address
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"carenet.dev/platform/core/accounts"
	"carenet.dev/platform/core/audit"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"carenet.dev/platform/core/db"
	"carenet.dev/platform/core/mail"
	"carenet.dev/platform/core/pluginhost"
	"carenet.dev/platform/core/server"
	"carenet.dev/platform/core/tenancy"
	"carenet.dev/platform/tenants"
)

func main() {
	if err := run(context.Background(), os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "platform:", err)
		os.Exit(1)
	}
}

const usage = `usage: platform <command> [flags]

commands:
  serve            serve the platform (flags: platform serve -h)
  migrate          create or upgrade the database, then exit
  tenants import   import the tenant catalog: <slug>/tenant.toml of --tenants DIR, or the
                   demonstration catalog built into the binary (existing tenants are left
                   as they are)
  audit verify     check every tenant's audit trail (or --tenant <slug>): an edited, deleted
                   or reordered record, or a chain that no longer matches its signed
                   checkpoints (--audit-key, and --checkpoints <file> downloaded earlier),
                   is reported and the command fails
  audit rotate-key add a new signing key to the --audit-key file; earlier keys stay to verify
  admins create    create a platform admin on the console (--email, --name; the password
                   comes from PLATFORM_ADMIN_PASSWORD or is generated and printed once)
`

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errors.New("no command")
	}
	switch args[0] {
	case "serve":
		return serve(ctx, args[1:], stdout, stderr)
	case "migrate":
		return migrate(ctx, args[1:], stdout, stderr)
	case "tenants":
		if len(args) < 2 || args[1] != "import" {
			fmt.Fprint(stderr, usage)
			return errors.New("unknown tenants command")
		}
		return importTenants(ctx, args[2:], stdout, stderr)
	case "plugin":
		if len(args) < 2 {
			return errors.New("plugin: which module?")
		}
		return servePlugin(args[1])
	case "audit":
		if len(args) >= 2 && args[1] == "rotate-key" {
			return rotateAuditKey(args[2:], stdout, stderr)
		}
		if len(args) < 2 || args[1] != "verify" {
			fmt.Fprint(stderr, usage)
			return errors.New("unknown audit command")
		}
		return verifyAudit(ctx, args[2:], stdout, stderr)
	case "admins":
		if len(args) < 2 || args[1] != "create" {
			fmt.Fprint(stderr, usage)
			return errors.New("unknown admins command")
		}
		return createAdmin(ctx, args[2:], stdout, stderr)
	case "-h", "--help", "help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return fmt.Errorf("unknown command %q", args[0])
}

func env(name, def string) string {
	if v, ok := os.LookupEnv(name); ok {
		return v
	}
	return def
}

// dataFlags are the flags every command that opens the database shares.
type dataFlags struct {
	data, dsn, appRole, tenants string
}

func (d *dataFlags) bind(fs *flag.FlagSet) {
	fs.StringVar(&d.data, "data", env("PLATFORM_DATA", "./data"), "data directory (SQLite files, mail) [PLATFORM_DATA]")
	fs.StringVar(&d.dsn, "db", env("PLATFORM_DB", ""), "database: empty for SQLite in the data directory, or a postgres:// DSN (its user owns the tables) [PLATFORM_DB]")
	fs.StringVar(&d.appRole, "db-app-role", env("PLATFORM_DB_APP_ROLE", db.DefaultAppRole), "PostgreSQL role the platform runs as (not superuser, no BYPASSRLS) [PLATFORM_DB_APP_ROLE]")
	fs.StringVar(&d.tenants, "tenants", env("PLATFORM_TENANTS", ""), "tenant catalog directory (default: the demonstration catalog built into the binary) [PLATFORM_TENANTS]")
}

// catalog is the tenant catalog to import: the --tenants directory, or the one built into
// the binary (found whatever directory the command is started from), and its name for
// messages.
func (d *dataFlags) catalog() (fs.FS, string, error) {
	if d.tenants == "" {
		return tenants.Catalog, "built-in catalog", nil
	}
	if st, err := os.Stat(d.tenants); err != nil {
		return nil, "", fmt.Errorf("tenant catalog: %w", err)
	} else if !st.IsDir() {
		return nil, "", fmt.Errorf("tenant catalog: %s is not a directory", d.tenants)
	}
	return os.DirFS(d.tenants), d.tenants, nil
}

func (d *dataFlags) open(ctx context.Context) (*db.DB, error) {
	return db.Open(ctx, db.Config{DSN: d.dsn, DataDir: d.data, AppRole: d.appRole, AppPassword: os.Getenv("PLATFORM_DB_APP_PASSWORD")})
}

// openFor parses a command's flags (the data flags and the ones extra binds) and opens the
// database, migrated.
func openFor(ctx context.Context, name string, args []string, stderr io.Writer, extra func(*flag.FlagSet)) (*db.DB, *dataFlags, error) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	d := &dataFlags{}
	d.bind(fs)
	if extra != nil {
		extra(fs)
	}
	if err := fs.Parse(args); err != nil {
		return nil, nil, err
	}
	database, err := d.open(ctx)
	return database, d, err
}

func migrate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	database, _, err := openFor(ctx, "migrate", args, stderr, nil)
	if err != nil {
		return err
	}
	defer database.Close()
	fmt.Fprintf(stdout, "database is up to date (%s)\n", database.Kind)
	return nil
}

func importTenants(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	database, d, err := openFor(ctx, "tenants import", args, stderr, nil)
	if err != nil {
		return err
	}
	defer database.Close()
	store := &tenancy.Store{DB: database}
	catalog, where, err := d.catalog()
	if err != nil {
		return err
	}
	res, err := store.ImportFS(ctx, catalog, where)
	for _, r := range res {
		state := "exists, left unchanged"
		if r.Created {
			state = "created"
		}
		fmt.Fprintf(stdout, "%-12s %s\n", r.Slug, state)
	}
	return err
}

func serve(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var d dataFlags
	d.bind(fs)
	addr := fs.String("addr", env("PLATFORM_ADDR", "127.0.0.1:8080"), "address to listen on [PLATFORM_ADDR]")
	demo := fs.Bool("demo", env("PLATFORM_DEMO", "") == "1" || env("PLATFORM_DEMO", "") == "true", "create demo users and print their logins [PLATFORM_DEMO]")
	console := fs.String("console-host", env("PLATFORM_CONSOLE_HOST", "admin.localhost"), "hostname of the platform administration console [PLATFORM_CONSOLE_HOST]")
	publicURL := fs.String("public-url", env("PLATFORM_PUBLIC_URL", ""), "how people reach the platform, e.g. https://example.org (default http://localhost:<port>) [PLATFORM_PUBLIC_URL]")
	logFormat := fs.String("log", env("PLATFORM_LOG", "text"), "log format: text or json [PLATFORM_LOG]")
	smtpFlag := fs.String("smtp", env("PLATFORM_SMTP", ""), "SMTP server for e-mail: smtp://user:password@host:port?tls=starttls|tls|none; empty keeps e-mail in the development mailbox (database) [PLATFORM_SMTP]")
	smsFlag := fs.String("sms-url", env("PLATFORM_SMS_URL", ""), "SMSAPI endpoint for SMS, e.g. https://api.smsapi.com/sms.do (OAuth token in PLATFORM_SMS_TOKEN); empty keeps SMS in the development mailbox (database) [PLATFORM_SMS_URL]")
	smsSender := fs.String("sms-sender", env("PLATFORM_SMS_SENDER", ""), "sender name of SMS, as registered with the provider; empty: the account's default [PLATFORM_SMS_SENDER]")
	modulesFlag := fs.String("modules", env("PLATFORM_MODULES", ""), "external modules: <id>=<path>:<sha256>, comma-separated; checked before every start [PLATFORM_MODULES]")
	pprofAddr := fs.String("pprof", env("PLATFORM_PPROF", ""), "address of a CPU and memory profile endpoint (/debug/pprof/), e.g. 127.0.0.1:6060; off when empty [PLATFORM_PPROF]")
	cacheBound := fs.Duration("cache-bound", envDuration("PLATFORM_CACHE_BOUND", tenancy.DefaultBound), "how long a change made on another instance may go unseen by this one (tenants, rules, windows, terms) [PLATFORM_CACHE_BOUND]")
	auditKey := fs.String("audit-key", env("PLATFORM_AUDIT_KEY", ""), "file of the Ed25519 keys that sign the audit checkpoints, kept outside the database (default in --demo and development: <data>/audit-key.pem, created if absent) [PLATFORM_AUDIT_KEY]")
	proxies := fs.String("trusted-proxies", env("PLATFORM_TRUSTED_PROXIES", ""), "comma-separated IPs or CIDRs of reverse proxies whose X-Forwarded-For/-Proto/-Host are believed (from no one else) [PLATFORM_TRUSTED_PROXIES]")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var handler slog.Handler = slog.NewTextHandler(stderr, nil)
	if *logFormat == "json" {
		handler = slog.NewJSONHandler(stderr, nil)
	}
	log := slog.New(handler)
	slog.SetDefault(log)

	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	defer ln.Close()
	if *pprofAddr != "" {
		// What a request costs, profiled (go tool pprof http://<addr>/debug/pprof/profile).
		pl, err := net.Listen("tcp", *pprofAddr)
		if err != nil {
			return err
		}
		defer pl.Close()
		go func() { _ = http.Serve(pl, http.DefaultServeMux) }()
	}
	port := fmt.Sprint(ln.Addr().(*net.TCPAddr).Port)
	if *publicURL == "" {
		*publicURL = "http://localhost:" + port
	}
	if u, err := url.Parse(*publicURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("--public-url %q is not an http(s) URL", *publicURL)
	}

	database, err := d.open(ctx)
	if err != nil {
		return err
	}
	defer database.Close()
	var trusted []string
	for _, p := range strings.Split(*proxies, ",") {
		if p = strings.TrimSpace(p); p != "" {
			trusted = append(trusted, p)
		}
	}
	external, err := externalModules(*modulesFlag)
	if err != nil {
		return err
	}
	var smtp *mail.SMTP
	if *smtpFlag != "" {
		if smtp, err = mail.ParseSMTP(*smtpFlag); err != nil {
			return err
		}
	}
	var sms mail.Transport
	if *smsFlag != "" {
		sms = &mail.SMSAPI{URL: *smsFlag, Token: os.Getenv("PLATFORM_SMS_TOKEN"), Sender: *smsSender}
	}
	auditKeys, err := serveAuditKeys(*auditKey, d.data, *demo || smtp == nil, log)
	if err != nil {
		return err
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	srv, err := server.New(ctx, server.Config{DataDir: d.data, ConsoleHost: *console, PublicURL: *publicURL,
		TrustedProxies: trusted, SMTP: smtp, SMS: sms, Dev: smtp == nil, AuditKeys: auditKeys},
		database, log, reg)
	if err != nil {
		return err
	}
	srv.Tenants.Bound = *cacheBound
	if err := preRegister(ctx, srv, log, external); err != nil {
		return err
	}
	catalog, where, err := d.catalog()
	if err != nil {
		return err
	}
	specs, err := moduleSpecs(ctx, srv, catalog)
	if err != nil {
		return err
	}
	// A module that (re)starts gets at once the core events that waited for it.
	host, err := pluginhost.New(pluginhost.Config{OnStart: func(id string) { srv.Modules.Started(context.WithoutCancel(ctx), id) }},
		log, reg, srv.Modules.Services(), moduleEnv(database, d.data))
	if err != nil {
		return err
	}
	srv.Modules.SetHost(host)
	host.Start(ctx, specs)
	defer host.Stop()
	srv.Launch = func(ctx context.Context, id string) error {
		spec, ok, err := moduleSpec(ctx, srv, id)
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("no module %q to launch", id)
		}
		return host.Add(ctx, spec)
	}
	// What another instance changes (a module registered, a module switched on for a
	// tenant) moves a tenant's revision: this one follows within its bound.
	srv.Tenants.Moved = func(ids []string) { srv.FollowModules(context.WithoutCancel(ctx), ids) }
	go srv.Tenants.Watch(ctx)
	res, err := srv.ImportCatalog(ctx, catalog, where)
	if err != nil {
		return err
	}
	for _, r := range res {
		if r.Created {
			log.Info("tenant imported", "tenant", r.Slug, "catalog", where)
		}
	}
	if err := srv.Prepare(ctx, "fr"); err != nil {
		return err
	}
	if err := srv.InstallModuleGrants(ctx); err != nil {
		return err
	}
	if *demo {
		logins, err := srv.SeedDemo(ctx)
		if err != nil {
			return err
		}
		printDemo(stdout, srv, ctx, *publicURL, logins)
		// The modules run (host.Start launched them): each may now make its demonstration
		// data for the demo accounts.
		if err := srv.AnnounceDemo(ctx, logins); err != nil {
			return err
		}
	}
	go srv.RunJobs(ctx, time.Second)
	log.Info("serving", "addr", ln.Addr().String(), "database", database.Kind, "data", absPath(d.data))
	return srv.Listen(ctx, ln)
}

func absPath(p string) string {
	if a, err := filepath.Abs(p); err == nil {
		return a
	}
	return p
}

func printDemo(w io.Writer, srv *server.Server, ctx context.Context, publicURL string, logins []server.DemoLogin) {
	u, _ := url.Parse(publicURL)
	port := u.Port()
	ts, _ := srv.Tenants.List(ctx)
	fmt.Fprintln(w, "\nDemo tenants")
	for _, t := range ts {
		var hosts []string
		for _, h := range t.Hostnames {
			hp := h.Hostname
			if port != "" {
				hp += ":" + port
			}
			label := ""
			if h.Portal != "" {
				label = " (" + h.Portal + ")"
			}
			hosts = append(hosts, u.Scheme+"://"+hp+"/"+label)
		}
		fmt.Fprintf(w, "  %-12s %s\n  %-12s also %s/t/%s/\n", t.Slug, strings.Join(hosts, "  "), "", strings.TrimSuffix(publicURL, "/"), t.Slug)
	}
	fmt.Fprintln(w, "\nDemo logins")
	for _, l := range logins {
		fmt.Fprintf(w, "  %-12s %-16s %-34s %s\n", l.Tenant, l.Role, l.Email, l.Password)
	}
	fmt.Fprintln(w)
}

func createAdmin(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var email, name, console *string
	database, d, err := openFor(ctx, "admins create", args, stderr, func(fs *flag.FlagSet) {
		email = fs.String("email", "", "e-mail of the new platform admin")
		name = fs.String("name", "", "name of the new platform admin")
		console = fs.String("console-host", env("PLATFORM_CONSOLE_HOST", "admin.localhost"), "hostname of the console [PLATFORM_CONSOLE_HOST]")
	})
	if err != nil {
		return err
	}
	defer database.Close()
	if accounts.NormalizeEmail(*email) == "" || strings.TrimSpace(*name) == "" {
		return errors.New("--email (a valid address) and --name are required")
	}
	password, generated := os.Getenv("PLATFORM_ADMIN_PASSWORD"), false
	if password == "" {
		var b [15]byte
		if _, err := rand.Read(b[:]); err != nil {
			return err
		}
		password, generated = base64.RawURLEncoding.EncodeToString(b[:]), true
	}
	if f, _ := accounts.CheckPassword(password, password); f != "" {
		return errors.New("PLATFORM_ADMIN_PASSWORD must have 10 to 128 characters")
	}
	srv, err := server.New(ctx, server.Config{DataDir: d.data, ConsoleHost: *console}, database,
		slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
	if err != nil {
		return err
	}
	if err := srv.Prepare(ctx, "fr"); err != nil {
		return err
	}
	t, err := srv.Tenants.BySlug(ctx, tenancy.ConsoleSlug)
	if err != nil {
		return err
	}
	if _, err := srv.Accounts.ByEmail(ctx, t.ID, *email); err == nil {
		return fmt.Errorf("%s already has an account on the console", *email)
	}
	u, err := srv.Accounts.CreateActive(ctx, t, *email, password, strings.TrimSpace(*name), "", "")
	if err != nil {
		return err
	}
	if err := srv.Authz.MakePlatformAdmin(ctx, u.ID); err != nil {
		return err
	}
	if err := srv.Tenants.BumpPolicy(ctx, ""); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "platform admin %s created; sign in at http://%s/login\n", u.Email, *console)
	if generated {
		fmt.Fprintf(stdout, "password (shown once): %s\n", password)
	}
	return nil
}

// defaultAuditKey is where --demo and development runs keep their audit key.
func defaultAuditKey(dataDir string) string { return filepath.Join(dataDir, "audit-key.pem") }

// serveAuditKeys loads the keys that sign the audit checkpoints. A production run must be
// given the file (a key in the data directory sits beside the database it protects); a
// --demo or development run creates one in the data directory, readable by its owner only.
func serveAuditKeys(path, dataDir string, dev bool, log *slog.Logger) (*audit.Keyring, error) {
	if path == "" {
		if !dev {
			return nil, errors.New("--audit-key (or PLATFORM_AUDIT_KEY) is required: the file of the key that signs the audit checkpoints, kept outside the database; create it with `platform audit rotate-key --audit-key <file>`")
		}
		path = defaultAuditKey(dataDir)
	}
	if dev {
		created, err := audit.EnsureKeyFile(path)
		if err != nil {
			return nil, err
		}
		if created {
			log.Warn("audit key created in the data directory: give production runs --audit-key", "file", absPath(path))
		}
	}
	keys, err := audit.LoadKeyring(path)
	if err != nil {
		return nil, err
	}
	signer, err := keys.Signer()
	if err != nil {
		return nil, fmt.Errorf("--audit-key %s: %w", path, err)
	}
	if fi, err := os.Stat(path); err == nil && fi.Mode().Perm()&0o077 != 0 {
		log.Warn("the audit key file is readable by others than its owner", "file", absPath(path), "mode", fi.Mode().Perm().String())
	}
	log.Info("audit checkpoints signed", "key", signer.ID, "keys", len(keys.Keys))
	return keys, nil
}

func rotateAuditKey(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("audit rotate-key", flag.ContinueOnError)
	fs.SetOutput(stderr)
	data := fs.String("data", env("PLATFORM_DATA", "./data"), "data directory [PLATFORM_DATA]")
	path := fs.String("audit-key", env("PLATFORM_AUDIT_KEY", ""), "key file (default <data>/audit-key.pem) [PLATFORM_AUDIT_KEY]")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *path == "" {
		*path = defaultAuditKey(*data)
	}
	id, err := audit.RotateKeyFile(*path)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "new audit signing key %s in %s (restart the platform to sign with it; earlier keys now only verify)\n", id, *path)
	return nil
}

func verifyAudit(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var only, keyFile, cpFile *string
	var strict *bool
	database, d, err := openFor(ctx, "audit verify", args, stderr, func(fs *flag.FlagSet) {
		only = fs.String("tenant", "", "verify only this tenant (slug)")
		keyFile = fs.String("audit-key", env("PLATFORM_AUDIT_KEY", ""), "file of the audit keys (public keys are enough; default <data>/audit-key.pem when present) [PLATFORM_AUDIT_KEY]")
		cpFile = fs.String("checkpoints", "", "a file of checkpoints downloaded from Administration → Audit, kept outside the database: its tenant is checked against it too")
		strict = fs.Bool("strict", false, "fail, not only warn, when records older than twice the tenant's checkpoint interval have no signed checkpoint")
	})
	if err != nil {
		return err
	}
	defer database.Close()
	keys := &audit.Keyring{}
	path := *keyFile
	if path == "" {
		if _, err := os.Stat(defaultAuditKey(d.data)); err == nil {
			path = defaultAuditKey(d.data)
		}
	}
	if path != "" {
		k, err := audit.LoadKeyring(path)
		if err != nil {
			return err
		}
		keys.Merge(k)
	}
	var ext *audit.Export
	if *cpFile != "" {
		data, err := os.ReadFile(*cpFile)
		if err != nil {
			return err
		}
		e, fileKeys, err := audit.ParseExport(data)
		if err != nil {
			return err
		}
		ext = e
		keys.Merge(fileKeys)
	}
	ts, err := (&tenancy.Store{DB: database}).List(ctx)
	if err != nil {
		return err
	}
	trail := audit.New(database)
	broken, fileUsed := 0, false
	for _, t := range ts {
		if *only != "" && t.Slug != *only {
			continue
		}
		var external []audit.Checkpoint
		if ext != nil && ext.TenantID == t.ID {
			external, fileUsed = ext.Checkpoints, true
		}
		res, err := trail.VerifyAnchored(ctx, t.ID, keys, external)
		if err != nil {
			broken++
			fmt.Fprintf(stdout, "%-12s BROKEN after %d good records: %v\n", t.Slug, res.Records, err)
			continue
		}
		if res.Checkpoints == 0 {
			fmt.Fprintf(stdout, "%-12s ok, %d records, no signed checkpoint yet\n", t.Slug, res.Records)
		} else {
			fmt.Fprintf(stdout, "%-12s ok, %d records, signed up to record %d (%d checkpoints)\n", t.Slug, res.Records, res.UpTo, res.Checkpoints)
		}
		// The checkpoint job signs within the tenant's interval (and its own 5-minute tick):
		// records older than twice that and unsigned mean deleted checkpoints, or a platform
		// that stopped soon after writing them.
		grace := 2*time.Duration(t.IntRule("audit.checkpoint_minutes"))*time.Minute + 5*time.Minute
		if !res.UnsignedSince.IsZero() && time.Since(res.UnsignedSince) > grace {
			fmt.Fprintf(stdout, "%-12s WARNING: the records since %s have no signed checkpoint; if the platform ran since, checkpoints were deleted: verify with a checkpoint file kept outside the database\n",
				t.Slug, res.UnsignedSince.UTC().Format(time.RFC3339))
			if *strict {
				broken++
			}
		}
	}
	if ext != nil && !fileUsed {
		return fmt.Errorf("the checkpoint file is of tenant %s (%s), which was not verified", ext.Tenant, ext.TenantID)
	}
	if broken > 0 {
		return fmt.Errorf("%d audit trail(s) broken", broken)
	}
	return nil
}

// envDuration reads a duration from the environment, or def.
func envDuration(name string, def time.Duration) time.Duration {
	if v := os.Getenv(name); v != "" {
		if d, err := time.ParseDuration(v); err == nil {
			return d
		}
	}
	return def
}
