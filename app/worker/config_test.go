package worker_test

import (
	"context"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pink-scheduler/pink/app/worker"
	"github.com/pink-scheduler/pink/domain"
)

func TestNewRejectsInvalidConfig(t *testing.T) {
	ok := func() worker.Config {
		return worker.Config{Group: group, Registry: &registry{}, Runs: &runStore{}}
	}
	for name, tc := range map[string]struct {
		mutate func(*worker.Config)
		field  string
	}{
		"no registry":        {func(c *worker.Config) { c.Registry = nil }, ""},
		"no run store":       {func(c *worker.Config) { c.Runs = nil }, ""},
		"no group":           {func(c *worker.Config) { c.Group = "" }, "group"},
		"bad group":          {func(c *worker.Config) { c.Group = "Billing Team" }, "group"},
		"bad id":             {func(c *worker.Config) { c.ID = "a/b" }, "id"},
		"negative capacity":  {func(c *worker.Config) { c.Capacity = -1 }, "capacity"},
		"huge capacity":      {func(c *worker.Config) { c.Capacity = domain.MaxCapacity + 1 }, "capacity"},
		"short lease":        {func(c *worker.Config) { c.LeaseTTL = 500 * time.Millisecond }, "lease_ttl"},
		"negative drain":     {func(c *worker.Config) { c.DrainTimeout = -time.Second }, "drain_timeout"},
		"negative output":    {func(c *worker.Config) { c.MaxOutput = -1 }, "max_output"},
		"bad label":          {func(c *worker.Config) { c.Labels = map[string]string{"a b": "c"} }, "labels"},
		"control in host":    {func(c *worker.Config) { c.Hostname = "a\x00b" }, "hostname"},
		"too long host name": {func(c *worker.Config) { c.Hostname = strings.Repeat("h", domain.MaxAddressLen+1) }, "hostname"},
	} {
		cfg := ok()
		tc.mutate(&cfg)
		_, err := worker.New(cfg)
		require.ErrorIs(t, err, domain.ErrInvalid, name)
		if tc.field != "" {
			require.Equal(t, tc.field, domain.FieldOf(err), "%s: %v", name, err)
		}
	}
	w, err := worker.New(ok())
	require.NoError(t, err)
	require.NotEmpty(t, w.ID())
}

func TestNewDoesNotRetainLabels(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t)
		labels := map[string]string{"zone": "a"}
		p := e.start(map[string]worker.HandlerFunc{"h": nop}, func(c *worker.Config) { c.Labels = labels })
		labels["zone"] = "b"
		require.Equal(t, "a", e.workers()[0].Labels["zone"])
		require.NoError(t, p.stop())
	})
}

func nop(context.Context, worker.Run) (worker.Result, error) { return worker.Result{}, nil }

func TestHandlePanics(t *testing.T) {
	w, err := worker.New(worker.Config{Group: group, Registry: &registry{}, Runs: &runStore{}})
	require.NoError(t, err)
	w.Handle("h", nop)
	require.PanicsWithValue(t, "worker: empty handler name", func() { w.Handle("", nop) })
	require.PanicsWithValue(t, `worker: nil handler "x"`, func() { w.Handle("x", nil) })
	require.PanicsWithValue(t, `worker: multiple registrations for handler "h"`, func() { w.Handle("h", nop) })
	require.Panics(t, func() { w.Handle("bad\x01name", nop) })
	require.Panics(t, func() { w.Handle(strings.Repeat("n", domain.MaxHandlerLen+1), nop) })
}

func TestRunMisuse(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t)
		w, err := worker.New(e.config())
		require.NoError(t, err)
		err = w.Run(e.ctx)
		require.ErrorIs(t, err, domain.ErrInvalid, "no handler")
		require.ErrorContains(t, err, "no handler registered")
		require.ErrorContains(t, w.Run(e.ctx), "more than once")
		require.PanicsWithValue(t, `worker: Handle("late") called after Run`, func() { w.Handle("late", nop) })
		require.Empty(t, e.workers())
	})
}

func TestStopWhileRegistrationRefused(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t)
		e.reg.failNext = 1000
		p := e.start(map[string]worker.HandlerFunc{"h": nop})
		time.Sleep(time.Minute)
		synctest.Wait()
		require.Empty(t, e.workers())
		ended, _ := p.returned()
		require.False(t, ended, "store errors are retried, not returned")
		require.NoError(t, p.stop())
	})
}

func TestInvalidRegistrationIsReturned(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t)
		e.reg.failNext = 1
		e.reg.failWith = &domain.ValidationError{Field: "value", Reason: "too big"}
		p := e.start(map[string]worker.HandlerFunc{"h": nop})
		ended, err := p.returned()
		require.True(t, ended)
		require.ErrorIs(t, err, domain.ErrInvalid)
		require.ErrorContains(t, err, "registration refused")
	})
}
