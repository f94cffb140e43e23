package browsertest

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/chromedp/chromedp"
)

// The page checkers: axe-core, run inside Chromium on the page as the person sees it, and
// html-validate, run by Node.js on the HTML as the server sent it. Both are npm packages
// pinned in js/package.json and js/package-lock.json, installed by
// `npm ci --prefix core/browsertest/js` (.ci/run does it). Like the browser, they are
// needed: a test that asks for them is skipped when they are missing, and fails instead
// under PLATFORM_TEST_BROWSER=require.

// HTMLValidateConfig is the html-validate configuration every page is checked against: the
// recommended rules, with
//   - the doctype written in lower case (`<!doctype html>`, the form the platform's pages
//     and mails use);
//   - check boxes that share a name (a form's multiple choice, read as a list) allowed, as
//     radio buttons are;
//   - trailing white space allowed: the pages are generated, and the spaces the templates'
//     layout leaves on a line are a matter of source style, not of the page.
const HTMLValidateConfig = `{
  "extends": ["html-validate:recommended"],
  "rules": {
    "doctype-style": ["error", {"style": "lowercase"}],
    "form-dup-name": ["error", {"shared": ["radio", "checkbox", "button", "reset", "submit"]}],
    "no-trailing-whitespace": "off"
  }
}`

// Checks runs the page checkers.
type Checks struct {
	node   string // the Node.js binary
	dir    string // core/browsertest/js, with its node_modules
	config string // a file holding HTMLValidateConfig
	axeSrc string
}

// jsDir is core/browsertest/js, found from this file's place in the source tree.
func jsDir() string {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return ""
	}
	return filepath.Join(filepath.Dir(file), "js")
}

var (
	axeOnce sync.Once
	axeSrc  string
	axeErr  error
)

// NeedChecks returns the page checkers, or skips the test when Node.js or the npm packages
// are missing (fails it when PLATFORM_TEST_BROWSER=require).
func NeedChecks(t *testing.T) *Checks {
	t.Helper()
	dir := jsDir()
	node, err := exec.LookPath("node")
	missing := ""
	switch {
	case err != nil:
		missing = "no Node.js (node) on PATH; install it with `apt-get install -y nodejs`"
	case !exists(filepath.Join(dir, "node_modules", "axe-core", "axe.min.js")) ||
		!exists(filepath.Join(dir, "node_modules", "html-validate", "bin", "html-validate.mjs")):
		missing = fmt.Sprintf("the page checkers are not installed; run `npm ci --prefix %s`", dir)
	}
	if missing != "" {
		if os.Getenv("PLATFORM_TEST_BROWSER") == "require" {
			t.Fatalf("page checks required (PLATFORM_TEST_BROWSER=require) but %s", missing)
		}
		t.Skipf("%s; set PLATFORM_TEST_BROWSER=require to make this a failure", missing)
	}
	axeOnce.Do(func() {
		var b []byte
		b, axeErr = os.ReadFile(filepath.Join(dir, "node_modules", "axe-core", "axe.min.js"))
		axeSrc = string(b)
	})
	if axeErr != nil {
		t.Fatal(axeErr)
	}
	cfg := filepath.Join(t.TempDir(), "htmlvalidate.json")
	if err := os.WriteFile(cfg, []byte(HTMLValidateConfig), 0o644); err != nil {
		t.Fatal(err)
	}
	return &Checks{node: node, dir: dir, config: cfg, axeSrc: axeSrc}
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// AxeViolation is one rule axe-core found broken on a page, with the nodes that break it.
type AxeViolation struct {
	ID     string `json:"id"`
	Impact string `json:"impact"`
	Help   string `json:"help"`
	Nodes  []struct {
		Target         []any  `json:"target"`
		FailureSummary string `json:"failureSummary"`
	} `json:"nodes"`
}

func (v AxeViolation) String() string {
	var where []string
	for i, n := range v.Nodes {
		if i == 5 {
			where = append(where, fmt.Sprintf("… %d more", len(v.Nodes)-5))
			break
		}
		where = append(where, fmt.Sprint(n.Target...))
	}
	return fmt.Sprintf("%s (%s, %d nodes): %s [%s]", v.ID, v.Impact, len(v.Nodes), v.Help, strings.Join(where, "; "))
}

// Axe runs axe-core on the page the tab shows and returns the violations of every rule it
// runs by default.
func (c *Checks) Axe(ctx context.Context) ([]AxeViolation, error) {
	loaded, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`typeof axe === "object"`))
	if err != nil {
		return nil, err
	}
	if !loaded {
		if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](c.axeSrc+"\n;true")); err != nil {
			return nil, fmt.Errorf("load axe-core: %w", err)
		}
	}
	raw, err := chromedp.Run(ctx, chromedp.Evaluate[string](
		`axe.run(document, {resultTypes: ["violations"]}).then(r => JSON.stringify(r.violations))`,
		chromedp.EvalAwaitPromise))
	if err != nil {
		return nil, fmt.Errorf("run axe-core: %w", err)
	}
	var out []AxeViolation
	if err := json.Unmarshal([]byte(raw), &out); err != nil {
		return nil, fmt.Errorf("axe-core's answer: %w", err)
	}
	return out, nil
}

