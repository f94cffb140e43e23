package pluginhost_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"carenet.dev/platform/core/pluginhost"
	"carenet.dev/platform/plugins/sdk"
	"carenet.dev/platform/plugins/sdk/host"
	"carenet.dev/platform/plugins/sdk/sdktest"
)

// The test binary is also the plugin: the host re-executes it as `<test> plugin <id>`, the
// way the platform binary re-executes itself for built-in modules.
func TestMain(m *testing.M) {
	if len(os.Args) >= 3 && os.Args[1] == "plugin" {
		servePlugin(os.Args[2])
		os.Exit(0)
	}
	if len(os.Args) >= 2 && os.Args[1] == "host" {
		runHostProcess()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func echoModule(id string) sdk.Module {
	return &sdktest.Module{
		Man: sdk.Manifest{ID: id, Version: "1.0.0",
			Routes: []sdk.Route{{Method: "GET", Path: "/" + id, Public: true}}},
		Handler: func(ctx context.Context, req *sdk.Request) (*sdk.Response, error) {
			body := fmt.Sprintf("%s|%s|%d", req.Tenant.Slug, req.Path, os.Getpid())
			if strings.HasSuffix(req.Path, "/lookup") {
				u, err := sdk.HostFrom(ctx).User(ctx, req.Query)
				if err != nil {
					return &sdk.Response{Status: 404, Body: []byte(err.Error())}, nil
				}
				body = u.Email
			}
			if strings.HasSuffix(req.Path, "/hang") {
				time.Sleep(time.Hour)
			}
			return &sdk.Response{Status: 200, Body: []byte(body)}, nil
		},
	}
}

func servePlugin(id string) {
	switch id {
	case "badversion":
		host.ServeVersion(echoModule(id), sdk.ProtocolVersion+1)
	case "oldversion":
		// A module built before protocol 2 (its roles were not its own, events came once).
		host.ServeVersion(echoModule(id), sdk.ProtocolVersion-1)
	default:
		sdk.Serve(echoModule(id))
	}
}

func self(id string) func() *exec.Cmd {
	exe, err := os.Executable()
	if err != nil {
		panic(err)
	}
	return func() *exec.Cmd { return exec.Command(exe, "plugin", id) }
}

// logBuffer collects the host's log lines.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func newHost(t *testing.T, cfg pluginhost.Config, specs ...pluginhost.Spec) (*pluginhost.Host, *sdktest.FakeHost, *logBuffer) {
	t.Helper()
	logs := &logBuffer{}
	fake := sdktest.NewFakeHost()
	h, err := pluginhost.New(cfg, slog.New(slog.NewTextHandler(logs, nil)), nil, fake.Services(),
		func(string) (sdk.Env, error) { return sdk.Env{DataDir: t.TempDir()}, nil })
	if err != nil {
		t.Fatal(err)
	}
	h.Start(context.Background(), specs)
	t.Cleanup(h.Stop)
	return h, fake, logs
}

func status(h *pluginhost.Host, id string) pluginhost.Status {
	for _, s := range h.Statuses() {
		if s.ID == id {
			return s
		}
	}
	return pluginhost.Status{}
}

func call(h *pluginhost.Host, id, path string) (*sdk.Response, error) {
	ten := sdk.Tenant{ID: "t1", Slug: "mlab"}
	return h.Handle(context.Background(), id, host.Call{Tenant: ten}, &sdk.Request{Method: "GET", Path: path, Tenant: ten})
}

func alive(pid int) bool { return syscall.Kill(pid, 0) == nil }

// TestLaunchAndCall: each module is its own process, with its own pid, answering calls (P5).
func TestLaunchAndCall(t *testing.T) {
	h, _, _ := newHost(t, pluginhost.Config{}, pluginhost.Spec{ID: "alpha", Command: self("alpha")}, pluginhost.Spec{ID: "beta", Command: self("beta")})
	a, b := status(h, "alpha"), status(h, "beta")
	if a.State != "running" || b.State != "running" || a.PID == b.PID || a.PID == os.Getpid() || !alive(a.PID) {
		t.Fatalf("statuses: %+v", h.Statuses())
	}
	res, err := call(h, "alpha", "/alpha")
	if err != nil || string(res.Body) != fmt.Sprintf("mlab|/alpha|%d", a.PID) {
		t.Fatalf("call: %v %q", err, res.Body)
	}
	if m := h.Manifest("beta"); m == nil || m.Version != "1.0.0" {
		t.Fatalf("manifest: %+v", m)
	}
}

// TestCrashedModuleIsRelaunched: kill -9 of a module: its calls fail at once with
// ErrUnavailable, the other module keeps answering, and it is back within 5 seconds with a
// new pid (P5).
func TestCrashedModuleIsRelaunched(t *testing.T) {
	h, _, _ := newHost(t, pluginhost.Config{}, pluginhost.Spec{ID: "alpha", Command: self("alpha")}, pluginhost.Spec{ID: "beta", Command: self("beta")})
	old := status(h, "alpha").PID
	if err := syscall.Kill(old, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(time.Second)
	for {
		_, err := call(h, "alpha", "/alpha")
		if errors.Is(err, pluginhost.ErrUnavailable) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("killed module still answers or errs differently: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if _, err := call(h, "beta", "/beta"); err != nil {
		t.Fatalf("the other module: %v", err)
	}
	deadline = time.Now().Add(5 * time.Second)
	for {
		s := status(h, "alpha")
		if s.State == "running" && s.PID != old {
			if res, err := call(h, "alpha", "/alpha"); err == nil && strings.HasSuffix(string(res.Body), strconv.Itoa(s.PID)) {
				if s.Restarts != 1 {
					t.Fatalf("restarts %d", s.Restarts)
				}
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("not back within 5 s: %+v", s)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestHungModuleIsRelaunched: a module that stops answering pings is replaced.
func TestHungModuleIsRelaunched(t *testing.T) {
	h, _, _ := newHost(t, pluginhost.Config{PingInterval: 200 * time.Millisecond, PingTimeout: 300 * time.Millisecond},
		pluginhost.Spec{ID: "alpha", Command: self("alpha")})
	old := status(h, "alpha").PID
	// Freeze the process: it neither answers nor exits.
	if err := syscall.Kill(old, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	defer syscall.Kill(old, syscall.SIGKILL)
	deadline := time.Now().Add(5 * time.Second)
	for {
		s := status(h, "alpha")
		if s.State == "running" && s.PID != old {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("hung module not replaced: %+v", s)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestRestartBudget: the third failure within the window marks the module failed; it stays
// down until an admin restarts it (P5).
func TestRestartBudget(t *testing.T) {
	h, _, logs := newHost(t, pluginhost.Config{}, pluginhost.Spec{ID: "alpha", Command: self("alpha")})
	for i := 1; i <= 3; i++ {
		s := waitRunning(t, h, "alpha")
		syscall.Kill(s.PID, syscall.SIGKILL)
		if i < 3 {
			waitState(t, h, "alpha", func(x pluginhost.Status) bool { return x.State == "running" && x.PID != s.PID })
		}
	}
	waitState(t, h, "alpha", func(x pluginhost.Status) bool { return x.State == "failed" })
	time.Sleep(1500 * time.Millisecond)
	if s := status(h, "alpha"); s.State != "failed" {
		t.Fatalf("a failed module was relaunched: %+v", s)
	}
	if _, err := call(h, "alpha", "/alpha"); !errors.Is(err, pluginhost.ErrUnavailable) {
		t.Fatalf("call to a failed module: %v", err)
	}
	if !strings.Contains(logs.String(), "no more restarts until an admin restarts it") {
		t.Fatalf("no clear log line:\n%s", logs.String())
	}
	if err := h.Restart(context.Background(), "alpha"); err != nil {
		t.Fatal(err)
	}
	if _, err := call(h, "alpha", "/alpha"); err != nil {
		t.Fatalf("after the admin's restart: %v", err)
	}
}

func waitRunning(t *testing.T, h *pluginhost.Host, id string) pluginhost.Status {
	return waitState(t, h, id, func(s pluginhost.Status) bool { return s.State == "running" })
}

func waitState(t *testing.T, h *pluginhost.Host, id string, ok func(pluginhost.Status) bool) pluginhost.Status {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		s := status(h, id)
		if ok(s) {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: state %+v", id, s)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestVersionMismatchRefused: a plugin speaking another protocol version, newer or older, is
// refused with a clear log line and never relaunched (P5).
func TestVersionMismatchRefused(t *testing.T) {
	for _, id := range []string{"badversion", "oldversion"} {
		h, _, logs := newHost(t, pluginhost.Config{}, pluginhost.Spec{ID: id, Command: self(id)})
		s := status(h, id)
		if s.State != "failed" || s.Restarts != 0 {
			t.Fatalf("%s status: %+v", id, s)
		}
		if !strings.Contains(logs.String(), "module refused: it speaks another protocol version") {
			t.Fatalf("%s log:\n%s", id, logs.String())
		}
	}
}

// TestWrongChecksumRefused: an external module whose executable does not have the
// registered SHA-256 is not started; the right checksum starts it.
func TestWrongChecksumRefused(t *testing.T) {
	exe, _ := os.Executable()
	data, err := os.ReadFile(exe)
	if err != nil {
		t.Fatal(err)
	}
	right := sha256.Sum256(data)
	wrong := sha256.Sum256([]byte("not this binary"))
	h, _, logs := newHost(t, pluginhost.Config{},
		pluginhost.Spec{ID: "alpha", Command: self("alpha"), SHA256: wrong[:]},
		pluginhost.Spec{ID: "beta", Command: self("beta"), SHA256: right[:]})
	if s := status(h, "alpha"); s.State != "failed" || s.PID != 0 {
		t.Fatalf("wrong checksum: %+v", s)
	}
	if !strings.Contains(logs.String(), "does not have the registered SHA-256") {
		t.Fatalf("log:\n%s", logs.String())
	}
	if s := status(h, "beta"); s.State != "running" {
		t.Fatalf("right checksum: %+v", s)
	}
}

// TestHostAPIScopedToTheCall: a module's HostAPI calls act in the tenant of the host call
// that caused them: a user of another tenant is not found (P5).
func TestHostAPIScopedToTheCall(t *testing.T) {
	h, fake, _ := newHost(t, pluginhost.Config{}, pluginhost.Spec{ID: "alpha", Command: self("alpha")})
	fake.Users["t1"] = []sdk.User{{ID: "u1", Email: "u1@t1.example"}}
	fake.Users["t2"] = []sdk.User{{ID: "u2", Email: "u2@t2.example"}}
	lookup := func(tenant, id string) *sdk.Response {
		ten := sdk.Tenant{ID: tenant}
		call := fake.Open(ten, nil, "alpha")
		defer fake.Close(call.Token)
		res, err := h.Handle(context.Background(), "alpha", call, &sdk.Request{Method: "GET", Path: "/alpha/lookup", Query: id, Tenant: ten})
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	if r := lookup("t1", "u1"); string(r.Body) != "u1@t1.example" {
		t.Fatalf("own tenant: %d %s", r.Status, r.Body)
	}
	if r := lookup("t1", "u2"); r.Status != 404 {
		t.Fatalf("another tenant's user: %d %s", r.Status, r.Body)
	}
}

// TestCallsCarryADeadline: a call to a module that does not answer ends at the host's call
// deadline, and the module is still there for the next call.
func TestCallsCarryADeadline(t *testing.T) {
	h, _, _ := newHost(t, pluginhost.Config{CallTimeout: 300 * time.Millisecond}, pluginhost.Spec{ID: "alpha", Command: self("alpha")})
	start := time.Now()
	_, err := call(h, "alpha", "/alpha/hang")
	if err == nil || time.Since(start) > 3*time.Second {
		t.Fatalf("hanging call: %v after %s", err, time.Since(start))
	}
	if _, err := call(h, "alpha", "/alpha"); err != nil {
		t.Fatalf("next call: %v", err)
	}
}

// runHostProcess is a host in its own process (for the orphan test): it starts one module,
// prints the module's pid and waits to be killed.
func runHostProcess() {
	fake := sdktest.NewFakeHost()
	h, err := pluginhost.New(pluginhost.Config{}, slog.New(slog.NewTextHandler(io.Discard, nil)), nil, fake.Services(),
		func(string) (sdk.Env, error) { return sdk.Env{}, nil })
	if err != nil {
		panic(err)
	}
	h.Start(context.Background(), []pluginhost.Spec{{ID: "alpha", Command: self("alpha")}})
	fmt.Println("pid", h.Statuses()[0].PID)
	_ = http.ListenAndServe // keep the process alive like a server would
	select {}
}

// TestNoOrphanWhenHostIsKilled: SIGKILL of the host leaves no module process behind (P5).
func TestNoOrphanWhenHostIsKilled(t *testing.T) {
	exe, _ := os.Executable()
	cmd := exec.Command(exe, "host")
	out, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		cmd.Process.Kill()
		t.Fatalf("host: %v", err)
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(line, "pid ")))
	if pid == 0 || !alive(pid) {
		t.Fatalf("module pid %q", line)
	}
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	deadline := time.Now().Add(5 * time.Second)
	for alive(pid) {
		// A zombie is reaped by init once its parent is gone; it is not running.
		if st, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid)); err == nil && strings.Contains(string(st), ") Z ") {
			return
		}
		if time.Now().After(deadline) {
			syscall.Kill(pid, syscall.SIGKILL)
			t.Fatalf("module %d survived its host", pid)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func discardLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// TestCallInFlightWhenModuleDies: issue 11.8 (P5). A call in flight when its module's process
// is killed is an unavailable module (the caller answers its 503), whether or not the
// supervisor noticed the death first; and a module marked failed shows no pid of a process
// that is gone.
func TestCallInFlightWhenModuleDies(t *testing.T) {
	h, _, _ := newHost(t, pluginhost.Config{}, pluginhost.Spec{ID: "alpha", Command: self("alpha")})
	for i := 1; i <= 3; i++ {
		s := waitRunning(t, h, "alpha")
		errc := make(chan error, 1)
		go func() { _, err := call(h, "alpha", "/alpha/hang"); errc <- err }()
		time.Sleep(300 * time.Millisecond) // the call is in the module now
		if err := syscall.Kill(s.PID, syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		select {
		case err := <-errc:
			if !errors.Is(err, pluginhost.ErrUnavailable) {
				t.Fatalf("kill %d: call in flight ended with %v, want unavailable", i, err)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("kill %d: the call in flight did not end", i)
		}
		if i < 3 {
			waitState(t, h, "alpha", func(x pluginhost.Status) bool { return x.State == "running" && x.PID != s.PID })
		}
	}
	s := waitState(t, h, "alpha", func(x pluginhost.Status) bool { return x.State == "failed" })
	if s.PID != 0 {
		t.Fatalf("failed module shows pid %d (alive: %v)", s.PID, alive(s.PID))
	}
}

// TestChecksumCheckedAtEveryRelaunch: the checksum of an external module is checked again
// when the host relaunches it after a crash and when an admin restarts it: an executable
// swapped while it ran is refused, the module is failed, and the log line names the module,
// the registered and the found SHA-256 (issue 11.17, P5).
func TestChecksumCheckedAtEveryRelaunch(t *testing.T) {
	exe, _ := os.Executable()
	data, err := os.ReadFile(exe)
	if err != nil {
		t.Fatal(err)
	}
	path := t.TempDir() + "/alpha"
	if err := os.WriteFile(path, data, 0o755); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	cmd := func() *exec.Cmd { return exec.Command(path, "plugin", "alpha") }
	h, _, logs := newHost(t, pluginhost.Config{}, pluginhost.Spec{ID: "alpha", Command: cmd, SHA256: sum[:]})
	s := status(h, "alpha")
	if s.State != "running" || s.PID == 0 {
		t.Fatalf("registered executable: %+v", s)
	}
	// Another build takes the executable's place (a new file: the running one is busy),
	// then the module crashes.
	swapped := append(append([]byte(nil), data...), []byte("another build")...)
	if err := os.WriteFile(path+".new", swapped, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(path+".new", path); err != nil {
		t.Fatal(err)
	}
	found := sha256.Sum256(swapped)
	syscall.Kill(s.PID, syscall.SIGKILL)
	deadline := time.Now().Add(10 * time.Second)
	for status(h, "alpha").State != pluginhost.StateFailed {
		if time.Now().After(deadline) {
			t.Fatalf("swapped executable not refused after a crash: %+v\n%s", status(h, "alpha"), logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	line := ""
	for _, l := range strings.Split(logs.String(), "\n") {
		if strings.Contains(l, "does not have the registered SHA-256") {
			line = l
		}
	}
	for _, want := range []string{"module=alpha", fmt.Sprintf("expected_sha256=%x", sum), fmt.Sprintf("found_sha256=%x", found)} {
		if !strings.Contains(line, want) {
			t.Fatalf("log line %q lacks %q\n%s", line, want, logs.String())
		}
	}
	// The admin's restart checks it too: refused while the executable is not the registered one.
	if err := h.Restart(context.Background(), "alpha"); !errors.Is(err, pluginhost.ErrChecksum) {
		t.Fatalf("restart of a swapped executable: %v", err)
	}
	if s := status(h, "alpha"); s.State != pluginhost.StateFailed {
		t.Fatalf("after refused restart: %+v", s)
	}
	// The registered build back in place: the restart starts it.
	if err := os.WriteFile(path+".new", data, 0o755); err != nil {
		t.Fatal(err)
	}
	os.Rename(path+".new", path)
	if err := h.Restart(context.Background(), "alpha"); err != nil {
		t.Fatalf("restart of the registered executable: %v", err)
	}
	if s := status(h, "alpha"); s.State != pluginhost.StateRunning {
		t.Fatalf("after restart: %+v", s)
	}
}
