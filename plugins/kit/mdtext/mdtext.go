// Package mdtext reads a Markdown document (terms, a notice) as plain-text blocks, for a
// medium without HTML: the core's terms PDF, a module's copy of its terms in an e-mail.
package mdtext

import (
	"strconv"
	"strings"

	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/text"
)

// Block is one block of a document as plain text, for a medium without HTML (a PDF): a
// heading with its level, a paragraph, or a list item with its marker.
type Block struct {
	Heading int // 1–6 for a heading, 0 otherwise
	Marker  string
	Text    string
}

// Blocks reads a document's Markdown into plain-text blocks: headings, paragraphs, list
// items (bullets or their numbers), quotations as paragraphs; emphasis is dropped and a
// link keeps its words with its address, so that nothing the reader needs is lost.
func Blocks(markdown string) []Block {
	src := []byte(markdown)
	doc := goldmark.DefaultParser().Parse(text.NewReader(src))
	var out []Block
	var walk func(n ast.Node, marker string)
	walk = func(n ast.Node, marker string) {
		for c := n.FirstChild(); c != nil; c = c.NextSibling() {
			switch v := c.(type) {
			case *ast.Heading:
				out = append(out, Block{Heading: v.Level, Text: inline(v, src)})
			case *ast.Paragraph, *ast.TextBlock:
				out = append(out, Block{Marker: marker, Text: inline(v, src)})
				marker = ""
			case *ast.List:
				i := v.Start
				for it := v.FirstChild(); it != nil; it = it.NextSibling() {
					m := "•"
					if v.IsOrdered() {
						m = strconv.Itoa(i) + string(v.Marker)
						i++
					}
					walk(it, m)
				}
			case *ast.FencedCodeBlock, *ast.CodeBlock:
				var b strings.Builder
				for i := 0; i < v.Lines().Len(); i++ {
					s := v.Lines().At(i)
					b.Write(s.Value(src))
				}
				out = append(out, Block{Text: strings.TrimRight(b.String(), "\n")})
			case *ast.ThematicBreak, *ast.HTMLBlock:
				// Nothing to read: a rule, or raw HTML the page would sanitise away.
			default:
				walk(c, marker)
			}
		}
	}
	walk(doc, "")
	return out
}

// inline is the text of a block's inline content.
func inline(n ast.Node, src []byte) string {
	var b strings.Builder
	var rec func(n ast.Node)
	rec = func(n ast.Node) {
		for c := n.FirstChild(); c != nil; c = c.NextSibling() {
			switch v := c.(type) {
			case *ast.Text:
				b.Write(v.Segment.Value(src))
				if v.SoftLineBreak() {
					b.WriteByte(' ')
				}
				if v.HardLineBreak() {
					b.WriteByte('\n')
				}
			case *ast.String:
				b.Write(v.Value)
			case *ast.CodeSpan:
				rec(v)
			case *ast.Link:
				before := b.Len()
				rec(v)
				dest := string(v.Destination)
				if dest != "" && !strings.Contains(b.String()[before:], dest) {
					b.WriteString(" (" + dest + ")")
				}
			case *ast.AutoLink:
				b.Write(v.URL(src))
			case *ast.RawHTML:
				// dropped, as the page's sanitiser drops it
			default:
				rec(c)
			}
		}
	}
	rec(n)
	return strings.TrimSpace(b.String())
}
