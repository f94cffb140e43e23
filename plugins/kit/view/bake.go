package view

import (
	"fmt"
	"html/template"
	"io"
	"strconv"
	"strings"
	"text/template/parse"

	"carenet.dev/platform/locales"
)

// Sets holds a template set parsed once per language, with the words that never change
// between two requests already in it: every {{.T "id"}} (or {{$.T "id"}}, {{$v.T "id"}}, or
// (.T "id") as an argument) whose id is a literal and that is given nothing else becomes the
// constant translation, so a page no longer looks it up each time it is shown. html/template
// still escapes the constant for where it stands, exactly as it escaped the call's result.
//
// A baked call assumes what it calls T on is the page (the Helpers or what embeds them, or a
// localizer of the page's language): the translation in the set's language — true of every
// T of the platform.
type Sets struct {
	byLang map[string]*template.Template
	first  *template.Template
}

// NewSets parses the set once per supported language with parse (which must return a fresh,
// never executed set each time it is called) and bakes each in its language.
func NewSets(msgs *locales.Bundle, parse func() (*template.Template, error)) (*Sets, error) {
	s := &Sets{byLang: map[string]*template.Template{}}
	for _, lang := range locales.Supported {
		t, err := parse()
		if err != nil {
			return nil, err
		}
		loc := msgs.For(lang)
		Bake(t, func(id string) (string, bool) {
			if !loc.Has(id) {
				return "", false
			}
			return loc.T(id), true
		})
		Fold(t)
		s.byLang[lang] = t
		if s.first == nil {
			s.first = t
		}
	}
	return s, nil
}

// For returns the set of lang (the first language's for one it does not know: its calls that
// were not baked still translate in the page's own language).
func (s *Sets) For(lang string) *template.Template {
	if t, ok := s.byLang[lang]; ok {
		return t
	}
	return s.first
}

// Bake replaces, in every template of the set t (which must not have been executed), each
// translation call that needs nothing but its literal id by the translation tr gives; a call
// for an id tr does not have stays as it is (it reports the missing message when it runs).
func Bake(t *template.Template, tr func(id string) (string, bool)) {
	for _, tt := range t.Templates() {
		if tt.Tree != nil {
			bakeNode(tt.Tree.Root, tr)
		}
	}
}

func bakeNode(n parse.Node, tr func(string) (string, bool)) {
	switch n := n.(type) {
	case *parse.ListNode:
		if n == nil {
			return
		}
		for _, c := range n.Nodes {
			bakeNode(c, tr)
		}
	case *parse.ActionNode:
		bakePipe(n.Pipe, tr)
	case *parse.IfNode:
		bakeBranch(&n.BranchNode, tr)
	case *parse.RangeNode:
		bakeBranch(&n.BranchNode, tr)
	case *parse.WithNode:
		bakeBranch(&n.BranchNode, tr)
	case *parse.TemplateNode:
		bakePipe(n.Pipe, tr)
	}
}

func bakeBranch(b *parse.BranchNode, tr func(string) (string, bool)) {
	bakePipe(b.Pipe, tr)
	bakeNode(b.List, tr)
	bakeNode(b.ElseList, tr)
}

func bakePipe(p *parse.PipeNode, tr func(string) (string, bool)) {
	if p == nil {
		return
	}
	for i, cmd := range p.Cmds {
		for _, a := range cmd.Args {
			if sub, ok := a.(*parse.PipeNode); ok {
				bakePipe(sub, tr)
			}
		}
		// Only the first command of a pipeline: a later one is given the value before it.
		if i > 0 || len(cmd.Args) != 2 || !isT(cmd.Args[0]) {
			continue
		}
		id, ok := cmd.Args[1].(*parse.StringNode)
		if !ok {
			continue
		}
		text, ok := tr(id.Text)
		if !ok {
			continue
		}
		cmd.Args = []parse.Node{&parse.StringNode{NodeType: parse.NodeString, Pos: id.Pos, Quoted: strconv.Quote(text), Text: text}}
	}
}

