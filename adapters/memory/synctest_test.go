package memory_test

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pink-scheduler/pink/adapters/clock"
	"github.com/pink-scheduler/pink/adapters/memory"
	"github.com/pink-scheduler/pink/domain"
	"github.com/pink-scheduler/pink/ports"
)

// TestInsideSynctestBubble is how the scheduler's tests use the backend:
// created inside a bubble with the system clock, whose time only moves
// when every goroutine of the bubble is blocked.
func TestInsideSynctestBubble(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := memory.New(clock.System{})
		defer b.Close()
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()

		w, err := b.RegisterWorker(ctx, worker("w1"), 3*time.Second)
		require.NoError(t, err)
		_, rev, err := b.ListWorkers(ctx, "alpha")
		require.NoError(t, err)
		events := b.WatchWorkers(ctx, "alpha", rev)

		lead, err := b.NewElector("n1", 2*time.Second).Campaign(ctx)
		require.NoError(t, err)
		var next ports.Leadership
		campaignDone := make(chan struct{})
		go func() {
			defer close(campaignDone)
			next, _ = b.NewElector("n2", 2*time.Second).Campaign(ctx)
		}()

		// Both owners crash at the same instant.
		start := time.Now()
		require.NoError(t, b.StopKeepAlive(w))
		require.NoError(t, b.StopKeepAlive(lead))

		<-lead.Done()
		require.Equal(t, 2*time.Second, time.Since(start), "the leadership ends one TTL after the crash")
		<-campaignDone
		require.NotNil(t, next)
		require.Greater(t, next.Fence().Token, lead.Fence().Token)

		ev := <-events
		require.Equal(t, ports.EventDelete, ev.Type)
		require.Equal(t, "w1", ev.Worker.ID)
		require.Equal(t, 3*time.Second, time.Since(start), "the worker's registration ends one TTL after the crash")
		require.ErrorIs(t, w.Err(), domain.ErrLeaseExpired)

		require.NoError(t, next.Resign(ctx))
		cancel()
		for range events {
		}
		synctest.Wait()
	})
}
