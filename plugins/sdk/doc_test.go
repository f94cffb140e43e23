package sdk_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"sort"
	"strings"
	"testing"
)

// exported parses the SDK's own files and returns its exported package-level names and its
// package comment.
func exported(t *testing.T) (names []string, doc string, fset *token.FileSet, files []*ast.File) {
	t.Helper()
	fset = token.NewFileSet()
	pkgs, err := parser.ParseDir(fset, ".", func(fi fs.FileInfo) bool {
		return !strings.HasSuffix(fi.Name(), "_test.go")
	}, parser.ParseComments)
	if err != nil {
		t.Fatal(err)
	}
	for _, pkg := range pkgs {
		for _, f := range pkg.Files {
			files = append(files, f)
			if f.Doc != nil {
				doc += f.Doc.Text()
			}
			for _, d := range f.Decls {
				switch d := d.(type) {
				case *ast.FuncDecl:
					if d.Recv == nil && d.Name.IsExported() {
						names = append(names, d.Name.Name)
					}
				case *ast.GenDecl:
					for _, s := range d.Specs {
						switch s := s.(type) {
						case *ast.TypeSpec:
							if s.Name.IsExported() {
								names = append(names, s.Name.Name)
							}
						case *ast.ValueSpec:
							for _, n := range s.Names {
								if n.IsExported() {
									names = append(names, n.Name)
								}
							}
						}
					}
				}
			}
		}
	}
	sort.Strings(names)
	return names, doc, fset, files
}

// TestSurfaceStaysSmall: a module author reads at most 25 exported names of the SDK, and the
// package comment lists every one of them (what only the host needs lives in sdk/host).
func TestSurfaceStaysSmall(t *testing.T) {
	const goal = 25
	names, doc, _, _ := exported(t)
	t.Logf("%d exported names: %s", len(names), strings.Join(names, " "))
	if len(names) > goal {
		t.Errorf("the SDK exports %d names, more than the goal of %d: move what only the host needs to plugins/sdk/host", len(names), goal)
	}
	for _, n := range names {
		if !strings.Contains(doc, n) {
			t.Errorf("the package comment does not list %s", n)
		}
	}
}

// TestExportedAPIIsDocumented: every exported name of the SDK, and every exported method,
// has a doc comment that says since which protocol version it exists.
func TestExportedAPIIsDocumented(t *testing.T) {
	_, _, fset, files := exported(t)
	n := 0
	check := func(pos token.Pos, name string, docs ...*ast.CommentGroup) {
		n++
		for _, d := range docs {
			if d != nil && strings.Contains(d.Text(), "Since protocol version") {
				return
			}
		}
		t.Errorf("%s: %s has no doc comment saying since which protocol version", fset.Position(pos), name)
	}
	for _, f := range files {
		for _, d := range f.Decls {
			switch d := d.(type) {
			case *ast.FuncDecl:
				if !d.Name.IsExported() {
					continue
				}
				if d.Recv != nil {
					typ := d.Recv.List[0].Type
					if st, ok := typ.(*ast.StarExpr); ok {
						typ = st.X
					}
					if id, ok := typ.(*ast.Ident); ok && !id.IsExported() {
						continue
					}
				}
				check(d.Pos(), d.Name.Name, d.Doc)
			case *ast.GenDecl:
				for _, s := range d.Specs {
					switch s := s.(type) {
					case *ast.TypeSpec:
						if s.Name.IsExported() {
							check(s.Pos(), s.Name.Name, s.Doc, d.Doc)
						}
					case *ast.ValueSpec:
						for _, id := range s.Names {
							if id.IsExported() {
								check(s.Pos(), id.Name, s.Doc, d.Doc)
							}
						}
					}
				}
			}
		}
	}
	if n < 30 {
		t.Fatalf("only %d exported declarations found", n)
	}
}
