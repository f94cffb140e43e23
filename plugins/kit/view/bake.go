package view

import (
	"fmt"
	"html/template"
	"strconv"
	"text/template/parse"

	"carenet.dev/platform/locales"
)

// Sets holds a template set parsed once per language, with the words that never change
// between two requests already in it: every {{.T "id"}} (or {{$.T "id"}}, or (.T "id") as
// an argument) whose id is a literal and that is given nothing else becomes the constant
// translation, so a page no longer looks it up each time it is shown. html/template still
// escapes the constant for where it stands, exactly as it escaped the call's result.
//
// A baked call assumes its dot (or $) is the page: the Helpers or what embeds them, whose T
// is the translation in the set's language — true of every page of the platform.
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

// isT reports whether n is .T or $.T.
func isT(n parse.Node) bool {
	switch n := n.(type) {
	case *parse.FieldNode:
		return len(n.Ident) == 1 && n.Ident[0] == "T"
	case *parse.VariableNode:
		return len(n.Ident) == 2 && n.Ident[0] == "$" && n.Ident[1] == "T"
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
