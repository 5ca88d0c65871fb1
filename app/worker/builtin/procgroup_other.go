//go:build !unix

package builtin

import (
	"os"
	"os/exec"
	"time"
)

// ownGroup does nothing where process groups are not available: only the
// command itself is ended with the run, not the processes it started.
func ownGroup(*exec.Cmd) {}

// group is the started command.
type group struct{ proc *os.Process }

// terminate kills the command if it is still running.
func (g group) terminate(_ time.Duration, running bool) {
	if running {
		_ = g.proc.Kill()
	}
}
