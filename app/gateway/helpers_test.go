package gateway_test

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/pink-scheduler/pink/adapters/clock"
	"github.com/pink-scheduler/pink/adapters/memory"
	"github.com/pink-scheduler/pink/app/gateway"
	"github.com/pink-scheduler/pink/domain"
	"github.com/pink-scheduler/pink/ports"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// The tests run inside testing/synctest bubbles: time is virtual and moves
// only when every goroutine of the bubble is blocked, so a TTL or a long
// poll passes exactly, in no real time. They play the leader by hand:
// they write fires whose runs are assigned to a worker, fenced by a
// leadership of the memory backend, as the dispatcher does.

// group is the job group of every test.
const group = "g"

// env is one in-memory store with a leader and a gateway on it.
type env struct {
	t    *testing.T
	ctx  context.Context
	mem  *memory.Backend
	lead ports.Leadership
	reg  *registry
	runs *runStore
	gw   *gateway.Gateway
	n    int // fires made
}

func newEnv(t *testing.T, mutate ...func(*gateway.Config)) *env {
	t.Helper()
	mem := memory.New(clock.System{})
	t.Cleanup(mem.Close)
	lead, err := mem.NewElector("test-leader", 0).Campaign(t.Context())
	require.NoError(t, err)
	e := &env{t: t, ctx: t.Context(), mem: mem, lead: lead,
		reg: &registry{WorkerRegistry: mem}, runs: &runStore{RunStore: mem}}
	cfg := gateway.Config{
		Registry: e.reg, Runs: e.runs, Clock: clock.System{},
		Logger: slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	for _, m := range mutate {
		m(&cfg)
	}
	e.gw, err = gateway.New(cfg)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, e.gw.Close(context.Background())) })
	return e
}

// register registers a worker of the group with the given TTL (0 for the
// default) and returns its ID.
func (e *env) register(ttl time.Duration, mutate ...func(*domain.Worker)) string {
	e.t.Helper()
	w := domain.Worker{Group: group, Hostname: "host-1", Handlers: []string{"h"}, Capacity: 4}
	for _, m := range mutate {
		m(&w)
	}
	s, err := e.gw.Register(e.ctx, w, ttl)
	require.NoError(e.t, err)
	return s.WorkerID
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

// workers lists the registered workers of the group by ID.
func (e *env) workers() []string {
	e.t.Helper()
	ws, _, err := e.mem.ListWorkers(e.ctx, group)
	require.NoError(e.t, err)
	ids := make([]string, len(ws))
	for i, w := range ws {
		ids[i] = w.ID
	}
	return ids
}

// poll polls once without waiting.
func (e *env) poll(workerID string) gateway.PollResult {
	e.t.Helper()
	res, err := e.gw.Poll(e.ctx, group, workerID, 0)
	require.NoError(e.t, err)
	return res
}

// ids returns the IDs of runs.
func ids(runs []domain.Run) []string {
	out := []string{}
	for _, r := range runs {
		out = append(out, r.ID)
	}
	return out
}

// registry records the leases the gateway gets.
type registry struct {
	ports.WorkerRegistry

	mu     sync.Mutex
	leases map[string]ports.Lease // by worker ID, the latest
}

func (r *registry) RegisterWorker(ctx context.Context, w domain.Worker, ttl time.Duration) (ports.Lease, error) {
	l, err := r.WorkerRegistry.RegisterWorker(ctx, w, ttl)
	if err == nil {
		r.mu.Lock()
		if r.leases == nil {
			r.leases = map[string]ports.Lease{}
		}
		r.leases[w.ID] = l
		r.mu.Unlock()
	}
	return l, err
}

func (r *registry) lease(id string) ports.Lease {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.leases[id]
}

// runStore lets a test break the assigned-runs watches, as a compaction
// would, and make listings fail.
type runStore struct {
	ports.RunStore

	mu       sync.Mutex
	watches  []*brokenWatch
	listErrs int // fail this many listings
}

// brokenWatch sits between a watch of the store and the session.
type brokenWatch struct {
	hold chan struct{} // closed: stop relaying (events are lost)
	fail chan error    // deliver this error as the last event
}

func (s *runStore) ListAssigned(ctx context.Context, group, workerID string) ([]domain.Run, int64, error) {
	s.mu.Lock()
	if s.listErrs > 0 {
		s.listErrs--
		s.mu.Unlock()
		return nil, 0, fmt.Errorf("list: %w", domain.ErrUnavailable)
	}
	s.mu.Unlock()
	return s.RunStore.ListAssigned(ctx, group, workerID)
}

// WatchAssigned relays the store's watch until the test holds or fails it.
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
		hold := bw.hold
		src := in
		for {
			select {
			case <-ctx.Done():
				return
			case <-hold:
				hold, src = nil, nil
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

// watchCount returns how many watches were opened.
func (s *runStore) watchCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.watches)
}

func (s *runStore) failListings(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.listErrs = n
}
