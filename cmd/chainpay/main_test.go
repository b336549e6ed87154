package main

import (
	"bytes"
	"context"
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

	"github.com/chainpay/chainpay/store/storetest"
)

// cli runs the command in-process with the environment env and returns stdout, stderr and
// the exit code.
func cli(t *testing.T, env map[string]string, args ...string) (string, string, int) {
	t.Helper()
	for k, v := range env {
		t.Setenv(k, v)
	}
	var out, errb bytes.Buffer
	code := run(context.Background(), args, &out, &errb)
	return strings.TrimSpace(out.String()), strings.TrimSpace(errb.String()), code
}

func TestBadSettingsExit2WithOneLine(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		env     map[string]string
		args    []string
		setting string
	}{
		{map[string]string{"CHAINPAY_DATABASE_URL": "mysql://x"}, []string{"migrate"}, "CHAINPAY_DATABASE_URL"},
		{map[string]string{"CHAINPAY_DATA_DIR": dir, "CHAINPAY_LOG_LEVEL": "loud"}, []string{"migrate"}, "CHAINPAY_LOG_LEVEL"},
		{map[string]string{"CHAINPAY_DATA_DIR": dir, "CHAINPAY_LISTEN": "nowhere"}, []string{"serve"}, "CHAINPAY_LISTEN"},
		{map[string]string{"CHAINPAY_DATA_DIR": dir, "CHAINPAY_BITCOIN_NETWORK": "moonnet"}, []string{"serve"}, "CHAINPAY_BITCOIN_NETWORK"},
		{map[string]string{"CHAINPAY_DATA_DIR": dir, "CHAINPAY_FIXED_RATES": "BTC-USD=-1"}, []string{"serve"}, "CHAINPAY_FIXED_RATES"},
		{map[string]string{"CHAINPAY_DATA_DIR": dir, "CHAINPAY_RATE_SOURCES": "oracle"}, []string{"serve"}, "CHAINPAY_RATE_SOURCES"},
		{map[string]string{"CHAINPAY_DATA_DIR": dir, "CHAINPAY_DATABASE_MAX_CONNS": "0"}, []string{"migrate"}, "CHAINPAY_DATABASE_MAX_CONNS"},
		{map[string]string{"CHAINPAY_DATA_DIR": dir, "CHAINPAY_DATABASE_MAX_CONNS": "many"}, []string{"migrate"}, "CHAINPAY_DATABASE_MAX_CONNS"},
	}
	for _, c := range cases {
		t.Run(c.setting, func(t *testing.T) {
			for _, k := range []string{"CHAINPAY_DATABASE_URL", "CHAINPAY_DATA_DIR", "CHAINPAY_LOG_LEVEL", "CHAINPAY_LISTEN",
				"CHAINPAY_BITCOIN_NETWORK", "CHAINPAY_FIXED_RATES", "CHAINPAY_RATE_SOURCES", "CHAINPAY_DATABASE_MAX_CONNS"} {
				t.Setenv(k, "")
				os.Unsetenv(k)
			}
			_, stderr, code := cli(t, c.env, c.args...)
			if code != 2 || !strings.Contains(stderr, c.setting) || strings.Count(stderr, "\n") != 0 || strings.Contains(stderr, "goroutine") {
				t.Fatalf("exit %d, stderr %q; want 2 and one line naming %s", code, stderr, c.setting)
			}
		})
	}
	if _, stderr, code := cli(t, nil, "frobnicate"); code != 2 || !strings.Contains(stderr, "unknown command") {
		t.Fatalf("unknown command: %d %q", code, stderr)
	}
}

