package main

import (
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// serveFlags registers the settings of `chainpay serve` on a new flag set, as runServe does.
func serveFlags() (*flag.FlagSet, func() (*config, error), *serveSettings) {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	load := commonSettings(fs)
	var ss serveSettings
	ss.register(fs)
	return fs, load, &ss
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// The tests that set environment variables cannot run in parallel (t.Setenv).

func TestConfigPrecedenceFlagEnvFileDefault(t *testing.T) {
	secret := writeFile(t, "rpc", "  http://u:p@127.0.0.1:18443  \n")
	dbURL := writeFile(t, "db", "postgres://chainpay@db/chainpay\n")
	cfgFile := writeFile(t, "chainpay.yaml", `
listen: 0.0.0.0:9000          # loses to the environment
bitcoin_poll: 9s              # loses to the flag
bitcoin_network: regtest      # wins over the default
bitcoin_rpc_file: `+secret+`
rate_sources: [coinbase, kraken]
fee_bps: 25
migrate_unused_default: x
`)
	// migrate_unused_default is not a setting: first the error, then without it.
	t.Setenv("CHAINPAY_LISTEN", "127.0.0.1:7000")
	t.Setenv("CHAINPAY_DATABASE_URL_FILE", dbURL)
	t.Setenv("CHAINPAY_CONFIG", "")
	fs, _, _ := serveFlags()
	err := applyConfig(fs, []string{"--config", cfgFile})
	var se *settingError
	if !errors.As(err, &se) || !strings.Contains(err.Error(), "migrate_unused_default") {
		t.Fatalf("unknown key: got %v, want a setting error naming it", err)
	}
	b, _ := os.ReadFile(cfgFile)
	if err := os.WriteFile(cfgFile, []byte(strings.Replace(string(b), "migrate_unused_default: x\n", "", 1)), 0o600); err != nil {
		t.Fatal(err)
	}

	fs, load, ss := serveFlags()
	args := []string{"--bitcoin-poll", "3s", "--config", cfgFile}
	if err := applyConfig(fs, args); err != nil {
		t.Fatal(err)
	}
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	c, err := load()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, got, want string }{
		{"flag beats file", ss.btcPoll, "3s"},
		{"env beats file", ss.listen, "127.0.0.1:7000"},
		{"file beats default", ss.btcNetwork, "regtest"},
		{"file _file", ss.btcRPC, "http://u:p@127.0.0.1:18443"},
		{"file list", ss.rates.sources, "coinbase,kraken"},
		{"file number", ss.feeBps, "25"},
		{"env _FILE", c.DatabaseURL, "postgres://chainpay@db/chainpay"},
		{"default", ss.ethChainID, "1"},
	} {
		if tc.got != tc.want {
			t.Errorf("%s: got %q, want %q", tc.name, tc.got, tc.want)
		}
	}
	// The help shows the value from the file as the default.
	if f := fs.Lookup("bitcoin-network"); f.DefValue != "regtest" {
		t.Errorf("DefValue %q", f.DefValue)
	}
}

func TestConfigFromEnvironmentVariable(t *testing.T) {
	cfgFile := writeFile(t, "c.yaml", "bitcoin_confirmations: 3\n")
	t.Setenv("CHAINPAY_CONFIG", cfgFile)
	fs, _, ss := serveFlags()
	if err := applyConfig(fs, nil); err != nil {
		t.Fatal(err)
	}
	if err := fs.Parse(nil); err != nil {
		t.Fatal(err)
	}
	if ss.btcConfs != "3" {
		t.Fatalf("bitcoin confirmations %q, want 3 from $CHAINPAY_CONFIG", ss.btcConfs)
	}
	// --config wins over CHAINPAY_CONFIG.
	other := writeFile(t, "d.yaml", "bitcoin_confirmations: 6\n")
	fs, _, ss = serveFlags()
	args := []string{"--config=" + other}
	if err := applyConfig(fs, args); err != nil {
		t.Fatal(err)
	}
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	if ss.btcConfs != "6" {
		t.Fatalf("bitcoin confirmations %q, want 6 from --config", ss.btcConfs)
	}
}

func TestConfigSecretConflictsAndErrors(t *testing.T) {
	secret := writeFile(t, "s", "topsecretvalue-123456\n")
	t.Setenv("CHAINPAY_CONFIG", "")
	for _, tc := range []struct {
		name, env, envVal, yaml, want string
	}{
		{"env X and X_FILE", "CHAINPAY_LEDGER_URL", "https://l.example", "", "both CHAINPAY_LEDGER_URL and CHAINPAY_LEDGER_URL_FILE"},
		{"file x and x_file", "", "", "ledger_url: https://x\nledger_url_file: " + secret + "\n", "both ledger_url and ledger_url_file"},
		{"no X_FILE of a file setting", "", "", "ledger_secret_file_file: /nonexistent\n", "unknown setting(s) ledger_secret_file_file"},
		{"unreadable x_file", "", "", "ledger_url_file: /nonexistent/secret\n", "ledger_url_file"},
		{"upper case key", "", "", "BITCOIN_RPC: x\n", "names are lower case"},
		{"dashes", "", "", "bitcoin-rpc: x\n", "names are lower case"},
		{"nested", "", "", "bitcoin:\n  rpc: x\n", "must be a value or a list"},
		{"duplicate", "", "", "listen: a:1\nlisten: b:2\n", "appears twice"},
		{"null", "", "", "listen:\n", "has no value"},
		{"not a mapping", "", "", "- a\n- b\n", "want a mapping"},
		{"bad yaml", "", "", "listen: [\n", "not valid YAML"},
		{"comma in list item", "", "", "bitcoin_rpc: [\"a,b\"]\n", "without commas"},
		{"missing file", "", "", "\x00missing", "no such file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.env != "" {
				t.Setenv(tc.env, tc.envVal)
				t.Setenv(tc.env+"_FILE", secret)
			}
			path := filepath.Join(t.TempDir(), "absent.yaml")
			if tc.yaml != "\x00missing" {
				path = writeFile(t, "c.yaml", tc.yaml)
			}
			if tc.yaml == "" {
				path = ""
			}
			fs, _, _ := serveFlags()
			err := applyConfigFile(path, fs)
			var se *settingError
			if !errors.As(err, &se) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want a setting error containing %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "topsecretvalue") {
				t.Fatalf("the error shows the secret: %v", err)
			}
		})
	}
}

