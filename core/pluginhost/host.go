// Package pluginhost launches and supervises the business modules, one process each
// (hashicorp go-plugin over gRPC): built-ins by re-executing the platform binary, external
// modules by path with their SHA-256 checked before every start. It pings them, relaunches
// a crashed or hung one with a new client, marks one that keeps failing as failed, and calls
// them with the caller's context and a deadline. The scope of each call (what its HostAPI
// calls act on) is its caller's (core/modules). It must not know about HTTP.
package pluginhost

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"carenet.dev/platform/plugins/sdk"
	"carenet.dev/platform/plugins/sdk/host"
)

// Module states.
const (
	StateStarting = "starting"
	StateRunning  = "running"
	StateDown     = "down" // crashed or hung, being relaunched
	StateFailed   = "failed"
	StateStopped  = "stopped"
)

// ErrUnavailable is returned for a call to a module that is not running.
var ErrUnavailable = errors.New("module unavailable")

// ErrChecksum is (wrapped in) the error of a start refused because the module's executable
// does not have its registered SHA-256.
var ErrChecksum = plugin.ErrChecksumsDoNotMatch

// Spec says how to launch one module.
type Spec struct {
	ID string
	// Command builds the command of a fresh process (called at every start).
	Command func() *exec.Cmd
	// SHA256, for an external module, is the checksum its executable must have; it is
	// checked before every start. Empty for built-ins (the platform binary itself).
	SHA256 []byte
}

// Config holds the supervision rules.
type Config struct {
	PingInterval  time.Duration // how often each module is pinged (default 1 s)
	PingTimeout   time.Duration // a ping slower than this counts as a hang (default 2 s)
	CallTimeout   time.Duration // deadline of a request or job call (default 30 s)
	StartTimeout  time.Duration // deadline of a launch (default 20 s)
	RestartBudget int           // failures within RestartWindow that mark a module failed (default 3)
	RestartWindow time.Duration // (default 60 min)
	// OnStart, when set, is told (in its own goroutine) each time a module started.
	OnStart func(id string)
}

func (c *Config) defaults() {
	if c.PingInterval == 0 {
		c.PingInterval = time.Second
	}
	if c.PingTimeout == 0 {
		c.PingTimeout = 2 * time.Second
	}
	if c.CallTimeout == 0 {
		c.CallTimeout = 30 * time.Second
	}
	if c.StartTimeout == 0 {
		c.StartTimeout = 20 * time.Second
	}
	if c.RestartBudget == 0 {
		c.RestartBudget = 3
	}
	if c.RestartWindow == 0 {
		c.RestartWindow = 60 * time.Minute
	}
}

// Status is a module's health as /readyz and the admin pages show it.
type Status struct {
	ID       string `json:"id"`
	State    string `json:"state"`
	PID      int    `json:"pid"`
	Restarts int    `json:"restarts"`
	Error    string `json:"error,omitempty"`
}

type module struct {
	spec Spec

	mu       sync.RWMutex
	client   *plugin.Client
	mc       *host.Client
	manifest *sdk.Manifest
	router   *host.Router
	state    string
	pid      int
	restarts int
	failures []time.Time
	lastErr  string
	// added is closed once the first launch that Add began is over (nil for a module
	// Start launched): another Add of the same module waits for it.
	added chan struct{}
}

// Host runs the modules.
type Host struct {
	cfg      Config
	log      *slog.Logger
	services host.Services
	envFor   func(id string) (sdk.Env, error)

	mu      sync.RWMutex
	modules map[string]*module

	metrics *metrics
	stop    chan struct{}
	wg      sync.WaitGroup
}

// New returns a host. services are the HostAPI the modules reach (with the Resolve of the
// caller that opens the call scopes); envFor gives each module its data location.
func New(cfg Config, log *slog.Logger, reg prometheus.Registerer, services host.Services, envFor func(string) (sdk.Env, error)) (*Host, error) {
	cfg.defaults()
	h := &Host{cfg: cfg, log: log, envFor: envFor, modules: map[string]*module{}, stop: make(chan struct{})}
	h.services = services
	m, err := newMetrics(reg)
	if err != nil {
		return nil, err
	}
	h.metrics = m
	return h, nil
}

