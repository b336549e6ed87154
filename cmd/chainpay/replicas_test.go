package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/btcsuite/btcd/btcutil"
	"github.com/btcsuite/btcd/chaincfg"

	"github.com/chainpay/chainpay/chains/bitcoin/btcdtest"
	"github.com/chainpay/chainpay/chains/bitcoin/regtest"
	"github.com/chainpay/chainpay/ledger"
	"github.com/chainpay/chainpay/store"
	"github.com/chainpay/chainpay/store/postgres"
	"github.com/chainpay/chainpay/store/storetest"
	"github.com/chainpay/chainpay/watcher"
)

// replica is one `chainpay serve` process.
type replica struct {
	cmd    *exec.Cmd
	url    string
	log    string
	exited chan struct{}
}

// TestReplicas runs three `chainpay serve` processes against one Postgres schema and a real
// btcd: invoices are created through every replica and paid; the replica that follows the
// chain is killed with SIGKILL in the middle; afterwards every invoice is settled, each
// payment is stored once with exactly one ledger record and one settled event, the webhook
// receiver got every settlement, and the follower lease moved to a surviving replica.
func TestReplicas(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dbURL := storetest.PostgresSchemaURL(t)
	btcd := btcdtest.Start(t)
	btcd.Fund(t)
	bin := filepath.Join(t.TempDir(), "chainpay")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	env := append(os.Environ(), "CHAINPAY_DATABASE_URL="+dbURL, "CHAINPAY_CONFIG=",
		"CHAINPAY_RATE_SOURCES=none", "CHAINPAY_FIXED_RATES=BTC-USD=60000", "CHAINPAY_RATE_CURRENCIES=USD",
		"CHAINPAY_BITCOIN_NETWORK=regtest", "CHAINPAY_BITCOIN_RPC="+btcd.RPCURL(), "CHAINPAY_BITCOIN_POLL=200ms",
		"CHAINPAY_BITCOIN_CONFIRMATIONS=1", "CHAINPAY_WEBHOOKS_ALLOW_PRIVATE=true", "CHAINPAY_LOG_LEVEL=info")
	cli := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(bin, args...)
		cmd.Env = env
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		if err := cmd.Run(); err != nil {
			t.Fatalf("chainpay %s: %v\n%s", strings.Join(args, " "), err, errb.String())
		}
		return strings.TrimSpace(out.String())
	}
	cli("migrate")
	storeID := cli("store", "create", "--name", "Replicated Shop")
	key := cli("apikey", "create", "--store", storeID)
	tpub, err := regtest.MerchantTpub(devSeed[:])
	if err != nil {
		t.Fatal(err)
	}
	cli("wallet", "add", "--store", storeID, "--chain", "bitcoin", "--network", "regtest", "--key", tpub)

	// The processes.
	var replicas []*replica
	for i := range 3 {
		r := &replica{url: "http://" + freeAddr(t), log: filepath.Join(t.TempDir(), fmt.Sprintf("replica%d.log", i)), exited: make(chan struct{})}
		f, err := os.Create(r.log)
		if err != nil {
			t.Fatal(err)
		}
		r.cmd = exec.Command(bin, "serve", "--listen", strings.TrimPrefix(r.url, "http://"), "--metrics-listen", "off")
		r.cmd.Env, r.cmd.Stdout, r.cmd.Stderr = env, f, f
		if err := r.cmd.Start(); err != nil {
			t.Fatal(err)
		}
		go func() { _ = r.cmd.Wait(); f.Close(); close(r.exited) }()
		t.Cleanup(func() {
			_ = r.cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-r.exited:
			case <-time.After(20 * time.Second):
				_ = r.cmd.Process.Kill()
				<-r.exited
			}
			if t.Failed() {
				b, _ := os.ReadFile(r.log)
				t.Logf("replica %d (pid %d) log tail:\n%s", i, r.cmd.Process.Pid, tail(string(b), 3000))
			}
		})
		replicas = append(replicas, r)
	}
	client := &http.Client{Timeout: 10 * time.Second}
	call := func(r *replica, method, path string, body any, out any) int {
		t.Helper()
		var rd io.Reader
		if body != nil {
			b, _ := json.Marshal(body)
			rd = bytes.NewReader(b)
		}
		req, _ := http.NewRequest(method, r.url+path, rd)
		req.Header.Set("Authorization", "Bearer "+key)
		req.Header.Set("Content-Type", "application/json")
		if method == "POST" {
			req.Header.Set("Idempotency-Key", fmt.Sprintf("k-%d", time.Now().UnixNano()))
		}
		resp, err := client.Do(req)
		if err != nil {
			return 0
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if out != nil && resp.StatusCode < 300 {
			if err := json.Unmarshal(b, out); err != nil {
				t.Fatalf("%s %s: %v: %s", method, path, err, b)
			}
		}
		return resp.StatusCode
	}
	waitFor := func(what string, timeout time.Duration, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(timeout)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out after %s waiting for %s", timeout, what)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	for i, r := range replicas {
		waitFor(fmt.Sprintf("replica %d to serve", i), 30*time.Second, func() bool { return call(r, "GET", "/healthz", nil, nil) == 200 })
	}

	// A webhook receiver, registered through a replica.
	var (
		mu       sync.Mutex
		received = map[string]map[string]int{} // invoice id -> event type -> deliveries
	)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var ev struct {
			Type string `json:"type"`
			Data struct {
				Invoice struct {
					ID string `json:"id"`
				} `json:"invoice"`
			} `json:"data"`
		}
		b, _ := io.ReadAll(r.Body)
		if err := json.Unmarshal(b, &ev); err == nil {
			mu.Lock()
			if received[ev.Data.Invoice.ID] == nil {
				received[ev.Data.Invoice.ID] = map[string]int{}
			}
			received[ev.Data.Invoice.ID][ev.Type]++
			mu.Unlock()
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	defer hook.Close()
	if code := call(replicas[1], "POST", "/v1/webhooks", map[string]any{"url": hook.URL + "/hooks", "events": []string{"*"}}, nil); code != 201 {
		t.Fatalf("create webhook endpoint: HTTP %d", code)
	}

	// Invoices through every replica.
	type option struct {
		Asset, Address  string
		AmountDueAtomic string `json:"amount_due_atomic"`
	}
	type invoice struct {
		ID             string
		Status         string
		PaymentOptions []option `json:"payment_options"`
	}
	const n = 6
	var invs []invoice
	for i := range n {
		var inv invoice
		if code := call(replicas[i%3], "POST", "/v1/invoices", map[string]any{"amount": fmt.Sprintf("%d.00", 10+i), "currency": "USD"}, &inv); code != 201 {
			t.Fatalf("create invoice through replica %d: HTTP %d", i%3, code)
		}
		invs = append(invs, inv)
	}
	pay := func(inv invoice) {
		t.Helper()
		for _, o := range inv.PaymentOptions {
			if o.Asset != "BTC" {
				continue
			}
			addr, err := btcutil.DecodeAddress(o.Address, &chaincfg.RegressionNetParams)
			if err != nil {
				t.Fatal(err)
			}
			sats, err := strconv.ParseInt(o.AmountDueAtomic, 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			btcd.Pay(t, addr, sats)
			return
		}
		t.Fatalf("invoice %s has no BTC option", inv.ID)
	}

	// The database as the replicas share it.
	st, err := postgres.Open(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	leader := func() string {
		var holder string
		_ = st.View(ctx, func(tx store.Tx) error {
			ls, err := tx.Leases(ctx)
			for _, l := range ls {
				if l.Name == watcher.LeaseName("bitcoin") && l.ExpiresAt.After(time.Now()) {
					holder = l.Holder
				}
			}
			return err
		})
		return holder
	}
	replicaOf := func(holder string) int {
		for i, r := range replicas {
			if strings.Contains(holder, "-"+strconv.Itoa(r.cmd.Process.Pid)+"-") {
				return i
			}
		}
		return -1
	}
	waitFor("a replica to follow bitcoin", 20*time.Second, func() bool { return replicaOf(leader()) >= 0 })
	first := replicaOf(leader())

	// Half the payments, a block, then the following replica dies without warning.
	for _, inv := range invs[:n/2] {
		pay(inv)
	}
	btcd.Mine(t, 1)
	status := func(inv invoice) string {
		for _, r := range replicas {
			select {
			case <-r.exited:
				continue
			default:
			}
			var got invoice
			if call(r, "GET", "/v1/invoices/"+inv.ID, nil, &got) == 200 {
				return got.Status
			}
		}
		return ""
	}
	waitFor("the first payment to be seen", 20*time.Second, func() bool { return status(invs[0]) != "new" })
	if err := replicas[first].cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-replicas[first].exited

	for _, inv := range invs[n/2:] {
		pay(inv)
	}
	btcd.Mine(t, 1)
	waitFor("every invoice to settle", 45*time.Second, func() bool {
		for _, inv := range invs {
			if status(inv) != store.StatusSettled {
				return false
			}
		}
		return true
	})
	now := replicaOf(leader())
	t.Logf("replica %d followed bitcoin and was killed; replica %d took over", first, now)
	if now < 0 || now == first {
		t.Fatalf("the bitcoin follower lease is held by %q (replica %d), want a survivor (replica %d was killed)", leader(), now, first)
	}

	// Nothing lost, nothing duplicated.
	var payments []store.Payment
	settledEvents, confirmedEvents := map[string]int{}, map[string]int{}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(st.View(ctx, func(tx store.Tx) error {
		for _, inv := range invs {
			ps, err := tx.Payments(ctx, inv.ID)
			if err != nil {
				return err
			}
			if len(ps) != 1 {
				return fmt.Errorf("invoice %s has %d payments, want 1", inv.ID, len(ps))
			}
			payments = append(payments, ps...)
			evs, err := tx.Events(ctx, inv.ID)
			if err != nil {
				return err
			}
			for _, e := range evs {
				switch e.Type {
				case "invoice.settled":
					settledEvents[inv.ID]++
				case "invoice.payment_confirmed":
					confirmedEvents[inv.ID]++
				}
			}
		}
		return nil
	}))
	for _, inv := range invs {
		if settledEvents[inv.ID] != 1 {
			t.Errorf("invoice %s has %d invoice.settled events, want 1", inv.ID, settledEvents[inv.ID])
		}
		// Its one payment confirmed once, whichever replica followed the chain then.
		if confirmedEvents[inv.ID] != 1 {
			t.Errorf("invoice %s has %d invoice.payment_confirmed events, want 1", inv.ID, confirmedEvents[inv.ID])
		}
	}
	recordsOf := func() map[string]int {
		out := map[string]int{}
		must(st.View(ctx, func(tx store.Tx) error {
			rs, err := tx.LedgerRecords(ctx, store.LedgerFilter{MerchantID: storeID})
			for _, r := range rs {
				out[r.SourceID]++
			}
			return err
		}))
		return out
	}
	waitFor("a ledger record per payment", 20*time.Second, func() bool { return len(recordsOf()) == n })
	records := recordsOf()
	for _, p := range payments {
		if records[p.ID] != 1 {
			t.Errorf("payment %s has %d ledger records, want 1 (all: %v)", p.ID, records[p.ID], records)
		}
	}
	// The books invariant holds for every payment (what `chainpay ledger verify` checks).
	diffs, err := ledger.Verify(ctx, st, storeID)
	must(err)
	t.Logf("ledger verify: %d differences", len(diffs))
	for _, d := range diffs {
		t.Errorf("ledger verify: %s", d)
	}
	waitFor("a settled webhook per invoice", 20*time.Second, func() bool {
		mu.Lock()
		defer mu.Unlock()
		for _, inv := range invs {
			if received[inv.ID]["invoice.settled"] < 1 {
				return false
			}
		}
		return true
	})
	var counts []store.PaymentCount
	must(st.View(ctx, func(tx store.Tx) (err error) { counts, err = tx.PaymentCounts(ctx); return }))
	if len(counts) != 1 || counts[0].Count != n || counts[0].Status != store.PaymentConfirmed {
		t.Fatalf("payments in the database: %+v, want %d confirmed", counts, n)
	}
}
