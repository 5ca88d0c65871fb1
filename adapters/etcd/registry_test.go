package etcd

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/pink-scheduler/pink/domain"
	"github.com/pink-scheduler/pink/ports"
)

// regTestStore returns a Store on the shared server under a fresh prefix.
func regTestStore(t *testing.T) *Store {
	return NewStore(testServer.Client(), Options{Prefix: testPrefix(t), Logger: elQuietLogger()})
}

func regTestWorker(id, group string) domain.Worker {
	return domain.Worker{
		ID: id, Group: group, Hostname: "host-1", Capacity: 4,
		Handlers: []string{"echo"}, Labels: map[string]string{"zone": "a"},
		StartedAt: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), Protocol: "etcd", Version: "sdk-1.2",
	}
}

// regMustRegister registers w and closes the lease at cleanup.
func regMustRegister(t *testing.T, s *Store, w domain.Worker, ttl time.Duration) ports.Lease {
	t.Helper()
	l, err := s.RegisterWorker(context.Background(), w, ttl)
	require.NoError(t, err)
	t.Cleanup(func() { _ = l.Close(context.Background()) })
	return l
}

func regKeyExists(t *testing.T, cli *clientv3.Client, key string) bool {
	t.Helper()
	resp, err := cli.Get(context.Background(), key)
	require.NoError(t, err)
	return len(resp.Kvs) > 0
}

func regWaitClosed(t *testing.T, c <-chan struct{}, d time.Duration, what string) time.Duration {
	t.Helper()
	start := time.Now()
	select {
	case <-c:
		return time.Since(start)
	case <-time.After(d):
		t.Fatalf("%s: not closed within %s", what, d)
		return 0
	}
}

func TestRegisterWorkerListsAndStoresVersionedJSON(t *testing.T) {
	ctx := context.Background()
	s := regTestStore(t)
	regMustRegister(t, s, regTestWorker("w2", "g1"), 10*time.Second)
	regMustRegister(t, s, regTestWorker("w1", "g1"), 10*time.Second)
	regMustRegister(t, s, regTestWorker("w0", "g2"), 10*time.Second)

	ws, rev, err := s.ListWorkers(ctx, "g1")
	require.NoError(t, err)
	require.Positive(t, rev)
	require.Equal(t, []domain.Worker{regTestWorker("w1", "g1"), regTestWorker("w2", "g1")}, ws)
	ws, _, err = s.ListWorkers(ctx, "")
	require.NoError(t, err)
	require.Len(t, ws, 3)
	require.Equal(t, "w0", ws[0].ID)
	ws, _, err = s.ListWorkers(ctx, "nobody")
	require.NoError(t, err)
	require.Empty(t, ws)
	_, _, err = s.ListWorkers(ctx, "Bad/Group")
	require.ErrorIs(t, err, domain.ErrInvalid)

	// The stored value is the versioned envelope of every Pink value, at
	// the documented key, attached to a lease.
	resp, err := testClient(t).Get(ctx, s.k.worker("g1", "w1"))
	require.NoError(t, err)
	require.Len(t, resp.Kvs, 1)
	require.NotZero(t, resp.Kvs[0].Lease)
	var raw struct {
		Version int            `json:"version"`
		Worker  map[string]any `json:"worker"`
	}
	require.NoError(t, json.Unmarshal(resp.Kvs[0].Value, &raw))
	require.Equal(t, 1, raw.Version)
	require.Equal(t, "w1", raw.Worker["id"])
	require.Equal(t, "g1", raw.Worker["group"])
	require.Equal(t, "sdk-1.2", raw.Worker["version"], "the worker's own version")
}

// TestRegisterWorkerRefusesLiveDuplicate: a live worker ID is refused, in
// its group and in any other, and nothing of the refused one lingers.
func TestRegisterWorkerRefusesLiveDuplicate(t *testing.T) {
	ctx := context.Background()
	s := regTestStore(t)
	l := regMustRegister(t, s, regTestWorker("w1", "g1"), 10*time.Second)
	other := testClient(t)
	before, err := other.Leases(ctx)
	require.NoError(t, err)

	_, err = s.RegisterWorker(ctx, regTestWorker("w1", "g1"), 10*time.Second)
	require.ErrorIs(t, err, domain.ErrAlreadyExists)
	// Worker IDs are unique across groups, as in the memory adapter.
	_, err = s.RegisterWorker(ctx, regTestWorker("w1", "g2"), 10*time.Second)
	require.ErrorIs(t, err, domain.ErrAlreadyExists)
	after, err := other.Leases(ctx)
	require.NoError(t, err)
	require.Len(t, after.Leases, len(before.Leases), "the duplicates' leases are revoked")
	ws, _, err := s.ListWorkers(ctx, "")
	require.NoError(t, err)
	require.Equal(t, []domain.Worker{regTestWorker("w1", "g1")}, ws)

	// Once the first one is gone the ID is free again, in any group; the
	// ID index went with the lease.
	require.NoError(t, l.Close(ctx))
	require.False(t, regKeyExists(t, other, s.regWorkerIndex("w1")))
	regMustRegister(t, s, regTestWorker("w1", "g2"), 10*time.Second)
	resp, err := other.Get(ctx, s.regWorkerIndex("w1"))
	require.NoError(t, err)
	require.Len(t, resp.Kvs, 1)
	require.NotZero(t, resp.Kvs[0].Lease, "the index lives on the worker's lease")
	require.JSONEq(t, `{"version":1,"worker_ref":{"group":"g2"}}`, string(resp.Kvs[0].Value))
}

