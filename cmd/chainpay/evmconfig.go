package main

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/ethereum/go-ethereum/crypto"

	"github.com/chainpay/chainpay/chains/ethereum"
	"github.com/chainpay/chainpay/watcher"
)

// EVM chains are configured as a list (docs/chains.md). Three forms, one meaning:
//
//   - the configuration file's `evm_chains:` is a list of mappings, one per chain, with the
//     keys of evmKeys (`name`, `chain_id`, `rpc`, ...);
//   - CHAINPAY_EVM_CHAINS holds the same list as JSON, or
//   - CHAINPAY_EVM_CHAINS is a comma-separated list of names, and each chain's settings are
//     CHAINPAY_EVM_<NAME>_<KEY> (CHAINPAY_EVM_BASE_RPC, ...; each also as ..._FILE);
//
// and the single-chain settings CHAINPAY_ETHEREUM_* of earlier versions still work: they
// are the one-entry list named `ethereum` (with the global sweeper settings), which the
// list may not name again.

// evmKeys are the settings of one EVM chain; the comments are their meaning.
var evmKeys = []string{
	"name",                // chain name: lower case letters and digits, the network of its assets ("base")
	"chain_id",            // EIP-155 chain id the nodes must serve
	"rpc",                 // JSON-RPC URLs (failover, in order)
	"ws",                  // websocket URLs for newHeads (default: the ws:// URLs among rpc)
	"factory",             // ForwarderFactory address
	"tokens",              // CODE=0xADDRESS:DECIMALS, ...
	"native",              // code of the native asset (default ETH)
	"confirmations",       // a depth (blocks), or the block tag finalized or safe
	"poll",                // how often the follower polls the node
	"reconcile_per_block", // balances reconciled per block (default watcher.DefaultReconcilePerBlock)
	"sweeper_key_file",    // default CHAINPAY_SWEEPER_KEY_FILE
	"sweep_interval",      // default CHAINPAY_SWEEP_INTERVAL
	"sweep_min_multiple",  // default CHAINPAY_SWEEP_MIN_MULTIPLE
	"sweeper_gas_warn",    // default CHAINPAY_SWEEPER_GAS_WARN
}

// evmSpec is one EVM chain's settings as given (all text), with where each came from for
// error messages.
type evmSpec struct {
	vals map[string]string
	// setting names the place a key came from: "CHAINPAY_EVM_BASE_RPC",
	// "CHAINPAY_EVM_CHAINS (base: rpc)", "CHAINPAY_ETHEREUM_RPC".
	setting func(key string) string
}

func (s evmSpec) get(key string) string { return s.vals[key] }

func (s evmSpec) bad(key, format string, args ...any) error {
	return &settingError{s.setting(key), fmt.Sprintf(format, args...)}
}

// chainNameRE is a chain name: it becomes part of environment names (upper case) and of
// Greenfield payment method ids (USDC-BASE), so letters and digits only.
var chainNameRE = regexp.MustCompile(`^[a-z][a-z0-9]{0,19}$`)

