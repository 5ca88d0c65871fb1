package etcd

import (
	"context"
	"io"
	"log/slog"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/pink-scheduler/pink/domain"
	"github.com/pink-scheduler/pink/ports"
)

// countingKV counts the reads and Txns a Store makes through its client.
type countingKV struct {
	clientv3.KV
	gets, txns atomic.Int64
}

func (c *countingKV) Get(ctx context.Context, key string, opts ...clientv3.OpOption) (*clientv3.GetResponse, error) {
	c.gets.Add(1)
	return c.KV.Get(ctx, key, opts...)
}

func (c *countingKV) Txn(ctx context.Context) clientv3.Txn {
	c.txns.Add(1)
	return c.KV.Txn(ctx)
}

func (c *countingKV) Do(ctx context.Context, op clientv3.Op) (clientv3.OpResponse, error) {
	if op.IsGet() {
		c.gets.Add(1)
	} else {
		c.txns.Add(1)
	}
	return c.KV.Do(ctx, op)
}

// counts returns the reads and Txns since the last call.
func (c *countingKV) counts() (gets, txns int64) {
	return c.gets.Swap(0), c.txns.Swap(0)
}

// newCountingStore returns a Store on a client of its own (closed at the
// end of t) whose requests are counted, under prefix.
func newCountingStore(t testing.TB, prefix string) (*Store, *countingKV) {
	t.Helper()
	cli, err := clientv3.New(clientv3.Config{
		Endpoints: []string{testServer.ClientURL()}, DialTimeout: 5 * time.Second,
		Logger: zap.NewNop(),
	})
	require.NoError(t, err)
	t.Cleanup(func() { _ = cli.Close() })
	kv := &countingKV{KV: cli.KV}
	cli.KV = kv
	return NewStore(cli, Options{Prefix: prefix, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}), kv
}

// workerFixture is one run assigned to worker w1, seen by w1's watch on
// the worker's own Store, whose requests are counted.
type workerFixture struct {
	ctx    context.Context
	leader *Store // the leader's (and a user's) Store: another client
	worker *Store
	kv     *countingKV
	events <-chan ports.RunEvent
}

func newWorkerFixture(t *testing.T, runs int) (*workerFixture, []ports.RunEvent) {
	t.Helper()
	leader, ctx := newTestStore(t)
	worker, kv := newCountingStore(t, leader.k.p)
	var ws []ports.FireWrite
	for i := range runs {
		ws = append(ws, storeFire(storeJob("j1", "etl"), st0.Add(time.Duration(i)*time.Minute)))
	}
	_, err := leader.CreateFires(ctx, testFence(t, leader), ws)
	require.NoError(t, err)
	_, rev, err := worker.ListAssigned(ctx, "etl", "w1")
	require.NoError(t, err)
	wctx, cancel := context.WithCancel(ctx)
	ch := worker.WatchAssigned(wctx, "etl", "w1", rev)
	t.Cleanup(func() {
		cancel()
		for range ch {
		}
	})
	f := &workerFixture{ctx: ctx, leader: leader, worker: worker, kv: kv, events: ch}
	var evs []ports.RunEvent
	for _, w := range ws {
		_, err := leader.UpdateRun(ctx, w.Runs[0].ID, func(r *domain.Run) error { return r.Assign("w1", st0) })
		require.NoError(t, err)
		evs = append(evs, f.next(t))
	}
	kv.counts()
	return f, evs
}

func (f *workerFixture) next(t *testing.T) ports.RunEvent {
	t.Helper()
	select {
	case ev := <-f.events:
		require.NoError(t, ev.Err)
		return ev
	case <-time.After(10 * time.Second):
		t.Fatal("no watch event")
	}
	panic("unreachable")
}

func TestUpdateRunAtIsOneTxnWithoutReads(t *testing.T) {
	f, evs := newWorkerFixture(t, 1)
	ev := evs[0]
	require.Equal(t, ports.EventPut, ev.Type)
	require.Equal(t, ports.RunVersion{Key: f.worker.k.assignedRun("etl", "w1", ev.Run.ID), Revision: ev.Revision}, ev.At)

	// The worker's life of a run: start, output, result. One Txn each.
	running, at, err := f.worker.UpdateRunAt(f.ctx, ev.Run, ev.At, func(r *domain.Run) error { return r.Start("w1", 1, st0) })
	require.NoError(t, err)
	echo := f.next(t)
	require.Equal(t, running, echo.Run)
	running, at, err = f.worker.UpdateRunAt(f.ctx, running, at, func(r *domain.Run) error { return r.AppendOutput("w1", 1, "out", 0) })
	require.NoError(t, err)
	f.next(t)
	rep := domain.Report{RunID: ev.Run.ID, WorkerID: "w1", Attempt: 1, State: domain.RunSucceeded}
	done, _, err := f.worker.UpdateRunAt(f.ctx, running, at, func(r *domain.Run) error { return r.Finish(rep, 0, st0) })
	require.NoError(t, err)
	require.Equal(t, domain.RunSucceeded, done.State)

	// The watch sees the run leave: the worker's own result, which its
	// Store wrote, so no read tells it from a cancellation.
	gone := f.next(t)
	require.Equal(t, ports.EventDelete, gone.Type)
	gets, txns := f.kv.counts()
	require.Zero(t, gets, "no read on the worker's path")
	require.EqualValues(t, 3, txns, "one Txn per change")
	require.Zero(t, f.worker.moves.size(), "the watch took the move it used")

	got, err := f.leader.GetRun(f.ctx, ev.Run.ID)
	require.NoError(t, err)
	require.Equal(t, done, got)
}

