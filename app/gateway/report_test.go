package gateway_test

import (
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pink-scheduler/pink/app/gateway"
	"github.com/pink-scheduler/pink/domain"
)

func TestStartOutputResult(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t)
		id := e.register(0)
		r := e.assign(id, "h")
		synctest.Wait()

		started, err := e.gw.Start(e.ctx, group, id, r.ID, 1)
		require.NoError(t, err)
		require.Equal(t, domain.RunRunning, started.State)
		require.Equal(t, time.Now(), started.StartedAt)
		time.Sleep(time.Second)
		again, err := e.gw.Start(e.ctx, group, id, r.ID, 1)
		require.NoError(t, err, "Start is idempotent")
		require.Equal(t, started.StartedAt, again.StartedAt, "and writes nothing the second time")
		require.Equal(t, started.Version, again.Version)

		require.NoError(t, e.gw.Output(e.ctx, group, id, r.ID, 1, "line 1\n"))
		require.NoError(t, e.gw.Output(e.ctx, group, id, r.ID, 1, ""), "an empty chunk is fine")
		require.NoError(t, e.gw.Output(e.ctx, group, id, r.ID, 1, "line 2\n"))
		require.Equal(t, "line 1\nline 2\n", e.run(r.ID).Output)

		res, err := e.gw.Finish(e.ctx, group, id, domain.Report{RunID: r.ID, Attempt: 1,
			State: domain.RunSucceeded, Output: "done\n", WorkerID: "ignored"})
		require.NoError(t, err)
		require.False(t, res.Duplicate)
		require.Equal(t, domain.RunSucceeded, res.Run.State)
		stored := e.run(r.ID)
		require.Equal(t, domain.RunSucceeded, stored.State)
		require.Equal(t, id, stored.WorkerID, "the result is the session's worker's")
		require.Equal(t, "line 1\nline 2\ndone\n", stored.Output)

		res, err = e.gw.Finish(e.ctx, group, id, domain.Report{RunID: r.ID, Attempt: 1, State: domain.RunSucceeded, Output: "x"})
		require.NoError(t, err, "a repeated result is accepted")
		require.True(t, res.Duplicate, "and marked as such")
		require.Equal(t, stored.Version, e.run(r.ID).Version, "without a write")

		_, err = e.gw.Finish(e.ctx, group, id, domain.Report{RunID: r.ID, Attempt: 1, State: domain.RunFailed})
		require.ErrorIs(t, err, domain.ErrIllegalTransition, "a different result of a final run is refused")
		require.ErrorIs(t, e.gw.Output(e.ctx, group, id, r.ID, 1, "late"), domain.ErrIllegalTransition)
		_, err = e.gw.Start(e.ctx, group, id, r.ID, 1)
		require.ErrorIs(t, err, domain.ErrIllegalTransition)
		require.Empty(t, e.poll(id).Runs)
	})
}

func TestFailedAttemptIsRetriedAndRepeatIsDuplicate(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t)
		id := e.register(0)
		r := e.assign(id, "h", func(r *domain.Run) {
			r.MaxAttempts = 2
			r.Retry = domain.Retry{MaxAttempts: 2, Backoff: domain.Duration(time.Second), MaxBackoff: domain.Duration(time.Second)}
		})
		synctest.Wait()
		_, err := e.gw.Start(e.ctx, group, id, r.ID, 1)
		require.NoError(t, err)
		rep := domain.Report{RunID: r.ID, Attempt: 1, State: domain.RunFailed, Error: "boom"}
		res, err := e.gw.Finish(e.ctx, group, id, rep)
		require.NoError(t, err)
		require.Equal(t, domain.RunPending, res.Run.State, "attempts left: back to pending")
		require.Equal(t, 2, res.Run.Attempt)

		res, err = e.gw.Finish(e.ctx, group, id, rep)
		require.NoError(t, err)
		require.True(t, res.Duplicate, "the failed attempt is on record")

		_, err = e.gw.Finish(e.ctx, group, id, domain.Report{RunID: r.ID, Attempt: 1, State: domain.RunSucceeded})
		require.ErrorIs(t, err, domain.ErrStaleAttempt, "another result of the old attempt is stale")
	})
}

