package contracts_test

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"unicode"

	"github.com/ethereum/go-ethereum/accounts/abi/bind/v2"

	"github.com/chainpay/chainpay/contracts/bindings"
)

// sourcesSHA256 hashes src/*.sol exactly as compile.js does: for each file in name
// order, "name\n<byte length>\n" followed by its bytes.
func sourcesSHA256(t *testing.T) string {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join("src", "*.sol"))
	if err != nil {
		t.Fatalf("glob sources: %v", err)
	}
	if len(paths) == 0 {
		t.Fatal("no Solidity sources in src/")
	}
	sort.Strings(paths)
	h := sha256.New()
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatalf("read %s: %v", p, err)
		}
		fmt.Fprintf(h, "%s\n%d\n", filepath.Base(p), len(b))
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// readVersion parses build/VERSION into its "key value" lines.
func readVersion(t *testing.T) map[string]string {
	t.Helper()
	f, err := os.Open(filepath.Join("build", "VERSION"))
	if err != nil {
		t.Fatalf("open build/VERSION: %v", err)
	}
	defer f.Close()
	out := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), " ")
		if ok {
			out[k] = v
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("read build/VERSION: %v", err)
	}
	return out
}

func TestArtifactsMatchSources(t *testing.T) {
	t.Parallel()
	v := readVersion(t)
	if got, want := v["sources-sha256"], sourcesSHA256(t); got != want {
		t.Fatalf("build/VERSION records sources-sha256 %q but src/*.sol hash to %q: artifacts are stale, run `go generate ./contracts/`", got, want)
	}
	if !strings.HasPrefix(v["solc"], "0.8.28+") {
		t.Fatalf("build/VERSION records solc %q, want the pinned 0.8.28", v["solc"])
	}
}

func TestCompilerPinMatchesPackageJSON(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("package.json")
	if err != nil {
		t.Fatalf("read package.json: %v", err)
	}
	var pkg struct {
		Dependencies map[string]string `json:"dependencies"`
	}
	if err := json.Unmarshal(b, &pkg); err != nil {
		t.Fatalf("parse package.json: %v", err)
	}
	v := readVersion(t)
	if want := pkg.Dependencies["solc"]; !strings.HasPrefix(v["solc"], want+"+") {
		t.Fatalf("package.json pins solc %q but build/VERSION records %q", want, v["solc"])
	}
}

func TestBindingsMatchArtifacts(t *testing.T) {
	t.Parallel()
	for name, md := range map[string]*bind.MetaData{
		"Forwarder":        &bindings.ForwarderMetaData,
		"ForwarderFactory": &bindings.ForwarderFactoryMetaData,
		"TestToken":        &bindings.TestTokenMetaData,
		"TestStipendPayer": &bindings.TestStipendPayerMetaData,
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			bin, err := os.ReadFile(filepath.Join("build", name+".bin"))
			if err != nil {
				t.Fatalf("read %s.bin: %v", name, err)
			}
			want := strings.TrimSpace(string(bin))
			if len(want) == 0 {
				t.Fatalf("build/%s.bin is empty", name)
			}
			if got := strings.TrimPrefix(md.Bin, "0x"); got != want {
				t.Fatalf("bindings embed %d hex chars of %s bytecode that differ from build/%s.bin (%d chars): bindings are stale, run `go generate ./contracts/`", len(got), name, name, len(want))
			}

			abiJSON, err := os.ReadFile(filepath.Join("build", name+".abi"))
			if err != nil {
				t.Fatalf("read %s.abi: %v", name, err)
			}
			var fromFile, fromBinding any
			if err := json.Unmarshal(abiJSON, &fromFile); err != nil {
				t.Fatalf("parse build/%s.abi: %v", name, err)
			}
			if err := json.Unmarshal([]byte(md.ABI), &fromBinding); err != nil {
				t.Fatalf("parse %s binding ABI: %v", name, err)
			}
			// abigen strips all white space from the ABI, including inside strings
			// ("address payable" becomes "addresspayable"); compare modulo that.
			if !reflect.DeepEqual(stripSpace(fromFile), fromBinding) {
				t.Fatalf("bindings' %s ABI differs from build/%s.abi: run `go generate ./contracts/`", name, name)
			}
			if _, err := hex.DecodeString(want); err != nil {
				t.Fatalf("build/%s.bin is not hex: %v", name, err)
			}
		})
	}
}

// stripSpace removes white space from every string in a decoded JSON value.
func stripSpace(v any) any {
	switch x := v.(type) {
	case string:
		return strings.Map(func(r rune) rune {
			if unicode.IsSpace(r) {
				return -1
			}
			return r
		}, x)
	case []any:
		for i := range x {
			x[i] = stripSpace(x[i])
		}
	case map[string]any:
		for k := range x {
			x[k] = stripSpace(x[k])
		}
	}
	return v
}

func TestCombinedJSONMatchesBins(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile(filepath.Join("build", "combined.json"))
	if err != nil {
		t.Fatalf("read combined.json: %v", err)
	}
	var combined struct {
		Contracts map[string]struct {
			Bin string `json:"bin"`
		} `json:"contracts"`
	}
	if err := json.Unmarshal(b, &combined); err != nil {
		t.Fatalf("parse combined.json: %v", err)
	}
	if len(combined.Contracts) == 0 {
		t.Fatal("combined.json lists no contracts")
	}
	for key, c := range combined.Contracts {
		_, name, _ := strings.Cut(key, ":")
		bin, err := os.ReadFile(filepath.Join("build", name+".bin"))
		if err != nil {
			t.Fatalf("read %s.bin for %s: %v", name, key, err)
		}
		if !bytes.Equal(bytes.TrimSpace(bin), []byte(c.Bin)) {
			t.Errorf("combined.json %s bytecode differs from build/%s.bin", key, name)
		}
	}
}