// Start launches every module and starts supervising them. A module that cannot start is
// marked failed (with the reason in the log); the others run.
func (h *Host) Start(ctx context.Context, specs []Spec) {
	for _, s := range specs {
		m := &module{spec: s, state: StateStarting}
		h.mu.Lock()
		h.modules[s.ID] = m
		h.mu.Unlock()
		if err := h.launch(ctx, m); err != nil {
			h.fail(m, err)
		}
	}
	h.wg.Add(1)
	go h.supervise()
}

// Add launches a module that is not running yet (a tenant just switched it on); a module
// the host already has is left as it is.
//
// Two callers may add the same module at once (the request that switched it on, and this
// instance following the tenant's change): the second waits until the first's launch is
// over, so that neither returns while the module is still starting.
func (h *Host) Add(ctx context.Context, s Spec) error {
	h.mu.Lock()
	if m, ok := h.modules[s.ID]; ok {
		h.mu.Unlock()
		if m.added != nil {
			select {
			case <-m.added:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		return nil
	}
	m := &module{spec: s, state: StateStarting, added: make(chan struct{})}
	h.modules[s.ID] = m
	h.mu.Unlock()
	defer close(m.added)
	if err := h.launch(ctx, m); err != nil {
		h.fail(m, err)
		return err
	}
	return nil
}

// ChecksumError says that an external module's executable is not the one registered: the
// host refuses to start it, at its first start as at every relaunch.
type ChecksumError struct {
	Module, Path     string
	Expected, Actual []byte
}

func (e *ChecksumError) Error() string {
	return fmt.Sprintf("module %s: %s has SHA-256 %x, the registered one is %x", e.Module, e.Path, e.Actual, e.Expected)
}

// Unwrap makes it go-plugin's checksum error: a permanent failure.
func (e *ChecksumError) Unwrap() error { return plugin.ErrChecksumsDoNotMatch }

// checkSum reads the executable cmd runs and compares its SHA-256 with the registered one.
// go-plugin checks it again as it starts the process; this check names both checksums.
func checkSum(id string, cmd *exec.Cmd, want []byte) error {
	f, err := os.Open(cmd.Path)
	if err != nil {
		return fmt.Errorf("start %s: %w", id, err)
	}
	defer f.Close()
	hash := sha256.New()
	if _, err := io.Copy(hash, f); err != nil {
		return fmt.Errorf("start %s: %w", id, err)
	}
	if got := hash.Sum(nil); !bytes.Equal(got, want) {
		return &ChecksumError{Module: id, Path: cmd.Path, Expected: want, Actual: got}
	}
	return nil
}

// launch starts a new process for m with a new client.
func (h *Host) launch(ctx context.Context, m *module) error {
	cmd := m.spec.Command()
	if len(m.spec.SHA256) > 0 {
		if err := checkSum(m.spec.ID, cmd, m.spec.SHA256); err != nil {
			return err
		}
	}
	// Plugins die with the host, even on SIGKILL (Pdeathsig), and live in their own
	// process group so that nothing of theirs is orphaned or signalled by accident.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cc := &plugin.ClientConfig{
		HandshakeConfig:  host.Handshake(),
		VersionedPlugins: host.Plugins(),
		Cmd:              cmd,
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		StartTimeout:     h.cfg.StartTimeout,
		Logger:           hclog.New(&hclog.LoggerOptions{Name: "module." + m.spec.ID, Output: slogWriter{h.log, m.spec.ID}, Level: hclog.Info}),
	}
	if len(m.spec.SHA256) > 0 {
		cc.SecureConfig = &plugin.SecureConfig{Checksum: m.spec.SHA256, Hash: sha256.New()}
	}
	client := plugin.NewClient(cc)
	rpc, err := client.Client()
	if err != nil {
		client.Kill()
		return fmt.Errorf("start %s: %w", m.spec.ID, err)
	}
	raw, err := rpc.Dispense(host.PluginName)
	if err != nil {
		client.Kill()
		return fmt.Errorf("start %s: %w", m.spec.ID, err)
	}
	mc := raw.(*host.Client)
	env, err := h.envFor(m.spec.ID)
	if err != nil {
		client.Kill()
		return fmt.Errorf("start %s: env: %w", m.spec.ID, err)
	}
	ctx, cancel := context.WithTimeout(ctx, h.cfg.StartTimeout)
	defer cancel()
	if err := mc.Init(ctx, h.services, env); err != nil {
		client.Kill()
		return fmt.Errorf("start %s: init: %w", m.spec.ID, err)
	}
	man, err := mc.Manifest(ctx)
	if err != nil {
		client.Kill()
		return fmt.Errorf("start %s: %w", m.spec.ID, err)
	}
	if man.ID != m.spec.ID {
		client.Kill()
		return fmt.Errorf("start %s: the plugin says it is %q", m.spec.ID, man.ID)
	}
	pid := 0
	if rc := client.ReattachConfig(); rc != nil {
		pid = rc.Pid
	}
	m.mu.Lock()
	old := m.client
	// The module's routes are matched on its manifest, compiled once per start.
	m.client, m.mc, m.manifest, m.router, m.state, m.pid, m.lastErr = client, mc, man, host.NewRouter(man.Routes), StateRunning, pid, ""
	m.mu.Unlock()
	if old != nil {
		old.Kill()
	}
	h.log.Info("module running", "module", m.spec.ID, "pid", pid, "version", man.Version)
	if h.cfg.OnStart != nil {
		go h.cfg.OnStart(m.spec.ID)
	}
	return nil
}

// fail records a failure of m; within the budget m is relaunched, past it m is failed.
func (h *Host) fail(m *module, cause error) {
	now := time.Now()
	m.mu.Lock()
	var recent []time.Time
	for _, t := range m.failures {
		if now.Sub(t) < h.cfg.RestartWindow {
			recent = append(recent, t)
		}
	}
	m.failures = append(recent, now)
	m.lastErr = cause.Error()
	client, pid := m.client, m.pid
	// The process is killed below (or already dead): no pid is shown for it any more.
	m.client, m.mc, m.pid = nil, nil, 0
	// A plugin of another protocol version, or whose checksum is wrong, will not get
	// better by relaunching it.
	give := len(m.failures) >= h.cfg.RestartBudget || permanent(cause)
	if give {
		m.state = StateFailed
	} else {
		m.state = StateDown
	}
	m.mu.Unlock()
	if client != nil {
		// A hung plugin does not answer go-plugin's graceful shutdown: kill its process
		// group first, and let the client clean up in the background.
		if pid > 0 {
			_ = syscall.Kill(-pid, syscall.SIGKILL)
		}
		go client.Kill()
	}
	if give && strings.Contains(strings.ToLower(cause.Error()), "incompatible api version") {
		h.log.Error("module refused: it speaks another protocol version", "module", m.spec.ID,
			"host_protocol", sdk.ProtocolVersion, "cause", cause.Error())
		return
	}
	var sum *ChecksumError
	if give && errors.As(cause, &sum) {
		h.log.Error("module refused: its executable does not have the registered SHA-256", "module", m.spec.ID,
			"path", sum.Path, "expected_sha256", hex.EncodeToString(sum.Expected), "found_sha256", hex.EncodeToString(sum.Actual))
		return
	}
	if give && errors.Is(cause, plugin.ErrChecksumsDoNotMatch) {
		h.log.Error("module refused: its executable does not have the registered SHA-256", "module", m.spec.ID,
			"expected_sha256", hex.EncodeToString(m.spec.SHA256), "cause", cause.Error())
		return
	}
	if give {
		h.log.Error("module failed: no more restarts until an admin restarts it", "module", m.spec.ID,
			"failures", len(m.failures), "window", h.cfg.RestartWindow.String(), "cause", cause.Error())
		return
	}
	h.log.Warn("module down, relaunching", "module", m.spec.ID, "cause", cause.Error())
}

// permanent reports whether a launch failure cannot be cured by relaunching.
func permanent(err error) bool {
	return errors.Is(err, plugin.ErrChecksumsDoNotMatch) || errors.Is(err, plugin.ErrSecureConfigNoChecksum) ||
		strings.Contains(strings.ToLower(err.Error()), "incompatible api version")
}

// supervise pings every running module and relaunches the ones that died or hang.
func (h *Host) supervise() {
	defer h.wg.Done()
	t := time.NewTicker(h.cfg.PingInterval)
	defer t.Stop()
	// Exits are noticed faster than the ping interval.
	fast := time.NewTicker(100 * time.Millisecond)
	defer fast.Stop()
	for {
		select {
		case <-h.stop:
			return
		case <-fast.C:
			for _, m := range h.list() {
				m.mu.RLock()
				c, state := m.client, m.state
				m.mu.RUnlock()
				switch {
				case state == StateRunning && c != nil && c.Exited():
					h.fail(m, errors.New("process exited"))
					h.relaunch(m)
				case state == StateDown:
					h.relaunch(m)
				}
			}
		case <-t.C:
			for _, m := range h.list() {
				m.mu.RLock()
				mc, state := m.mc, m.state
				m.mu.RUnlock()
				if state != StateRunning || mc == nil {
					continue
				}
				ctx, cancel := context.WithTimeout(context.Background(), h.cfg.PingTimeout)
				err := mc.Ping(ctx)
				cancel()
				if err != nil {
					h.fail(m, fmt.Errorf("ping: %w", err))
					h.relaunch(m)
				}
			}
		}
	}
}

func (h *Host) relaunch(m *module) {
	m.mu.RLock()
	state := m.state
	m.mu.RUnlock()
	if state != StateDown {
		return
	}
	if err := h.launch(context.Background(), m); err != nil {
		h.fail(m, err)
		return
	}
	m.mu.Lock()
	m.restarts++
	m.mu.Unlock()
	h.metrics.restarts.WithLabelValues(m.spec.ID).Inc()
}

// Restart relaunches a module now (the admin's button), clearing its failures.
func (h *Host) Restart(ctx context.Context, id string) error {
	m := h.get(id)
	if m == nil {
		return ErrUnavailable
	}
	m.mu.Lock()
	m.failures, m.state = nil, StateStarting
	m.mu.Unlock()
	if err := h.launch(ctx, m); err != nil {
		h.fail(m, err)
		return err
	}
	m.mu.Lock()
	m.restarts++
	m.mu.Unlock()
	h.metrics.restarts.WithLabelValues(id).Inc()
	return nil
}

// Stop ends supervision and every module process.
func (h *Host) Stop() {
	select {
	case <-h.stop:
		return
	default:
		close(h.stop)
	}
	h.wg.Wait()
	for _, m := range h.list() {
		m.mu.Lock()
		if m.client != nil {
			m.client.Kill()
		}
		m.client, m.mc, m.state = nil, nil, StateStopped
		m.mu.Unlock()
	}
}

func (h *Host) list() []*module {
	h.mu.RLock()
	defer h.mu.RUnlock()
	out := make([]*module, 0, len(h.modules))
	for _, m := range h.modules {
		out = append(out, m)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].spec.ID < out[j].spec.ID })
	return out
}

