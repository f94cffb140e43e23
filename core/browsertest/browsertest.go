// Package browsertest starts the headless Chromium the browser tests drive (chromedp). The
// tests of core/server and of cmd/platform share it. They run when a Chromium binary is found
// and are skipped otherwise, unless PLATFORM_TEST_BROWSER=require (as in CI), where a missing
// browser is a failure.
//
// Environment:
//   - PLATFORM_TEST_CHROMIUM: the browser binary to use; when set, nothing else is looked up
//     (set it to a path that does not exist to check the skip).
//   - PLATFORM_TEST_BROWSER=require: fail instead of skipping when no browser is found.
package browsertest

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// path returns the browser to drive, or "" when there is none.
func path() string {
	if p, ok := os.LookupEnv("PLATFORM_TEST_CHROMIUM"); ok && p != "" {
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
			return p
		}
		return ""
	}
	if fi, err := os.Stat("/usr/bin/chromium"); err == nil && !fi.IsDir() {
		return "/usr/bin/chromium"
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// Need returns the browser binary, or skips the test (fails it when a browser is required).
func Need(t *testing.T) string {
	t.Helper()
	if p := path(); p != "" {
		return p
	}
	what := "no Chromium found (/usr/bin/chromium, or chromium, chromium-browser, google-chrome on PATH)"
	if v := os.Getenv("PLATFORM_TEST_CHROMIUM"); v != "" {
		what = fmt.Sprintf("PLATFORM_TEST_CHROMIUM=%q is not an executable file", v)
	}
	if os.Getenv("PLATFORM_TEST_BROWSER") == "require" {
		t.Fatalf("browser test required (PLATFORM_TEST_BROWSER=require) but %s; install it with `apt-get install -y chromium`", what)
	}
	t.Skipf("%s; set PLATFORM_TEST_BROWSER=require to make this a failure", what)
	return ""
}

// syncBuffer collects the browser's output, written from the allocator's goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Start starts a fresh headless Chromium with the flags this machine needs (no sandbox as
// root, no GPU, no QUIC, no background traffic to the closed network), an empty profile,
// every *.localhost name resolved to loopback, and a language no tenant offers (pages fall
// back to the tenant's default, P4, whatever the machine's locale is). It returns a tab
// context bounded by timeout, counted from before the start so that a hung start is bounded
// too; the browser is stopped, and waited for, when the test ends.
func Start(t *testing.T, execPath string, timeout time.Duration) context.Context {
	t.Helper()
	out := &syncBuffer{}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(execPath),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("host-resolver-rules", "MAP *.localhost 127.0.0.1"),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("lang", "en-US"),
		chromedp.Flag("accept-lang", "en-US"),
		chromedp.WindowSize(1280, 900),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.CombinedOutput(out),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelTab := chromedp.NewContext(allocCtx)
	tctx, cancelTimeout := context.WithTimeout(ctx, timeout)
	t.Cleanup(func() {
		cancelTimeout()
		cancelTab()
		cancelAlloc() // kills Chromium and waits for it to exit
		if t.Failed() {
			if s := out.String(); s != "" {
				t.Logf("chromium output:\n%s", s)
			}
		}
	})
	if err := chromedp.Do(tctx); err != nil {
		t.Fatalf("start %s: %v\n%s", execPath, err, out.String())
	}
	return tctx
}
