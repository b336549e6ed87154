package regtest

import (
	"os/exec"
	"syscall"
)

// dieWithParent asks the kernel to kill btcd when the process that started it dies, even by
// SIGKILL, so a crashed `chainpay dev` or test never leaves a node running.
func dieWithParent(cmd *exec.Cmd) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
}
