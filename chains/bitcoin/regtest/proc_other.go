//go:build !linux

package regtest

import "os/exec"

// dieWithParent is Linux-only (PR_SET_PDEATHSIG); elsewhere btcd outlives a parent killed
// with SIGKILL and must be stopped by hand.
func dieWithParent(*exec.Cmd) {}
