//go:build unix

package builtin

import (
	"errors"
	"os"
	"os/exec"
	"syscall"
	"time"
)

// ownGroup makes the command the leader of a new process group, so its
// children can be signalled with it.
func ownGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
}

// group is the process group of a started command; its ID is the
// command's PID.
type group struct{ proc *os.Process }

// alive reports whether any process of the group exists (zombies count
// until they are reaped).
func (g group) alive() bool {
	err := syscall.Kill(-g.proc.Pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// terminate ends every process of the group: SIGTERM, then SIGKILL to
// what is left after grace. It returns at once if the group is empty.
func (g group) terminate(grace time.Duration, _ bool) {
	if !g.alive() {
		return
	}
	_ = syscall.Kill(-g.proc.Pid, syscall.SIGTERM)
	if waitGone(g.alive, grace) {
		return
	}
	_ = syscall.Kill(-g.proc.Pid, syscall.SIGKILL)
}
