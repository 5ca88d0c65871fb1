package browser_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pink-scheduler/pink/adapters/clock"
	"github.com/pink-scheduler/pink/adapters/http/console"
	"github.com/pink-scheduler/pink/adapters/memory"
	"github.com/pink-scheduler/pink/app/auth"
	"github.com/pink-scheduler/pink/app/jobs"
	"github.com/pink-scheduler/pink/app/query"
	"github.com/pink-scheduler/pink/app/scheduler"
	"github.com/pink-scheduler/pink/app/worker"
	"github.com/pink-scheduler/pink/domain"
)

// adminPassword is the bootstrapped admin's password.
const adminPassword = "browser-test-password"

// workerGroup is the group the in-process worker serves; the test creates
// it in the console.
const workerGroup = "demo"

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// stack is a whole Pink in one process: the in-memory store, a scheduler
// leading it, a worker of group "demo" with the handlers "echo" and
// "sleep", and the console served by httptest.
type stack struct {
	URL  string
	mem  *memory.Backend
	auth *auth.Service
	jobs *jobs.Service
}

func startStack(t *testing.T) *stack {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	clk := clock.System{}
	mem := memory.New(clk)

	as, err := auth.New(auth.Config{Users: mem, Tokens: mem, Audit: mem, Groups: mem, Clock: clk,
		Password: auth.PasswordParams{Time: 1, Memory: 1024, Threads: 1}, Logger: quiet})
	require.NoError(t, err)
	created, _, err := as.Bootstrap(ctx, adminPassword)
	require.NoError(t, err)
	require.True(t, created)
	js, err := jobs.New(jobs.Config{Groups: mem, Jobs: mem, Fires: mem, Workers: mem, Clock: clk})
	require.NoError(t, err)
	el := mem.NewElector("node-1", 2*time.Second)
	qs, err := query.New(query.Config{Runs: mem, Fires: mem, Workers: mem, Nodes: mem, Leader: el, Clock: clk})
	require.NoError(t, err)

	sched, err := scheduler.New(scheduler.Config{Jobs: mem, Fires: mem, Runs: mem, Workers: mem,
		Elector: el, Clock: clk, Logger: quiet})
	require.NoError(t, err)
	wg.Go(func() {
		if err := sched.Run(ctx); err != nil {
			t.Errorf("scheduler: %v", err)
		}
	})

	w, err := worker.New(worker.Config{Group: workerGroup, ID: "worker-1", Hostname: "laptop",
		Labels: map[string]string{"zone": "local"}, Capacity: 4, Registry: mem, Runs: mem, Clock: clk,
		Logger: quiet, DrainTimeout: time.Second})
	require.NoError(t, err)
	w.Handle("echo", echo)
	w.Handle("sleep", sleep)
	wg.Go(func() {
		if err := w.Run(ctx); err != nil {
			t.Errorf("worker: %v", err)
		}
	})

	h, err := console.New(console.Deps{Auth: as, Limiter: auth.NewLoginLimiter(clk, auth.LimiterConfig{}),
		Jobs: js, Query: qs, Groups: mem, JobStore: mem, Runs: mem, Clock: clk, Logger: quiet})
	require.NoError(t, err)
	srv := httptest.NewServer(h)

	lease, err := mem.RegisterNode(ctx, domain.Node{ID: "node-1", Address: strings.TrimPrefix(srv.URL, "http://"),
		Hostname: "laptop", StartedAt: time.Now().UTC(), Version: "dev"}, 5*time.Second)
	require.NoError(t, err)

	t.Cleanup(func() {
		srv.Close()
		_ = lease.Close(context.Background())
		cancel()
		wg.Wait()
		mem.Close()
	})
	return &stack{URL: srv.URL, mem: mem, auth: as, jobs: js}
}

// echo writes a greeting and its params to the run's output.
func echo(_ context.Context, r worker.Run) (worker.Result, error) {
	fmt.Fprintf(r.Output, "hello from echo: run %s, attempt %d\n", r.ID, r.Attempt)
	if len(r.Params) > 0 {
		fmt.Fprintf(r.Output, "params: %s\n", r.Params)
	}
	return worker.Result{Output: "done\n"}, nil
}

// sleep writes a line, then waits until it is cancelled (or times out).
func sleep(ctx context.Context, r worker.Run) (worker.Result, error) {
	fmt.Fprintf(r.Output, "sleeping until cancelled (run %s)\n", r.ID)
	<-ctx.Done()
	return worker.Result{}, context.Cause(ctx)
}

// seedJobID is the job seed creates.
const seedJobID = "nightly-report"

// seed creates, without the console, the group, a job with a long name and
// params, and a finished run of it, so that pages have rows to lay out.
func (s *stack) seed(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	_, err := s.jobs.CreateGroup(ctx, domain.Group{Name: workerGroup, Description: "Jobs of the browser test"})
	require.NoError(t, err)
	_, err = s.jobs.CreateJob(ctx, domain.Job{ID: seedJobID, Group: workerGroup, Name: "Nightly report for the finance team",
		Schedule: "0 30 2 * * *", Timezone: "Europe/Berlin", Handler: "echo", Params: []byte(`{"recipients":["a@example.com","b@example.com"]}`),
		Labels: map[string]string{"team": "finance"}})
	require.NoError(t, err)
	f, err := s.jobs.TriggerJob(ctx, seedJobID, nil, "admin")
	require.NoError(t, err)
	deadline := time.Now().Add(10 * time.Second)
	for {
		r, err := s.mem.GetRun(ctx, f.RunIDs[0])
		require.NoError(t, err)
		if r.State == domain.RunSucceeded {
			return
		}
		require.True(t, time.Now().Before(deadline), "the seeded run did not succeed: %s", r.State)
		time.Sleep(20 * time.Millisecond) // polling the store with a deadline
	}
}