func TestConfigPath(t *testing.T) {
	t.Parallel()
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	fs.String("listen", "", "")
	fs.Bool("fresh", false, "")
	for _, tc := range []struct {
		args []string
		want string
		err  bool
	}{
		{[]string{"--config", "a.yaml"}, "a.yaml", false},
		{[]string{"-config=b.yaml"}, "b.yaml", false},
		{[]string{"--listen", "--config", "--config", "c.yaml"}, "c.yaml", false}, // "--config" is listen's value
		{[]string{"--fresh", "--config", "d.yaml"}, "d.yaml", false},
		{[]string{"pay", "--config", "e.yaml"}, "", false}, // after the first argument: not a flag
		{[]string{"--", "--config", "f.yaml"}, "", false},
		{[]string{"--config"}, "", true},
	} {
		got, err := configPath(fs, tc.args)
		if (err != nil) != tc.err || (err == nil && got != tc.want && !(tc.want == "" && got == os.Getenv(configEnv))) {
			t.Errorf("configPath(%q) = %q, %v; want %q (error %v)", tc.args, got, err, tc.want, tc.err)
		}
	}
}

func FuzzParseConfig(f *testing.F) {
	for _, s := range []string{"", "listen: a:1\n", "bitcoin_rpc: [a, b]\n", "a:\n  b: c\n", "- x\n", "k: !!binary aGk=\n",
		"x: &a [1]\ny: *a\n", "fee_bps: 1e3\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		out, err := parseConfig("fuzz.yaml", b)
		if err != nil {
			var se *settingError
			if !errors.As(err, &se) {
				t.Fatalf("error of type %T: %v", err, err)
			}
			return
		}
		for k := range out {
			if k == "" || k != strings.ToLower(k) || strings.ContainsAny(k, "- .") {
				t.Fatalf("accepted key %q", k)
			}
		}
	})
}
