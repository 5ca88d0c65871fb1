package scheduler_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/pink-scheduler/pink/adapters/clock"
	"github.com/pink-scheduler/pink/adapters/memory"
	"github.com/pink-scheduler/pink/app/jobs"
	"github.com/pink-scheduler/pink/app/scheduler"
	"github.com/pink-scheduler/pink/domain"
	"github.com/pink-scheduler/pink/ports"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// The tests run inside testing/synctest bubbles: time is virtual, starts at
// 2000-01-01T00:00:00Z, and moves only when every goroutine of the bubble
// is blocked, so "time.Sleep(3 * time.Second)" advances the scheduler by
// exactly three seconds, deterministically, in no real time.

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// env is one in-memory Pink: a backend, a job service and any number of
// schedulers and workers.
type env struct {
	t        *testing.T
	mem      *memory.Backend
	svc      *jobs.Service
	notifier *memory.Notifier
	ctx      context.Context
	wg       sync.WaitGroup
	stops    []func()
}

func newEnv(t *testing.T) *env {
	t.Helper()
	mem := memory.New(clock.System{})
	svc, err := jobs.New(jobs.Config{Groups: mem, Jobs: mem, Fires: mem, Workers: mem, Clock: clock.System{}})
	require.NoError(t, err)
	e := &env{t: t, mem: mem, svc: svc, notifier: memory.NewNotifier(), ctx: t.Context()}
	t.Cleanup(func() {
		for i := len(e.stops) - 1; i >= 0; i-- {
			e.stops[i]()
		}
		e.wg.Wait()
		mem.Close()
	})
	_, err = svc.CreateGroup(e.ctx, domain.Group{Name: "g"})
	require.NoError(t, err)
	// Start half a second into the bubble's clock (which starts on a whole
	// second), so jobs are created between two ticks, as in real life, and
	// fires are easy to name: a "* * * * * *" job fires at 00:00:01, 02, ...
	time.Sleep(500 * time.Millisecond)
	return e
}

// node is a running scheduler.
type node struct {
	s      *scheduler.Scheduler
	el     ports.Elector
	cancel context.CancelFunc
	done   chan struct{}
}

// startScheduler starts a scheduler as nodeID; it runs until stopped or the
// end of the test.
func (e *env) startScheduler(nodeID string, mutate ...func(*scheduler.Config)) *node {
	e.t.Helper()
	el := e.mem.NewElector(nodeID, 5*time.Second)
	cfg := scheduler.Config{
		Jobs: e.mem, Fires: e.mem, Runs: e.mem, Workers: e.mem, Elector: el,
		Clock: clock.System{}, Notifier: e.notifier, Logger: quiet,
		Random: func() uint64 { return 7 },
	}
	for _, m := range mutate {
		m(&cfg)
	}
	s, err := scheduler.New(cfg)
	require.NoError(e.t, err)
	ctx, cancel := context.WithCancel(e.ctx)
	n := &node{s: s, el: el, cancel: cancel, done: make(chan struct{})}
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		defer close(n.done)
		if err := s.Run(ctx); err != nil {
			e.t.Errorf("scheduler %s: %v", nodeID, err)
		}
	}()
	e.stops = append(e.stops, n.stop)
	synctest.Wait()
	return n
}

func (n *node) stop() {
	n.cancel()
	<-n.done
}

// behaviour decides what a test worker does with a run: how long it takes
// and how it ends. block makes it never finish.
type behaviour func(r domain.Run) (d time.Duration, state domain.RunState, errMsg string)

func succeed(domain.Run) (time.Duration, domain.RunState, string) {
	return 0, domain.RunSucceeded, ""
}

// testWorker is a minimal worker playing by the RunStore contract: it starts
// the runs assigned to it, "runs" them for the behaviour's duration and
// reports. It stands in for app/worker so these tests depend on the
// scheduler and the store only.
type testWorker struct {
	id    string
	lease ports.Lease
	stop  context.CancelFunc
	done  chan struct{}

	mu      sync.Mutex
	started []string // run IDs with attempt, "id#n"
}