// evmSpecs reads the configured EVM chains: the list of CHAINPAY_EVM_CHAINS / evm_chains
// (raw is its value) and the legacy CHAINPAY_ETHEREUM_* chain. env looks up the
// environment (os.LookupEnv outside tests).
func (ss *serveSettings) evmSpecs(env func(string) (string, bool)) ([]evmSpec, error) {
	var specs []evmSpec
	if urls := strings.TrimSpace(ss.ethRPC); urls != "" {
		legacy := map[string]string{"CHAINPAY_SWEEPER_KEY_FILE": "sweeper_key_file", "CHAINPAY_SWEEP_INTERVAL": "sweep_interval",
			"CHAINPAY_SWEEP_MIN_MULTIPLE": "sweep_min_multiple", "CHAINPAY_SWEEPER_GAS_WARN": "sweeper_gas_warn"}
		specs = append(specs, evmSpec{
			vals: map[string]string{"name": "ethereum", "chain_id": ss.ethChainID, "rpc": ss.ethRPC, "ws": ss.ethWS,
				"factory": ss.ethFactory, "tokens": ss.ethTokens, "confirmations": ss.ethConfs, "poll": ss.ethPoll},
			setting: func(key string) string {
				for env, k := range legacy {
					if k == key {
						return env
					}
				}
				return "CHAINPAY_ETHEREUM_" + strings.ToUpper(key)
			}})
	}
	raw := strings.TrimSpace(ss.evmChains)
	switch {
	case raw == "":
	case strings.HasPrefix(raw, "["):
		list, err := parseEVMList([]byte(raw))
		if err != nil {
			return nil, &settingError{"CHAINPAY_EVM_CHAINS", err.Error()}
		}
		specs = append(specs, list...)
	default:
		for _, name := range splitList(raw) {
			if !chainNameRE.MatchString(name) {
				return nil, &settingError{"CHAINPAY_EVM_CHAINS", fmt.Sprintf("%q is not a chain name (lower case letters and digits, starting with a letter)", name)}
			}
			prefix := "CHAINPAY_EVM_" + strings.ToUpper(name) + "_"
			vals := map[string]string{"name": name}
			for _, k := range evmKeys[1:] {
				envName := prefix + strings.ToUpper(k)
				v, ok := env(envName)
				if f, fok := env(envName + "_FILE"); fok && f != "" && !strings.HasSuffix(k, "_file") {
					if ok {
						return nil, &settingError{envName, "both " + envName + " and " + envName + "_FILE are set; keep one"}
					}
					s, err := readSecret(f)
					if err != nil {
						return nil, &settingError{envName + "_FILE", err.Error()}
					}
					v, ok = s, true
				}
				if ok {
					vals[k] = v
				}
			}
			specs = append(specs, evmSpec{vals: vals, setting: func(key string) string { return prefix + strings.ToUpper(key) }})
		}
	}
	// Names and chain ids are unique.
	names, ids := map[string]bool{}, map[string]string{}
	for _, s := range specs {
		n := s.get("name")
		if !chainNameRE.MatchString(n) {
			return nil, s.bad("name", "%q is not a chain name (lower case letters and digits, starting with a letter, at most 20)", n)
		}
		if n == "bitcoin" {
			return nil, s.bad("name", "bitcoin is not an EVM chain")
		}
		if names[n] {
			return nil, s.bad("name", "chain %s is configured twice (CHAINPAY_ETHEREUM_* already configures the chain named ethereum)", n)
		}
		names[n] = true
		if id := strings.TrimSpace(s.get("chain_id")); id != "" {
			if prev, dup := ids[id]; dup {
				return nil, s.bad("chain_id", "chain id %s is also the chain id of %s", id, prev)
			}
			ids[id] = n
		}
	}
	return specs, nil
}

// parseEVMList reads the JSON form of the list (the configuration file's `evm_chains:` is
// converted to it): an array of objects whose values are strings, numbers or arrays of
// strings (joined with commas). Unknown keys are errors.
func parseEVMList(b []byte) ([]evmSpec, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var list []map[string]any
	if err := dec.Decode(&list); err != nil {
		return nil, fmt.Errorf("not a JSON list of chains: %v", err)
	}
	var out []evmSpec
	for i, m := range list {
		vals := map[string]string{}
		label := fmt.Sprintf("chain %d", i+1)
		if n, ok := m["name"].(string); ok && n != "" {
			label = n
		}
		for k, v := range m {
			if !slices.Contains(evmKeys, k) {
				return nil, fmt.Errorf("%s: unknown key %q (known: %s)", label, k, strings.Join(evmKeys, ", "))
			}
			switch v := v.(type) {
			case string:
				vals[k] = v
			case json.Number:
				vals[k] = v.String()
			case bool:
				vals[k] = strconv.FormatBool(v)
			case []any:
				var items []string
				for _, it := range v {
					s, ok := it.(string)
					if !ok || strings.Contains(s, ",") {
						return nil, fmt.Errorf("%s: %s: list items must be strings without commas", label, k)
					}
					items = append(items, s)
				}
				vals[k] = strings.Join(items, ",")
			default:
				return nil, fmt.Errorf("%s: %s must be a value or a list of values", label, k)
			}
		}
		if vals["name"] == "" {
			return nil, fmt.Errorf("%s: name is required", label)
		}
		out = append(out, evmSpec{vals: vals, setting: func(key string) string {
			return fmt.Sprintf("CHAINPAY_EVM_CHAINS (%s: %s)", label, key)
		}})
	}
	return out, nil
}

