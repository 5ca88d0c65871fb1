package worker_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/pink-scheduler/pink/adapters/clock"
	"github.com/pink-scheduler/pink/adapters/memory"
	"github.com/pink-scheduler/pink/app/worker"
	"github.com/pink-scheduler/pink/domain"
	"github.com/pink-scheduler/pink/ports"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// The tests run inside testing/synctest bubbles: time is virtual, starts at
// 2000-01-01T00:00:00Z and moves only when every goroutine of the bubble is
// blocked, so time.Sleep(2 * time.Second) advances the worker by exactly
// two seconds, deterministically, in no real time. synctest.Wait returns
// once every goroutine of the bubble is blocked: the worker has done all
// it can do.
//
// The tests play the scheduler by hand: they write fires with runs already
// assigned to a worker, fenced by a leadership of the memory backend, and
// fail runs over with LeaderUpdateRun.

// group is the job group of every test.
const group = "g"

// env is one in-memory store with a leader, and the workers of a test.
type env struct {
	t    *testing.T
	ctx  context.Context
	mem  *memory.Backend
	lead ports.Leadership
	reg  *registry
	runs *runStore
	logs *logBuffer
	log  *slog.Logger
	n    int // fires made
}

func newEnv(t *testing.T) *env {
	t.Helper()
	mem := memory.New(clock.System{})
	t.Cleanup(mem.Close)
	lead, err := mem.NewElector("test-leader", 0).Campaign(t.Context())
	require.NoError(t, err)
	logs := &logBuffer{}
	e := &env{
		t: t, ctx: t.Context(), mem: mem, lead: lead,
		reg:  &registry{WorkerRegistry: mem},
		runs: &runStore{RunStore: mem},
		logs: logs,
		log: slog.New(slog.NewTextHandler(io.MultiWriter(logs, t.Output()),
			&slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	return e
}

// config returns a worker configuration on the env's store.
func (e *env) config(mutate ...func(*worker.Config)) worker.Config {
	cfg := worker.Config{
		Group: group, Hostname: "host-1", Registry: e.reg, Runs: e.runs,
		Clock: clock.System{}, Logger: e.log,
	}
	for _, m := range mutate {
		m(&cfg)
	}
	return cfg
}

// proc is a running worker.
type proc struct {
	w      *worker.Worker
	cancel context.CancelFunc
	ended  chan struct{} // closed when Run returned
	err    error         // what Run returned
}

// start makes a worker with handlers and runs it until stopped or the end
// of the test; it returns once the worker has settled (registered).
func (e *env) start(handlers map[string]worker.HandlerFunc, mutate ...func(*worker.Config)) *proc {
	e.t.Helper()
	w, err := worker.New(e.config(mutate...))
	require.NoError(e.t, err)
	for name, h := range handlers {
		w.Handle(name, h)
	}
	ctx, cancel := context.WithCancel(e.ctx)
	p := &proc{w: w, cancel: cancel, ended: make(chan struct{})}
	go func() {
		defer close(p.ended)
		p.err = w.Run(ctx)
	}()
	e.t.Cleanup(func() { p.cancel(); <-p.ended })
	synctest.Wait()
	return p
}

// stop cancels the worker's context and returns what Run returned.
func (p *proc) stop() error {
	p.cancel()
	<-p.ended
	return p.err
}

// returned reports whether Run has returned, and what.
func (p *proc) returned() (bool, error) {
	select {
	case <-p.ended:
		return true, p.err
	default:
		return false, nil
	}
}

// assign writes a new fire whose one run is assigned to workerID, as the
// leader's dispatcher would, and returns the run.
func (e *env) assign(workerID, handler string, mutate ...func(*domain.Run)) domain.Run {
	e.t.Helper()
	e.n++
	now := time.Now()
	jobID := fmt.Sprintf("job-%d", e.n)
	fireID := domain.FireID(jobID, now)
	r := domain.Run{
		ID: domain.RunID(fireID, 0), FireID: fireID, JobID: jobID, Group: group, Handler: handler,
		Params: []byte(`{"n":` + fmt.Sprint(e.n) + `}`), Shards: 1, Attempt: 1, MaxAttempts: 1,
		Timeout: domain.Duration(time.Hour), State: domain.RunPending, ScheduledAt: now, CreatedAt: now,
	}
	for _, m := range mutate {
		m(&r)
	}
	require.NoError(e.t, r.Assign(workerID, now))
	f := domain.Fire{ID: fireID, JobID: jobID, Group: group, Nominal: now, Kind: domain.FireScheduled,
		Status: domain.FireDispatched, RunIDs: []string{r.ID}, CreatedAt: now}
	created, err := e.mem.CreateFires(e.ctx, e.lead.Fence(), []ports.FireWrite{{Fire: f, Runs: []domain.Run{r}}})
	require.NoError(e.t, err)
	require.Equal(e.t, []bool{true}, created)
	return r
}

// run returns the stored run.
func (e *env) run(id string) domain.Run {
	e.t.Helper()
	r, err := e.mem.GetRun(e.ctx, id)
	require.NoError(e.t, err)
	return r
}

// leaderUpdate changes a run as the leader does, fenced.
func (e *env) leaderUpdate(id string, fn func(*domain.Run) error) domain.Run {
	e.t.Helper()
	r, err := e.mem.LeaderUpdateRun(e.ctx, e.lead.Fence(), id, fn)
	require.NoError(e.t, err)
	return r
}

// workers lists the registered workers of the group.
func (e *env) workers() []domain.Worker {
	e.t.Helper()
	ws, _, err := e.mem.ListWorkers(e.ctx, group)
	require.NoError(e.t, err)
	return ws
}

// registry records the leases it hands out and can refuse registrations.
type registry struct {
	ports.WorkerRegistry

	mu       sync.Mutex
	leases   []ports.Lease
	failNext int   // refuse this many registrations
	failWith error // with this error; default domain.ErrAlreadyExists
	refused  int
}

func (r *registry) RegisterWorker(ctx context.Context, w domain.Worker, ttl time.Duration) (ports.Lease, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.failNext > 0 {
		r.failNext--
		r.refused++
		err := r.failWith
		if err == nil {
			err = domain.ErrAlreadyExists
		}
		return nil, fmt.Errorf("register worker %q: %w", w.ID, err)
	}
	l, err := r.WorkerRegistry.RegisterWorker(ctx, w, ttl)
	if err == nil {
		r.leases = append(r.leases, l)
	}
	return l, err
}

func (r *registry) last() ports.Lease {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.leases[len(r.leases)-1]
}

func (r *registry) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.leases)
}

// runStore counts the worker's writes and lets a test break its watches
// as a compaction would.
type runStore struct {
	ports.RunStore

	updates atomic.Int64

	mu      sync.Mutex
	watches []*brokenWatch
	ats     []atCall // UpdateRunAt calls that succeeded
}

// atCall is an UpdateRunAt call: the version the worker wrote from and the
// one it got.
type atCall struct {
	id       string
	state    domain.RunState // written
	from, to ports.RunVersion
}

func (s *runStore) UpdateRun(ctx context.Context, id string, fn func(*domain.Run) error) (domain.Run, error) {
	s.updates.Add(1)
	return s.RunStore.UpdateRun(ctx, id, fn)
}

func (s *runStore) UpdateRunAt(ctx context.Context, known domain.Run, at ports.RunVersion, fn func(*domain.Run) error) (domain.Run, ports.RunVersion, error) {
	s.updates.Add(1)
	r, v, err := s.RunStore.UpdateRunAt(ctx, known, at, fn)
	if err == nil {
		s.mu.Lock()
		s.ats = append(s.ats, atCall{id: r.ID, state: r.State, from: at, to: v})
		s.mu.Unlock()
	}
	return r, v, err
}

// writesAt returns the UpdateRunAt calls that succeeded.
func (s *runStore) writesAt() []atCall {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]atCall(nil), s.ats...)
}

