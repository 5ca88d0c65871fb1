package gateway_test

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pink-scheduler/pink/app/gateway"
	"github.com/pink-scheduler/pink/domain"
)

func TestPollReturnsAssignedRunsOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t)
		id := e.register(gateway.MaxTTL)
		other := e.register(gateway.MaxTTL)
		r1 := e.assign(id, "h")
		r2 := e.assign(id, "h")
		e.assign(other, "h")
		synctest.Wait()

		res := e.poll(id)
		require.Equal(t, []string{r1.ID, r2.ID}, ids(res.Runs), "its own runs, by ID")
		got := res.Runs[0]
		require.Equal(t, domain.RunAssigned, got.State)
		require.Equal(t, 1, got.Attempt)
		require.Equal(t, "h", got.Handler)
		require.JSONEq(t, string(r1.Params), string(got.Params))
		require.Empty(t, res.Cancelled)

		require.Empty(t, e.poll(id).Runs, "held back once returned")

		_, err := e.gw.Start(e.ctx, group, id, r1.ID, 1)
		require.NoError(t, err)
		time.Sleep(gateway.DefaultRedeliverAfter)
		require.Equal(t, []string{r2.ID}, ids(e.poll(id).Runs),
			"a run returned but not started is returned again after RedeliverAfter; a started one never")
		require.Empty(t, e.poll(id).Runs)
	})
}

func TestLongPollWakesOnAssignment(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t)
		id := e.register(0)
		type answer struct {
			res  gateway.PollResult
			err  error
			took time.Duration
		}
		polled := make(chan answer)
		start := time.Now()
		go func() {
			res, err := e.gw.Poll(e.ctx, group, id, 20*time.Second)
			polled <- answer{res, err, time.Since(start)}
		}()
		time.Sleep(3 * time.Second)
		_, err := e.gw.Heartbeat(e.ctx, group, id) // the worker heartbeats while it polls
		require.NoError(t, err)
		time.Sleep(2 * time.Second)
		r := e.assign(id, "h")
		a := <-polled
		require.NoError(t, a.err)
		require.Equal(t, 5*time.Second, a.took, "the poll returns as soon as a run is assigned")
		require.Equal(t, []string{r.ID}, ids(a.res.Runs))
	})
}

func TestLongPollTimesOut(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t, func(c *gateway.Config) { c.RedeliverAfter = 4 * time.Second })
		id := e.register(gateway.MaxTTL)

		start := time.Now()
		res, err := e.gw.Poll(e.ctx, group, id, 10*time.Second)
		require.NoError(t, err)
		require.Empty(t, res.Runs)
		require.Equal(t, 10*time.Second, time.Since(start))

		start = time.Now()
		_, err = e.gw.Poll(e.ctx, group, id, time.Hour)
		require.NoError(t, err)
		require.Equal(t, gateway.MaxWait, time.Since(start), "a wait is capped at MaxWait")

		// A run held back wakes the poll when it is due again.
		r := e.assign(id, "h")
		synctest.Wait()
		require.Equal(t, []string{r.ID}, ids(e.poll(id).Runs))
		start = time.Now()
		res, err = e.gw.Poll(e.ctx, group, id, 20*time.Second)
		require.NoError(t, err)
		require.Equal(t, []string{r.ID}, ids(res.Runs))
		require.Equal(t, 4*time.Second, time.Since(start))
	})
}

func TestNewPollTakesOverFromTheWaitingOne(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t)
		id := e.register(gateway.MaxTTL)
		poll := func() <-chan gateway.PollResult {
			ch := make(chan gateway.PollResult, 1)
			go func() {
				res, err := e.gw.Poll(e.ctx, group, id, 20*time.Second)
				if err != nil {
					res.Runs = []domain.Run{{ID: "error: " + err.Error()}}
				}
				ch <- res
			}()
			return ch
		}
		first := poll()
		time.Sleep(time.Second)
		second := poll()
		start := time.Now()
		require.Empty(t, (<-first).Runs, "the first poll returns at once, empty")
		require.Zero(t, time.Since(start))
		r := e.assign(id, "h")
		require.Equal(t, []string{r.ID}, ids((<-second).Runs))
	})
}

func TestPollEndsWithTheRequest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t)
		id := e.register(gateway.MaxTTL)
		ctx, cancel := context.WithCancel(e.ctx)
		done := make(chan error)
		go func() {
			_, err := e.gw.Poll(ctx, group, id, 20*time.Second)
			done <- err
		}()
		time.Sleep(time.Second)
		cancel()
		require.ErrorIs(t, <-done, context.Canceled)
		// A run assigned now is returned by the next poll: the one that
		// ended did not take it.
		r := e.assign(id, "h")
		synctest.Wait()
		require.Equal(t, []string{r.ID}, ids(e.poll(id).Runs))
	})
}

func TestWatchFailureListsAgain(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t)
		id := e.register(gateway.MaxTTL)
		running := e.assign(id, "h")
		synctest.Wait()
		_, err := e.gw.Start(e.ctx, group, id, running.ID, 1)
		require.NoError(t, err)
		synctest.Wait()

		// Events are lost: the running run is cancelled and a new run is
		// assigned while the watch is down; then the watch fails as after
		// a compaction.
		close(e.runs.current().hold)
		e.leaderUpdate(running.ID, func(r *domain.Run) error { return r.Cancel("by test", time.Now()) })
		fresh := e.assign(id, "h")
		synctest.Wait()
		watches := e.runs.watchCount()
		e.runs.current().fail <- domain.ErrCompacted
		synctest.Wait()
		require.Equal(t, watches+1, e.runs.watchCount(), "listed again and watching")

		res := e.poll(id)
		require.Equal(t, []string{fresh.ID}, ids(res.Runs))
		require.Equal(t, []gateway.Cancelled{{RunID: running.ID, Attempt: 1, Reason: gateway.ReasonTakenAway}}, res.Cancelled,
			"the listing shows the started run gone; why fell in the gap")
	})
}

func TestFailedListingIsRetried(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t)
		e.runs.failListings(3)
		id := e.register(gateway.MaxTTL)
		r := e.assign(id, "h")
		start := time.Now()
		res, err := e.gw.Poll(e.ctx, group, id, 20*time.Second)
		require.NoError(t, err)
		require.Equal(t, []string{r.ID}, ids(res.Runs), "the poll waits for the first listing")
		require.Less(t, time.Since(start), 3*time.Second, "retried with a short backoff")
	})
}