func TestStaleAttemptIsRejected(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t)
		id := e.register(0)
		other := e.register(0)
		r := e.assign(id, "h", func(r *domain.Run) { r.MaxAttempts = 2 })
		theirs := e.assign(other, "h")
		synctest.Wait()
		_, err := e.gw.Start(e.ctx, group, id, r.ID, 1)
		require.NoError(t, err)

		// The leader fails the attempt over (the worker was thought lost)
		// and gives the retry to the other worker.
		e.leaderUpdate(r.ID, func(x *domain.Run) error { return x.Lose("test", time.Now()) })
		e.leaderUpdate(r.ID, func(x *domain.Run) error { x.NotBefore = time.Time{}; return x.Assign(other, time.Now()) })
		before := e.run(r.ID)

		require.ErrorIs(t, e.gw.Output(e.ctx, group, id, r.ID, 1, "late"), domain.ErrStaleAttempt)
		_, err = e.gw.Finish(e.ctx, group, id, domain.Report{RunID: r.ID, Attempt: 1, State: domain.RunSucceeded})
		require.ErrorIs(t, err, domain.ErrStaleAttempt)
		_, err = e.gw.Start(e.ctx, group, id, r.ID, 2)
		require.ErrorIs(t, err, domain.ErrStaleAttempt, "attempt 2 is the other worker's")
		_, err = e.gw.Start(e.ctx, group, id, theirs.ID, 1)
		require.ErrorIs(t, err, domain.ErrStaleAttempt)
		require.Equal(t, before.Version, e.run(r.ID).Version, "nothing was written")
		require.Equal(t, domain.RunAssigned, e.run(theirs.ID).State)

		_, err = e.gw.Start(e.ctx, group, id, "20000101T000000.000Z~nope~0", 1)
		require.ErrorIs(t, err, domain.ErrNotFound)
		_, err = e.gw.Start(e.ctx, group, id, "", 1)
		require.ErrorIs(t, err, domain.ErrInvalid)
		_, err = e.gw.Start(e.ctx, group, id, r.ID, 0)
		require.ErrorIs(t, err, domain.ErrInvalid)
		_, err = e.gw.Finish(e.ctx, group, id, domain.Report{RunID: r.ID, Attempt: 2, State: domain.RunCancelled})
		require.ErrorIs(t, err, domain.ErrInvalid, "a worker does not report cancelled")
	})
}

func TestRunOfAnotherGroupIsNotFound(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t)
		mine := e.register(0)
		theirs, err := e.gw.Register(e.ctx, domain.Worker{Group: "other"}, 0)
		require.NoError(t, err)
		r := e.assign(theirs.WorkerID, "h", func(r *domain.Run) { r.Group = "other" })
		_, err = e.gw.Start(e.ctx, group, mine, r.ID, 1)
		require.ErrorIs(t, err, domain.ErrNotFound)
	})
}

func TestResultWithoutStart(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// A worker without the run's handler fails it without starting it.
		e := newEnv(t)
		id := e.register(0)
		r := e.assign(id, "missing")
		synctest.Wait()
		require.Equal(t, []string{r.ID}, ids(e.poll(id).Runs))
		_, err := e.gw.Finish(e.ctx, group, id, domain.Report{RunID: r.ID, Attempt: 1, State: domain.RunFailed,
			Error: "no handler \"missing\" on worker " + id})
		require.NoError(t, err)
		stored := e.run(r.ID)
		require.Equal(t, domain.RunFailed, stored.State)
		require.Contains(t, stored.Error, "no handler")
	})
}

