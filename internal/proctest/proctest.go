// Package proctest runs the binaries of end-to-end tests as real
// processes: it builds them, starts them with their output captured,
// signals, stops and restarts them, and stops every one at the end of its
// test. test/e2e and test/cluster use it.
package proctest

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Build builds pkgs (package paths as go build takes them, relative to the
// caller's directory) into a new temporary directory, with the build tags
// tags if not empty, and returns the directory. The caller removes it.
// It is meant for TestMain, so it returns errors instead of failing a test.
func Build(tags string, pkgs ...string) (string, error) {
	dir, err := os.MkdirTemp("", "pink-bin-")
	if err != nil {
		return "", err
	}
	args := []string{"build"}
	if tags != "" {
		args = append(args, "-tags", tags)
	}
	args = append(args, "-o", dir+string(filepath.Separator))
	build := exec.Command("go", append(args, pkgs...)...)
	build.Stdout, build.Stderr = os.Stdout, os.Stderr
	if err := build.Run(); err != nil {
		_ = os.RemoveAll(dir)
		return "", fmt.Errorf("build %s: %w", strings.Join(pkgs, " "), err)
	}
	return dir, nil
}

// FreePort returns a loopback port that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// Runner starts processes for tests.
type Runner struct {
	// Dir holds the binaries; a relative name is looked up there.
	Dir string
	// Env is added to every process's environment (after os.Environ).
	Env []string
	// Grace is how long a process may take to exit after SIGTERM at the
	// end of its test before it is killed; default 10 s.
	Grace time.Duration
	// ShowOutput reports whether to log a process's output at the end of
	// its test; nil logs it when the test failed.
	ShowOutput func(t *testing.T) bool
}

// Proc is a running binary with its combined output captured.
type Proc struct {
	Name string   // as given to Start
	Args []string // its arguments
	Env  []string // what Start added to its environment

	r    *Runner
	cmd  *exec.Cmd
	mu   sync.Mutex
	out  bytes.Buffer
	done chan struct{}
}

// Start runs a binary until the end of t (SIGCONT, SIGTERM, then SIGKILL
// after Grace).
func (r *Runner) Start(t *testing.T, name string, args ...string) *Proc {
	t.Helper()
	return r.StartEnv(t, nil, name, args...)
}

// StartEnv is Start with variables added to the environment.
func (r *Runner) StartEnv(t *testing.T, env []string, name string, args ...string) *Proc {
	t.Helper()
	p := &Proc{Name: name, Args: args, Env: env, r: r, done: make(chan struct{})}
	path := name
	if !filepath.IsAbs(name) {
		path = filepath.Join(r.Dir, name)
	}
	p.cmd = exec.Command(path, args...)
	p.cmd.Stdout, p.cmd.Stderr = p, p
	p.cmd.Env = append(append(os.Environ(), r.Env...), env...)
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		grace := r.Grace
		if grace <= 0 {
			grace = 10 * time.Second
		}
		p.Stop(grace)
		show := t.Failed()
		if r.ShowOutput != nil {
			show = r.ShowOutput(t)
		}
		if show {
			t.Logf("---- %s %s output:\n%s", name, strings.Join(args, " "), p.Output())
		}
	})
	return p
}

// Restart starts the same binary again with the same arguments and
// environment (after it exited or was killed).
func (p *Proc) Restart(t *testing.T) *Proc {
	t.Helper()
	return p.r.StartEnv(t, p.Env, p.Name, p.Args...)
}

// Write collects the process's output.
func (p *Proc) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.Write(b)
}

// Output returns what the process printed so far.
func (p *Proc) Output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.String()
}

// Alive reports whether the process has not exited.
func (p *Proc) Alive() bool {
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// Stop sends SIGCONT (in case it was stopped) and SIGTERM, waits up to
// grace, then kills.
func (p *Proc) Stop(grace time.Duration) {
	if !p.Alive() {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGCONT)
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(grace):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// Kill9 kills the process the hard way and waits for it.
func (p *Proc) Kill9() {
	_ = p.cmd.Process.Kill()
	<-p.done
}

// Signal sends s to the process.
func (p *Proc) Signal(s syscall.Signal) { _ = p.cmd.Process.Signal(s) }
