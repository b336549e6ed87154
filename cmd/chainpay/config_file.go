package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Settings come from four places. Precedence, highest first:
//
//  1. a command-line flag (--bitcoin-rpc ...);
//  2. the environment (CHAINPAY_BITCOIN_RPC), or CHAINPAY_BITCOIN_RPC_FILE naming a file
//     that holds the value;
//  3. the configuration file given by --config FILE or CHAINPAY_CONFIG (YAML: the
//     environment name without CHAINPAY_, in lower case, e.g. `bitcoin_rpc: ...`), or
//     `bitcoin_rpc_file: /path` naming a file that holds the value;
//  4. the built-in default.
//
// Every setting X may be given as X_FILE (environment or configuration file): the value is
// the file's content without surrounding white space. Giving both X and X_FILE at the same
// level is an error. Settings that are themselves file names (CHAINPAY_LEDGER_SECRET_FILE,
// CHAINPAY_SWEEPER_KEY_FILE) keep their own meaning.

// configEnv is the environment variable naming the configuration file.
const configEnv = "CHAINPAY_CONFIG"

// maxConfigFile bounds the configuration file and secret files.
const maxConfigFile = 1 << 20

// applyConfig is what a subcommand calls after registering its settings on fs and before
// parsing args: it registers --config, finds the configuration file in args or
// CHAINPAY_CONFIG, and applies it and the X_FILE environment variables (see
// applyConfigFile).
func applyConfig(fs *flag.FlagSet, args []string) error {
	if fs.Lookup("config") == nil {
		fs.String("config", os.Getenv(configEnv), "YAML configuration file (see docs/operations.md) ($"+configEnv+")")
	}
	path, err := configPath(fs, args)
	if err != nil {
		return err
	}
	return applyConfigFile(path, fs)
}

// configPath returns the value of --config (or -config) in args, else CHAINPAY_CONFIG. It
// walks args as package flag will parse them with fs: a non-boolean flag without "=" takes
// the next argument, and parsing stops at the first non-flag argument or "--".
func configPath(fs *flag.FlagSet, args []string) (string, error) {
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" || a == "-" || !strings.HasPrefix(a, "-") {
			break
		}
		name, val, hasVal := strings.Cut(strings.TrimPrefix(strings.TrimPrefix(a, "-"), "-"), "=")
		if name == "config" {
			if hasVal {
				return val, nil
			}
			if i+1 >= len(args) {
				return "", &usageError{"flag needs an argument: -config"}
			}
			return args[i+1], nil
		}
		if f := fs.Lookup(name); f != nil && !hasVal {
			if b, ok := f.Value.(interface{ IsBoolFlag() bool }); !ok || !b.IsBoolFlag() {
				i++ // the flag's value
			}
		}
	}
	return os.Getenv(configEnv), nil
}

