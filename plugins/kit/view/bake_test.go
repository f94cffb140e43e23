package view_test

import (
	"bytes"
	"html/template"
	"strings"
	"testing"

	"carenet.dev/platform/locales"
	"carenet.dev/platform/plugins/kit/view"
)

// page is what a template is given: T translates like the Helpers do.
type page struct {
	words map[string]string
	Items []string
	Name  string
}

func (p page) T(id string, kv ...any) string {
	s := p.words[id]
	for i := 0; i+1 < len(kv); i += 2 {
		s = strings.ReplaceAll(s, "{"+kv[i].(string)+"}", kv[i+1].(string))
	}
	return s
}

// Every context html/template escapes differently, and every form a call takes.
const bakeSrc = `{{define "page"}}<title>{{.T "title"}}</title>
<p title="{{.T "quote"}}">{{.T "quote"}}</p>
<a href="/x?q={{.T "quote"}}" aria-label='{{$.T "title"}}'>{{printf "%s!" (.T "title")}}</a>
<script>var s = {{.T "quote"}};</script>
<style>p::after { content: "{{.T "title"}}" }</style>
{{range .Items}}<li>{{$.T "title"}} {{.}}</li>{{end}}
{{if .Name}}{{.T "hello" "Name" .Name}}{{else}}{{.T "title"}}{{end}}
{{$p := .}}{{range .Items}}{{$p.T "quote"}}{{end}}
{{with .Name}}{{$.T "missing"}}{{end}}
{{template "part" .}}{{end}}
{{define "part"}}<em>{{.T "title" | printf "%s"}}</em>{{end}}`

// TestBakedTemplatesPrintWhatTheCallsPrinted: a page renders byte for byte the same with its
// fixed words baked in and folded into text as with the translation called at every request,
// in every context html/template escapes differently (text, attribute, URL, script, style) —
// issue 10's rendering item without changing a page.
func TestBakedTemplatesPrintWhatTheCallsPrinted(t *testing.T) {
	words := map[string]string{
		"title": `Résultats & "analyses" <l'été> + 1`,
		"quote": `a "b" 'c' <d> & e/f?g=h`,
		"hello": `Bonjour {Name}`,
	}
	parse := func() *template.Template { return template.Must(template.New("").Parse(bakeSrc)) }
	plain, baked := parse(), parse()
	calls := 0
	view.Bake(baked, func(id string) (string, bool) {
		s, ok := words[id]
		if ok {
			calls++
		}
		return s, ok
	})
	if calls < 10 {
		t.Fatalf("only %d calls were baked", calls)
	}
	view.Fold(baked)
	actions := 0
	for _, tt := range baked.Templates() {
		actions += strings.Count(tt.Tree.Root.String(), "{{")
	}
	for _, tt := range plain.Templates() {
		actions -= strings.Count(tt.Tree.Root.String(), "{{")
	}
	if actions >= -5 {
		t.Errorf("folding left %d more actions than it should", actions+5)
	}
	for _, data := range []page{{words: words, Items: []string{"x", "<y>"}}, {words: words, Name: "Zoé <3"}} {
		var a, b bytes.Buffer
		if err := plain.ExecuteTemplate(&a, "page", data); err != nil {
			t.Fatal(err)
		}
		// A baked page does not call T for its fixed words: give it none to call.
		data2 := data
		data2.words = map[string]string{"hello": words["hello"]}
		if err := baked.ExecuteTemplate(&b, "page", data2); err != nil {
			t.Fatal(err)
		}
		if a.String() != b.String() {
			t.Errorf("baked page differs:\ncalled:\n%s\nbaked:\n%s", a.String(), b.String())
		}
		if !strings.Contains(a.String(), "R\u00e9sultats &amp; &#34;analyses&#34;") {
			t.Errorf("the page does not show the translation escaped:\n%s", a.String())
		}
	}
}

// TestSetsBakeEachLanguage: each language's set holds its own words.
func TestSetsBakeEachLanguage(t *testing.T) {
	msgs, err := locales.Load()
	if err != nil {
		t.Fatal(err)
	}
	sets, err := view.NewSets(msgs, func() (*template.Template, error) {
		return template.New("p").Parse(`{{.T "nav.login"}}`)
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, lang := range locales.Supported {
		var b bytes.Buffer
		// The data has no T at all: the word must already be in the set.
		if err := sets.For(lang).Execute(&b, struct{}{}); err != nil {
			t.Fatalf("%s: %v", lang, err)
		}
		if want := msgs.For(lang).T("nav.login"); b.String() != template.HTMLEscapeString(want) || want == "" {
			t.Errorf("%s: %q, want %q", lang, b.String(), want)
		}
	}
}

// TestEscapeHTMLIsTheTemplates: EscapeHTML writes what html/template writes for a string in
// text, in a quoted attribute and in a title, for every ASCII character and some others.
func TestEscapeHTMLIsTheTemplates(t *testing.T) {
	var all []string
	for c := 0; c < 128; c++ {
		all = append(all, "a"+string(rune(c))+"b")
	}
	all = append(all, "Zoé « l’été » + 1 & <b>", "", "\x00\x00", "\uFFFD \u2028 \U0001F600")
	tmpl := template.Must(template.New("").Parse(`<title>{{.}}</title><p title="{{.}}">{{.}}</p>`))
	for _, s := range all {
		var b bytes.Buffer
		if err := tmpl.Execute(&b, s); err != nil {
			t.Fatal(err)
		}
		e := view.EscapeHTML(s)
		if want := "<title>" + e + `</title><p title="` + e + `">` + e + "</p>"; b.String() != want {
			t.Errorf("%q: html/template writes %q, EscapeHTML %q", s, b.String(), e)
		}
	}
}
