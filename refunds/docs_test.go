package refunds_test

import (
	"os"
	"strings"
	"testing"

	"github.com/chainpay/chainpay/refunds"
)

// TestDocsTransitionTable: docs/refunds.md shows the transition table the code enforces.
func TestDocsTransitionTable(t *testing.T) {
	b, err := os.ReadFile("../docs/refunds.md")
	must(t, err)
	doc := string(b)
	start, end := strings.Index(doc, "<!-- transitions -->\n"), strings.Index(doc, "<!-- /transitions -->")
	if start < 0 || end < start {
		t.Fatal("docs/refunds.md has no transitions block")
	}
	if got, want := doc[start+len("<!-- transitions -->\n"):end], refunds.TransitionTable(); got != want {
		t.Fatalf("docs/refunds.md transition table differs from refunds.TransitionTable:\n%s", want)
	}
}