func TestAdminCommandsSQLite(t *testing.T) {
	env := map[string]string{"CHAINPAY_DATA_DIR": t.TempDir(), "CHAINPAY_DATABASE_URL": ""}
	os.Unsetenv("CHAINPAY_DATABASE_URL")
	if _, stderr, code := cli(t, env, "store", "create", "--name", "x"); code == 0 || !strings.Contains(stderr, "chainpay migrate") {
		t.Fatalf("before migrate: %d %q", code, stderr)
	}
	if _, _, code := cli(t, env, "migrate"); code != 0 {
		t.Fatal("migrate failed")
	}
	id, _, code := cli(t, env, "store", "create", "--name", "Coffee & Co")
	if code != 0 || !strings.HasPrefix(id, "sto_") || strings.Contains(id, "\n") {
		t.Fatalf("store create printed %q (exit %d)", id, code)
	}
	key, stderr, code := cli(t, env, "apikey", "create", "--store", id, "--perm", "invoices:read")
	if code != 0 || !strings.HasPrefix(key, "cpk_") {
		t.Fatalf("apikey create printed %q (exit %d)", key, code)
	}
	keyID := strings.Fields(strings.TrimPrefix(stderr, "key id "))[0]
	if _, stderr, code := cli(t, env, "apikey", "create", "--store", id, "--perm", "invoices:delete"); code != 2 || !strings.Contains(stderr, "invoices:delete") {
		t.Fatalf("bad permission: %d %q", code, stderr)
	}
	if _, stderr, code := cli(t, env, "apikey", "create", "--store", "sto_nope"); code != 2 || !strings.Contains(stderr, "no store") {
		t.Fatalf("unknown store: %d %q", code, stderr)
	}
	if _, _, code := cli(t, env, "apikey", "revoke", keyID); code != 0 {
		t.Fatal("revoke failed")
	}
	zpub := "zpub6rFR7y4Q2AijBEqTUquhVz398htDFrtymD9xYYfG1m4wAcvPhXNfE3EfH1r1ADqtfSdVCToUG868RvUUkgDKf31mGDtKsAYz2oz2AGutZYs"
	if _, stderr, code := cli(t, env, "wallet", "add", "--store", id, "--chain", "bitcoin", "--key", zpub, "--network", "testnet"); code != 2 || !strings.Contains(stderr, "network") {
		t.Fatalf("mainnet key for testnet: %d %q", code, stderr)
	}
	if _, stderr, code := cli(t, env, "wallet", "add", "--store", id, "--chain", "bitcoin",
		"--key", "xprv9s21ZrQH143K3GJpoapnV8SFfukcVBSfeCficPSGfubmSFDxo1kuHnLisriDvSnRRuL2Qrg5ggqHKNVpxR86QEC8w35uxmGoggxtQTPvfUu"); code != 2 || !strings.Contains(stderr, "private") {
		t.Fatalf("private key: %d %q", code, stderr)
	}
	if _, _, code := cli(t, env, "wallet", "add", "--store", id, "--chain", "bitcoin", "--key", zpub); code != 0 {
		t.Fatal("wallet add failed")
	}
	out, _, _ := cli(t, env, "wallet", "list", "--store", id)
	if !strings.Contains(out, "highest index handed out: none") || !strings.Contains(out, "gap: 0") {
		t.Fatalf("wallet list: %q", out)
	}
	if out, stderr, code := cli(t, env, "store", "set", "--store", id, "--max-amount", "USD=100,EUR=90.5"); code != 0 || !strings.Contains(out, `"max_amount":{"EUR":"90.50","USD":"100.00"}`) {
		t.Fatalf("store set: %d %q %q", code, out, stderr)
	}
	if out, _, code := cli(t, env, "store", "set", "--store", id, "--max-amount", "EUR="); code != 0 || strings.Contains(out, "EUR") {
		t.Fatalf("store set EUR=: %d %q", code, out)
	}
	if _, stderr, code := cli(t, env, "store", "set", "--store", id, "--max-amount", "XYZ=5"); code != 2 || !strings.Contains(stderr, "ISO 4217") {
		t.Fatalf("store set XYZ: %d %q", code, stderr)
	}
	if _, stderr, code := cli(t, env, "wallet", "add", "--store", id, "--chain", "ethereum", "--treasury", "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD"); code != 2 || !strings.Contains(stderr, "treasury") {
		t.Fatalf("bad EIP-55 checksum: %d %q", code, stderr)
	}
	if out, stderr, code := cli(t, env, "wallet", "add", "--store", id, "--chain", "ethereum", "--treasury", "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed", "--tokens", "USDC"); code != 0 || !strings.HasPrefix(out, "wal_") {
		t.Fatalf("ethereum wallet: %d %q %q", code, out, stderr)
	}
	out, _, _ = cli(t, env, "wallet", "list", "--store", id)
	if !strings.Contains(out, "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed") {
		t.Fatalf("wallet list without the treasury: %q", out)
	}
	if _, stderr, code := cli(t, env, "ledger", "parked"); code != 0 || !strings.Contains(stderr, "no parked") {
		t.Fatalf("ledger parked: %d %q", code, stderr)
	}
	if _, stderr, code := cli(t, env, "ledger", "retry", "obx_nope"); code != 2 || !strings.Contains(stderr, "no parked") {
		t.Fatalf("ledger retry unknown: %d %q", code, stderr)
	}
	if out, stderr, code := cli(t, env, "export", "--store", id, "--from", "2026-01-01", "--to", "2026-12-31", "--format", "csv"); code != 0 || !strings.HasPrefix(out, "record_id,") {
		t.Fatalf("export: %d %q %q", code, out, stderr)
	}
	if _, stderr, code := cli(t, env, "export", "--store", id, "--from", "2026-01-01", "--to", "2026-12-31", "--format", "pdf"); code != 2 || !strings.Contains(stderr, "format") {
		t.Fatalf("export bad format: %d %q", code, stderr)
	}
	addr, _, code := cli(t, env, "bitcoin", "derive", "--key", zpub, "--index", "0")
	if code != 0 || addr != "bc1qcr8te4kr609gcawutmrza0j4xv80jy8z306fyu" {
		t.Fatalf("derive: %q %d", addr, code)
	}
}

