package sdk_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"strings"
	"testing"
)

// TestExportedAPIIsDocumented: every exported function and method of the SDK (on an exported
// type) has a doc comment that says since which protocol version it exists.
func TestExportedAPIIsDocumented(t *testing.T) {
	fset := token.NewFileSet()
	pkgs, err := parser.ParseDir(fset, ".", func(fi fs.FileInfo) bool {
		return !strings.HasSuffix(fi.Name(), "_test.go")
	}, parser.ParseComments)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, pkg := range pkgs {
		for _, f := range pkg.Files {
			for _, d := range f.Decls {
				fn, ok := d.(*ast.FuncDecl)
				if !ok || !fn.Name.IsExported() {
					continue
				}
				if fn.Recv != nil {
					typ := fn.Recv.List[0].Type
					if st, ok := typ.(*ast.StarExpr); ok {
						typ = st.X
					}
					if id, ok := typ.(*ast.Ident); ok && !id.IsExported() {
						continue
					}
				}
				n++
				if fn.Doc == nil || !strings.Contains(fn.Doc.Text(), "Since protocol version") {
					t.Errorf("%s: %s has no doc comment saying since which protocol version", fset.Position(fn.Pos()), fn.Name.Name)
				}
			}
		}
	}
	if n < 20 {
		t.Fatalf("only %d exported functions found", n)
	}
}