func TestRegisterWorkerValidates(t *testing.T) {
	ctx := context.Background()
	s := regTestStore(t)
	bad := regTestWorker("Bad ID", "g1")
	_, err := s.RegisterWorker(ctx, bad, 10*time.Second)
	require.ErrorIs(t, err, domain.ErrInvalid)
	require.Equal(t, "id", domain.FieldOf(err))
	noCap := regTestWorker("w1", "g1")
	noCap.Capacity = 0
	_, err = s.RegisterWorker(ctx, noCap, 10*time.Second)
	require.Equal(t, "capacity", domain.FieldOf(err))
	for _, ttl := range []time.Duration{0, 999 * time.Millisecond, time.Hour + time.Second} {
		_, err = s.RegisterWorker(ctx, regTestWorker("w1", "g1"), ttl)
		require.ErrorIs(t, err, domain.ErrInvalid, "ttl %s", ttl)
		require.Equal(t, "ttl", domain.FieldOf(err))
	}
	ws, _, err := s.ListWorkers(ctx, "")
	require.NoError(t, err)
	require.Empty(t, ws, "nothing written")
}

func TestLeaseCloseRemovesRegistrationAtOnce(t *testing.T) {
	ctx := context.Background()
	s := regTestStore(t)
	l := regMustRegister(t, s, regTestWorker("w1", "g1"), 10*time.Second)
	require.NoError(t, l.Err())
	require.NoError(t, l.Close(ctx))
	elRequireClosed(t, l.Done())
	require.ErrorIs(t, l.Err(), domain.ErrClosed)
	require.False(t, regKeyExists(t, testServer.Client(), s.k.worker("g1", "w1")))
	require.NoError(t, l.Close(ctx), "Close is idempotent")
	require.ErrorIs(t, l.Err(), domain.ErrClosed)
}

// TestLeaseRevokedBehindBack: a lease revoked by someone else (as if its
// owner had been paused past the TTL) ends: Done closes within
// milliseconds, Err says expired, the registration is gone.
func TestLeaseRevokedBehindBack(t *testing.T) {
	ctx := context.Background()
	s := regTestStore(t)
	l := regMustRegister(t, s, regTestWorker("w1", "g1"), 10*time.Second)
	start := time.Now()
	_, err := testClient(t).Revoke(ctx, l.(*Lease).leaseID())
	require.NoError(t, err)
	regWaitClosed(t, l.Done(), 5*time.Second, "Done after revoke")
	t.Logf("lost worker lease detected after: %s", time.Since(start))
	require.ErrorIs(t, l.Err(), domain.ErrLeaseExpired)
	require.False(t, regKeyExists(t, testServer.Client(), s.k.worker("g1", "w1")))
	require.NoError(t, l.Close(ctx))
	require.ErrorIs(t, l.Err(), domain.ErrLeaseExpired, "Close after expiry keeps the cause")
}

// TestLeaseKeyDeletedByHand: deleting the registration (an operator
// evicting a worker) ends the lease too, and the lease is given back.
func TestLeaseKeyDeletedByHand(t *testing.T) {
	ctx := context.Background()
	s := regTestStore(t)
	l := regMustRegister(t, s, regTestWorker("w1", "g1"), 10*time.Second)
	other := testClient(t)
	_, err := other.Delete(ctx, s.k.worker("g1", "w1"))
	require.NoError(t, err)
	regWaitClosed(t, l.Done(), 5*time.Second, "Done after delete")
	require.ErrorIs(t, l.Err(), domain.ErrLeaseExpired)
	require.Eventually(t, func() bool {
		resp, err := other.TimeToLive(ctx, l.(*Lease).leaseID())
		return err == nil && resp.TTL == -1
	}, 5*time.Second, 5*time.Millisecond)
}