// applyConfigFile gives every flag of fs that has an environment variable (the "($CHAINPAY_X)"
// that register appends to its usage) its value from, in order, CHAINPAY_X (already applied
// by register), CHAINPAY_X_FILE, the configuration file at path (key x, or x_file), and
// leaves it alone otherwise. path "" means no configuration file. Flags given on the
// command line are parsed afterwards and override all of this.
func applyConfigFile(path string, fs *flag.FlagSet) error {
	var file map[string]string
	if path != "" {
		var err error
		if file, err = readConfigFile(path); err != nil {
			return err
		}
	}
	known := map[string]bool{}
	var ferr error
	fs.VisitAll(func(f *flag.Flag) {
		env := flagEnv(f)
		if env == "" || ferr != nil {
			return
		}
		key := strings.ToLower(strings.TrimPrefix(env, "CHAINPAY_"))
		known[key] = true
		// A setting that is itself a file name has no X_FILE form.
		withFile := !strings.HasSuffix(env, "_FILE")
		if withFile {
			known[key+"_file"] = true
		}
		val, ok, err := settingValue(env, key, withFile, file, path)
		if err != nil {
			ferr = err
			return
		}
		if !ok {
			return
		}
		if err := f.Value.Set(val); err != nil {
			ferr = &settingError{env, err.Error()}
			return
		}
		f.DefValue = val
	})
	if ferr != nil {
		return ferr
	}
	var unknown []string
	for k := range file {
		if !known[k] {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		return &settingError{configEnv, fmt.Sprintf("%s: unknown setting(s) %s for this command (keys are the CHAINPAY_ environment names in lower case without the prefix, e.g. bitcoin_rpc)",
			path, strings.Join(unknown, ", "))}
	}
	return nil
}

// settingValue resolves one setting below the flag level. It reports ok=false when
// neither the environment nor the file sets it.
func settingValue(env, key string, withFile bool, file map[string]string, path string) (string, bool, error) {
	if _, set := os.LookupEnv(env); set {
		if f, both := os.LookupEnv(env + "_FILE"); both && withFile && f != "" {
			return "", false, &settingError{env, "both " + env + " and " + env + "_FILE are set; keep one"}
		}
		return "", false, nil // register already made it the default
	}
	if withFile {
		if f := os.Getenv(env + "_FILE"); f != "" {
			v, err := readSecret(f)
			if err != nil {
				return "", false, &settingError{env + "_FILE", err.Error()}
			}
			return v, true, nil
		}
	}
	v, inFile := file[key]
	if withFile {
		if f, ok := file[key+"_file"]; ok {
			if inFile {
				return "", false, &settingError{configEnv, fmt.Sprintf("%s: both %s and %s_file are set; keep one", path, key, key)}
			}
			s, err := readSecret(f)
			if err != nil {
				return "", false, &settingError{configEnv, fmt.Sprintf("%s: %s_file: %v", path, key, err)}
			}
			return s, true, nil
		}
	}
	return v, inFile, nil
}

// flagEnv returns the environment variable of a flag registered by register: the
// "($CHAINPAY_X)" at the end of its usage.
func flagEnv(f *flag.Flag) string {
	u := f.Usage
	i := strings.LastIndex(u, "($CHAINPAY_")
	if i < 0 || !strings.HasSuffix(u, ")") {
		return ""
	}
	return u[i+2 : len(u)-1]
}

// readSecret reads a value from a file, without surrounding white space.
func readSecret(path string) (string, error) {
	b, err := readLimited(path)
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(string(b)), nil
}

func readLimited(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxConfigFile+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if len(b) > maxConfigFile {
		return nil, fmt.Errorf("%s is larger than %d bytes", path, maxConfigFile)
	}
	return b, nil
}

// readConfigFile reads the YAML configuration file: one mapping of setting names to
// scalars (strings, numbers, booleans, durations) or lists of scalars (joined with commas,
// for settings that take lists such as bitcoin_rpc).
func readConfigFile(path string) (map[string]string, error) {
	b, err := readLimited(path)
	if err != nil {
		return nil, &settingError{configEnv, err.Error()}
	}
	return parseConfig(path, b)
}

// parseConfig parses the configuration file's content; path names it in errors.
func parseConfig(path string, b []byte) (map[string]string, error) {
	bad := func(format string, args ...any) error {
		return &settingError{configEnv, path + ": " + fmt.Sprintf(format, args...)}
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return nil, bad("not valid YAML: %v", err)
	}
	out := map[string]string{}
	if doc.Kind == 0 { // empty file
		return out, nil
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, bad("want a mapping of settings, e.g. `bitcoin_rpc: http://...`")
	}
	m := doc.Content[0]
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := m.Content[i], m.Content[i+1]
		if k.Kind != yaml.ScalarNode || k.Value == "" {
			return nil, bad("line %d: a setting name must be a plain word", k.Line)
		}
		key := k.Value
		if key != strings.ToLower(key) || strings.ContainsAny(key, "- .") {
			return nil, bad("line %d: setting %q: names are lower case with underscores (bitcoin_rpc, not BITCOIN_RPC or bitcoin-rpc)", k.Line, key)
		}
		if _, dup := out[key]; dup {
			return nil, bad("line %d: setting %q appears twice", k.Line, key)
		}
		switch v.Kind {
		case yaml.ScalarNode:
			if v.Tag == "!!null" {
				return nil, bad("line %d: setting %q has no value", v.Line, key)
			}
			out[key] = v.Value
		case yaml.SequenceNode:
			if key == "evm_chains" && len(v.Content) > 0 && v.Content[0].Kind == yaml.MappingNode {
				js, err := evmChainsJSON(v)
				if err != nil {
					return nil, bad("line %d: evm_chains: %v", v.Line, err)
				}
				out[key] = js
				continue
			}
			items := make([]string, 0, len(v.Content))
			for _, it := range v.Content {
				if it.Kind != yaml.ScalarNode || strings.Contains(it.Value, ",") {
					return nil, bad("line %d: setting %q: list items must be single values without commas", it.Line, key)
				}
				items = append(items, it.Value)
			}
			out[key] = strings.Join(items, ",")
		default:
			return nil, bad("line %d: setting %q must be a value or a list of values", v.Line, key)
		}
	}
	return out, nil
}

// evmChainsJSON converts the configuration file's `evm_chains:` list of mappings into the
// JSON form of CHAINPAY_EVM_CHAINS (evmconfig.go): scalars become strings, lists of
// scalars lists of strings; anything deeper is an error.
func evmChainsJSON(seq *yaml.Node) (string, error) {
	var list []map[string]any
	for _, item := range seq.Content {
		if item.Kind != yaml.MappingNode {
			return "", fmt.Errorf("line %d: every chain is a mapping (name: ..., chain_id: ..., rpc: ...)", item.Line)
		}
		m := map[string]any{}
		for i := 0; i+1 < len(item.Content); i += 2 {
			k, v := item.Content[i], item.Content[i+1]
			if _, dup := m[k.Value]; dup {
				return "", fmt.Errorf("line %d: %s appears twice", k.Line, k.Value)
			}
			switch v.Kind {
			case yaml.ScalarNode:
				m[k.Value] = v.Value
			case yaml.SequenceNode:
				var items []string
				for _, it := range v.Content {
					if it.Kind != yaml.ScalarNode {
						return "", fmt.Errorf("line %d: %s: list items must be single values", it.Line, k.Value)
					}
					items = append(items, it.Value)
				}
				m[k.Value] = items
			default:
				return "", fmt.Errorf("line %d: %s must be a value or a list of values", v.Line, k.Value)
			}
		}
		list = append(list, m)
	}
	b, err := json.Marshal(list)
	return string(b), err
}
