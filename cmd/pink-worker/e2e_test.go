package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pink-scheduler/pink/adapters/clock"
	"github.com/pink-scheduler/pink/adapters/etcd"
	"github.com/pink-scheduler/pink/app/jobs"
	"github.com/pink-scheduler/pink/app/scheduler"
	"github.com/pink-scheduler/pink/domain"
)

// The end-to-end tests run the command's run function in-process, as a
// worker process would, against a real (embedded) etcd, with a real
// scheduler leading on the same etcd and jobs made by the job service.

// cluster is a scheduler on its own key prefix of the test etcd.
type cluster struct {
	t      *testing.T
	prefix string
	store  *etcd.Store
	jobs   *jobs.Service
}

var prefixSeq atomic.Int64

func newCluster(t *testing.T) *cluster {
	t.Helper()
	prefix := fmt.Sprintf("/pinkworkertest/%d", prefixSeq.Add(1))
	cli := testServer.Client()
	quiet := slog.New(slog.DiscardHandler)
	store := etcd.NewStore(cli, etcd.Options{Prefix: prefix, Logger: quiet})
	sched, err := scheduler.New(scheduler.Config{
		Jobs: store, Fires: store, Runs: store, Workers: store, Clock: clock.System{}, Logger: quiet,
		Elector: etcd.NewElector(cli, etcd.ElectorOptions{Prefix: prefix, NodeID: "node-1", TTL: 2 * time.Second, Logger: quiet}),
	})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- sched.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done)
	})
	svc, err := jobs.New(jobs.Config{Groups: store, Jobs: store, Fires: store, Workers: store, Clock: clock.System{}})
	require.NoError(t, err)
	_, err = svc.CreateGroup(t.Context(), domain.Group{Name: "demo"})
	require.NoError(t, err)
	return &cluster{t: t, prefix: prefix, store: store, jobs: svc}
}

// logBuffer collects a worker's log, safe for concurrent use.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// startWorker runs pink-worker with args (plus --etcd and --prefix) until
// the returned stop function is called, which returns its exit code. It
// waits until the worker is registered.
func (c *cluster) startWorker(id string, args ...string) (stop func() int, log *logBuffer) {
	t := c.t
	t.Helper()
	args = append([]string{"--etcd", testServer.ClientURL(), "--prefix", c.prefix, "--id", id,
		"--lease-ttl", "2s", "--drain-timeout", "5s", "--log-level", "debug"}, args...)
	log = &logBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	code := make(chan int, 1)
	go func() { code <- run(ctx, args, envOf(nil), io.Discard, log) }()
	stopped := false
	stop = func() int {
		if stopped {
			return -1
		}
		stopped = true
		cancel()
		select {
		case c := <-code:
			return c
		case <-time.After(30 * time.Second):
			t.Fatal("pink-worker did not stop")
			return -1
		}
	}
	t.Cleanup(func() {
		stop()
		if t.Failed() {
			t.Logf("log of worker %s:\n%s", id, log)
		}
	})
	require.Eventually(t, func() bool {
		ws, _, err := c.store.ListWorkers(t.Context(), "demo")
		return err == nil && slices.ContainsFunc(ws, func(w domain.Worker) bool { return w.ID == id })
	}, 20*time.Second, 20*time.Millisecond, "worker %s registers", id)
	return stop, log
}

// trigger creates a shell job running command and fires it now; it returns
// the fire's run ID.
func (c *cluster) trigger(command ...string) string {
	c.t.Helper()
	return c.triggerJob("shell", map[string]any{"command": command})
}

// triggerJob creates a job of handler with params, without retries, and
// fires it now; it returns the fire's run ID.
func (c *cluster) triggerJob(handler string, p any) string {
	t := c.t
	t.Helper()
	params, err := json.Marshal(p)
	require.NoError(t, err)
	j, err := c.jobs.CreateJob(t.Context(), domain.Job{
		Group: "demo", Name: handler + " job", Schedule: "@every 24h", Handler: handler, Params: params,
		Timeout: domain.Duration(time.Minute), Retry: domain.Retry{MaxAttempts: 1},
	})
	require.NoError(t, err)
	f, err := c.jobs.TriggerJob(t.Context(), j.ID, nil, "e2e test")
	require.NoError(t, err)
	require.Len(t, f.RunIDs, 1)
	return f.RunIDs[0]
}