// Serious keeps the violations whose impact is serious or critical.
func Serious(vs []AxeViolation) []AxeViolation {
	var out []AxeViolation
	for _, v := range vs {
		if v.Impact == "serious" || v.Impact == "critical" {
			out = append(out, v)
		}
	}
	return out
}

// HTMLProblem is one message of html-validate on one page.
type HTMLProblem struct {
	Page    string
	Rule    string
	Message string
	Line    int
	Column  int
	Excerpt string
}

func (p HTMLProblem) String() string {
	return fmt.Sprintf("%s:%d:%d: %s: %s\n    %s", p.Page, p.Line, p.Column, p.Rule, p.Message, p.Excerpt)
}

// ValidateHTML runs html-validate with HTMLValidateConfig on pages (name → the HTML as the
// server sent it) and returns every error it reports, in the order of the names.
func (c *Checks) ValidateHTML(pages map[string]string) ([]HTMLProblem, error) {
	if len(pages) == 0 {
		return nil, nil
	}
	dir, err := os.MkdirTemp("", "htmlvalidate")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	names := make([]string, 0, len(pages))
	for n := range pages {
		names = append(names, n)
	}
	sort.Strings(names)
	files := map[string]string{}
	// The report goes to a file: Node.js may exit before a large report is written to a pipe.
	report := filepath.Join(dir, "report.json")
	args := []string{filepath.Join(c.dir, "node_modules", "html-validate", "bin", "html-validate.mjs"),
		"--config", c.config, "--formatter", "json=" + report}
	sources := map[string][]string{}
	for i, n := range names {
		f := filepath.Join(dir, fmt.Sprintf("page-%03d.html", i))
		if err := os.WriteFile(f, []byte(pages[n]), 0o644); err != nil {
			return nil, err
		}
		files[f] = n
		sources[n] = strings.Split(pages[n], "\n")
		args = append(args, f)
	}
	cmd := exec.Command(c.node, args...)
	cmd.Dir = c.dir
	var stderr strings.Builder
	cmd.Stderr = &stderr
	err = cmd.Run()
	// html-validate exits 1 when it found errors; anything else is a failure to run.
	if ee, ok := err.(*exec.ExitError); err != nil && (!ok || ee.ExitCode() != 1) {
		return nil, fmt.Errorf("html-validate: %v\n%s", err, stderr.String())
	}
	out, err := os.ReadFile(report)
	if err != nil {
		return nil, fmt.Errorf("html-validate wrote no report: %w\n%s", err, stderr.String())
	}
	var results []struct {
		FilePath string `json:"filePath"`
		Messages []struct {
			RuleID   string `json:"ruleId"`
			Severity int    `json:"severity"`
			Message  string `json:"message"`
			Line     int    `json:"line"`
			Column   int    `json:"column"`
		} `json:"messages"`
	}
	if len(strings.TrimSpace(string(out))) > 0 {
		if err := json.Unmarshal(out, &results); err != nil {
			return nil, fmt.Errorf("html-validate's answer: %w\n%s", err, out)
		}
	}
	var problems []HTMLProblem
	for _, r := range results {
		name := files[r.FilePath]
		if name == "" {
			name = r.FilePath
		}
		for _, m := range r.Messages {
			if m.Severity < 2 {
				continue
			}
			excerpt := ""
			if lines := sources[name]; m.Line >= 1 && m.Line <= len(lines) {
				excerpt = strings.TrimSpace(lines[m.Line-1])
				if len(excerpt) > 200 {
					excerpt = excerpt[:200] + "…"
				}
			}
			problems = append(problems, HTMLProblem{Page: name, Rule: m.RuleID, Message: m.Message, Line: m.Line, Column: m.Column, Excerpt: excerpt})
		}
	}
	sort.SliceStable(problems, func(i, j int) bool { return problems[i].Page < problems[j].Page })
	return problems, nil
}
