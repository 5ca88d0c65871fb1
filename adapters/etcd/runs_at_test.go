package etcd

import (
	"context"
	"io"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	clientv3 "go.etcd.io/etcd/client/v3"

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

// newCountingStore returns a Store on a client of its own whose requests
// are counted, under prefix.
func newCountingStore(t *testing.T, prefix string) (*Store, *countingKV) {
	t.Helper()
	cli := testClient(t)
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

	// The watch sees the run leave, and reads the history to tell a
	// cancellation from the worker's own result.
	gone := f.next(t)
	require.Equal(t, ports.EventDelete, gone.Type)
	gets, txns := f.kv.counts()
	require.EqualValues(t, 1, gets, "no read on the worker's writes; the watch's one")
	require.EqualValues(t, 3, txns, "one Txn per change")

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