// TestLeaseKeptAliveBeyondTTL: the background renewal keeps a 1 s lease
// alive for well over its TTL.
func TestLeaseKeptAliveBeyondTTL(t *testing.T) {
	if testing.Short() {
		t.Skip("waits 2.5 s")
	}
	s := regTestStore(t)
	l := regMustRegister(t, s, regTestWorker("w1", "g1"), time.Second)
	require.Never(t, func() bool {
		select {
		case <-l.Done():
			return true
		default:
			return false
		}
	}, 2500*time.Millisecond, 50*time.Millisecond)
	require.True(t, regKeyExists(t, testServer.Client(), s.k.worker("g1", "w1")))
	require.NoError(t, l.Err())
}

func TestWatchWorkers(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	s := regTestStore(t)
	_, rev, err := s.ListWorkers(ctx, "g1")
	require.NoError(t, err)
	wctx, wcancel := context.WithCancel(ctx)
	group := s.WatchWorkers(wctx, "g1", rev)
	all := s.WatchWorkers(wctx, "", rev)

	l1 := regMustRegister(t, s, regTestWorker("w1", "g1"), 10*time.Second)
	regMustRegister(t, s, regTestWorker("w2", "g2"), 10*time.Second)
	require.NoError(t, l1.Close(ctx))

	ev := regRecvWorker(t, group)
	require.Equal(t, ports.EventPut, ev.Type)
	require.Equal(t, regTestWorker("w1", "g1"), ev.Worker)
	require.Greater(t, ev.Revision, rev)
	ev2 := regRecvWorker(t, group)
	require.Equal(t, ports.EventDelete, ev2.Type)
	require.Equal(t, regTestWorker("w1", "g1"), ev2.Worker, "a delete carries the last value")
	require.Greater(t, ev2.Revision, ev.Revision)

	var got []string
	for range 3 {
		e := regRecvWorker(t, all)
		got = append(got, e.Type.String()+" "+e.Worker.Group+"/"+e.Worker.ID)
	}
	require.Equal(t, []string{"put g1/w1", "put g2/w2", "delete g1/w1"}, got)

	wcancel()
	regRequireWorkerChanClosed(t, group)
	regRequireWorkerChanClosed(t, all)
}

func TestWatchWorkersCompacted(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	s := regTestStore(t)
	_, rev, err := s.ListWorkers(ctx, "")
	require.NoError(t, err)
	l := regMustRegister(t, s, regTestWorker("w1", "g1"), 10*time.Second)
	require.NoError(t, l.Close(ctx))
	cur, err := testServer.Client().Get(ctx, "compact-probe")
	require.NoError(t, err)
	_, err = testServer.Client().Compact(ctx, cur.Header.Revision)
	require.NoError(t, err)

	ch := s.WatchWorkers(ctx, "", rev)
	ev := regRecvWorker(t, ch)
	require.ErrorIs(t, ev.Err, domain.ErrCompacted)
	regRequireWorkerChanClosed(t, ch)
}

func TestRegisterNode(t *testing.T) {
	ctx := context.Background()
	s := regTestStore(t)
	n2 := domain.Node{ID: "n2", Address: "http://127.0.0.1:8080", Version: "v0.1", StartedAt: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	n1 := domain.Node{ID: "n1", Hostname: "h1", StartedAt: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	l2, err := s.RegisterNode(ctx, n2, 10*time.Second)
	require.NoError(t, err)
	defer func() { _ = l2.Close(ctx) }()
	l1, err := s.RegisterNode(ctx, n1, 10*time.Second)
	require.NoError(t, err)
	defer func() { _ = l1.Close(ctx) }()

	nodes, err := s.ListNodes(ctx)
	require.NoError(t, err)
	require.Equal(t, []domain.Node{n1, n2}, nodes)

	_, err = s.RegisterNode(ctx, n1, 10*time.Second)
	require.ErrorIs(t, err, domain.ErrAlreadyExists)
	_, err = s.RegisterNode(ctx, domain.Node{ID: "-bad"}, 10*time.Second)
	require.Equal(t, "id", domain.FieldOf(err))
	_, err = s.RegisterNode(ctx, domain.Node{ID: "n3"}, 2*time.Hour)
	require.Equal(t, "ttl", domain.FieldOf(err))

	require.NoError(t, l1.Close(ctx))
	nodes, err = s.ListNodes(ctx)
	require.NoError(t, err)
	require.Equal(t, []domain.Node{n2}, nodes)
}

func regRecvWorker(t *testing.T, ch <-chan ports.WorkerEvent) ports.WorkerEvent {
	t.Helper()
	select {
	case ev, ok := <-ch:
		require.True(t, ok, "channel closed early")
		return ev
	case <-time.After(5 * time.Second):
		t.Fatal("no worker event within 5s")
		return ports.WorkerEvent{}
	}
}

func regRequireWorkerChanClosed(t *testing.T, ch <-chan ports.WorkerEvent) {
	t.Helper()
	select {
	case ev, ok := <-ch:
		require.False(t, ok, "unexpected event %+v", ev)
	case <-time.After(5 * time.Second):
		t.Fatal("watch channel not closed")
	}
}
