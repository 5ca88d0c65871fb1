package gateway_test

import (
	"context"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pink-scheduler/pink/adapters/clock"
	"github.com/pink-scheduler/pink/adapters/memory"
	"github.com/pink-scheduler/pink/app/gateway"
	"github.com/pink-scheduler/pink/domain"
	"github.com/pink-scheduler/pink/ports"
)

func TestRegisterGeneratesDistinctIDs(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t)
		host := func(w *domain.Worker) { w.Hostname = "Build-Host_01.Example.COM" }
		s1, err := e.gw.Register(e.ctx, domain.Worker{Group: group, Hostname: "Build-Host_01.Example.COM"}, 0)
		require.NoError(t, err)
		id2 := e.register(0, host)

		require.NotEqual(t, s1.WorkerID, id2, "two workers on one host are two workers")
		for _, id := range []string{s1.WorkerID, id2} {
			require.NoError(t, domain.ValidateName("id", id))
			require.True(t, strings.HasPrefix(id, "build-host_01.example.com-"), id)
		}
		require.Equal(t, gateway.Session{WorkerID: s1.WorkerID, Group: group, TTL: gateway.DefaultTTL,
			HeartbeatEvery: gateway.DefaultTTL / 3}, s1)

		ws, _, err := e.mem.ListWorkers(e.ctx, group)
		require.NoError(t, err)
		require.Len(t, ws, 2)
		for _, w := range ws {
			require.Equal(t, gateway.Protocol, w.Protocol)
			if w.ID == s1.WorkerID {
				require.Equal(t, domain.DefaultCapacity, w.Capacity, "capacity 0 means the default")
			}
			require.Equal(t, time.Now(), w.StartedAt)
		}

		noHost, err := e.gw.Register(e.ctx, domain.Worker{Group: group}, 0)
		require.NoError(t, err)
		require.True(t, strings.HasPrefix(noHost.WorkerID, "http-worker-"), noHost.WorkerID)
		require.Equal(t, 3, e.gw.Workers())
	})
}

func TestRegisterRefusesInvalidInput(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t)
		for name, tc := range map[string]struct {
			w     domain.Worker
			ttl   time.Duration
			field string
		}{
			"ttl too short":     {domain.Worker{Group: group}, time.Second, "ttl_seconds"},
			"ttl too long":      {domain.Worker{Group: group}, 61 * time.Second, "ttl_seconds"},
			"bad id":            {domain.Worker{Group: group, ID: "Bad/ID"}, 0, "id"},
			"bad group":         {domain.Worker{Group: "No Such"}, 0, "group"},
			"negative capacity": {domain.Worker{Group: group, Capacity: -1}, 0, "capacity"},
			"bad label":         {domain.Worker{Group: group, Labels: map[string]string{"a b": "c"}}, 0, "labels"},
			"bad version":       {domain.Worker{Group: group, Version: "v1\x00"}, 0, "version"},
		} {
			_, err := e.gw.Register(e.ctx, tc.w, tc.ttl)
			require.ErrorIs(t, err, domain.ErrInvalid, name)
			require.Equal(t, tc.field, domain.FieldOf(err), name)
		}
		require.Empty(t, e.workers(), "a refused registration writes nothing")

		s, err := e.gw.Register(e.ctx, domain.Worker{Group: group, ID: "w1"}, 2500*time.Millisecond)
		require.NoError(t, err)
		require.Equal(t, 3*time.Second, s.TTL, "leases are granted in whole seconds")
		require.Equal(t, time.Second, s.HeartbeatEvery)
	})
}

func TestRegisterGivenIDMustBeFree(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t)
		id := e.register(0, func(w *domain.Worker) { w.ID = "w1" })
		require.Equal(t, "w1", id)
		_, err := e.gw.Register(e.ctx, domain.Worker{Group: group, ID: "w1"}, 0)
		require.ErrorIs(t, err, domain.ErrAlreadyExists)

		require.NoError(t, e.gw.Deregister(e.ctx, group, "w1"))
		require.Empty(t, e.workers())
		require.Equal(t, "w1", e.register(0, func(w *domain.Worker) { w.ID = "w1" }), "free again")
	})
}

