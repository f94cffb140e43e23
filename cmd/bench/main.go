// Command bench measures what a page of the platform costs against what the same machine
// does with nothing in the way: it builds and starts the platform (`serve --demo`), a bare
// Fiber server answering a static page of the anonymous page's size, and a raw go-plugin echo
// (a Fiber host making one gRPC call to a plugin process that returns a body of the module
// page's size — the same go-plugin, gRPC and Fiber versions the platform uses). It loads each
// in turn with the same settings, with a load generator of its own, and prints requests per
// second, p50 and p99 for each, and the ratios the targets are stated in:
//
//	anonymous core page ÷ bare Fiber, signed-in core page ÷ bare Fiber,
//	signed-in module page ÷ raw go-plugin echo.
//
// Run it from the repository's root:
//
//	go run ./cmd/bench                       # SQLite, 64 connections, 8 s a round
//	go run ./cmd/bench -db 'postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable'
//
// With -db it creates a database of its own on that server and drops it at the end. It is
// not part of `go test ./...`.
package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	"github.com/uptrace/bun/driver/pgdriver"
	"google.golang.org/grpc"
	"google.golang.org/grpc/encoding"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "echo-plugin" {
		serveEcho()
		return
	}
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

type target struct {
	name string
	url  string
	host string
	jar  http.CookieJar
}

type result struct {
	name          string
	reqs, errs    int
	warm          int // requests of the warm-up
	rps           float64
	p50, p99      time.Duration
	bytes         int
	statements    string
	statementsSet bool
}

