package scheduler_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pink-scheduler/pink/app/scheduler"
	"github.com/pink-scheduler/pink/domain"
	"github.com/pink-scheduler/pink/ports"
)

// opLog records the order in which the store received the leader's writes.
type opLog struct {
	mu  sync.Mutex
	ops []string
}

func (l *opLog) add(op string) {
	l.mu.Lock()
	l.ops = append(l.ops, op)
	l.mu.Unlock()
}

func (l *opLog) list() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.ops)
}

// gatedFires holds every CreateFires call of the first term until the
// test releases it (nil: write; an error: refuse), so a test decides when
// each batch in flight lands. Later terms write through.
type gatedFires struct {
	ports.FireStore
	log *opLog

	mu     sync.Mutex
	token  int64
	calls  []*gatedCall
	failed bool
	after  int // calls of the first term started after a refusal
}

type gatedCall struct {
	fires   []string
	release chan error
}

func (g *gatedFires) CreateFires(ctx context.Context, fence ports.Fence, b []ports.FireWrite) ([]bool, error) {
	g.mu.Lock()
	if g.token == 0 {
		g.token = fence.Token
	}
	if fence.Token != g.token {
		g.mu.Unlock()
		return g.write(ctx, fence, b)
	}
	if g.failed {
		g.after++
	}
	c := &gatedCall{release: make(chan error, 1)}
	for _, w := range b {
		c.fires = append(c.fires, w.Fire.ID)
	}
	g.calls = append(g.calls, c)
	g.mu.Unlock()
	select {
	case err := <-c.release:
		if err != nil {
			g.mu.Lock()
			g.failed = true
			g.mu.Unlock()
			return nil, err
		}
		return g.write(ctx, fence, b)
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (g *gatedFires) write(ctx context.Context, fence ports.Fence, b []ports.FireWrite) ([]bool, error) {
	created, err := g.FireStore.CreateFires(ctx, fence, b)
	if g.log != nil && err == nil {
		for _, w := range b {
			g.log.add("create " + w.Fire.ID)
		}
	}
	return created, err
}

func (g *gatedFires) call(i int) *gatedCall {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.calls[i]
}

func (g *gatedFires) inFlight() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.calls)
}

// loggedRuns records the leader's run updates.
type loggedRuns struct {
	ports.RunStore
	log *opLog
}

func (l *loggedRuns) LeaderUpdateRun(ctx context.Context, fence ports.Fence, id string, fn func(*domain.Run) error) (domain.Run, error) {
	r, err := l.RunStore.LeaderUpdateRun(ctx, fence, id, fn)
	if err == nil {
		l.log.add(string(r.State) + " " + id)
	}
	return r, err
}

func TestBatchesAreWrittenConcurrentlyAndARefusalEndsTheTerm(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t)
		e.startWorker("w1", succeed)
		var el *recordingElector
		gf := &gatedFires{}
		e.startScheduler("n1", recording(&el), func(c *scheduler.Config) {
			c.BatchSize = 1 // one fire a batch: six fires are six batches
			gf.FireStore = c.Fires
			c.Fires = gf
		})
		var ids []string
		for i := range 6 {
			id := fmt.Sprintf("j%d", i)
			ids = append(ids, id)
			e.job(id, "* * * * * *", func(j *domain.Job) { j.Overlap = domain.OverlapAllow })
		}
		time.Sleep(time.Second) // 00:00:01 is due for the six jobs
		synctest.Wait()
		require.Equal(t, 4, gf.inFlight(), "four batches in flight, the fifth waits for one of them")
		for i := range 4 {
			require.Len(t, gf.call(i).fires, 1)
		}

		// The second batch is refused (the fence failed) while the others
		// are still in flight: the term ends, its other writes are
		// abandoned, and no new one starts.
		gf.call(1).release <- fmt.Errorf("create fires: %w", domain.ErrNotLeader)
		synctest.Wait()
		el.mu.Lock()
		terms := slices.Clone(el.terms)
		el.mu.Unlock()
		require.Len(t, terms, 2, "the refusal ended the term; the node won a new one")
		gf.mu.Lock()
		require.Zero(t, gf.after, "no write of the first term after the refusal")
		require.Equal(t, 4, len(gf.calls))
		gf.mu.Unlock()

		time.Sleep(time.Second)
		synctest.Wait()
		for _, id := range ids {
			fires := e.fires(id)
			requireOneFirePerNominal(t, fires)
			require.Equal(t, span(1, 2), nominals(fires), "job %s", id)
			for _, f := range fires {
				require.Equal(t, terms[1].Fence().Token, f.LeaderToken, "fire %s written by the new term", f.ID)
			}
		}
	})
}

