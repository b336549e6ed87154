package apikey

import (
	"go/ast"
	"go/parser"
	"go/token"
	"testing"
)

// TestCheckComparesInConstantTime reads Check's source and requires that the stored hash is
// compared with subtle.ConstantTimeCompare and never with bytes.Equal or string equality,
// which return at the first differing byte and leak how much of a guessed key was right.
func TestCheckComparesInConstantTime(t *testing.T) {
	t.Parallel()
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "apikey.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var check *ast.FuncDecl
	for _, d := range f.Decls {
		if fd, ok := d.(*ast.FuncDecl); ok && fd.Recv == nil && fd.Name.Name == "Check" {
			check = fd
		}
	}
	if check == nil {
		t.Fatal("no func Check in apikey.go")
	}
	constantTime := false
	ast.Inspect(check.Body, func(n ast.Node) bool {
		sel, ok := n.(*ast.SelectorExpr)
		if !ok {
			return true
		}
		pkg, _ := sel.X.(*ast.Ident)
		if pkg == nil {
			return true
		}
		switch pkg.Name + "." + sel.Sel.Name {
		case "subtle.ConstantTimeCompare":
			constantTime = true
		case "bytes.Equal", "bytes.Compare", "strings.Compare", "strings.EqualFold":
			t.Errorf("%s: Check compares with %s.%s (not constant-time)", fset.Position(sel.Pos()), pkg.Name, sel.Sel.Name)
		}
		return true
	})
	if !constantTime {
		t.Error("Check does not compare the key hash with subtle.ConstantTimeCompare")
	}
}
