package invoices

import (
	"testing"

	"github.com/chainpay/chainpay/store"
)

// TestRememberKeepsTheNewerConfig: a configuration read that started before a change and
// finished after a newer one was cached does not replace it (versions only grow), and
// Forget drops the entry.
func TestRememberKeepsTheNewerConfig(t *testing.T) {
	s := &Service{configs: map[string]merchantConfig{}}
	at := func(v int64) merchantConfig {
		return merchantConfig{merchant: store.Merchant{ID: "sto_a", ConfigVersion: v}}
	}
	s.remember("sto_a", at(2))
	s.remember("sto_a", at(1))
	if got := s.configs["sto_a"].merchant.ConfigVersion; got != 2 {
		t.Fatalf("cached version %d after remembering 2 then 1, want 2", got)
	}
	s.remember("sto_a", at(3))
	if got := s.configs["sto_a"].merchant.ConfigVersion; got != 3 {
		t.Fatalf("cached version %d after remembering 3, want 3", got)
	}
	s.Forget("sto_a")
	if _, ok := s.configs["sto_a"]; ok {
		t.Fatal("Forget kept the entry")
	}
}