func (h *Host) get(id string) *module {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return h.modules[id]
}

// Statuses lists every module's state, pid and restarts.
func (h *Host) Statuses() []Status {
	var out []Status
	for _, m := range h.list() {
		m.mu.RLock()
		out = append(out, Status{ID: m.spec.ID, State: m.state, PID: m.pid, Restarts: m.restarts, Error: m.lastErr})
		m.mu.RUnlock()
	}
	return out
}

// Manifest returns the manifest a module declared at its last start (nil if it never
// started).
func (h *Host) Manifest(id string) *sdk.Manifest {
	m := h.get(id)
	if m == nil {
		return nil
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.manifest
}

// IDs lists the modules the host runs.
func (h *Host) IDs() []string {
	var out []string
	for _, m := range h.list() {
		out = append(out, m.spec.ID)
	}
	return out
}

// Router returns the matcher of a module's routes as its last start declared them (nil if
// it never started).
func (h *Host) Router(id string) *host.Router {
	m := h.get(id)
	if m == nil {
		return nil
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.router
}

// CallTimeout is the deadline of a call to a module: a call's scope need not outlive it.
func (h *Host) CallTimeout() time.Duration { return h.cfg.CallTimeout }

func (h *Host) client(id string) (*host.Client, error) {
	m := h.get(id)
	if m == nil {
		return nil, ErrUnavailable
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.state != StateRunning || m.mc == nil {
		return nil, ErrUnavailable
	}
	return m.mc, nil
}

// Handle forwards a request to a module, with the caller's context and the call deadline;
// the module's HostAPI calls during it carry call.Token.
func (h *Host) Handle(ctx context.Context, id string, call host.Call, req *sdk.Request) (*sdk.Response, error) {
	var res *sdk.Response
	err := h.do(ctx, id, "handle", func(ctx context.Context, mc *host.Client) error {
		var err error
		res, err = mc.Handle(ctx, call, req)
		return err
	})
	return res, err
}

// RunJob runs a job of a module for one tenant.
func (h *Host) RunJob(ctx context.Context, id string, call host.Call, job *sdk.Job) error {
	return h.do(ctx, id, "job", func(ctx context.Context, mc *host.Client) error {
		return mc.RunJob(ctx, call, job)
	})
}

// ExportUser asks a module for what it holds of a user of one tenant.
func (h *Host) ExportUser(ctx context.Context, id string, call host.Call, userID string) ([]byte, error) {
	var out []byte
	err := h.do(ctx, id, "export", func(ctx context.Context, mc *host.Client) error {
		var err error
		out, err = mc.ExportUser(ctx, call, userID)
		return err
	})
	return out, err
}

// OnEvent delivers an event to a module for one tenant.
func (h *Host) OnEvent(ctx context.Context, id string, call host.Call, ev *sdk.Event) error {
	return h.do(ctx, id, "event", func(ctx context.Context, mc *host.Client) error {
		return mc.OnEvent(ctx, call, ev)
	})
}

func (h *Host) do(ctx context.Context, id, method string, fn func(context.Context, *host.Client) error) error {
	mc, err := h.client(id)
	if err != nil {
		h.metrics.errors.WithLabelValues(id, method).Inc()
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, h.cfg.CallTimeout)
	defer cancel()
	start := time.Now()
	err = fn(ctx, mc)
	h.metrics.latency.WithLabelValues(id, method).Observe(time.Since(start).Seconds())
	if err != nil {
		h.metrics.errors.WithLabelValues(id, method).Inc()
		if h.lost(id, mc, err) {
			return fmt.Errorf("%w: %s: %s", ErrUnavailable, id, err.Error())
		}
	}
	return err
}

// lost reports whether a failed call failed because the process it went to is gone, not
// because of the module's own error: a call in flight when the process dies is an
// unavailable module (the person gets the module's 503, never a bad gateway). The process
// may die before the supervisor notices, and be relaunched before the caller looks: so
// the transport's own word counts (gRPC's Unavailable: the connection broke), and so does
// any change of the client the call went through.
func (h *Host) lost(id string, used *host.Client, err error) bool {
	if status.Code(err) == codes.Unavailable {
		return true
	}
	m := h.get(id)
	if m == nil {
		return true
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.state != StateRunning || m.mc != used || m.client == nil || m.client.Exited()
}

type metrics struct {
	latency  *prometheus.HistogramVec
	errors   *prometheus.CounterVec
	restarts *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "platform_plugin_call_duration_seconds",
			Help: "Latency of calls to module plugins.", Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 5}},
			[]string{"module", "method"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "platform_plugin_call_errors_total",
			Help: "Failed calls to module plugins."}, []string{"module", "method"}),
		restarts: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "platform_plugin_restarts_total",
			Help: "Module plugin relaunches."}, []string{"module"}),
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.latency, m.errors, m.restarts} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// slogWriter sends go-plugin's log lines (and the plugin's stderr) to the platform's log.
type slogWriter struct {
	log    *slog.Logger
	module string
}

func (w slogWriter) Write(p []byte) (int, error) {
	w.log.Info("plugin", "module", w.module, "line", string(trimNL(p)))
	return len(p), nil
}

func trimNL(p []byte) []byte {
	for len(p) > 0 && (p[len(p)-1] == '\n' || p[len(p)-1] == '\r') {
		p = p[:len(p)-1]
	}
	return p
}