// TestServeBinary builds the real binary and runs migrate + serve on SQLite and on Postgres
// with no other setup, checks it answers, and that SIGTERM shuts it down cleanly.
func TestServeBinary(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "chainpay")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	for _, db := range []struct {
		name, url, metricsToken string
		pprof                   bool // CHAINPAY_PPROF
	}{
		{"sqlite", "", "metrics-token-0123456789", true},
		{"postgres", storetest.PostgresSchemaURL(t), "", false},
	} {
		t.Run(db.name, func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			addr := ln.Addr().String()
			ln.Close()
			mln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			maddr := mln.Addr().String()
			mln.Close()
			env := append(os.Environ(), "CHAINPAY_DATA_DIR="+t.TempDir(), "CHAINPAY_LISTEN="+addr,
				"CHAINPAY_DATABASE_URL="+db.url, "CHAINPAY_RATE_SOURCES=none", "CHAINPAY_METRICS_LISTEN="+maddr,
				"CHAINPAY_METRICS_TOKEN="+db.metricsToken, fmt.Sprintf("CHAINPAY_PPROF=%t", db.pprof))
			mig := exec.Command(bin, "migrate")
			mig.Env = env
			if out, err := mig.CombinedOutput(); err != nil || !strings.Contains(string(out), db.name) {
				t.Fatalf("migrate: %v %s", err, out)
			}
			srv := exec.Command(bin, "serve")
			srv.Env = env
			var logs bytes.Buffer
			srv.Stderr = &logs
			if err := srv.Start(); err != nil {
				t.Fatal(err)
			}
			deadline := time.Now().Add(20 * time.Second)
			for {
				resp, err := http.Get("http://" + addr + "/healthz")
				if err == nil {
					resp.Body.Close()
					if resp.StatusCode != 200 {
						t.Fatalf("healthz %d", resp.StatusCode)
					}
					break
				}
				if time.Now().After(deadline) {
					srv.Process.Kill()
					t.Fatalf("serve did not answer: %v\n%s", err, logs.String())
				}
				time.Sleep(50 * time.Millisecond)
			}
			// /metrics: open on its own (loopback) listener; on the public one only with the token.
			get := func(url, auth string) int {
				t.Helper()
				req, _ := http.NewRequest("GET", url, nil)
				if auth != "" {
					req.Header.Set("Authorization", "Bearer "+auth)
				}
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode == 200 && !strings.Contains(string(body), "chainpay_build_info") {
					t.Fatalf("%s: not the metrics: %.300s", url, body)
				}
				return resp.StatusCode
			}
			if c := get("http://"+maddr+"/metrics", ""); c != 200 {
				t.Errorf("metrics listener: %d", c)
			}
			// The profiler: on the metrics listener only, and only with CHAINPAY_PPROF; the
			// metrics listener serves nothing else.
			for _, u := range []string{"http://" + maddr + "/debug/pprof/cmdline", "http://" + addr + "/debug/pprof/cmdline",
				"http://" + maddr + "/", "http://" + maddr + "/healthz"} {
				resp, err := http.Get(u)
				if err != nil {
					t.Fatal(err)
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				want := 404
				if db.pprof && u == "http://"+maddr+"/debug/pprof/cmdline" {
					want = 200
					if !strings.Contains(string(body), "serve") {
						t.Errorf("%s: not the profiler's command line: %.200q", u, body)
					}
				}
				if resp.StatusCode != want {
					t.Errorf("%s with CHAINPAY_PPROF=%t: %d, want %d", u, db.pprof, resp.StatusCode, want)
				}
			}
			if db.metricsToken == "" {
				if c := get("http://"+addr+"/metrics", ""); c != 404 {
					t.Errorf("public /metrics without a token configured: %d, want 404", c)
				}
			} else {
				for auth, want := range map[string]int{"": 401, "wrong-token-0123456789": 401, db.metricsToken: 200} {
					if c := get("http://"+addr+"/metrics", auth); c != want {
						t.Errorf("public /metrics with token %q: %d, want %d", auth, c, want)
					}
				}
			}
			if err := srv.Process.Signal(syscall.SIGTERM); err != nil {
				t.Fatal(err)
			}
			if err := srv.Wait(); err != nil {
				t.Fatalf("serve exited with %v after SIGTERM\n%s", err, logs.String())
			}
			if !strings.Contains(logs.String(), "shutting down") {
				t.Fatalf("no graceful shutdown in the log:\n%s", logs.String())
			}
		})
	}
}
