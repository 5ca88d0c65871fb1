package workerapi_test

import (
	"bytes"
	"errors"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pink-scheduler/pink/adapters/http/workerapi"
	"github.com/pink-scheduler/pink/domain"
)

// pythonWorker is examples/python/worker.py, from this package's directory.
var pythonWorker = filepath.Join("..", "..", "..", "examples", "python", "worker.py")

// Bounds of the Python test: generous for a loaded machine, never hit when
// things work.
const (
	pyWait = 20 * time.Second
	pyTick = 20 * time.Millisecond
)

// syncBuffer collects a process's output; safe for concurrent use.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// pyProc is a running examples/python/worker.py.
type pyProc struct {
	cmd    *exec.Cmd
	out    *syncBuffer
	exited chan struct{} // closed when Wait returned
	err    error         // what Wait returned
}

// startPython runs the Python worker against url with token and args. The
// process is killed at the end of the test if it is still running, and
// its log shown if the test failed (or PINK_SHOW_PY_LOG is set).
func startPython(t *testing.T, url, token string, args ...string) *pyProc {
	t.Helper()
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 is not on PATH: skipping the test of examples/python/worker.py")
	}
	_, err = os.Stat(pythonWorker)
	require.NoError(t, err)
	p := &pyProc{out: &syncBuffer{}, exited: make(chan struct{})}
	p.cmd = exec.Command(py, append([]string{"-u", pythonWorker, "--url", url}, args...)...)
	p.cmd.Env = append(os.Environ(), "PINK_WORKER_TOKEN="+token)
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	require.NoError(t, p.cmd.Start())
	go func() {
		p.err = p.cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		_ = p.cmd.Process.Kill() // fails harmlessly if it has exited
		<-p.exited
		if t.Failed() || os.Getenv("PINK_SHOW_PY_LOG") != "" {
			t.Logf("python worker's log:\n%s", p.out.String())
		}
	})
	return p
}

// waitExit waits for the process to exit and returns its exit code.
func (p *pyProc) waitExit(t *testing.T, within time.Duration) int {
	t.Helper()
	select {
	case <-p.exited:
	case <-time.After(within):
		t.Fatalf("the python worker did not exit within %s", within)
	}
	var ee *exec.ExitError
	if errors.As(p.err, &ee) {
		return ee.ExitCode()
	}
	require.NoError(t, p.err)
	return 0
}