func run() error {
	conns := flag.Int("c", 64, "concurrent connections")
	dur := flag.Duration("d", 8*time.Second, "duration of each round")
	rounds := flag.Int("rounds", 1, "rounds per target (alternating)")
	dsn := flag.String("db", "", "PostgreSQL server DSN (a database is created on it); SQLite when empty")
	profiles := flag.String("profile", "", "directory to write CPU profiles of the platform and of the results module to, one per page and round (go tool pprof -top <file>)")
	flag.Parse()

	tmp, err := os.MkdirTemp("", "platform-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	fmt.Println("building the platform…")
	bin := filepath.Join(tmp, "platform")
	build := exec.Command("go", "build", "-o", bin, "./cmd/platform")
	build.Stdout, build.Stderr = os.Stdout, os.Stderr
	if err := build.Run(); err != nil {
		return fmt.Errorf("build: %w", err)
	}
	args := []string{"serve", "--demo", "--data", filepath.Join(tmp, "data"), "--tenants", "tenants", "--log", "json"}
	if *dsn != "" {
		db, drop, err := createDatabase(*dsn)
		if err != nil {
			return err
		}
		defer drop()
		args = append(args, "--db", db)
	}
	platformAddr, err := freeAddr()
	if err != nil {
		return err
	}
	args = append(args, "--addr", platformAddr)
	var pprofAddr string
	if *profiles != "" {
		if err := os.MkdirAll(*profiles, 0o755); err != nil {
			return err
		}
		if pprofAddr, err = freeAddr(); err != nil {
			return err
		}
		args = append(args, "--pprof", pprofAddr)
	}
	logs, err := os.Create(filepath.Join(tmp, "platform.log"))
	if err != nil {
		return err
	}
	platform := exec.Command(bin, args...)
	platform.Stdout, platform.Stderr = io.Discard, logs
	platform.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if *profiles != "" {
		platform.Env = append(os.Environ(), "PLATFORM_PPROF_MODULES="+*profiles)
	}
	if err := platform.Start(); err != nil {
		return err
	}
	defer func() { _ = syscall.Kill(-platform.Process.Pid, syscall.SIGTERM); _ = platform.Wait() }()
	base := "http://" + platformAddr
	if err := waitReady(base+"/readyz", 90*time.Second); err != nil {
		return fmt.Errorf("platform: %w (log in %s)", err, logs.Name())
	}
	// The demo data (the patient's reports) is made by the module once it is told: wait for it.
	jar, err := login(base, "mlab.localhost", "user@mlab.localhost", "demo-mlab-user")
	if err != nil {
		return err
	}
	modulePage := target{name: "module page /results/mine (signed in)", url: base + "/results/mine", host: "mlab.localhost", jar: jar}
	if err := waitBody(modulePage, "/results/r/", 60*time.Second); err != nil {
		return err
	}
	anon := target{name: "core page / (anonymous)", url: base + "/", host: "mlab.localhost"}
	account := target{name: "core page /account (signed in)", url: base + "/account", host: "mlab.localhost", jar: jar}
	anonSize, err := size(anon)
	if err != nil {
		return err
	}
	moduleSize, err := size(modulePage)
	if err != nil {
		return err
	}

	fiberAddr, err := freeAddr()
	if err != nil {
		return err
	}
	stopFiber, err := bareFiber(fiberAddr, anonSize)
	if err != nil {
		return err
	}
	defer stopFiber()
	bare := target{name: "bare Fiber, static page", url: "http://" + fiberAddr + "/"}

	echoAddr, err := freeAddr()
	if err != nil {
		return err
	}
	stopEcho, err := pluginEcho(echoAddr, moduleSize)
	if err != nil {
		return err
	}
	defer stopEcho()
	echo := target{name: "raw go-plugin echo", url: "http://" + echoAddr + "/"}

	order := []target{bare, anon, account, echo, modulePage}
	results := map[string]*result{}
	served := map[string]int{}
	for r := 0; r < *rounds; r++ {
		for i, t := range order {
			var wait func() error
			if *profiles != "" && t.host != "" {
				wait = profile(pprofAddr, *profiles, fmt.Sprintf("round%d-%d-core", r+1, i), *dur)
				if t == modulePage {
					waitModule := profileModule(*profiles, fmt.Sprintf("round%d-%d-results", r+1, i), *dur)
					waitCore := wait
					wait = func() error { return errors.Join(waitCore(), waitModule()) }
				}
			}
			res, err := load(t, *conns, *dur)
			if err == nil {
				served[t.name] += res.reqs + res.warm
			}
			if wait != nil {
				if err := wait(); err != nil {
					fmt.Fprintln(os.Stderr, "bench: profile:", err)
				}
			}
			if err != nil {
				return fmt.Errorf("%s: %w", t.name, err)
			}
			prev := results[t.name]
			if prev == nil || res.rps > prev.rps {
				results[t.name] = res
			}
		}
	}
	for _, t := range []target{anon, account, modulePage} {
		if st, err := statements(t); err == nil {
			results[t.name].statements, results[t.name].statementsSet = st, true
		}
	}
	load1, _ := os.ReadFile("/proc/loadavg")
	kind := "SQLite"
	if *dsn != "" {
		kind = "PostgreSQL"
	}
	fmt.Printf("\n%s, %d connections, %s per round, %d round(s), %d CPUs, Go %s; load average %s\n\n",
		kind, *conns, *dur, *rounds, runtime.NumCPU(), runtime.Version(), strings.TrimSpace(string(load1)))
	fmt.Printf("| %-40s | %9s | %9s | %9s | %6s | %s\n", "page", "req/s", "p50", "p99", "bytes", "statements (core, module)")
	fmt.Println("|" + strings.Repeat("-", 42) + "|" + strings.Repeat("-", 11) + "|" + strings.Repeat("-", 11) + "|" + strings.Repeat("-", 11) + "|" + strings.Repeat("-", 8) + "|---")
	for _, t := range order {
		r := results[t.name]
		st := ""
		if r.statementsSet {
			st = r.statements
		}
		fmt.Printf("| %-40s | %9.0f | %9s | %9s | %6d | %s\n", t.name, r.rps, r.p50.Round(10*time.Microsecond), r.p99.Round(10*time.Microsecond), r.bytes, st)
		if r.errs > 0 {
			fmt.Printf("|   %d of %d requests failed\n", r.errs, r.reqs)
		}
	}
	ratio := func(a, b target) float64 { return results[a.name].rps / results[b.name].rps }
	fmt.Printf("\nanonymous core page ÷ bare Fiber:     %.3f  (target ≥ 0.25)\n", ratio(anon, bare))
	fmt.Printf("signed-in core page ÷ bare Fiber:     %.3f  (target ≥ 0.15)\n", ratio(account, bare))
	fmt.Printf("signed-in module page ÷ go-plugin echo: %.3f  (target ≥ 0.50)\n", ratio(modulePage, echo))
	if st, err := logs.Stat(); err == nil {
		// Every request the platform served: the measured ones and their warm-up second.
		total := 0
		for _, t := range []target{anon, account, modulePage} {
			total += served[t.name]
		}
		fmt.Printf("platform log: %d bytes for %d requests (%.0f bytes a request)\n", st.Size(), total, float64(st.Size())/float64(max(total, 1)))
	}
	return nil
}

// profile records a CPU profile of the process serving pprof at addr while a round runs
// (it starts with the round's warm-up second and ends with the round), into dir/name.pprof.
func profile(addr, dir, name string, d time.Duration) (wait func() error) {
	done := make(chan error, 1)
	go func() {
		time.Sleep(time.Second) // the warm-up
		res, err := http.Get(fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", addr, max(int(d.Seconds()), 1)))
		if err != nil {
			done <- err
			return
		}
		defer res.Body.Close()
		f, err := os.Create(filepath.Join(dir, name+".pprof"))
		if err != nil {
			done <- err
			return
		}
		_, err = io.Copy(f, res.Body)
		done <- errors.Join(err, f.Close())
	}()
	return func() error { return <-done }
}

// profileModule is profile for the results module, whose address its process wrote to
// dir/results.addr (PLATFORM_PPROF_MODULES).
func profileModule(dir, name string, d time.Duration) (wait func() error) {
	addr, err := os.ReadFile(filepath.Join(dir, "results.addr"))
	if err != nil {
		return func() error { return err }
	}
	return profile(strings.TrimSpace(string(addr)), dir, name, d)
}

func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

func waitReady(u string, within time.Duration) error {
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		if res, err := http.Get(u); err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				return nil
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	return errors.New("not ready")
}

var csrfRe = regexp.MustCompile(`name="_csrf" value="([^"]+)"`)

func client(jar http.CookieJar) *http.Client {
	return &http.Client{Jar: jar, Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

func get(c *http.Client, t target) (*http.Response, []byte, error) {
	req, err := http.NewRequest("GET", t.url, nil)
	if err != nil {
		return nil, nil, err
	}
	req.Host = t.host
	res, err := c.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	return res, b, err
}

func login(base, host, email, password string) (http.CookieJar, error) {
	jar, _ := cookiejar.New(nil)
	c := client(jar)
	_, page, err := get(c, target{url: base + "/login", host: host})
	if err != nil {
		return nil, err
	}
	m := csrfRe.FindSubmatch(page)
	if m == nil {
		return nil, errors.New("no CSRF token on the login page")
	}
	req, _ := http.NewRequest("POST", base+"/login", strings.NewReader(url.Values{"_csrf": {string(m[1])}, "email": {email}, "password": {password}}.Encode()))
	req.Host = host
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	res, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	res.Body.Close()
	if res.StatusCode != http.StatusSeeOther {
		return nil, fmt.Errorf("login: %d", res.StatusCode)
	}
	return jar, nil
}

func waitBody(t target, want string, within time.Duration) error {
	c := client(t.jar)
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		if res, b, err := get(c, t); err == nil && res.StatusCode == 200 && bytes.Contains(b, []byte(want)) {
			return nil
		}
		time.Sleep(300 * time.Millisecond)
	}
	return fmt.Errorf("%s never showed %q", t.url, want)
}

func size(t target) (int, error) {
	res, b, err := get(client(t.jar), t)
	if err != nil {
		return 0, err
	}
	if res.StatusCode != 200 {
		return 0, fmt.Errorf("%s: %d", t.url, res.StatusCode)
	}
	return len(b), nil
}

// statements reads the statement counts the platform reports on a page (development runs).
func statements(t target) (string, error) {
	res, _, err := get(client(t.jar), t)
	if err != nil {
		return "", err
	}
	return res.Header.Get("X-Statements"), nil
}

// load runs conns clients against t for d and measures every request.
func load(t target, conns int, d time.Duration) (*result, error) {
	tr := &http.Transport{MaxIdleConns: conns, MaxIdleConnsPerHost: conns, MaxConnsPerHost: conns, DisableCompression: true}
	defer tr.CloseIdleConnections()
	var cookies []*http.Cookie
	if t.jar != nil {
		u, _ := url.Parse(t.url)
		u.Host = t.host
		cookies = t.jar.Cookies(u)
	}
	// A short warm-up fills the connections and the caches.
	run := func(until time.Time, record bool) ([][]time.Duration, []int, []int) {
		lat := make([][]time.Duration, conns)
		errs := make([]int, conns)
		sizes := make([]int, conns)
		var wg sync.WaitGroup
		for i := 0; i < conns; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				c := &http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
				for time.Now().Before(until) {
					req, _ := http.NewRequest("GET", t.url, nil)
					req.Host = t.host
					for _, ck := range cookies {
						req.AddCookie(ck)
					}
					start := time.Now()
					res, err := c.Do(req)
					if err == nil {
						n, _ := io.Copy(io.Discard, res.Body)
						res.Body.Close()
						sizes[i] = int(n)
						if res.StatusCode != 200 {
							err = fmt.Errorf("status %d", res.StatusCode)
						}
					}
					if !record {
						lat[i] = append(lat[i], 0) // counted, not measured
						continue
					}
					if err != nil {
						errs[i]++
						continue
					}
					lat[i] = append(lat[i], time.Since(start))
				}
			}(i)
		}
		wg.Wait()
		return lat, errs, sizes
	}
	warmLat, _, _ := run(time.Now().Add(time.Second), false)
	start := time.Now()
	lat, errs, sizes := run(start.Add(d), true)
	elapsed := time.Since(start)
	var all []time.Duration
	out := &result{name: t.name}
	for i := range warmLat {
		out.warm += len(warmLat[i])
	}
	for i := range lat {
		all = append(all, lat[i]...)
		out.errs += errs[i]
		if sizes[i] > 0 {
			out.bytes = sizes[i]
		}
	}
	if len(all) == 0 {
		return nil, errors.New("no request succeeded")
	}
	sort.Slice(all, func(i, j int) bool { return all[i] < all[j] })
	out.reqs = len(all) + out.errs
	out.rps = float64(len(all)) / elapsed.Seconds()
	out.p50, out.p99 = all[len(all)/2], all[len(all)*99/100]
	return out, nil
}

// bareFiber serves a static page of n bytes with Fiber, nothing else.
func bareFiber(addr string, n int) (func(), error) {
	page := bytes.Repeat([]byte("x"), n)
	app := fiber.New(fiber.Config{DisableStartupMessage: true})
	app.Get("/", func(c *fiber.Ctx) error {
		c.Set(fiber.HeaderContentType, fiber.MIMETextHTMLCharsetUTF8)
		return c.Send(page)
	})
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	go func() { _ = app.Listener(ln) }()
	return func() { _ = app.Shutdown() }, nil
}

// ---- the raw go-plugin echo: one gRPC method, raw bytes both ways ----

const echoMethod = "/bench.Echo/Get"

// rawCodec passes bytes through: the echo needs no protobuf.
type rawCodec struct{}

func (rawCodec) Marshal(v any) ([]byte, error) { return *(v.(*[]byte)), nil }
func (rawCodec) Unmarshal(data []byte, v any) error {
	*(v.(*[]byte)) = append([]byte(nil), data...)
	return nil
}
func (rawCodec) Name() string { return "raw" }

func init() { encoding.RegisterCodec(rawCodec{}) }

var handshake = plugin.HandshakeConfig{ProtocolVersion: 1, MagicCookieKey: "PLATFORM_BENCH_ECHO", MagicCookieValue: "echo"}

type echoPlugin struct {
	plugin.NetRPCUnsupportedPlugin
	size int
}

type echoServer interface{}

func (p *echoPlugin) GRPCServer(_ *plugin.GRPCBroker, s *grpc.Server) error {
	body := bytes.Repeat([]byte("x"), p.size)
	s.RegisterService(&grpc.ServiceDesc{ServiceName: "bench.Echo", HandlerType: (*echoServer)(nil),
		Methods: []grpc.MethodDesc{{MethodName: "Get", Handler: func(_ any, ctx context.Context, dec func(any) error, _ grpc.UnaryServerInterceptor) (any, error) {
			var in []byte
			if err := dec(&in); err != nil {
				return nil, err
			}
			out := body
			return &out, nil
		}}}}, struct{}{})
	return nil
}

func (p *echoPlugin) GRPCClient(_ context.Context, _ *plugin.GRPCBroker, c *grpc.ClientConn) (any, error) {
	return c, nil
}

func serveEcho() {
	var n int
	fmt.Sscan(os.Getenv("BENCH_ECHO_SIZE"), &n)
	plugin.Serve(&plugin.ServeConfig{HandshakeConfig: handshake, Plugins: map[string]plugin.Plugin{"echo": &echoPlugin{size: n}},
		GRPCServer: plugin.DefaultGRPCServer, Logger: hclog.New(&hclog.LoggerOptions{Output: io.Discard})})
}

// pluginEcho starts the echo plugin (this binary again) and a Fiber host that answers each
// request with one call to it.
func pluginEcho(addr string, n int) (func(), error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(self, "echo-plugin")
	cmd.Env = append(os.Environ(), fmt.Sprintf("BENCH_ECHO_SIZE=%d", n))
	pc := plugin.NewClient(&plugin.ClientConfig{HandshakeConfig: handshake, Plugins: map[string]plugin.Plugin{"echo": &echoPlugin{}},
		Cmd: cmd, AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC}, Logger: hclog.New(&hclog.LoggerOptions{Output: io.Discard})})
	rpc, err := pc.Client()
	if err != nil {
		pc.Kill()
		return nil, err
	}
	raw, err := rpc.Dispense("echo")
	if err != nil {
		pc.Kill()
		return nil, err
	}
	conn := raw.(*grpc.ClientConn)
	app := fiber.New(fiber.Config{DisableStartupMessage: true})
	app.Get("/", func(c *fiber.Ctx) error {
		in, out := []byte(c.Path()), []byte(nil)
		if err := conn.Invoke(c.UserContext(), echoMethod, &in, &out, grpc.ForceCodec(rawCodec{})); err != nil {
			return err
		}
		c.Set(fiber.HeaderContentType, fiber.MIMETextHTMLCharsetUTF8)
		return c.Send(out)
	})
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		pc.Kill()
		return nil, err
	}
	go func() { _ = app.Listener(ln) }()
	return func() { _ = app.Shutdown(); pc.Kill() }, nil
}

// createDatabase makes a database of the benchmark's own on the server of dsn.
func createDatabase(dsn string) (string, func(), error) {
	var b [4]byte
	_, _ = rand.Read(b[:])
	name := "platform_bench_" + hex.EncodeToString(b[:])
	admin := sql.OpenDB(pgdriver.NewConnector(pgdriver.WithDSN(dsn)))
	if _, err := admin.Exec("CREATE DATABASE " + name); err != nil {
		admin.Close()
		return "", nil, err
	}
	u, err := url.Parse(dsn)
	if err != nil {
		admin.Close()
		return "", nil, err
	}
	u.Path = "/" + name
	return u.String(), func() {
		_, _ = admin.Exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)")
		admin.Close()
	}, nil
}
