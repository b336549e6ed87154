package regtest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// BtcdVersion is the pinned btcd release, the one ./scripts/tools.sh builds.
const BtcdVersion = "v0.24.2"

// btcdPackage is the module path go install builds btcd from.
const btcdPackage = "github.com/btcsuite/btcd"

// ErrBtcdNotFound reports that no btcd binary was found; its message names
// ./scripts/tools.sh.
var ErrBtcdNotFound = errors.New("btcd binary not found")

// ToolsBinDir returns the directory ./scripts/tools.sh installs the pinned
// nodes into: $CHAINPAY_TOOLS_DIR/bin, else $XDG_CACHE_HOME/chainpay/tools/bin,
// else $HOME/.cache/chainpay/tools/bin.
func ToolsBinDir() (string, error) {
	if dir := os.Getenv("CHAINPAY_TOOLS_DIR"); dir != "" {
		return filepath.Join(dir, "bin"), nil
	}
	if dir := os.Getenv("XDG_CACHE_HOME"); dir != "" {
		return filepath.Join(dir, "chainpay", "tools", "bin"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("regtest: tools directory: %w", err)
	}
	return filepath.Join(home, ".cache", "chainpay", "tools", "bin"), nil
}

// FindBtcd locates the pinned btcd binary: in $CHAINPAY_TOOLS_BIN first, then
// in ToolsBinDir. The error wraps ErrBtcdNotFound, lists the directories it
// searched and names ./scripts/tools.sh.
func FindBtcd() (string, error) {
	var tried []string
	if dir := os.Getenv("CHAINPAY_TOOLS_BIN"); dir != "" {
		tried = append(tried, dir)
		if p := filepath.Join(dir, "btcd"); isExecutable(p) {
			return p, nil
		}
	}
	if dir, err := ToolsBinDir(); err == nil {
		tried = append(tried, dir)
		if p := filepath.Join(dir, "btcd"); isExecutable(p) {
			return p, nil
		}
	}
	return "", fmt.Errorf("regtest: %w in %s; run ./scripts/tools.sh "+
		"and export CHAINPAY_TOOLS_BIN=<the directory it prints>", ErrBtcdNotFound, strings.Join(tried, ", "))
}

// BuildBtcd makes sure the pinned btcd is installed in ToolsBinDir and returns
// its path. When the binary is there and the version stamp $BIN/.btcd.version
// (shared with ./scripts/tools.sh) says BtcdVersion, it returns at once;
// otherwise it runs `go install github.com/btcsuite/btcd@v0.24.2` with GOBIN
// set to that directory (about 80 s on first use), writing the go tool's
// output to progress (nil discards it), and then writes the stamp. The go
// tool must be on PATH.
func BuildBtcd(ctx context.Context, progress io.Writer) (string, error) {
	bin, err := ToolsBinDir()
	if err != nil {
		return "", err
	}
	path := filepath.Join(bin, "btcd")
	stamp := filepath.Join(bin, ".btcd.version")
	if b, err := os.ReadFile(stamp); err == nil && strings.TrimSpace(string(b)) == BtcdVersion && isExecutable(path) {
		return path, nil
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		return "", fmt.Errorf("regtest: build btcd %s: the go tool is not on PATH (%w); install Go or run ./scripts/tools.sh", BtcdVersion, err)
	}
	if err := os.MkdirAll(bin, 0o755); err != nil {
		return "", fmt.Errorf("regtest: build btcd: %w", err)
	}
	if progress == nil {
		progress = io.Discard
	}
	fmt.Fprintf(progress, "building btcd %s (first run only; cached in %s)\n", BtcdVersion, bin)
	cmd := exec.CommandContext(ctx, goTool, "install", btcdPackage+"@"+BtcdVersion)
	// Outside any module, so the caller's go.mod and go.work play no part.
	cmd.Dir = bin
	cmd.Env = append(os.Environ(), "GOBIN="+bin, "GOFLAGS=-buildvcs=false", "GOWORK=off")
	cmd.Stdout = progress
	cmd.Stderr = progress
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("regtest: go install %s@%s: %w", btcdPackage, BtcdVersion, err)
	}
	if !isExecutable(path) {
		return "", fmt.Errorf("regtest: go install %s@%s succeeded but %s is missing", btcdPackage, BtcdVersion, path)
	}
	if err := os.WriteFile(stamp, []byte(BtcdVersion+"\n"), 0o644); err != nil {
		return "", fmt.Errorf("regtest: write version stamp: %w", err)
	}
	return path, nil
}

func isExecutable(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0
}