// TestPythonWorker runs examples/python/worker.py as a real process against
// the worker API on the memory backend, with a real worker token, and plays
// the leader: it assigns runs to the worker and watches them end.
func TestPythonWorker(t *testing.T) {
	e := newEnv(t)
	srv := httptest.NewServer(e.h)
	t.Cleanup(srv.Close)
	p := startPython(t, srv.URL, e.token, "--group", group, "--ttl", "3", "--wait", "5", "--drain-timeout", "10",
		"--handler", "echo", "--handler", "fail", "--handler", "sleep", "--handler", "report.daily=echo")

	var w domain.Worker
	require.Eventually(t, func() bool {
		ws := e.workers()
		if len(ws) == 1 {
			w = ws[0]
		}
		return len(ws) == 1
	}, pyWait, pyTick, "the python worker registers")
	require.Equal(t, "http", w.Protocol)
	require.Equal(t, []string{"echo", "fail", "report.daily", "sleep"}, w.Handlers)
	require.Equal(t, "pink-python-example/1", w.Version)

	ended := func(id string, state domain.RunState) domain.Run {
		t.Helper()
		require.Eventually(t, func() bool { return e.run(id).State == state }, pyWait, pyTick,
			"run %s should end %s", id, state)
		return e.run(id)
	}

	t.Run("echo succeeds with its params as output", func(t *testing.T) {
		r := e.assign(w.ID, "echo", `{"msg":"hello from go","n":1}`)
		got := ended(r.ID, domain.RunSucceeded)
		require.Equal(t, `{"msg": "hello from go", "n": 1}`+"\n", got.Output)
		require.Equal(t, w.ID, got.WorkerID)

		r = e.assign(w.ID, "report.daily", `{"day":"2026-11-26"}`)
		require.Equal(t, `{"day": "2026-11-26"}`+"\n", ended(r.ID, domain.RunSucceeded).Output)
	})

	t.Run("fail fails with the exception", func(t *testing.T) {
		r := e.assign(w.ID, "fail", `{"message":"boom"}`)
		got := ended(r.ID, domain.RunFailed)
		require.Equal(t, "RuntimeError: boom", got.Error)
		require.Contains(t, got.Output, "Traceback")
	})

	t.Run("a handler the worker lacks fails clearly", func(t *testing.T) {
		r := e.assign(w.ID, "nope", `{}`)
		got := ended(r.ID, domain.RunFailed)
		require.Equal(t, `no handler "nope" on worker `+w.ID, got.Error)
	})

	t.Run("the timeout stops a run", func(t *testing.T) {
		r := e.assign(w.ID, "sleep", `{"seconds":30}`, func(r *domain.Run) { r.Timeout = domain.Duration(time.Second) })
		got := ended(r.ID, domain.RunTimedOut)
		require.Contains(t, got.Error, "timed out after 1s")
	})

	t.Run("a cancelled run is stopped", func(t *testing.T) {
		r := e.assign(w.ID, "sleep", `{"seconds":60}`)
		require.Eventually(t, func() bool {
			got := e.run(r.ID)
			return got.State == domain.RunRunning && strings.Contains(got.Output, "slept 1.0s of 60.0s")
		}, pyWait, pyTick, "the run starts and streams its output")
		_, err := e.mem.UpdateRun(e.ctx, r.ID, func(x *domain.Run) error { return x.Cancel("cancelled by test", time.Now()) })
		require.NoError(t, err)
		require.Eventually(t, func() bool {
			return strings.Contains(p.out.String(), "run "+r.ID+" attempt 1 stopped (cancelled)")
		}, pyWait, pyTick, "the worker stops the handler")
		require.Equal(t, domain.RunCancelled, e.run(r.ID).State, "and does not report it")
	})

	t.Run("a worker paused past its TTL registers again", func(t *testing.T) {
		require.NoError(t, p.cmd.Process.Signal(syscall.SIGSTOP))
		require.Eventually(t, func() bool { return len(e.workers()) == 0 }, pyWait, pyTick,
			"the session expires without heartbeats")
		require.NoError(t, p.cmd.Process.Signal(syscall.SIGCONT))
		var again domain.Worker
		require.Eventually(t, func() bool {
			ws := e.workers()
			if len(ws) == 1 {
				again = ws[0]
			}
			return len(ws) == 1
		}, pyWait, pyTick, "the worker notices and registers again")
		require.NotEqual(t, w.ID, again.ID, "under a new ID")
		w = again
		r := e.assign(w.ID, "echo", `{"back":true}`)
		require.Equal(t, `{"back": true}`+"\n", ended(r.ID, domain.RunSucceeded).Output)
	})

	t.Run("SIGTERM drains and deregisters", func(t *testing.T) {
		r := e.assign(w.ID, "sleep", `{"seconds":1.5}`)
		require.Eventually(t, func() bool { return e.run(r.ID).State == domain.RunRunning }, pyWait, pyTick)
		require.NoError(t, p.cmd.Process.Signal(syscall.SIGTERM))
		require.Equal(t, 0, p.waitExit(t, pyWait), "a clean exit")
		got := e.run(r.ID)
		require.Equal(t, domain.RunSucceeded, got.State, "the running run finished first")
		require.Contains(t, got.Output, "slept 1.5s of 1.5s")
		require.Empty(t, e.workers(), "deregistered")
		require.Len(t, e.audit(workerapi.AuditWorkerDeregister), 1)
	})
}
