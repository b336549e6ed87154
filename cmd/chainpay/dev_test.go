package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chainpay/chainpay/store"
	"github.com/chainpay/chainpay/store/sqlite"
)

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// TestDevEndToEnd starts `chainpay dev` as a process (Bitcoin regtest and two EVM dev
// chains, ethereum and base), creates invoices over HTTP, pays one each in BTC, ETH and
// USDC on ethereum and USDC on base with `chainpay dev pay [--network base]`, and checks
// that each settles, has exactly one ledger record (on its chain) and one export row, and
// that the webhook echo received the settlement events. Then Ctrl-C stops everything.
func TestDevEndToEnd(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "chainpay")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	data := t.TempDir()
	listen, evmListen, baseListen := freeAddr(t), freeAddr(t), freeAddr(t)
	env := append(os.Environ(), "CHAINPAY_DATA_DIR="+data, "CHAINPAY_DATABASE_URL=")
	dev := exec.Command(bin, "dev", "--listen", listen, "--evm-listen", evmListen, "--base-listen", baseListen,
		"--btc-block-every", "2s", "--evm-block-every", "500ms")
	dev.Env = env
	logPath := filepath.Join(data, "dev.log")
	logf, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	dev.Stderr = logf
	stdout, err := dev.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := dev.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- dev.Wait() }()
	t.Cleanup(func() {
		_ = dev.Process.Kill()
		if t.Failed() {
			b, _ := os.ReadFile(logPath)
			t.Logf("chainpay dev log (tail):\n%s", tail(string(b), 4000))
		}
	})
	banner := make(chan string, 1)
	go func() {
		var sb strings.Builder
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			sb.WriteString(sc.Text() + "\n")
			if strings.HasPrefix(sc.Text(), "Pay it from the dev wallets") {
				banner <- sb.String()
			}
		}
		_, _ = io.Copy(io.Discard, stdout)
	}()
	select {
	case b := <-banner:
		if !strings.Contains(b, "http://"+listen) || !strings.Contains(b, "curl -s -X POST") {
			t.Fatalf("banner:\n%s", b)
		}
	case err := <-exited:
		t.Fatalf("chainpay dev exited early: %v", err)
	case <-time.After(3 * time.Minute):
		t.Fatal("chainpay dev did not come up")
	}
	var info devInfo
	b, err := os.ReadFile(filepath.Join(data, "dev.json"))
	if err != nil || json.Unmarshal(b, &info) != nil || info.APIKey == "" || info.EVMRPCURL == "" || info.BaseRPCURL == "" || info.BaseChainID != devBaseChainID || info.BitcoinRPCURL == "" || info.StoreID == "" {
		t.Fatalf("dev.json: %v %s", err, b)
	}
	call := func(method, path, body string) map[string]any {
		t.Helper()
		req, _ := http.NewRequest(method, info.APIURL+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+info.APIKey)
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var v map[string]any
		raw, _ := io.ReadAll(resp.Body)
		if resp.StatusCode/100 != 2 || json.Unmarshal(raw, &v) != nil {
			t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, raw)
		}
		return v
	}
	ids := map[string]string{}
	for _, m := range []struct{ asset, network string }{{"BTC", ""}, {"ETH", ""}, {"USDC", ""}, {"USDC", "base"}} {
		key := m.asset + "-" + m.network
		inv := call("POST", "/v1/invoices", fmt.Sprintf(`{"amount":"25.00","currency":"USD","order_id":"e2e-%s"}`, key))
		if n := len(inv["payment_options"].([]any)); n != 5 {
			t.Fatalf("invoice offers %d payment options, want BTC, and ETH and USDC on ethereum and on base", n)
		}
		ids[key] = inv["id"].(string)
		args := []string{"dev", "pay", ids[key], "--asset", m.asset}
		if m.network != "" {
			args = append(args, "--network", m.network)
		}
		pay := exec.Command(bin, args...)
		pay.Env = env
		out, err := pay.CombinedOutput()
		if err != nil || !strings.HasPrefix(string(out), "paid ") {
			t.Fatalf("dev pay %s: %v %s", key, err, out)
		}
		if want := "on base "; m.network == "base" && !strings.Contains(string(out), want) {
			t.Fatalf("dev pay %s: %s lacks %q", key, out, want)
		}
	}
	deadline := time.Now().Add(90 * time.Second)
	for asset, id := range ids {
		for {
			inv := call("GET", "/v1/invoices/"+id, "")
			if inv["status"] == "settled" {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s invoice %s is %v, not settled", asset, id, inv["status"])
			}
			time.Sleep(250 * time.Millisecond)
		}
	}
	// Every payment's settlement record reaches the journal, exactly once.
	var records []store.LedgerRecord
	for {
		st, err := sqlite.Open(filepath.Join(data, "chainpay.db"))
		if err != nil {
			t.Fatal(err)
		}
		err = st.View(context.Background(), func(tx store.Tx) (err error) {
			records, err = tx.LedgerRecords(context.Background(), store.LedgerFilter{MerchantID: info.StoreID, Limit: 100})
			return err
		})
		st.Close()
		if err != nil {
			t.Fatal(err)
		}
		if len(records) >= 4 || time.Now().After(deadline) {
			break
		}
		time.Sleep(250 * time.Millisecond)
	}
	perInvoice := map[string]int{}
	chains := map[string]int{}
	for _, r := range records {
		perInvoice[r.SourceID]++
		var rec struct {
			Chain struct {
				Chain string `json:"chain"`
			} `json:"chain"`
		}
		_ = json.Unmarshal([]byte(r.Payload), &rec)
		chains[rec.Chain.Chain]++
	}
	if len(records) != 4 || chains["base"] != 1 || chains["ethereum"] != 2 || chains["bitcoin"] != 1 {
		t.Fatalf("%d ledger records by chain %v, want 4 (one per payment: bitcoin, 2 ethereum, base): %v", len(records), chains, perInvoice)
	}
	// One export row per payment.
	req, _ := http.NewRequest("GET", info.APIURL+"/v1/exports/settlements?format=jsonl&from="+
		time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)+"&to="+time.Now().Add(time.Hour).UTC().Format(time.RFC3339), nil)
	req.Header.Set("Authorization", "Bearer "+info.APIKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("export: %d %s", resp.StatusCode, raw)
	}
	if rows := strings.Count(strings.TrimSpace(string(raw)), "\n") + 1; rows != 4 || !strings.Contains(string(raw), `"chain":"base"`) {
		t.Fatalf("export has %d rows, want 4 (one on base):\n%s", rows, raw)
	}
	// The books invariant holds for every payment: `chainpay ledger verify` exits 0.
	verify := exec.Command(bin, "ledger", "verify", "--store", info.StoreID)
	verify.Env = env
	out, err := verify.CombinedOutput()
	t.Logf("chainpay ledger verify:\n%s", out)
	if err != nil {
		t.Fatalf("ledger verify: %v", err)
	}
	// The webhook echo saw each invoice settle.
	deadlineHooks := time.Now().Add(30 * time.Second)
	for {
		hooks := call("GET", "/dev/webhooks", "")
		settled := map[string]bool{}
		for _, h := range hooks["data"].([]any) {
			if h.(map[string]any)["signature_verified"] != true {
				t.Fatalf("a dev webhook did not verify: %v", h)
			}
			hm := h.(map[string]any)["event"].(map[string]any)
			if hm["type"] == "invoice.settled" {
				if d, ok := hm["data"].(map[string]any); ok {
					if inv, ok := d["invoice"].(map[string]any); ok {
						settled[fmt.Sprint(inv["id"])] = true
					}
				}
			}
		}
		if len(settled) == 4 {
			break
		}
		if time.Now().After(deadlineHooks) {
			t.Fatalf("webhook echo saw settlements of %v", settled)
		}
		time.Sleep(250 * time.Millisecond)
	}
	// Operations endpoints answer on the same listener.
	for path, want := range map[string]string{"/metrics": `chainpay_rpc_requests_total{chain="base"`, "/readyz": `"chain:base":{"ok":true`} {
		resp, err := http.Get(info.APIURL + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(body), want) {
			t.Fatalf("GET %s: %d %s", path, resp.StatusCode, tail(string(body), 600))
		}
	}
	// Ctrl-C stops chainpay and its btcd.
	if err := dev.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("chainpay dev exited with %v after Ctrl-C", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("chainpay dev did not stop on Ctrl-C")
	}
	if out, _ := exec.Command("pgrep", "-f", filepath.Join(data, "btcd")).Output(); len(strings.TrimSpace(string(out))) > 0 {
		t.Fatalf("btcd still running after Ctrl-C: pids %s", out)
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}