// evmWirings validates the configured EVM chains and resolves them, reading each chain's
// factory from its first node.
func (ss *serveSettings) evmWirings(ctx context.Context, log *slog.Logger) ([]*ethWiring, error) {
	env := ss.lookupEnv
	if env == nil {
		env = os.LookupEnv
	}
	specs, ws, err := ss.evmWiringsOffline(env)
	if err != nil {
		return nil, err
	}
	for i, w := range ws {
		s := specs[i]
		// The factory's addresses are known without a node (factoryAt); a node that
		// answers must confirm them, one that is down is left to its follower's check.
		if w.factory, err = factoryAt(w.factoryAddr); err != nil {
			return nil, s.bad("factory", "%s", err)
		}
		cctx, cancel := context.WithTimeout(ctx, 15*time.Second)
		read, err := readFactory(cctx, w.rpc[0], w.factoryAddr)
		cancel()
		switch {
		case errors.Is(err, errNoFactory):
			return nil, s.bad("factory", "%s", err)
		case err != nil:
			log.Warn("EVM node not reachable: the factory is not checked", "chain", w.chain, "err", err)
		case read.InitCodeHash() != w.factory.InitCodeHash():
			return nil, s.bad("factory", "the factory at %s has another forwarder implementation than CREATE(factory, 1): not chainpay's ForwarderFactory", w.factoryAddr.Hex())
		}
	}
	return ws, nil
}

// evmWiringsOffline validates the configured EVM chains without any node: each chain's
// spec and its wiring, in order (the factory is not read).
func (ss *serveSettings) evmWiringsOffline(env func(string) (string, bool)) ([]evmSpec, []*ethWiring, error) {
	specs, err := ss.evmSpecs(env)
	if err != nil {
		return nil, nil, err
	}
	out := make([]*ethWiring, 0, len(specs))
	for _, s := range specs {
		w, err := ss.evmWiring(s)
		if err != nil {
			return nil, nil, err
		}
		out = append(out, w)
	}
	return specs, out, nil
}

