package main

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ethereum/go-ethereum/crypto"

	"github.com/chainpay/chainpay/chains/bitcoin/btcdtest"
	"github.com/chainpay/chainpay/chains/ethereum/devchain"
	"github.com/chainpay/chainpay/store/sqlite"
)

// checkChains starts a real btcd regtest node and an EVM dev chain for `config check`.
func checkChains(t *testing.T) (*btcdtest.Node, *devchain.Chain) {
	t.Helper()
	btcd := btcdtest.Start(t)
	evm, err := devchain.Start(context.Background(), devchain.Config{Listen: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = evm.Stop() })
	return btcd, evm
}

func migratedSQLite(t *testing.T, migrate bool) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "chainpay.db")
	st, err := sqlite.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if migrate {
		if err := st.Migrate(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	return "sqlite://" + path
}

func TestConfigCheckPasses(t *testing.T) {
	t.Parallel()
	btcd, evm := checkChains(t)
	keyFile := filepath.Join(t.TempDir(), "sweeper.key")
	if err := os.WriteFile(keyFile, []byte(hex.EncodeToString(crypto.FromECDSA(evm.SweeperKey()))), 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	err := runConfigCheck(context.Background(), []string{
		"--database-url", migratedSQLite(t, true),
		"--bitcoin-network", "regtest", "--bitcoin-rpc", btcd.RPCURL(),
		"--ethereum-rpc", evm.RPCURL(), "--ethereum-chain-id", "1337", "--ethereum-factory", evm.Factory().Address().Hex(),
		"--ethereum-tokens", "USDC=" + evm.USDC().Hex() + ":6", "--sweeper-key-file", keyFile,
		"--rate-sources", "none", "--fixed-rates", "BTC-USD=60000,ETH-USD=3000", "--rate-currencies", "USD",
	}, &out, &errOut)
	if err != nil {
		t.Fatalf("config check failed: %v\n%s%s", err, out.String(), errOut.String())
	}
	for _, want := range []string{
		"✓ database: sqlite reachable, schema version",
		"✓ bitcoin node http://127.0.0.1:", "network regtest, tip",
		"✓ ethereum node http://127.0.0.1:", "chain id 1337", "tokens USDC (6 decimals)",
		"✓ ethereum sweeper 0x", "✓ rate BTC/USD: 60000 (median of fixed)", "✓ rate USDC/USD: 1 (peg",
		"✓ ledger: built-in journal", "all checks passed",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, out.String())
		}
	}
	if strings.Contains(out.String(), "✗") {
		t.Errorf("a check failed:\n%s", out.String())
	}
	// Credentials in node URLs never reach the report.
	if strings.Contains(out.String(), "@") {
		t.Errorf("the report shows URL credentials:\n%s", out.String())
	}
}

func TestConfigCheckFindsProblems(t *testing.T) {
	t.Parallel()
	btcd, evm := checkChains(t)
	var out bytes.Buffer
	err := runConfigCheck(context.Background(), []string{
		"--database-url", migratedSQLite(t, false),
		"--bitcoin-network", "testnet", "--bitcoin-rpc", btcd.RPCURL() + ",http://u:p@127.0.0.1:1",
		"--ethereum-rpc", evm.RPCURL(), "--ethereum-chain-id", "5", "--ethereum-factory", evm.Factory().Address().Hex(),
		"--rate-sources", "none", "--fixed-rates", "BTC-USD=60000", "--rate-currencies", "USD",
		"--ledger-sink", "http", "--ledger-url", "http://127.0.0.1:1/ledger", "--ledger-secret", "0123456789abcdef0123",
	}, &out, &out)
	if !errors.Is(err, errCheckFailed) {
		t.Fatalf("got %v, want errCheckFailed\n%s", err, out.String())
	}
	for _, want := range []string{
		"✗ database: sqlite reachable, schema unknown",
		"✗ bitcoin node http://127.0.0.1:", // the regtest node on testnet
		"✗ bitcoin node http://127.0.0.1:1: ",
		"✗ ethereum node http://127.0.0.1:", "chain id 1337, configured 5",
		"✗ rate ETH/USD:",
		"✗ ledger: http sink http://127.0.0.1:1 unreachable",
		"problem(s)",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, out.String())
		}
	}
	if strings.Contains(out.String(), "u:p@") {
		t.Errorf("the report shows URL credentials:\n%s", out.String())
	}
}

func TestConfigCheckReportsBadSettings(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	err := runConfigCheck(context.Background(), []string{"--database-url", migratedSQLite(t, true), "--bitcoin-confirmations", "many"}, &out, &out)
	if !errors.Is(err, errCheckFailed) || !strings.Contains(out.String(), "✗ settings: bad setting CHAINPAY_BITCOIN_CONFIRMATIONS") {
		t.Fatalf("got %v\n%s", err, out.String())
	}
}

// TestProfilerNeedsMetricsListener: CHAINPAY_PPROF serves on the metrics listener only, so
// it is refused without one rather than silently doing nothing.
func TestProfilerNeedsMetricsListener(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	err := runConfigCheck(context.Background(), []string{"--database-url", migratedSQLite(t, true), "--pprof", "true",
		"--metrics-listen", "off"}, &out, &out)
	if !errors.Is(err, errCheckFailed) || !strings.Contains(out.String(), "CHAINPAY_PPROF") ||
		!strings.Contains(out.String(), "needs CHAINPAY_METRICS_LISTEN") {
		t.Fatalf("got %v\n%s", err, out.String())
	}
	out.Reset()
	err = runConfigCheck(context.Background(), []string{"--database-url", migratedSQLite(t, true), "--pprof", "maybe"}, &out, &out)
	if !errors.Is(err, errCheckFailed) || !strings.Contains(out.String(), "bad setting CHAINPAY_PPROF") {
		t.Fatalf("got %v\n%s", err, out.String())
	}
}