func TestReplaceCancelsOnlyAfterTheBatchInFlightLanded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t)
		hang := func(domain.Run) (time.Duration, domain.RunState, string) { return -1, "", "" }
		e.startWorker("w1", hang)
		log := &opLog{}
		gf := &gatedFires{log: log}
		e.startScheduler("n1", func(c *scheduler.Config) {
			gf.FireStore = c.Fires
			c.Fires = gf
			c.Runs = &loggedRuns{RunStore: c.Runs, log: log}
		})
		e.job("r", "* * * * * *", func(j *domain.Job) { j.Overlap = domain.OverlapReplace })
		fire1 := domain.FireID("r", time.Date(2000, 1, 1, 0, 0, 1, 0, time.UTC))
		fire2 := domain.FireID("r", time.Date(2000, 1, 1, 0, 0, 2, 0, time.UTC))

		// 00:00:01's batch is in flight when 00:00:02 comes due: the
		// leader must not cancel a run that does not exist yet.
		time.Sleep(2 * time.Second)
		synctest.Wait()
		require.Equal(t, 1, gf.inFlight())
		require.Empty(t, log.list())

		gf.call(0).release <- nil
		synctest.Wait()
		require.Equal(t, 2, gf.inFlight(), "00:00:02's batch is written after the cancellation")
		gf.call(1).release <- nil
		synctest.Wait()

		ops := log.list()
		require.Equal(t, []string{"create " + fire1, "cancelled " + fire1 + "~0", "create " + fire2}, ops[:3])
		runs := e.runs("r")
		require.Len(t, runs, 2)
		require.Equal(t, domain.RunCancelled, runs[0].State)
		require.Contains(t, runs[0].Error, "replaced by fire "+fire2)
		require.Equal(t, domain.RunRunning, runs[1].State)
	})
}

// gatedPrune holds each Prune call until the test answers it.
type gatedPrune struct {
	ports.RunStore
	mu    sync.Mutex
	calls []time.Time
	reply chan error
}

func (g *gatedPrune) Prune(ctx context.Context, fence ports.Fence, r ports.Retention, now time.Time) (int, int, error) {
	g.mu.Lock()
	g.calls = append(g.calls, now)
	g.mu.Unlock()
	select {
	case err := <-g.reply:
		if err != nil {
			return 0, 0, err
		}
		return g.RunStore.Prune(ctx, fence, r, now)
	case <-ctx.Done():
		return 0, 0, ctx.Err()
	}
}

func (g *gatedPrune) prunes() []time.Time {
	g.mu.Lock()
	defer g.mu.Unlock()
	return slices.Clone(g.calls)
}

func TestPruneRunsBesideTheLoopAndNotAtTakeover(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t)
		e.startWorker("w1", succeed)
		var el *recordingElector
		gp := &gatedPrune{reply: make(chan error)}
		e.startScheduler("n1", recording(&el), func(c *scheduler.Config) {
			c.PruneInterval = 10 * time.Second
			gp.RunStore = c.Runs
			c.Runs = gp
		})
		e.job("j", "* * * * * *")
		start := time.Now()

		time.Sleep(9 * time.Second)
		synctest.Wait()
		require.Empty(t, gp.prunes(), "no prune before one interval")
		time.Sleep(time.Second)
		synctest.Wait()
		require.Equal(t, []time.Time{start.Add(10 * time.Second)}, gp.prunes())

		// The prune hangs; the loop keeps firing, and no second prune
		// starts.
		time.Sleep(10 * time.Second)
		synctest.Wait()
		require.Len(t, gp.prunes(), 1)
		require.Equal(t, span(1, 20), nominals(e.fires("j")))

		gp.reply <- nil // done; the next one in 10 s
		time.Sleep(10 * time.Second)
		synctest.Wait()
		require.Len(t, gp.prunes(), 2)

		// A refused fence ends the term, as any refused write does.
		gp.reply <- fmt.Errorf("prune: %w", domain.ErrNotLeader)
		synctest.Wait()
		el.mu.Lock()
		require.Len(t, el.terms, 2)
		el.mu.Unlock()
		time.Sleep(2 * time.Second)
		synctest.Wait()
		fires := e.fires("j")
		requireOneFirePerNominal(t, fires)
		require.Equal(t, span(1, 32), nominals(fires))
	})
}