// waitRun waits until the run is finished and returns it.
func (c *cluster) waitRun(id string) domain.Run {
	t := c.t
	t.Helper()
	var r domain.Run
	require.Eventually(t, func() bool {
		var err error
		r, err = c.store.GetRun(t.Context(), id)
		return err == nil && r.State.Terminal()
	}, 30*time.Second, 20*time.Millisecond, "run %s finishes", id)
	return r
}

func TestShellJobRunsOnWorker(t *testing.T) {
	c := newCluster(t)
	stop, log := c.startWorker("w-shell", "--group", "demo", "--allow-shell")

	r := c.waitRun(c.trigger("echo", "hello"))
	assert.Equal(t, domain.RunSucceeded, r.State, "error: %s", r.Error)
	assert.Equal(t, "hello\n", r.Output)
	assert.Equal(t, "w-shell", r.WorkerID)

	assert.Equal(t, exitOK, stop(), "a stop drains and exits 0")
	assert.Regexp(t, `level=INFO msg="pink-worker starting" group=demo worker=w-shell handlers=shell etcd=`+
		testServer.ClientURL()+` prefix=`+c.prefix, log.String())
	assert.Contains(t, log.String(), `msg="the shell handler runs ANY command a job of the group names`)
	assert.Contains(t, log.String(), `msg="pink-worker stopped" worker=w-shell`)
	ws, _, err := c.store.ListWorkers(t.Context(), "demo")
	require.NoError(t, err)
	assert.Empty(t, ws, "the stopped worker deregistered")
}

func TestShellJobFailsWithExitCode(t *testing.T) {
	c := newCluster(t)
	c.startWorker("w-shell", "--group", "demo", "--allow-shell", "--shell-allow", "sh")

	r := c.waitRun(c.trigger("sh", "-c", "echo about to fail; exit 7"))
	assert.Equal(t, domain.RunFailed, r.State)
	assert.Equal(t, "exit status 7; output ends with:\nabout to fail", r.Error)
	assert.Equal(t, "about to fail\n", r.Output)

	r = c.waitRun(c.trigger("echo", "not on the allow-list"))
	assert.Equal(t, domain.RunFailed, r.State)
	assert.Contains(t, r.Error, "executable echo (/")
	assert.Contains(t, r.Error, "is not allowed on this worker: allowed are sh")
}

func TestWorkerWithoutShellNeverRunsShellJobs(t *testing.T) {
	c := newCluster(t)
	c.startWorker("w-http", "--group", "demo", "--allow-http", "--http-allow-hosts", "hooks.example.com")
	ws, _, err := c.store.ListWorkers(t.Context(), "demo")
	require.NoError(t, err)
	require.Len(t, ws, 1)
	assert.Equal(t, []string{"http"}, ws[0].Handlers, "the worker advertises only the handler it has")

	id := c.trigger("echo", "hello")
	// Routing skips the worker that lacks the handler: the run stays
	// pending, and the worker never sees it.
	require.Never(t, func() bool {
		r, err := c.store.GetRun(t.Context(), id)
		require.NoError(t, err)
		return r.State != domain.RunPending || r.WorkerID != ""
	}, 3*time.Second, 50*time.Millisecond, "the run stays pending")

	// A worker with the shell handler takes it: the scheduler was
	// dispatching all along.
	c.startWorker("w-shell", "--group", "demo", "--allow-shell")
	r := c.waitRun(id)
	assert.Equal(t, domain.RunSucceeded, r.State, "error: %s", r.Error)
	assert.Equal(t, "w-shell", r.WorkerID)
	assert.Equal(t, "hello\n", r.Output)
}

func TestHTTPJobRunsOnWorker(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "hello %s, attempt %s", r.Header.Get("X-Pink-Run-ID"), r.Header.Get("X-Pink-Attempt"))
	}))
	defer srv.Close()
	c := newCluster(t)
	c.startWorker("w-http", "--group", "demo", "--allow-http", "--http-allow-hosts", "127.0.0.1")

	id := c.triggerJob("http", map[string]any{"url": srv.URL + "/hook"})
	r := c.waitRun(id)
	assert.Equal(t, domain.RunSucceeded, r.State, "error: %s", r.Error)
	assert.Equal(t, "GET "+srv.URL+"/hook\nHTTP/1.1 200 OK\nhello "+id+", attempt 1", r.Output)

	r = c.waitRun(c.triggerJob("http", map[string]any{"url": "http://localhost:1/"}))
	assert.Equal(t, domain.RunFailed, r.State)
	assert.Equal(t, "host localhost:1 is not allowed on this worker: allowed are 127.0.0.1", r.Error)
}
