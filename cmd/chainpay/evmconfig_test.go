package main

import (
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/chainpay/chainpay/watcher"
)

const (
	usdcEth  = "0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48"
	usdcBase = "0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913"
	factoryA = "0x1111111111111111111111111111111111111111"
)

// envMap is a lookupEnv over a map.
func envMap(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

// evmOf resolves the EVM chains of ss without touching a node (the factory stays unread).
func evmOf(t *testing.T, ss *serveSettings, env map[string]string) ([]*ethWiring, error) {
	t.Helper()
	_, ws, err := ss.evmWiringsOffline(envMap(env))
	return ws, err
}

func TestEVMChainsFromConfigFile(t *testing.T) {
	for _, k := range []string{"CHAINPAY_CONFIG", "CHAINPAY_EVM_CHAINS", "CHAINPAY_ETHEREUM_RPC"} {
		t.Setenv(k, "") // restored after the test
		os.Unsetenv(k)
	}
	body := `
evm_chains:
  - name: ethereum
    chain_id: 1
    rpc: [https://eth-a.example/key, https://eth-b.example]
    ws: wss://eth-a.example/ws
    factory: ` + factoryA + `
    tokens: [USDC=` + usdcEth + `:6]
    confirmations: finalized
  - name: base
    chain_id: 8453
    rpc: wss://base.example/ws
    factory: ` + factoryA + `
    tokens: USDC=` + usdcBase + `:6
    confirmations: 3
    poll: 500ms
  - name: polygon
    chain_id: 137
    native: POL
    rpc: https://polygon.example
    factory: ` + factoryA + `
`
	cfgFile := writeFile(t, "chainpay.yaml", body)
	fs, _, ss := serveFlags()
	if err := applyConfig(fs, []string{"--config", cfgFile}); err != nil {
		t.Fatal(err)
	}
	if err := fs.Parse(nil); err != nil {
		t.Fatal(err)
	}
	evm, err := evmOf(t, ss, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(evm) != 3 {
		t.Fatalf("got %d chains, want 3", len(evm))
	}
	eth, base, poly := evm[0], evm[1], evm[2]
	if eth.chain != "ethereum" || eth.chainID != 1 || len(eth.rpc) != 2 || eth.ws[0] != "wss://eth-a.example/ws" ||
		eth.finality != "finalized" || eth.tokens[0].code != "USDC" || eth.tokens[0].decimals != 6 || eth.poll != 2*time.Second || eth.native != "ETH" {
		t.Fatalf("ethereum: %+v", eth)
	}
	if base.chain != "base" || base.chainID != 8453 || base.confs != 3 || base.poll != 500*time.Millisecond ||
		len(base.ws) != 1 || base.ws[0] != "wss://base.example/ws" || base.tokens[0].contract.Hex() != usdcBase {
		t.Fatalf("base: %+v (ws defaults to the ws:// rpc URLs)", base)
	}
	if poly.native != "POL" || poly.chainID != 137 || len(poly.tokens) != 0 {
		t.Fatalf("polygon: %+v", poly)
	}
	// The sweeper settings default to the global ones, per chain.
	if base.sweepInterval != time.Minute || base.sweepMinMultiple != defaultSweepMinMultiple {
		t.Fatalf("base sweeper defaults: %s %d", base.sweepInterval, base.sweepMinMultiple)
	}
}

func TestEVMChainsFromEnvironment(t *testing.T) {
	t.Parallel()
	rpcFile := writeFile(t, "base-rpc", "https://base.example/secret-key\n")
	ss := &serveSettings{evmChains: "ethereum, base", sweepInterval: "1m", sweepMinMultiple: "20", sweeperGasWarn: "0.05"}
	env := map[string]string{
		"CHAINPAY_EVM_ETHEREUM_RPC": "https://eth.example", "CHAINPAY_EVM_ETHEREUM_CHAIN_ID": "1",
		"CHAINPAY_EVM_ETHEREUM_FACTORY": factoryA, "CHAINPAY_EVM_ETHEREUM_CONFIRMATIONS": "12",
		"CHAINPAY_EVM_ETHEREUM_TOKENS": "USDC=" + usdcEth + ":6,USDT=0xdAC17F958D2ee523a2206206994597C13D831ec7:6",
		"CHAINPAY_EVM_BASE_RPC_FILE":   rpcFile, "CHAINPAY_EVM_BASE_CHAIN_ID": "8453", "CHAINPAY_EVM_BASE_FACTORY": factoryA,
		"CHAINPAY_EVM_BASE_SWEEP_INTERVAL": "5m", "CHAINPAY_EVM_BASE_CONFIRMATIONS": "safe",
		"CHAINPAY_EVM_ETHEREUM_POLL": "1s", "CHAINPAY_EVM_BASE_RECONCILE_PER_BLOCK": "20000",
	}
	evm, err := evmOf(t, ss, env)
	if err != nil {
		t.Fatal(err)
	}
	if len(evm) != 2 || evm[0].chain != "ethereum" || len(evm[0].tokens) != 2 || evm[1].chain != "base" ||
		evm[1].rpc[0] != "https://base.example/secret-key" || evm[1].sweepInterval != 5*time.Minute || evm[1].finality != "safe" ||
		evm[0].finality != "" || evm[0].confs != 12 || evm[0].poll != time.Second ||
		evm[0].reconcilePerBlock != watcher.DefaultReconcilePerBlock || evm[1].reconcilePerBlock != 20000 {
		t.Fatalf("got %+v %+v", evm[0], evm[1])
	}
	// The same list as JSON.
	ss.evmChains = `[{"name":"base","chain_id":8453,"rpc":["https://a.example","https://b.example"],"factory":"` + factoryA + `","confirmations":2}]`
	evm, err = evmOf(t, ss, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(evm) != 1 || evm[0].chainID != 8453 || len(evm[0].rpc) != 2 || evm[0].confs != 2 {
		t.Fatalf("JSON form: %+v", evm[0])
	}
}

// TestEVMChainsLegacySettings: CHAINPAY_ETHEREUM_* is the one-entry list named ethereum,
// errors name the legacy settings, and the list may add other chains but not ethereum again.
func TestEVMChainsLegacySettings(t *testing.T) {
	t.Parallel()
	ss := &serveSettings{ethRPC: "http://127.0.0.1:8545", ethChainID: "1337", ethFactory: factoryA, ethConfs: "2", ethPoll: "1s",
		ethTokens: "USDC=" + usdcEth + ":6", sweepInterval: "1m", sweepMinMultiple: "20", sweeperGasWarn: "0.05"}
	evm, err := evmOf(t, ss, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(evm) != 1 || evm[0].chain != "ethereum" || evm[0].chainID != 1337 || evm[0].confs != 2 || evm[0].poll != time.Second {
		t.Fatalf("legacy: %+v", evm[0])
	}
	bad := *ss
	bad.ethChainID = "x"
	if _, err := evmOf(t, &bad, nil); !isSetting(err, "CHAINPAY_ETHEREUM_CHAIN_ID") {
		t.Fatalf("bad legacy chain id: %v", err)
	}
	bad = *ss
	bad.sweeperGasWarn = "lots"
	if _, err := evmOf(t, &bad, nil); !isSetting(err, "CHAINPAY_SWEEPER_GAS_WARN") {
		t.Fatalf("bad legacy gas warn: %v", err)
	}
	// Adding base beside the legacy chain works; naming ethereum again does not.
	both := *ss
	both.evmChains = "base"
	env := map[string]string{"CHAINPAY_EVM_BASE_RPC": "http://127.0.0.1:9545", "CHAINPAY_EVM_BASE_CHAIN_ID": "8453", "CHAINPAY_EVM_BASE_FACTORY": factoryA}
	if evm, err := evmOf(t, &both, env); err != nil || len(evm) != 2 || evm[1].chain != "base" {
		t.Fatalf("legacy + base: %v", err)
	}
	both.evmChains = "ethereum"
	env = map[string]string{"CHAINPAY_EVM_ETHEREUM_RPC": "http://x", "CHAINPAY_EVM_ETHEREUM_CHAIN_ID": "1", "CHAINPAY_EVM_ETHEREUM_FACTORY": factoryA}
	if _, err := evmOf(t, &both, env); !isSetting(err, "CHAINPAY_EVM_ETHEREUM_NAME") || !strings.Contains(err.Error(), "twice") {
		t.Fatalf("ethereum twice: %v", err)
	}
}

func isSetting(err error, name string) bool {
	var se *settingError
	return errors.As(err, &se) && se.name == name
}

func TestEVMChainsBadSettings(t *testing.T) {
	t.Parallel()
	base := map[string]string{"CHAINPAY_EVM_BASE_RPC": "http://x", "CHAINPAY_EVM_BASE_CHAIN_ID": "8453", "CHAINPAY_EVM_BASE_FACTORY": factoryA}
	with := func(k, v string) map[string]string {
		m := map[string]string{}
		for a, b := range base {
			m[a] = b
		}
		if v == "" {
			delete(m, k)
		} else {
			m[k] = v
		}
		return m
	}
	cases := []struct {
		name, chains string
		env          map[string]string
		setting      string
	}{
		{"upper case name", "Base", base, "CHAINPAY_EVM_CHAINS"},
		{"underscore in name", "my_chain", base, "CHAINPAY_EVM_CHAINS"},
		{"bitcoin", "bitcoin", map[string]string{"CHAINPAY_EVM_BITCOIN_RPC": "http://x", "CHAINPAY_EVM_BITCOIN_CHAIN_ID": "1"}, "CHAINPAY_EVM_BITCOIN_NAME"},
		{"no rpc", "base", with("CHAINPAY_EVM_BASE_RPC", ""), "CHAINPAY_EVM_BASE_RPC"},
		{"no chain id", "base", with("CHAINPAY_EVM_BASE_CHAIN_ID", ""), "CHAINPAY_EVM_BASE_CHAIN_ID"},
		{"zero chain id", "base", with("CHAINPAY_EVM_BASE_CHAIN_ID", "0"), "CHAINPAY_EVM_BASE_CHAIN_ID"},
		{"bad factory", "base", with("CHAINPAY_EVM_BASE_FACTORY", "0x12"), "CHAINPAY_EVM_BASE_FACTORY"},
		{"bad token", "base", with("CHAINPAY_EVM_BASE_TOKENS", "usdc="+usdcBase+":6"), "CHAINPAY_EVM_BASE_TOKENS"},
		{"token twice", "base", with("CHAINPAY_EVM_BASE_TOKENS", "USDC="+usdcBase+":6,USDC="+usdcEth+":6"), "CHAINPAY_EVM_BASE_TOKENS"},
		{"token named like native", "base", with("CHAINPAY_EVM_BASE_TOKENS", "ETH="+usdcBase+":18"), "CHAINPAY_EVM_BASE_TOKENS"},
		{"bad confirmations", "base", with("CHAINPAY_EVM_BASE_CONFIRMATIONS", "soon"), "CHAINPAY_EVM_BASE_CONFIRMATIONS"},
		{"unknown tag", "base", with("CHAINPAY_EVM_BASE_CONFIRMATIONS", "latest"), "CHAINPAY_EVM_BASE_CONFIRMATIONS"},
		{"negative confirmations", "base", with("CHAINPAY_EVM_BASE_CONFIRMATIONS", "-1"), "CHAINPAY_EVM_BASE_CONFIRMATIONS"},
		{"bad poll", "base", with("CHAINPAY_EVM_BASE_POLL", "0s"), "CHAINPAY_EVM_BASE_POLL"},
		{"bad reconcile", "base", with("CHAINPAY_EVM_BASE_RECONCILE_PER_BLOCK", "0"), "CHAINPAY_EVM_BASE_RECONCILE_PER_BLOCK"},
		{"huge reconcile", "base", with("CHAINPAY_EVM_BASE_RECONCILE_PER_BLOCK", "1e6"), "CHAINPAY_EVM_BASE_RECONCILE_PER_BLOCK"},
		{"bad native", "base", with("CHAINPAY_EVM_BASE_NATIVE", "eth"), "CHAINPAY_EVM_BASE_NATIVE"},
		{"missing key file", "base", with("CHAINPAY_EVM_BASE_SWEEPER_KEY_FILE", "/nonexistent/key"), "CHAINPAY_EVM_BASE_SWEEPER_KEY_FILE"},
		{"value and file", "base", with("CHAINPAY_EVM_BASE_RPC_FILE", "/etc/hostname"), "CHAINPAY_EVM_BASE_RPC"},
		{"JSON unknown key", `[{"name":"base","chain_id":1,"rpc":"http://x","factory":"` + factoryA + `","colour":"blue"}]`, nil, "CHAINPAY_EVM_CHAINS"},
		{"JSON no name", `[{"chain_id":1}]`, nil, "CHAINPAY_EVM_CHAINS"},
		{"JSON not a list", `[1,`, nil, "CHAINPAY_EVM_CHAINS"},
		{"JSON same chain id", `[{"name":"a","chain_id":1,"rpc":"http://x","factory":"` + factoryA + `"},{"name":"b","chain_id":1,"rpc":"http://y","factory":"` + factoryA + `"}]`, nil, "CHAINPAY_EVM_CHAINS (b: chain_id)"},
		{"JSON bad depth", `[{"name":"a","chain_id":1,"rpc":"http://x","factory":"` + factoryA + `","confirmations":10001}]`, nil, "CHAINPAY_EVM_CHAINS (a: confirmations)"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ss := &serveSettings{evmChains: c.chains, sweepInterval: "1m", sweepMinMultiple: "20", sweeperGasWarn: "0.05"}
			_, err := evmOf(t, ss, c.env)
			if !isSetting(err, c.setting) {
				t.Fatalf("got %v, want a setting error on %s", err, c.setting)
			}
		})
	}
}

func TestEVMChainsConfigFileErrors(t *testing.T) {
	t.Parallel()
	for name, body := range map[string]string{
		"nested mapping": "evm_chains:\n  - name: base\n    rpc: {a: b}\n",
		"scalar item":    "evm_chains:\n  - name: base\n  - base2\n",
		"key twice":      "evm_chains:\n  - name: base\n    name: base2\n",
	} {
		if _, err := parseConfig("c.yaml", []byte(body)); err == nil || !strings.Contains(err.Error(), "evm_chains") {
			t.Errorf("%s: got %v, want an evm_chains error", name, err)
		}
	}
	// A list of names is the names form.
	m, err := parseConfig("c.yaml", []byte("evm_chains: [ethereum, base]\n"))
	if err != nil || m["evm_chains"] != "ethereum,base" {
		t.Fatalf("names list: %v %q", err, m["evm_chains"])
	}
}
