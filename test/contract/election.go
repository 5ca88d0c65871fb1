package contract

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pink-scheduler/pink/domain"
	"github.com/pink-scheduler/pink/ports"
)

// campaignResult is what a background Campaign returned.
type campaignResult struct {
	l   ports.Leadership
	err error
}

// campaignAsync campaigns in a goroutine the test waits for; the
// leadership, if any, is resigned when the test ends.
func campaignAsync(t *testing.T, ctx context.Context, e ports.Elector) <-chan campaignResult {
	ch := make(chan campaignResult, 1)
	var wg sync.WaitGroup
	wg.Go(func() {
		l, err := e.Campaign(ctx)
		ch <- campaignResult{l, err}
	})
	t.Cleanup(wg.Wait)
	return ch
}

// won waits for a background campaign to win.
func won(t *testing.T, ch <-chan campaignResult) ports.Leadership {
	t.Helper()
	res := recv(t, ch)
	require.NoError(t, res.err)
	t.Cleanup(func() { _ = res.l.Resign(context.Background()) })
	return res.l
}

// fencedWrite makes a leader-only write with fence.
func fencedWrite(ctx context.Context, b Backend, fence ports.Fence, n int) error {
	j := newJob("fenced", "alpha", 0)
	_, err := b.Fires.CreateFires(ctx, fence, []ports.FireWrite{fireWrite(j, t0.Add(time.Duration(n)*time.Minute))})
	return err
}