// evmWiring validates one chain's settings; the factory is left to read from the node.
func (ss *serveSettings) evmWiring(s evmSpec) (*ethWiring, error) {
	or := func(key, def string) string {
		if v := strings.TrimSpace(s.get(key)); v != "" {
			return v
		}
		return def
	}
	w := &ethWiring{chain: s.get("name"), native: or("native", "ETH"), settingOf: s.setting}
	id, err := strconv.ParseUint(or("chain_id", ""), 10, 64)
	if err != nil || id == 0 {
		return nil, s.bad("chain_id", "%q is not a chain id", s.get("chain_id"))
	}
	w.chainID = id
	if w.rpc = splitList(s.get("rpc")); len(w.rpc) == 0 {
		return nil, s.bad("rpc", "at least one JSON-RPC URL is required")
	}
	w.ws = splitList(s.get("ws"))
	if len(w.ws) == 0 {
		for _, u := range w.rpc {
			if strings.HasPrefix(u, "ws://") || strings.HasPrefix(u, "wss://") {
				w.ws = append(w.ws, u)
			}
		}
	}
	if !regexp.MustCompile(`^[A-Z][A-Z0-9]{1,9}$`).MatchString(w.native) {
		return nil, s.bad("native", "%q is not an asset code such as ETH or POL", w.native)
	}
	if err := parseConfirmationPolicy(w, or("confirmations", "12")); err != nil {
		return nil, s.bad("confirmations", "%v", err)
	}
	if w.poll, err = time.ParseDuration(or("poll", "2s")); err != nil || w.poll <= 0 {
		return nil, s.bad("poll", "%q is not a positive duration such as 2s", s.get("poll"))
	}
	rp, err := strconv.Atoi(or("reconcile_per_block", strconv.Itoa(watcher.DefaultReconcilePerBlock)))
	if err != nil || rp < 1 || rp > 1_000_000 {
		return nil, s.bad("reconcile_per_block", "%q is not an integer from 1 to 1000000", s.get("reconcile_per_block"))
	}
	w.reconcilePerBlock = rp
	if w.sweepInterval, err = time.ParseDuration(or("sweep_interval", ss.sweepInterval)); err != nil || w.sweepInterval <= 0 {
		return nil, s.bad("sweep_interval", "%q is not a positive duration such as 1m", or("sweep_interval", ss.sweepInterval))
	}
	m, err := strconv.ParseInt(or("sweep_min_multiple", ss.sweepMinMultiple), 10, 64)
	if err != nil || m < 1 || m > 1_000_000 {
		return nil, s.bad("sweep_min_multiple", "%q is not an integer from 1 to 1000000", or("sweep_min_multiple", ss.sweepMinMultiple))
	}
	w.sweepMinMultiple = m
	if err := parseGasWarn(w, or("sweeper_gas_warn", ss.sweeperGasWarn)); err != nil {
		return nil, s.bad("sweeper_gas_warn", "%v", err)
	}
	seen := map[string]bool{}
	for _, item := range splitList(s.get("tokens")) {
		code, rest, ok1 := strings.Cut(item, "=")
		addr, dec, ok2 := strings.Cut(rest, ":")
		a, err := ethereum.ParseAddress(addr)
		d, err2 := strconv.ParseUint(dec, 10, 8)
		if !ok1 || !ok2 || err != nil || err2 != nil || code == "" || strings.ToUpper(code) != code {
			return nil, s.bad("tokens", "%q: want CODE=0xADDRESS:DECIMALS", item)
		}
		if seen[code] || code == w.native {
			return nil, s.bad("tokens", "%s appears twice (or is the native asset)", code)
		}
		seen[code] = true
		w.tokens = append(w.tokens, ethToken{code: code, contract: a, decimals: uint8(d)})
	}
	if w.factoryAddr, err = ethereum.ParseAddress(s.get("factory")); err != nil {
		return nil, s.bad("factory", "%q: %v", s.get("factory"), err)
	}
	if f := or("sweeper_key_file", ss.sweeperKeyFile); f != "" {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, s.bad("sweeper_key_file", "%v", err)
		}
		raw, err := hex.DecodeString(strings.TrimPrefix(strings.TrimSpace(string(b)), "0x"))
		if err == nil {
			w.sweeperKey, err = crypto.ToECDSA(raw)
		}
		if err != nil {
			return nil, s.bad("sweeper_key_file", "not a hex secp256k1 private key")
		}
	}
	return w, nil
}

// parseConfirmationPolicy reads a chain's confirmation policy: a depth in blocks (0 to
// 10000), or a block tag (finalized, safe).
func parseConfirmationPolicy(w *ethWiring, v string) error {
	switch v {
	case "finalized", "safe":
		w.finality = v
		return nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 || n > 10000 {
		return fmt.Errorf("%q is not a depth from 0 to 10000 blocks or a block tag (finalized, safe)", v)
	}
	w.confs = int(n)
	return nil
}

// evmChainNames lists the configured EVM chains' names, sorted, for messages.
func evmChainNames(ws []*ethWiring) string {
	var out []string
	for _, w := range ws {
		out = append(out, w.chain)
	}
	sort.Strings(out)
	if len(out) == 0 {
		return "none"
	}
	return strings.Join(out, ", ")
}