func (e *env) startWorker(id string, b behaviour, mutate ...func(*domain.Worker)) *testWorker {
	e.t.Helper()
	w := domain.Worker{ID: id, Group: "g", Capacity: 100, StartedAt: time.Now()}
	for _, m := range mutate {
		m(&w)
	}
	lease, err := e.mem.RegisterWorker(e.ctx, w, 5*time.Second)
	require.NoError(e.t, err)
	ctx, cancel := context.WithCancel(e.ctx)
	tw := &testWorker{id: id, lease: lease, stop: cancel, done: make(chan struct{})}
	runs, rev, err := e.mem.ListAssigned(ctx, "g", id)
	require.NoError(e.t, err)
	ch := e.mem.WatchAssigned(ctx, "g", id, rev)
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		defer close(tw.done)
		var inner sync.WaitGroup
		defer inner.Wait()
		handle := func(r domain.Run) {
			if r.State != domain.RunAssigned || r.WorkerID != id {
				return
			}
			started, err := e.mem.UpdateRun(ctx, r.ID, func(cur *domain.Run) error {
				return cur.Start(id, r.Attempt, time.Now())
			})
			if err != nil {
				return
			}
			tw.mu.Lock()
			tw.started = append(tw.started, started.ID)
			tw.mu.Unlock()
			inner.Go(func() {
				d, st, msg := b(started)
				if d < 0 {
					<-ctx.Done() // hang until the worker stops
					return
				}
				select {
				case <-time.After(d):
				case <-ctx.Done():
					return
				}
				_, _ = e.mem.UpdateRun(ctx, r.ID, func(cur *domain.Run) error {
					return cur.Finish(domain.Report{RunID: r.ID, WorkerID: id, Attempt: started.Attempt,
						State: st, Error: msg, Output: "done by " + id}, 0, time.Now())
				})
			})
		}
		for _, r := range runs {
			handle(r)
		}
		for {
			select {
			case <-ctx.Done():
				return
			case ev, ok := <-ch:
				if !ok {
					return
				}
				if ev.Type == ports.EventPut {
					handle(ev.Run)
				}
			}
		}
	}()
	e.stops = append(e.stops, func() { cancel(); <-tw.done; _ = lease.Close(context.Background()) })
	synctest.Wait()
	return tw
}

// crash kills the worker process: it stops working and its lease expires
// one TTL later.
func (e *env) crash(w *testWorker) {
	w.stop()
	<-w.done
	require.NoError(e.t, e.mem.StopKeepAlive(w.lease))
}

func (w *testWorker) startedRuns() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.started)
}

// job creates a job in group g with handler "h" and the given schedule.
func (e *env) job(id, schedule string, mutate ...func(*domain.Job)) domain.Job {
	e.t.Helper()
	j := domain.Job{ID: id, Group: "g", Name: id, Schedule: schedule, Handler: "h",
		Params: json.RawMessage(`{"k":1}`)}
	for _, m := range mutate {
		m(&j)
	}
	j, err := e.svc.CreateJob(e.ctx, j)
	require.NoError(e.t, err)
	synctest.Wait()
	return j
}

// fires returns every fire record of a job, oldest first.
func (e *env) fires(jobID string) []domain.Fire {
	e.t.Helper()
	var out []domain.Fire
	req := ports.FireFilter{JobID: jobID, PageRequest: ports.PageRequest{Limit: ports.MaxPageLimit}}
	for {
		p, err := e.mem.ListFires(e.ctx, req)
		require.NoError(e.t, err)
		out = append(out, p.Items...)
		if p.NextCursor == "" {
			break
		}
		req.Cursor = p.NextCursor
	}
	slices.Reverse(out)
	return out
}

// runs returns every run of a job, oldest first.
func (e *env) runs(jobID string) []domain.Run {
	e.t.Helper()
	var out []domain.Run
	req := ports.RunFilter{JobID: jobID, PageRequest: ports.PageRequest{Limit: ports.MaxPageLimit}}
	for {
		p, err := e.mem.ListRuns(e.ctx, req)
		require.NoError(e.t, err)
		out = append(out, p.Items...)
		if p.NextCursor == "" {
			break
		}
		req.Cursor = p.NextCursor
	}
	slices.Reverse(out)
	return out
}

func states(runs []domain.Run) map[domain.RunState]int {
	m := map[domain.RunState]int{}
	for _, r := range runs {
		m[r.State]++
	}
	return m
}

func statuses(fires []domain.Fire) map[domain.FireStatus]int {
	m := map[domain.FireStatus]int{}
	for _, f := range fires {
		m[f.Status]++
	}
	return m
}

// nominals returns the fires' nominal times as "15:04:05" strings.
func nominals(fires []domain.Fire) []string {
	var out []string
	for _, f := range fires {
		out = append(out, f.Nominal.UTC().Format("15:04:05"))
	}
	return out
}

// requireOneFirePerNominal checks the headline guarantee.
func requireOneFirePerNominal(t *testing.T, fires []domain.Fire) {
	t.Helper()
	seen := map[string]string{}
	for _, f := range fires {
		k := f.JobID + "@" + f.Nominal.UTC().Format(time.RFC3339Nano)
		if f.Kind == domain.FireManual {
			continue
		}
		if prev, dup := seen[k]; dup {
			t.Fatalf("two fire records for %s: %s and %s", k, prev, f.ID)
		}
		seen[k] = f.ID
	}
}

func hasReason(f domain.Fire, prefix string) bool { return strings.HasPrefix(f.Reason, prefix) }

var errAny = errors.New("any")
