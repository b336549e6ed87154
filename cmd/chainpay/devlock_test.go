//go:build unix

package main

import (
	"fmt"
	"os"
	"strings"
	"testing"
)

// TestDevDataDirLock: a second `chainpay dev` in the same data directory stops at once with
// a message naming the first one's pid, before touching the database or starting a node.
func TestDevDataDirLock(t *testing.T) {
	dir := t.TempDir()
	unlock, err := lockDataDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	_, stderr, code := cli(t, map[string]string{"CHAINPAY_DATA_DIR": dir, "CHAINPAY_LISTEN": freeAddr(t),
		"CHAINPAY_DEV_EVM_LISTEN": freeAddr(t), "CHAINPAY_DEV_BASE_LISTEN": freeAddr(t)}, "dev")
	if code == 0 || !strings.Contains(stderr, fmt.Sprintf("another chainpay dev (pid %d) is using the data directory %s", os.Getpid(), dir)) {
		t.Fatalf("second dev: %d %q", code, stderr)
	}
	if _, err := os.Stat(dir + "/chainpay.db"); err == nil {
		t.Fatal("the second dev opened the database")
	}
	unlock()
	again, err := lockDataDir(dir)
	if err != nil {
		t.Fatalf("lock after unlock: %v", err)
	}
	again()
}
