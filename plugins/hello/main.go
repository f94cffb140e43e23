// Command hello is the smallest external module: a program of its own, built against the
// SDK only (no module frame, nothing of the core), that a platform admin registers on the
// console with its path and SHA-256. It has one page (/hello), one permission (hello.greet,
// every signed-in user of a tenant that switched it on), one rule (hello.repeat, how many
// times the page greets, 1 to 5) and brings its own words in French, Polish and Slovak.
//
//	go build -o /opt/modules/hello ./plugins/hello
//	sha256sum /opt/modules/hello
package main

import (
	"context"
	"fmt"
	"html"
	"net/http"
	"strings"

	"carenet.dev/platform/plugins/sdk"
)

// build names the build on the page; another build sets it with
// -ldflags "-X main.build=…" (and so has another SHA-256).
var build = "1"

// words are the module's own texts per language.
var words = map[string]struct{ name, summary, title, hello, build, greet, repeat string }{
	"fr": {"Bonjour", "Un module d’exemple qui vous salue.", "Bonjour", "Bonjour, %s !", "Version de démonstration %s",
		"Être salué", "Nombre de salutations sur la page"},
	"pl": {"Dzień dobry", "Przykładowy moduł, który Cię wita.", "Dzień dobry", "Dzień dobry, %s!", "Wersja demonstracyjna %s",
		"Otrzymywanie powitania", "Liczba powitań na stronie"},
	"sk": {"Dobrý deň", "Ukážkový modul, ktorý vás pozdraví.", "Dobrý deň", "Dobrý deň, %s!", "Ukážková verzia %s",
		"Dostať pozdrav", "Počet pozdravov na stránke"},
}

type hello struct{}

func (hello) Init(context.Context, sdk.Env) error { return nil }

func (hello) Manifest() sdk.Manifest {
	greet := sdk.Permission{Name: "hello.greet", Grants: []string{"user"}, Label: map[string]string{}}
	repeat := sdk.Rule{Name: "hello.repeat", Type: "int", Default: int64(1), Min: 1, Max: 5, Label: map[string]string{}}
	m := sdk.Manifest{ID: "hello", Version: "1.0.0", Name: map[string]string{}, Summary: map[string]string{},
		Routes: []sdk.Route{{Method: "GET", Path: "/hello", Permission: "hello.greet"}}}
	for lang, w := range words {
		m.Name[lang], m.Summary[lang], greet.Label[lang], repeat.Label[lang] = w.name, w.summary, w.greet, w.repeat
	}
	m.Permissions, m.Rules = []sdk.Permission{greet}, []sdk.Rule{repeat}
	return m
}

func (hello) Handle(_ context.Context, req *sdk.Request) (*sdk.Response, error) {
	w, ok := words[req.Tenant.Locale]
	if !ok {
		w = words["fr"]
	}
	times := 1
	switch n := req.Tenant.Rules["hello.repeat"].(type) {
	case int64:
		times = int(n)
	case float64:
		times = int(n)
	}
	var b strings.Builder
	for i := 0; i < times && i < 5; i++ {
		fmt.Fprintf(&b, "<p class=\"hello\">%s</p>", html.EscapeString(fmt.Sprintf(w.hello, req.User.Name)))
	}
	fmt.Fprintf(&b, "<p class=\"hint\" id=\"hello-build\">%s</p>", html.EscapeString(fmt.Sprintf(w.build, build)))
	return &sdk.Response{Status: http.StatusOK, Fragment: true, Title: w.title,
		Header: http.Header{"Content-Type": {"text/html; charset=utf-8"}}, Body: []byte(b.String())}, nil
}

func (hello) RunJob(context.Context, *sdk.Job) error { return nil }

func (hello) OnEvent(context.Context, *sdk.Event) error { return nil }

func (hello) ExportUser(context.Context, sdk.Tenant, string) ([]byte, error) {
	return []byte("{}"), nil
}

func main() { sdk.Serve(hello{}) }