func TestUpdateRunAtStaleVersionFallsBack(t *testing.T) {
	f, evs := newWorkerFixture(t, 1)
	ev := evs[0]
	_, err := f.leader.UpdateRun(f.ctx, ev.Run.ID, func(r *domain.Run) error { r.Error = "meanwhile"; return nil })
	require.NoError(t, err)
	f.next(t)
	f.kv.counts()

	running, _, err := f.worker.UpdateRunAt(f.ctx, ev.Run, ev.At, func(r *domain.Run) error { return r.Start("w1", 1, st0) })
	require.NoError(t, err)
	require.Equal(t, "meanwhile", running.Error, "fn ran on the run as it is now")
	gets, txns := f.kv.counts()
	require.EqualValues(t, 2, gets, "the lost compare, then locate's two reads")
	require.EqualValues(t, 2, txns, "the lost compare, then the write")
}

func TestWatchAssignedReadsOnlyForOthersDeletes(t *testing.T) {
	f, evs := newWorkerFixture(t, 3)
	started := make([]domain.Run, len(evs))
	at := make([]ports.RunVersion, len(evs))
	for i, ev := range evs {
		var err error
		started[i], at[i], err = f.worker.UpdateRunAt(f.ctx, ev.Run, ev.At, func(r *domain.Run) error { return r.Start("w1", 1, st0) })
		require.NoError(t, err)
		f.next(t)
	}
	f.kv.counts()

	// A user cancels through another client: the watch reads the history
	// to tell, and reports the cancelled run.
	c, err := f.leader.UpdateRun(f.ctx, started[0].ID, func(r *domain.Run) error { return r.Cancel("by alice", st0) })
	require.NoError(t, err)
	ev := f.next(t)
	require.Equal(t, ports.EventPut, ev.Type)
	require.Equal(t, c, ev.Run)
	require.Equal(t, f.worker.k.historyRun("j1", c.ID), ev.At.Key)
	gets, _ := f.kv.counts()
	require.EqualValues(t, 1, gets)

	// The leader fails the worker's run over: a delete, after a read.
	_, err = f.leader.UpdateRun(f.ctx, started[1].ID, func(r *domain.Run) error { return r.Lose("gone", st0) })
	require.NoError(t, err)
	require.Equal(t, ports.EventDelete, f.next(t).Type)
	gets, _ = f.kv.counts()
	require.EqualValues(t, 1, gets)

	// The worker reports its own run cancelled: a cancellation, no read.
	rep := domain.Report{RunID: started[2].ID, WorkerID: "w1", Attempt: 1, State: domain.RunCancelled}
	rc, _, err := f.worker.UpdateRunAt(f.ctx, started[2], at[2], func(r *domain.Run) error { return r.Finish(rep, 0, st0) })
	require.NoError(t, err)
	ev = f.next(t)
	require.Equal(t, ports.EventPut, ev.Type)
	require.Equal(t, rc, ev.Run)
	gets, _ = f.kv.counts()
	require.Zero(t, gets)
}

func TestMoveLogWaitsForTheWriteInFlight(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var l moveLog
		ctx := context.Background()

		// The delete arrives before the write's response: take waits.
		mv := l.begin("k", 10, "h", nil)
		got := make(chan bool)
		go func() {
			_, ok := l.take(ctx, "k", 10, 12)
			got <- ok
		}()
		synctest.Wait()
		l.end(mv, 12)
		require.True(t, <-got)
		require.Zero(t, l.size())

		// Another write deleted the key (ours failed): not ours.
		mv = l.begin("k", 12, "h", nil)
		go func() {
			_, ok := l.take(ctx, "k", 12, 14)
			got <- ok
		}()
		synctest.Wait()
		l.end(mv, 0)
		require.False(t, <-got)

		// A delete of another version of the key: not ours, no wait.
		mv = l.begin("k", 14, "h", nil)
		_, ok := l.take(ctx, "k", 13, 15)
		require.False(t, ok)

		// No outcome within moveWait: the watch reads instead.
		start := time.Now()
		_, ok = l.take(ctx, "k", 14, 15)
		require.False(t, ok)
		require.Equal(t, moveWait, time.Since(start))
		l.end(mv, 15)
		_, ok = l.take(ctx, "k", 14, 15)
		require.True(t, ok, "the outcome, once known, is still there")
	})
}

func TestMoveLogIsBounded(t *testing.T) {
	var l moveLog
	for i := range maxMoves + 100 {
		l.end(l.begin("k"+time.Duration(i).String(), 1, "h", nil), 2)
	}
	require.Equal(t, maxMoves, l.size())
}
