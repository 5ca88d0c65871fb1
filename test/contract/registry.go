package contract

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pink-scheduler/pink/domain"
	"github.com/pink-scheduler/pink/ports"
)

// registryTTL is the lease TTL of the registrations the suites make. It
// is never waited for: leases end by Close or KillLease. It is short
// because an etcd client notices a revoked lease at its next keep-alive,
// a third of the TTL later.
const registryTTL = 3 * time.Second

// newWorker returns a valid worker.
func newWorker(id, group string) domain.Worker {
	return domain.Worker{
		ID: id, Group: group, Hostname: "host-" + id, Address: "10.0.0.1:7000",
		Labels: map[string]string{"zone": "a"}, Handlers: []string{"echo"}, Capacity: 4,
		StartedAt: t0, Protocol: "etcd", Version: "test",
	}
}

// register registers w and closes its lease when the test ends.
func register(t *testing.T, reg ports.WorkerRegistry, w domain.Worker) ports.Lease {
	t.Helper()
	l, err := reg.RegisterWorker(timeoutCtx(t), w, registryTTL)
	require.NoError(t, err, "register %s", w.ID)
	t.Cleanup(func() { _ = l.Close(context.Background()) })
	return l
}

// TestWorkerRegistry checks the ports.WorkerRegistry contract.
func TestWorkerRegistry(t *testing.T, nb NewBackend, f Features) {
	t.Run("RegisterAndList", func(t *testing.T) {
		reg := nb(t).Workers
		ctx := timeoutCtx(t)
		w1, w2, w3 := newWorker("w2", "alpha"), newWorker("w1", "alpha"), newWorker("w3", "beta")
		for _, w := range []domain.Worker{w1, w2, w3} {
			l := register(t, reg, w)
			require.NoError(t, l.Err(), "a live lease has no error")
			notClosed(t, l.Done(), "a live lease's Done")
		}
		got, rev, err := reg.ListWorkers(ctx, "alpha")
		require.NoError(t, err)
		require.Positive(t, rev)
		require.Equal(t, []domain.Worker{w2, w1}, got, "by ID")
		got, _, err = reg.ListWorkers(ctx, "")
		require.NoError(t, err)
		require.Equal(t, []string{"w1", "w2", "w3"}, ids(got, workerID))
		got, _, err = reg.ListWorkers(ctx, "gamma")
		require.NoError(t, err)
		require.Empty(t, got)
	})

	t.Run("DuplicateLiveID", func(t *testing.T) {
		reg := nb(t).Workers
		ctx := timeoutCtx(t)
		l := register(t, reg, newWorker("w1", "alpha"))
		_, err := reg.RegisterWorker(ctx, newWorker("w1", "alpha"), registryTTL)
		require.ErrorIs(t, err, domain.ErrAlreadyExists)
		require.NoError(t, l.Err(), "the live registration is untouched")
		require.NoError(t, l.Close(ctx))
		register(t, reg, newWorker("w1", "alpha")) // the ID is free again
	})

	t.Run("Invalid", func(t *testing.T) {
		reg := nb(t).Workers
		ctx := timeoutCtx(t)
		bad := map[string]domain.Worker{
			"empty id":      newWorker("", "alpha"),
			"bad id":        newWorker("W/1", "alpha"),
			"bad group":     newWorker("w1", "Alpha/x"),
			"zero capacity": func() domain.Worker { w := newWorker("w1", "alpha"); w.Capacity = 0; return w }(),
		}
		for name, w := range bad {
			_, err := reg.RegisterWorker(ctx, w, registryTTL)
			require.ErrorIs(t, err, domain.ErrInvalid, name)
		}
		for _, ttl := range []time.Duration{0, -time.Second} {
			_, err := reg.RegisterWorker(ctx, newWorker("w1", "alpha"), ttl)
			require.ErrorIs(t, err, domain.ErrInvalid, "ttl %s", ttl)
		}
		got, _, err := reg.ListWorkers(ctx, "")
		require.NoError(t, err)
		require.Empty(t, got, "refused registrations leave nothing")
	})

	t.Run("CloseRemovesAtOnce", func(t *testing.T) {
		reg := nb(t).Workers
		ctx := timeoutCtx(t)
		l := register(t, reg, newWorker("w1", "alpha"))
		require.NoError(t, l.Close(ctx))
		got, _, err := reg.ListWorkers(ctx, "")
		require.NoError(t, err)
		require.Empty(t, got, "Close removes the registration before it returns")
		waitFor(t, l.Done(), Timeout, "Done after Close")
		require.ErrorIs(t, l.Err(), domain.ErrClosed)
		require.NoError(t, l.Close(ctx), "Close is idempotent")
		require.ErrorIs(t, l.Err(), domain.ErrClosed)
	})

	t.Run("KillLease", func(t *testing.T) {
		b := nb(t)
		ctx := timeoutCtx(t)
		keep := register(t, b.Workers, newWorker("w1", "alpha"))
		l := register(t, b.Workers, newWorker("w2", "alpha"))
		b.KillLease(t, l)
		waitFor(t, l.Done(), Timeout, "Done after the lease was killed")
		require.ErrorIs(t, l.Err(), domain.ErrLeaseExpired)
		got, _, err := b.Workers.ListWorkers(ctx, "")
		require.NoError(t, err)
		require.Equal(t, []string{"w1"}, ids(got, workerID), "the killed registration is gone")
		require.NoError(t, keep.Err())
		require.NoError(t, l.Close(ctx), "Close after expiry is harmless")
		require.ErrorIs(t, l.Err(), domain.ErrLeaseExpired, "Close does not rewrite why the lease ended")
	})

	t.Run("Watch", func(t *testing.T) {
		b := nb(t)
		ctx := timeoutCtx(t)
		register(t, b.Workers, newWorker("w1", "alpha"))
		_, rev, err := b.Workers.ListWorkers(ctx, "alpha")
		require.NoError(t, err)
		w2 := newWorker("w2", "alpha")
		l2 := register(t, b.Workers, w2) // between the listing and the watch
		wctx, cancel := context.WithCancel(ctx)
		defer cancel()
		ch := b.Workers.WatchWorkers(wctx, "alpha", rev)
		all := b.Workers.WatchWorkers(wctx, "", rev)
		register(t, b.Workers, newWorker("w3", "beta")) // another group
		require.NoError(t, l2.Close(ctx))
		w4 := newWorker("w4", "alpha")
		l4 := register(t, b.Workers, w4)
		b.KillLease(t, l4)

		expect := func(ch <-chan ports.WorkerEvent, typ ports.EventType, w domain.Worker) int64 {
			t.Helper()
			ev := recv(t, ch)
			require.NoError(t, ev.Err)
			require.Equal(t, typ, ev.Type, "event for %s", ev.Worker.ID)
			require.Equal(t, w, ev.Worker)
			require.Greater(t, ev.Revision, rev)
			return ev.Revision
		}
		r1 := expect(ch, ports.EventPut, w2)
		r2 := expect(ch, ports.EventDelete, w2)
		r3 := expect(ch, ports.EventPut, w4)
		r4 := expect(ch, ports.EventDelete, w4)
		require.True(t, r1 < r2 && r2 < r3 && r3 < r4, "in order")

		expect(all, ports.EventPut, w2)
		expect(all, ports.EventPut, newWorker("w3", "beta"))
		expect(all, ports.EventDelete, w2)
		expect(all, ports.EventPut, w4)
		expect(all, ports.EventDelete, w4)

		cancel()
		waitClosed(t, ch)
		waitClosed(t, all)
	})

	t.Run("WatchCompacted", func(t *testing.T) {
		b := nb(t)
		if f.NoCompaction || b.Compact == nil {
			t.Skip("the adapter does not compact")
		}
		ctx := timeoutCtx(t)
		_, rev, err := b.Workers.ListWorkers(ctx, "")
		require.NoError(t, err)
		for _, id := range []string{"w1", "w2", "w3"} {
			register(t, b.Workers, newWorker(id, "alpha"))
		}
		b.Compact(t)
		ch := b.Workers.WatchWorkers(ctx, "", rev)
		require.ErrorIs(t, recv(t, ch).Err, domain.ErrCompacted)
		require.Empty(t, waitClosed(t, ch))
	})
}

