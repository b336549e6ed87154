package webhooks

import (
	"go/ast"
	"go/parser"
	"go/token"
	"testing"
)

// TestVerifyComparesInConstantTime reads Verify's source and requires that signatures are
// compared with hmac.Equal (constant-time) and never with bytes.Equal or string equality,
// which would leak through timing how many leading bytes of a forged signature match.
func TestVerifyComparesInConstantTime(t *testing.T) {
	t.Parallel()
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "signature.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var verify *ast.FuncDecl
	for _, d := range f.Decls {
		if fd, ok := d.(*ast.FuncDecl); ok && fd.Recv == nil && fd.Name.Name == "Verify" {
			verify = fd
		}
	}
	if verify == nil {
		t.Fatal("no func Verify in signature.go")
	}
	constantTime := false
	ast.Inspect(verify.Body, func(n ast.Node) bool {
		sel, ok := n.(*ast.SelectorExpr)
		if !ok {
			return true
		}
		pkg, _ := sel.X.(*ast.Ident)
		if pkg == nil {
			return true
		}
		switch pkg.Name + "." + sel.Sel.Name {
		case "hmac.Equal", "subtle.ConstantTimeCompare":
			constantTime = true
		case "bytes.Equal", "bytes.Compare", "strings.Compare", "strings.EqualFold":
			t.Errorf("%s: Verify compares with %s.%s (not constant-time)", fset.Position(sel.Pos()), pkg.Name, sel.Sel.Name)
		}
		return true
	})
	if !constantTime {
		t.Error("Verify does not compare signatures with hmac.Equal")
	}
}
