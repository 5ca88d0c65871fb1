package builtin

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"time"
)

// outputGrace is how long a command's output is still read after all of
// its process group is gone; a process that left the group and keeps the
// output open is cut off after it.
const outputGrace = time.Second

// pollInterval paces the checks for a process group's end.
const pollInterval = 10 * time.Millisecond

// runCommand starts c in a process group of its own, copies its output to
// out as it comes, and waits for it. When ctx ends (or c.timeout passes)
// the group is terminated: SIGTERM, then SIGKILL after grace. Processes
// the command leaves in its group when it exits are terminated the same
// way. It returns nil for exit status 0.
func runCommand(ctx context.Context, c command, out io.Writer, grace time.Duration) error {
	if c.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeoutCause(ctx, c.timeout,
			fmt.Errorf("the params' timeout of %s passed", c.timeout))
		defer cancel()
	}
	if err := context.Cause(ctx); err != nil {
		return fmt.Errorf("command not started: %w", err)
	}
	r, w, err := os.Pipe()
	if err != nil {
		return fmt.Errorf("command not started: output pipe: %w", err)
	}
	// Both streams go to one pipe, so their lines interleave as written.
	// The pipe is an *os.File, so exec copies nothing itself and Wait
	// returns when the program exits, even if a process it started keeps
	// the pipe open.
	cmd := &exec.Cmd{Path: c.path, Args: c.args, Env: c.env, Dir: c.dir, Stdout: w, Stderr: w}
	ownGroup(cmd)
	err = cmd.Start()
	_ = w.Close() // the child has its copy
	if err != nil {
		_ = r.Close()
		return fmt.Errorf("start %s: %w", c.path, err)
	}
	t := newTail(ErrTailBytes)
	copied := make(chan struct{})
	go func() {
		defer close(copied)
		_, _ = io.Copy(io.MultiWriter(out, t), r)
	}()
	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait() }()

	g := group{proc: cmd.Process}
	var waitErr error
	stopped := false
	select {
	case waitErr = <-waited:
	case <-ctx.Done():
		stopped = true
	}
	g.terminate(grace, stopped) // all of the group, or what the command left
	if stopped {
		waitErr = <-waited
	}
	timer := time.NewTimer(outputGrace)
	select {
	case <-copied:
	case <-timer.C:
	}
	timer.Stop()
	_ = r.Close() // ends the copy if an escaped process holds the pipe
	<-copied

	var ee *exec.ExitError
	switch {
	case stopped:
		return errors.New(withTail(fmt.Sprintf("command stopped: %v; its process group was terminated", context.Cause(ctx)), t))
	case waitErr == nil:
		return nil
	case errors.As(waitErr, &ee):
		return errors.New(withTail(ee.Error(), t)) // "exit status N" or "signal: killed"
	default:
		return fmt.Errorf("wait for %s: %w", c.path, waitErr)
	}
}

// lookPath resolves a program like exec.LookPath, in the worker's PATH,
// to an absolute path, with an error that says what went wrong.
func lookPath(name string) (string, error) {
	p, err := exec.LookPath(name)
	if err == nil {
		return filepath.Abs(p)
	}
	var ee *exec.Error
	if errors.As(err, &ee) {
		err = ee.Err
	}
	switch {
	case errors.Is(err, exec.ErrNotFound):
		return "", fmt.Errorf("executable %q not found in the worker's PATH", name)
	case errors.Is(err, exec.ErrDot):
		return "", fmt.Errorf("executable %q resolves to a path relative to the worker's working directory; refused", name)
	}
	return "", fmt.Errorf("executable %q: %v", name, unwrapPathError(err))
}

// unwrapPathError drops the path an *fs.PathError repeats.
func unwrapPathError(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// canonical resolves the symbolic links of path's directory, not of the
// file itself: /bin/echo and /usr/bin/echo are one file on a merged-/usr
// system, while two names of one multi-call binary (busybox) stay two
// programs.
func canonical(path string) string {
	dir, base := filepath.Split(filepath.Clean(path))
	if d, err := filepath.EvalSymlinks(dir); err == nil {
		dir = d
	}
	return filepath.Join(dir, base)
}

// waitGone polls alive until it reports false or d passes; it reports
// whether the group is gone.
func waitGone(alive func() bool, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for alive() {
		if !time.Now().Before(deadline) {
			return false
		}
		time.Sleep(pollInterval)
	}
	return true
}