// TestNodeRegistry checks the ports.NodeRegistry contract.
func TestNodeRegistry(t *testing.T, nb NewBackend, f Features) {
	newNode := func(id string) domain.Node {
		return domain.Node{ID: id, Address: "http://10.0.0.1:8080", Hostname: "host-" + id, StartedAt: t0, Version: "test"}
	}
	registerNode := func(t *testing.T, reg ports.NodeRegistry, n domain.Node) ports.Lease {
		t.Helper()
		l, err := reg.RegisterNode(timeoutCtx(t), n, registryTTL)
		require.NoError(t, err, "register %s", n.ID)
		t.Cleanup(func() { _ = l.Close(context.Background()) })
		return l
	}

	t.Run("RegisterAndList", func(t *testing.T) {
		reg := nb(t).Nodes
		ctx := timeoutCtx(t)
		got, err := reg.ListNodes(ctx)
		require.NoError(t, err)
		require.Empty(t, got)
		n2, n1 := newNode("n2"), newNode("n1")
		registerNode(t, reg, n2)
		registerNode(t, reg, n1)
		got, err = reg.ListNodes(ctx)
		require.NoError(t, err)
		require.Equal(t, []domain.Node{n1, n2}, got, "by ID")
	})

	t.Run("DuplicateLiveID", func(t *testing.T) {
		reg := nb(t).Nodes
		ctx := timeoutCtx(t)
		l := registerNode(t, reg, newNode("n1"))
		_, err := reg.RegisterNode(ctx, newNode("n1"), registryTTL)
		require.ErrorIs(t, err, domain.ErrAlreadyExists)
		require.NoError(t, l.Close(ctx))
		registerNode(t, reg, newNode("n1"))
	})

	t.Run("Invalid", func(t *testing.T) {
		reg := nb(t).Nodes
		ctx := timeoutCtx(t)
		_, err := reg.RegisterNode(ctx, newNode("N 1"), registryTTL)
		require.ErrorIs(t, err, domain.ErrInvalid)
		_, err = reg.RegisterNode(ctx, newNode("n1"), 0)
		require.ErrorIs(t, err, domain.ErrInvalid)
		got, err := reg.ListNodes(ctx)
		require.NoError(t, err)
		require.Empty(t, got)
	})

	t.Run("Close", func(t *testing.T) {
		reg := nb(t).Nodes
		ctx := timeoutCtx(t)
		l := registerNode(t, reg, newNode("n1"))
		require.NoError(t, l.Close(ctx))
		got, err := reg.ListNodes(ctx)
		require.NoError(t, err)
		require.Empty(t, got)
		waitFor(t, l.Done(), Timeout, "Done after Close")
		require.ErrorIs(t, l.Err(), domain.ErrClosed)
		require.NoError(t, l.Close(ctx))
	})

	t.Run("KillLease", func(t *testing.T) {
		b := nb(t)
		ctx := timeoutCtx(t)
		registerNode(t, b.Nodes, newNode("n1"))
		l := registerNode(t, b.Nodes, newNode("n2"))
		b.KillLease(t, l)
		waitFor(t, l.Done(), Timeout, "Done after the lease was killed")
		require.ErrorIs(t, l.Err(), domain.ErrLeaseExpired)
		got, err := b.Nodes.ListNodes(ctx)
		require.NoError(t, err)
		require.Equal(t, []string{"n1"}, ids(got, nodeID))
	})
}