func TestHeartbeatsKeepTheWorkerAndMissingOnesExpireIt(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t)
		id := e.register(3 * time.Second)
		_, rev, err := e.mem.ListWorkers(e.ctx, group)
		require.NoError(t, err)
		events := e.mem.WatchWorkers(e.ctx, group, rev)

		for range 10 { // 20 s of heartbeats every 2 s
			time.Sleep(2 * time.Second)
			_, err := e.gw.Heartbeat(e.ctx, group, id)
			require.NoError(t, err)
		}
		time.Sleep(2 * time.Second)
		_, err = e.gw.Poll(e.ctx, group, id, 0) // any call counts
		require.NoError(t, err)
		synctest.Wait()
		require.Equal(t, []string{id}, e.workers())

		// The worker stops calling: one TTL after its last call its
		// registration is gone, and the leader's watch sees it go.
		last := time.Now()
		ev := <-events
		require.Equal(t, ports.EventDelete, ev.Type)
		require.Equal(t, id, ev.Worker.ID)
		require.Equal(t, 3*time.Second, time.Since(last))
		require.Empty(t, e.workers())
		require.Equal(t, 0, e.gw.Workers())

		_, err = e.gw.Heartbeat(e.ctx, group, id)
		require.ErrorIs(t, err, gateway.ErrUnknownWorker)
		require.ErrorIs(t, err, domain.ErrNotFound)
	})
}

func TestDeregisterEndsTheSessionAtOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t)
		id := e.register(0)
		polled := make(chan error)
		go func() {
			_, err := e.gw.Poll(e.ctx, group, id, 20*time.Second)
			polled <- err
		}()
		synctest.Wait()
		start := time.Now()
		require.NoError(t, e.gw.Deregister(e.ctx, group, id))
		require.Empty(t, e.workers(), "the registration is gone when Deregister returns")
		require.ErrorIs(t, <-polled, gateway.ErrUnknownWorker, "the waiting poll returns")
		require.Zero(t, time.Since(start))
		require.ErrorIs(t, e.gw.Deregister(e.ctx, group, id), gateway.ErrUnknownWorker)
		_, err := e.gw.Start(e.ctx, group, id, "x", 1)
		require.ErrorIs(t, err, gateway.ErrUnknownWorker)
	})
}

func TestOtherGroupIsForbidden(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t)
		id := e.register(0)
		r := e.assign(id, "h")
		_, err := e.gw.Heartbeat(e.ctx, "other", id)
		require.ErrorIs(t, err, domain.ErrForbidden)
		_, err = e.gw.Poll(e.ctx, "other", id, 0)
		require.ErrorIs(t, err, domain.ErrForbidden)
		_, err = e.gw.Start(e.ctx, "other", id, r.ID, 1)
		require.ErrorIs(t, err, domain.ErrForbidden)
		require.ErrorIs(t, e.gw.Output(e.ctx, "other", id, r.ID, 1, "x"), domain.ErrForbidden)
		_, err = e.gw.Finish(e.ctx, "other", id, domain.Report{RunID: r.ID, Attempt: 1, State: domain.RunSucceeded})
		require.ErrorIs(t, err, domain.ErrForbidden)
		require.ErrorIs(t, e.gw.Deregister(e.ctx, "other", id), domain.ErrForbidden)
		require.Equal(t, domain.RunAssigned, e.run(r.ID).State)
		require.Equal(t, []string{id}, e.workers())
	})
}

func TestLostLeaseEndsTheSession(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t)
		id := e.register(0)
		require.NoError(t, e.mem.KillLease(e.reg.lease(id)))
		synctest.Wait()
		_, err := e.gw.Heartbeat(e.ctx, group, id)
		require.ErrorIs(t, err, gateway.ErrUnknownWorker)
		require.Equal(t, 0, e.gw.Workers())
		require.Equal(t, id, e.register(0, func(w *domain.Worker) { w.ID = id }), "it may register again")
	})
}

func TestCloseEndsEverySession(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t)
		e.register(0)
		e.register(0)
		require.Len(t, e.workers(), 2)
		require.NoError(t, e.gw.Close(e.ctx))
		require.Empty(t, e.workers(), "closed sessions are deregistered")
		_, err := e.gw.Register(e.ctx, domain.Worker{Group: group}, 0)
		require.ErrorIs(t, err, domain.ErrClosed)
		require.NoError(t, e.gw.Close(e.ctx), "Close twice")
	})
}

func TestMaxSessions(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t, func(c *gateway.Config) { c.MaxSessions = 1 })
		id := e.register(0)
		_, err := e.gw.Register(e.ctx, domain.Worker{Group: group}, 0)
		require.ErrorIs(t, err, domain.ErrUnavailable)
		require.Equal(t, []string{id}, e.workers())
	})
}

func TestNewChecksConfig(t *testing.T) {
	mem := memory.New(clock.System{})
	defer mem.Close()
	_, err := gateway.New(gateway.Config{Registry: mem, Runs: mem})
	require.Error(t, err)
	_, err = gateway.New(gateway.Config{Registry: mem, Runs: mem, Clock: clock.System{}, RedeliverAfter: -1})
	require.Error(t, err)
	g, err := gateway.New(gateway.Config{Registry: mem, Runs: mem, Clock: clock.System{}})
	require.NoError(t, err)
	require.NoError(t, g.Close(context.Background()))
}