// brokenWatch sits between a watch of the store and the worker.
type brokenWatch struct {
	hold chan struct{} // closed: stop delivering (events are lost)
	fail chan error    // deliver this error as the last event
}

func (s *runStore) WatchAssigned(ctx context.Context, group, workerID string, after int64) <-chan ports.RunEvent {
	ctx, cancel := context.WithCancel(ctx)
	in := s.RunStore.WatchAssigned(ctx, group, workerID, after)
	out := make(chan ports.RunEvent)
	bw := &brokenWatch{hold: make(chan struct{}), fail: make(chan error, 1)}
	s.mu.Lock()
	s.watches = append(s.watches, bw)
	s.mu.Unlock()
	go func() {
		defer close(out)
		defer func() {
			cancel()
			for range in { // let the store's watch end
			}
		}()
		held := false
		for {
			var src <-chan ports.RunEvent
			if !held {
				src = in
			}
			select {
			case <-ctx.Done():
				return
			case <-bw.hold:
				held, bw.hold = true, nil
			case err := <-bw.fail:
				select {
				case out <- ports.RunEvent{Err: err}:
				case <-ctx.Done():
				}
				return
			case ev, ok := <-src:
				if !ok {
					return
				}
				select {
				case out <- ev:
				case <-ctx.Done():
					return
				}
			}
		}
	}()
	return out
}

// current returns the latest watch.
func (s *runStore) current() *brokenWatch {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.watches[len(s.watches)-1]
}

// logBuffer collects log lines; safe for concurrent use.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// count returns how many lines contain every one of parts.
func (l *logBuffer) count(parts ...string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for line := range strings.SplitSeq(l.b.String(), "\n") {
		ok := line != ""
		for _, p := range parts {
			ok = ok && strings.Contains(line, p)
		}
		if ok {
			n++
		}
	}
	return n
}

// gate is a handler that blocks until released, ignoring or honouring its
// context, and records what happened.
type gate struct {
	release chan struct{}
	honour  bool // return when ctx is done

	mu      sync.Mutex
	started map[string]int // run ID -> invocations
	ctxs    map[string]context.Context
	active  int
	max     int
}

func newGate(honour bool) *gate {
	return &gate{release: make(chan struct{}), honour: honour,
		started: map[string]int{}, ctxs: map[string]context.Context{}}
}

func (g *gate) handle(ctx context.Context, run worker.Run) (worker.Result, error) {
	g.mu.Lock()
	g.started[run.ID]++
	g.ctxs[run.ID] = ctx
	g.active++
	g.max = max(g.max, g.active)
	g.mu.Unlock()
	defer func() {
		g.mu.Lock()
		g.active--
		g.mu.Unlock()
	}()
	fmt.Fprintf(run.Output, "started %s\n", run.ID)
	var done <-chan struct{}
	if g.honour {
		done = ctx.Done()
	}
	select {
	case <-g.release:
	case <-done:
	}
	if g.honour && ctx.Err() != nil {
		return worker.Result{}, ctx.Err()
	}
	fmt.Fprintf(run.Output, "released %s\n", run.ID)
	return worker.Result{Output: "done"}, nil
}

// cause returns why the context of the run's handler ended, or nil.
func (g *gate) cause(id string) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if ctx, ok := g.ctxs[id]; ok {
		return context.Cause(ctx)
	}
	return nil
}

func (g *gate) invocations(id string) int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.started[id]
}

func (g *gate) activeMax() (active, max int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.active, g.max
}