// TestElector checks the ports.Elector and ports.Leadership contracts.
func TestElector(t *testing.T, nb NewBackend, f Features) {
	t.Run("OneLeaderAtATime", func(t *testing.T) {
		b := nb(t)
		ctx := timeoutCtx(t)
		const n = 20
		electors := make([]ports.Elector, n)
		for i := range electors {
			electors[i] = b.NewElector(t, fmt.Sprintf("n%02d", i))
		}
		var (
			leaders, maxLeaders atomic.Int32
			mu                  sync.Mutex
			tokens              []int64
			wg                  sync.WaitGroup
			errs                = make(chan error, 3*n)
		)
		for i, e := range electors {
			wg.Go(func() {
				l, err := e.Campaign(ctx)
				if err != nil {
					errs <- err
					return
				}
				cur := leaders.Add(1)
				for m := maxLeaders.Load(); cur > m && !maxLeaders.CompareAndSwap(m, cur); m = maxLeaders.Load() {
				}
				mu.Lock()
				tokens = append(tokens, l.Fence().Token)
				mu.Unlock()
				info, err := e.Leader(ctx)
				switch {
				case err != nil:
					errs <- err
				case info.NodeID != fmt.Sprintf("n%02d", i) || info.Fence != l.Fence():
					errs <- fmt.Errorf("Leader() = %+v while n%02d leads with %+v", info, i, l.Fence())
				default:
					errs <- fencedWrite(ctx, b, l.Fence(), i)
				}
				leaders.Add(-1)
				if err := l.Resign(ctx); err != nil {
					errs <- err
				}
				select {
				case <-l.Done():
				case <-time.After(Timeout):
					errs <- fmt.Errorf("n%02d: Done not closed after Resign", i)
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			require.NoError(t, err)
		}
		require.EqualValues(t, 1, maxLeaders.Load(), "exactly one leader at a time")
		require.Len(t, tokens, n, "every candidate won once")
		for i := 1; i < n; i++ {
			require.Greater(t, tokens[i], tokens[i-1], "later terms have larger tokens")
		}
	})

	t.Run("LeaderReportsCurrent", func(t *testing.T) {
		b := nb(t)
		ctx := timeoutCtx(t)
		e := b.NewElector(t, "n1")
		_, err := e.Leader(ctx)
		require.ErrorIs(t, err, domain.ErrNotFound, "no leader yet")
		l := campaign(t, b, "n1")
		other := b.NewElector(t, "n2")
		for _, x := range []ports.Elector{e, other} {
			info, err := x.Leader(ctx)
			require.NoError(t, err)
			require.Equal(t, ports.LeaderInfo{NodeID: "n1", Fence: l.Fence()}, info)
		}
		require.False(t, l.Fence().IsZero())
		require.NoError(t, l.Resign(ctx))
		waitFor(t, l.Done(), Timeout, "Done after Resign")
		_, err = e.Leader(ctx)
		require.ErrorIs(t, err, domain.ErrNotFound, "no leader after the resignation")
	})

	t.Run("CampaignCancelLeavesNoCandidate", func(t *testing.T) {
		b := nb(t)
		ctx := timeoutCtx(t)
		a := campaign(t, b, "n1")
		// n2 queues behind n1 and gives up. Whether it gave up before or
		// after queueing, the outcome must be the same.
		short, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
		defer cancel()
		_, err := b.NewElector(t, "n2").Campaign(short)
		require.ErrorIs(t, err, context.DeadlineExceeded)
		cancelled, cancelNow := context.WithCancel(ctx)
		cancelNow()
		_, err = b.NewElector(t, "n3").Campaign(cancelled)
		require.ErrorIs(t, err, context.Canceled)

		require.NoError(t, a.Resign(ctx))
		_, err = b.NewElector(t, "n4").Leader(ctx)
		require.ErrorIs(t, err, domain.ErrNotFound, "the withdrawn candidates are gone")
		c := won(t, campaignAsync(t, ctx, b.NewElector(t, "n5")))
		require.Greater(t, c.Fence().Token, a.Fence().Token)
	})

	t.Run("ResignHandsOver", func(t *testing.T) {
		b := nb(t)
		ctx := timeoutCtx(t)
		a := campaign(t, b, "n1")
		waiting := campaignAsync(t, ctx, b.NewElector(t, "n2"))
		require.NoError(t, a.Resign(ctx))
		waitFor(t, a.Done(), Timeout, "Done after Resign")
		require.NoError(t, a.Resign(ctx), "Resign is idempotent")
		l := won(t, waiting)
		require.Greater(t, l.Fence().Token, a.Fence().Token)
		info, err := b.NewElector(t, "n3").Leader(ctx)
		require.NoError(t, err)
		require.Equal(t, "n2", info.NodeID)
		require.ErrorIs(t, fencedWrite(ctx, b, a.Fence(), 1), domain.ErrNotLeader)
		require.NoError(t, fencedWrite(ctx, b, l.Fence(), 2))
	})

	t.Run("KillLeaseHandsOver", func(t *testing.T) {
		b := nb(t)
		ctx := timeoutCtx(t)
		a := campaign(t, b, "n1")
		require.NoError(t, fencedWrite(ctx, b, a.Fence(), 1))
		waiting := campaignAsync(t, ctx, b.NewElector(t, "n2"))
		b.KillLease(t, a)
		waitFor(t, a.Done(), Timeout, "Done after the leadership's lease was killed")
		l := won(t, waiting)
		require.Greater(t, l.Fence().Token, a.Fence().Token)
		info, err := b.NewElector(t, "n3").Leader(ctx)
		require.NoError(t, err)
		require.Equal(t, ports.LeaderInfo{NodeID: "n2", Fence: l.Fence()}, info)
		require.ErrorIs(t, fencedWrite(ctx, b, a.Fence(), 2), domain.ErrNotLeader,
			"the old leader's fence fails while the new leader lives")
		require.NoError(t, fencedWrite(ctx, b, l.Fence(), 3))
		require.NoError(t, a.Resign(ctx), "Resign after Done is harmless")
		require.NoError(t, fencedWrite(ctx, b, l.Fence(), 4), "and does not touch the new term")
	})

	t.Run("CampaignAgain", func(t *testing.T) {
		b := nb(t)
		ctx := timeoutCtx(t)
		e := b.NewElector(t, "n1")
		first := won(t, campaignAsync(t, ctx, e))
		require.NoError(t, first.Resign(ctx))
		second := won(t, campaignAsync(t, ctx, e))
		require.Greater(t, second.Fence().Token, first.Fence().Token)
		require.ErrorIs(t, fencedWrite(ctx, b, first.Fence(), 1), domain.ErrNotLeader)
		require.NoError(t, fencedWrite(ctx, b, second.Fence(), 2))
	})
}