func TestCancellationIsReported(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t)
		id := e.register(2 * time.Second)
		r := e.assign(id, "h")
		synctest.Wait()
		_, err := e.gw.Start(e.ctx, group, id, r.ID, 1)
		require.NoError(t, err)

		// A waiting poll returns at once with the cancellation.
		type answer struct {
			res gateway.PollResult
			err error
		}
		polled := make(chan answer, 1)
		go func() {
			res, err := e.gw.Poll(e.ctx, group, id, 20*time.Second)
			polled <- answer{res, err}
		}()
		synctest.Wait()
		start := time.Now()
		e.leaderUpdate(r.ID, func(x *domain.Run) error { return x.Cancel("cancelled by alice", time.Now()) })
		want := []gateway.Cancelled{{RunID: r.ID, Attempt: 1, Reason: gateway.ReasonCancelled}}
		a := <-polled
		require.NoError(t, a.err)
		require.Equal(t, want, a.res.Cancelled)
		require.Zero(t, time.Since(start))

		// Heartbeats keep listing it, for a few TTLs.
		got, err := e.gw.Heartbeat(e.ctx, group, id)
		require.NoError(t, err)
		require.Equal(t, want, got)
		for range 5 {
			time.Sleep(time.Second)
			got, err = e.gw.Heartbeat(e.ctx, group, id)
			require.NoError(t, err)
			require.Equal(t, want, got)
		}
		time.Sleep(time.Second)
		got, err = e.gw.Heartbeat(e.ctx, group, id)
		require.NoError(t, err)
		require.Empty(t, got, "forgotten three TTLs after it was first listed")
	})
}

func TestCancellationEndsWhenReported(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t)
		id := e.register(0)
		r := e.assign(id, "h")
		synctest.Wait()
		_, err := e.gw.Start(e.ctx, group, id, r.ID, 1)
		require.NoError(t, err)
		e.leaderUpdate(r.ID, func(x *domain.Run) error { return x.Cancel("test", time.Now()) })
		synctest.Wait()
		require.Len(t, e.poll(id).Cancelled, 1)

		_, err = e.gw.Finish(e.ctx, group, id, domain.Report{RunID: r.ID, Attempt: 1, State: domain.RunFailed})
		require.ErrorIs(t, err, domain.ErrIllegalTransition, "the run is final: cancelled")
		require.Empty(t, e.poll(id).Cancelled, "the worker's report says it stopped")
		require.Equal(t, domain.RunCancelled, e.run(r.ID).State)
	})
}

func TestTakenAwayIsReported(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t)
		id := e.register(0)
		r := e.assign(id, "h", func(r *domain.Run) { r.MaxAttempts = 3 })
		timedOut := e.assign(id, "h")
		notStarted := e.assign(id, "h")
		synctest.Wait()
		for _, x := range []domain.Run{r, timedOut} {
			_, err := e.gw.Start(e.ctx, group, id, x.ID, 1)
			require.NoError(t, err)
		}
		e.leaderUpdate(r.ID, func(x *domain.Run) error { return x.Lose("test", time.Now()) })
		e.leaderUpdate(timedOut.ID, func(x *domain.Run) error { return x.TimeOut(time.Now()) })
		e.leaderUpdate(notStarted.ID, func(x *domain.Run) error { return x.Cancel("test", time.Now()) })
		synctest.Wait()
		got, err := e.gw.Heartbeat(e.ctx, group, id)
		require.NoError(t, err)
		require.ElementsMatch(t, []gateway.Cancelled{
			{RunID: r.ID, Attempt: 1, Reason: gateway.ReasonTakenAway},
			{RunID: timedOut.ID, Attempt: 1, Reason: gateway.ReasonTakenAway},
		}, got, "only attempts the worker started are listed")

		// Its retry comes back to the same worker: attempt 2 is new work,
		// attempt 1 still must stop.
		e.leaderUpdate(r.ID, func(x *domain.Run) error { x.NotBefore = time.Time{}; return x.Assign(id, time.Now()) })
		synctest.Wait()
		res := e.poll(id)
		require.Len(t, res.Runs, 1)
		require.Equal(t, 2, res.Runs[0].Attempt)
		require.Contains(t, res.Cancelled, gateway.Cancelled{RunID: r.ID, Attempt: 1, Reason: gateway.ReasonTakenAway})
	})
}

func TestCancelledBeforeStart(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t)
		id := e.register(0)
		r := e.assign(id, "h")
		synctest.Wait()
		require.Len(t, e.poll(id).Runs, 1)
		e.leaderUpdate(r.ID, func(x *domain.Run) error { return x.Cancel("test", time.Now()) })
		synctest.Wait()
		_, err := e.gw.Start(e.ctx, group, id, r.ID, 1)
		require.ErrorIs(t, err, domain.ErrIllegalTransition, "cancelled: it cannot start")
		require.Empty(t, e.poll(id).Cancelled, "the error told the worker; nothing to list")
	})
}