// Fold escapes every template of t (as its first execution would) and then writes out, as
// text, each constant the escaping left to be escaped at every execution as HTML text, a
// quoted attribute or a title: the words Bake put in, and any literal. What a page then runs
// is only what depends on its data.
func Fold(t *template.Template) {
	for _, tt := range t.Templates() {
		// Escaping happens at the first execution; the data (none) does not matter to it.
		_ = t.ExecuteTemplate(io.Discard, tt.Name(), nil)
	}
	for _, tt := range t.Templates() {
		if tt.Tree != nil {
			foldList(tt.Tree.Root)
		}
	}
}

// textEscapers are html/template's escapers that write a plain string as EscapeHTML does.
var textEscapers = map[string]bool{
	"_html_template_htmlescaper":   true,
	"_html_template_attrescaper":   true,
	"_html_template_rcdataescaper": true,
}

func foldList(l *parse.ListNode) {
	if l == nil {
		return
	}
	out := l.Nodes[:0]
	for _, n := range l.Nodes {
		switch n := n.(type) {
		case *parse.ActionNode:
			if text, ok := constant(n.Pipe); ok {
				if prev, ok := last(out); ok {
					prev.Text = append(prev.Text, text...)
					continue
				}
				out = append(out, &parse.TextNode{NodeType: parse.NodeText, Pos: n.Pos, Text: []byte(text)})
				continue
			}
		case *parse.TextNode:
			if prev, ok := last(out); ok {
				prev.Text = append(prev.Text, n.Text...)
				continue
			}
			n.Text = append([]byte(nil), n.Text...) // its own: it may grow
		case *parse.IfNode:
			foldList(n.List)
			foldList(n.ElseList)
		case *parse.RangeNode:
			foldList(n.List)
			foldList(n.ElseList)
		case *parse.WithNode:
			foldList(n.List)
			foldList(n.ElseList)
		}
		out = append(out, n)
	}
	l.Nodes = out
}

func last(nodes []parse.Node) (*parse.TextNode, bool) {
	if len(nodes) == 0 {
		return nil, false
	}
	t, ok := nodes[len(nodes)-1].(*parse.TextNode)
	return t, ok
}

// constant returns what p writes when it is a string literal escaped by one text escaper.
func constant(p *parse.PipeNode) (string, bool) {
	if p == nil || len(p.Decl) > 0 || len(p.Cmds) != 2 || len(p.Cmds[0].Args) != 1 || len(p.Cmds[1].Args) != 1 {
		return "", false
	}
	lit, ok := p.Cmds[0].Args[0].(*parse.StringNode)
	if !ok {
		return "", false
	}
	esc, ok := p.Cmds[1].Args[0].(*parse.IdentifierNode)
	if !ok || !textEscapers[esc.Ident] {
		return "", false
	}
	return EscapeHTML(lit.Text), true
}

// EscapeHTML escapes s as html/template does a string in HTML text, in a quoted attribute
// and in a title (TestEscapeHTMLIsTheTemplates holds it to html/template's output).
func EscapeHTML(s string) string {
	var b strings.Builder
	last := 0
	for i := 0; i < len(s); i++ {
		var r string
		switch s[i] {
		case 0:
			r = "\uFFFD"
		case '"':
			r = "&#34;"
		case '&':
			r = "&amp;"
		case '\'':
			r = "&#39;"
		case '+':
			r = "&#43;"
		case '<':
			r = "&lt;"
		case '>':
			r = "&gt;"
		default:
			continue
		}
		if last == 0 {
			b.Grow(len(s) + 16)
		}
		b.WriteString(s[last:i])
		b.WriteString(r)
		last = i + 1
	}
	if last == 0 {
		return s
	}
	b.WriteString(s[last:])
	return b.String()
}

// isT reports whether n is .T, $.T or $page.T (a variable holding the page, as partials do).
func isT(n parse.Node) bool {
	switch n := n.(type) {
	case *parse.FieldNode:
		return len(n.Ident) == 1 && n.Ident[0] == "T"
	case *parse.VariableNode:
		return len(n.Ident) == 2 && n.Ident[1] == "T"
	}
	return false
}

// MustSets is NewSets for a module's own templates, which its tests parse: it panics.
func MustSets(msgs *locales.Bundle, parse func() (*template.Template, error)) *Sets {
	s, err := NewSets(msgs, parse)
	if err != nil {
		panic(fmt.Sprintf("templates: %v", err))
	}
	return s
}
