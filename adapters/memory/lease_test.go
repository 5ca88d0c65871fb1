package memory_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pink-scheduler/pink/adapters/clock"
	"github.com/pink-scheduler/pink/adapters/memory"
	"github.com/pink-scheduler/pink/domain"
	"github.com/pink-scheduler/pink/ports"
)

var t0 = time.Date(2026, 11, 26, 16, 0, 0, 0, time.UTC)

// waitClosed fails the test unless ch closes within a generous bound.
func waitClosed(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(5 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
	}
}

// isClosed reports whether ch is closed.
func isClosed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

func worker(id string) domain.Worker {
	return domain.Worker{ID: id, Group: "alpha", Capacity: 1, StartedAt: t0}
}

func TestLeaseLivesUntilKeepAliveStops(t *testing.T) {
	fc := clock.NewFake(t0)
	b := memory.New(fc)
	t.Cleanup(b.Close)
	ctx := t.Context()

	l, err := b.RegisterWorker(ctx, worker("w1"), 1500*time.Millisecond) // rounded up to 2s
	require.NoError(t, err)
	fc.Advance(time.Hour)
	require.False(t, isClosed(l.Done()), "a lease whose owner lives never expires")
	require.Zero(t, fc.Timers(), "a live lease arms no timer")

	require.NoError(t, b.StopKeepAlive(l))
	require.NoError(t, b.StopKeepAlive(l), "StopKeepAlive is idempotent")
	require.Equal(t, 1, fc.Timers())
	fc.Advance(2*time.Second - time.Nanosecond)
	require.False(t, isClosed(l.Done()), "expires one TTL after the keep-alive stopped, not before")
	require.NoError(t, l.Err())
	fc.Advance(time.Nanosecond)
	waitClosed(t, l.Done(), "the expiry")
	require.ErrorIs(t, l.Err(), domain.ErrLeaseExpired)
	ws, _, err := b.ListWorkers(ctx, "")
	require.NoError(t, err)
	require.Empty(t, ws)
}

func TestCloseBeforeExpiryStopsTimer(t *testing.T) {
	fc := clock.NewFake(t0)
	b := memory.New(fc)
	t.Cleanup(b.Close)
	l, err := b.RegisterWorker(t.Context(), worker("w1"), time.Second)
	require.NoError(t, err)
	require.NoError(t, b.StopKeepAlive(l))
	require.NoError(t, l.Close(t.Context()))
	require.ErrorIs(t, l.Err(), domain.ErrClosed)
	b.Close() // waits for the expiry goroutine: goleak checks it is gone
	fc.Advance(time.Minute)
	require.ErrorIs(t, l.Err(), domain.ErrClosed, "a closed lease does not expire later")
}

func TestKillLeaseRejectsForeignValues(t *testing.T) {
	b, other := memory.New(clock.System{}), memory.New(clock.System{})
	t.Cleanup(b.Close)
	t.Cleanup(other.Close)
	l, err := other.RegisterWorker(t.Context(), worker("w1"), time.Second)
	require.NoError(t, err)
	require.ErrorIs(t, b.KillLease(l), domain.ErrInvalid)
	require.ErrorIs(t, b.KillLease("lease"), domain.ErrInvalid)
	require.ErrorIs(t, b.StopKeepAlive(nil), domain.ErrInvalid)
	require.NoError(t, l.Err())
}

func TestLeaderCrashHandsOverAfterTTL(t *testing.T) {
	fc := clock.NewFake(t0)
	b := memory.New(fc)
	t.Cleanup(b.Close)
	ctx := t.Context()

	a, err := b.NewElector("n1", 5*time.Second).Campaign(ctx)
	require.NoError(t, err)
	results := make(chan ports.Leadership, 1)
	go func() {
		l, err := b.NewElector("n2", 5*time.Second).Campaign(ctx)
		if err == nil {
			results <- l
		}
		close(results)
	}()

	require.NoError(t, b.StopKeepAlive(a)) // n1 crashed
	fc.Advance(4 * time.Second)
	require.False(t, isClosed(a.Done()), "the term lasts until the TTL passed")
	info, err := b.NewElector("n3", 0).Leader(ctx)
	require.NoError(t, err)
	require.Equal(t, "n1", info.NodeID)

	fc.Advance(time.Second)
	waitClosed(t, a.Done(), "the crashed leader's term")
	var l ports.Leadership
	select {
	case l = <-results:
	case <-time.After(5 * time.Second):
		t.Fatal("n2 did not take over")
	}
	require.NotNil(t, l)
	require.Greater(t, l.Fence().Token, a.Fence().Token)
	_, err = b.CreateFires(ctx, a.Fence(), nil)
	require.ErrorIs(t, err, domain.ErrNotLeader)
	_, err = b.CreateFires(ctx, l.Fence(), nil)
	require.NoError(t, err)
	require.NoError(t, l.Resign(context.Background()))
}

func TestCampaignFailsAfterClose(t *testing.T) {
	b := memory.New(clock.System{})
	a, err := b.NewElector("n1", time.Second).Campaign(t.Context())
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() {
		_, err := b.NewElector("n2", time.Second).Campaign(t.Context())
		done <- err
	}()
	b.Close()
	select {
	case err := <-done:
		require.ErrorIs(t, err, domain.ErrClosed)
	case <-time.After(5 * time.Second):
		t.Fatal("Campaign did not return after Close")
	}
	require.NoError(t, a.Resign(t.Context()))
}
