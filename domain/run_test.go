package domain_test

import (
	"encoding/json"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pink-scheduler/pink/domain"
)

// t0 is the nominal time the run tests use.
var t0 = time.Date(2026, 11, 26, 16, 43, 0, 0, time.UTC)

// newTestRun returns a pending run of a job with maxAttempts attempts.
func newTestRun(t *testing.T, maxAttempts int) domain.Run {
	t.Helper()
	j := validJob()
	j.Retry = domain.Retry{MaxAttempts: maxAttempts, Backoff: domain.Duration(time.Second),
		MaxBackoff: domain.Duration(time.Minute)}
	j.Timeout = domain.Duration(10 * time.Minute)
	require.NoError(t, j.Validate(0))
	f := domain.Fire{ID: domain.FireID(j.ID, t0), JobID: j.ID, Group: j.Group, Nominal: t0, Kind: domain.FireScheduled}
	r := domain.NewRun(&j, &f, 0, t0)
	require.Equal(t, domain.RunPending, r.State)
	return r
}

// startRun assigns r to worker at now and starts its current attempt.
func startRun(t *testing.T, r *domain.Run, worker string, now time.Time) {
	t.Helper()
	require.NoError(t, r.Assign(worker, now))
	require.NoError(t, r.Start(worker, r.Attempt, now.Add(time.Millisecond)))
	require.Equal(t, domain.RunRunning, r.State)
}

// requireUnchanged runs op on r, requires the error target and that r did
// not change.
func requireUnchanged(t *testing.T, r *domain.Run, target error, op func(*domain.Run) error) {
	t.Helper()
	before := r.Clone()
	err := op(r)
	require.ErrorIs(t, err, target)
	require.Equal(t, before, *r, "a rejected operation changed the run")
}

func TestRunStateSets(t *testing.T) {
	active := map[domain.RunState]bool{domain.RunPending: true, domain.RunAssigned: true, domain.RunRunning: true}
	require.Len(t, domain.AllRunStates, 9)
	for _, s := range domain.AllRunStates {
		assert.True(t, s.Valid(), s)
		assert.Equal(t, !active[s], s.Terminal(), s)
		r := domain.Run{State: s}
		assert.Equal(t, active[s], r.Active(), s)
	}
	assert.False(t, domain.RunState("").Valid())
	assert.False(t, domain.RunState("done").Valid())
	// Active first, as documented.
	assert.Equal(t, []domain.RunState{domain.RunPending, domain.RunAssigned, domain.RunRunning},
		domain.AllRunStates[:3])
}

func TestCanTransition(t *testing.T) {
	const (
		P = domain.RunPending
		A = domain.RunAssigned
		R = domain.RunRunning
		S = domain.RunSucceeded
		F = domain.RunFailed
		T = domain.RunTimedOut
		L = domain.RunLost
		K = domain.RunSkipped
		C = domain.RunCancelled
	)
	// The state machine, written out independently of run.go.
	legal := map[[2]domain.RunState]bool{
		{P, A}: true, // dispatched
		{P, K}: true, // misfire, no worker
		{P, C}: true, // cancelled before dispatch
		{A, R}: true, // worker started it
		{A, P}: true, // retry (worker lost before start)
		{A, F}: true, // worker could not start it
		{A, L}: true, // worker lost, no attempts left
		{A, C}: true,
		{A, T}: true, // never started within the timeout
		{R, S}: true,
		{R, F}: true,
		{R, T}: true,
		{R, L}: true,
		{R, C}: true,
		{R, P}: true, // retry
	}
	for _, from := range domain.AllRunStates {
		for _, to := range domain.AllRunStates {
			assert.Equal(t, legal[[2]domain.RunState{from, to}], domain.CanTransition(from, to),
				"%s -> %s", from, to)
		}
		assert.False(t, domain.CanTransition(from, ""), "%s -> empty", from)
		assert.False(t, domain.CanTransition(from, "bogus"), "%s -> bogus", from)
		assert.False(t, domain.CanTransition("", from), "empty -> %s", from)
	}
	// A few illegal moves spelled out for the reader.
	assert.False(t, domain.CanTransition(P, R), "a pending run cannot start before it is assigned")
	assert.False(t, domain.CanTransition(P, S))
	assert.False(t, domain.CanTransition(R, A))
	assert.False(t, domain.CanTransition(S, P), "a succeeded run is never retried")
	assert.False(t, domain.CanTransition(C, P), "a cancelled run is never retried")
	// Terminal states have no way out.
	for _, from := range domain.AllRunStates {
		if !from.Terminal() {
			continue
		}
		for _, to := range domain.AllRunStates {
			assert.False(t, domain.CanTransition(from, to), "terminal %s -> %s", from, to)
		}
	}
}

func TestNewRun(t *testing.T) {
	j := validJob()
	j.Shards = 4
	j.Route = domain.RouteHash
	j.Retry = domain.Retry{MaxAttempts: 5, Backoff: domain.Duration(2 * time.Second), MaxBackoff: domain.Duration(time.Minute)}
	j.Timeout = domain.Duration(30 * time.Second)
	require.NoError(t, j.Validate(0))
	f := domain.Fire{ID: domain.FireID(j.ID, t0), JobID: j.ID, Group: j.Group, Nominal: t0, Kind: domain.FireScheduled}
	now := t0.Add(50 * time.Millisecond)

	r := domain.NewRun(&j, &f, 2, now)
	assert.Equal(t, domain.Run{
		ID: domain.RunID(f.ID, 2), FireID: f.ID, JobID: j.ID, Group: j.Group, Handler: j.Handler,
		Params: json.RawMessage(`{"format":"pdf"}`), Shard: 2, Shards: 4,
		RouteKey: "nightly-report~2", Route: domain.RouteHash, Selector: map[string]string{"zone": "a"},
		Attempt: 1, MaxAttempts: 5, Retry: j.Retry, Timeout: j.Timeout,
		State: domain.RunPending, ScheduledAt: t0, CreatedAt: now,
	}, r)
	assert.Equal(t, f.ID+"~2", r.ID)
	assert.False(t, r.Manual)
	assert.Empty(t, r.PinnedWorker)

	// Each shard has its own default route key.
	keys := map[string]bool{}
	for i := range j.Shards {
		keys[domain.NewRun(&j, &f, i, now).RouteKey] = true
	}
	assert.Len(t, keys, j.Shards)

	// The run owns its copies: later job edits do not reach it.
	j.Params[2] = 'X'
	j.Selector["zone"] = "b"
	assert.Equal(t, `{"format":"pdf"}`, string(r.Params))
	assert.Equal(t, "a", r.Selector["zone"])
}

func TestNewRunRouteKey(t *testing.T) {
	j := validJob()
	j.RouteKey = "customer-42"
	f := domain.Fire{ID: domain.FireID(j.ID, t0), Nominal: t0, Kind: domain.FireScheduled}
	assert.Equal(t, "customer-42~0", domain.NewRun(&j, &f, 0, t0).RouteKey)
	assert.Equal(t, "customer-42~1", domain.NewRun(&j, &f, 1, t0).RouteKey, "each shard hashes on its own key")
}

func TestNewRunManualParams(t *testing.T) {
	j := validJob()
	manual := domain.Fire{ID: domain.ManualFireID(j.ID, t0, "n1"), JobID: j.ID, Nominal: t0,
		Kind: domain.FireManual, Params: json.RawMessage(`{"format":"csv"}`)}
	r := domain.NewRun(&j, &manual, 0, t0)
	assert.True(t, r.Manual)
	assert.Equal(t, `{"format":"csv"}`, string(r.Params), "a manual fire's params override the job's")
	manual.Params[2] = 'X'
	assert.Equal(t, `{"format":"csv"}`, string(r.Params), "the run must own its params")

	manual.Params = nil
	r = domain.NewRun(&j, &manual, 0, t0)
	assert.True(t, r.Manual)
	assert.Equal(t, `{"format":"pdf"}`, string(r.Params), "without override the job's params apply")
}

func TestRunHappyPath(t *testing.T) {
	r := newTestRun(t, 3)
	assert.True(t, r.Deadline().IsZero(), "no deadline before start")

	tAssign := t0.Add(time.Second)
	require.NoError(t, r.Assign("w1", tAssign))
	assert.Equal(t, domain.RunAssigned, r.State)
	assert.Equal(t, "w1", r.WorkerID)
	assert.Equal(t, tAssign, r.AssignedAt)
	assert.True(t, r.Deadline().IsZero())

	tStart := tAssign.Add(time.Second)
	require.NoError(t, r.Start("w1", 1, tStart))
	assert.Equal(t, domain.RunRunning, r.State)
	assert.Equal(t, tStart, r.StartedAt)
	assert.Equal(t, tStart.Add(10*time.Minute), r.Deadline())

	require.NoError(t, r.AppendOutput("w1", 1, "line 1\n", 1024))
	tEnd := tStart.Add(3 * time.Second)
	require.NoError(t, r.Finish(domain.Report{RunID: r.ID, WorkerID: "w1", Attempt: 1,
		State: domain.RunSucceeded, Output: "line 2\n"}, 0, tEnd))
	assert.Equal(t, domain.RunSucceeded, r.State)
	assert.Equal(t, tEnd, r.FinishedAt)
	assert.Equal(t, "line 1\nline 2\n", r.Output)
	assert.Empty(t, r.Error)
	assert.Empty(t, r.Attempts)
	assert.Equal(t, 1, r.Attempt)
	assert.Equal(t, "w1", r.WorkerID, "the worker of the final attempt is kept")
	assert.False(t, r.Active())

	// Finishing again is refused and changes nothing.
	requireUnchanged(t, &r, domain.ErrIllegalTransition, func(r *domain.Run) error {
		return r.Finish(domain.Report{WorkerID: "w1", Attempt: 1, State: domain.RunSucceeded, Output: "dup"}, 0, tEnd)
	})
}

func TestRunAssign(t *testing.T) {
	r := newTestRun(t, 3)
	require.NoError(t, r.Assign("w1", t0))
	requireUnchanged(t, &r, domain.ErrIllegalTransition, func(r *domain.Run) error { return r.Assign("w2", t0) })

	pinned := newTestRun(t, 3)
	pinned.PinnedWorker = "w1"
	requireUnchanged(t, &pinned, domain.ErrConflict, func(r *domain.Run) error { return r.Assign("w2", t0) })
	require.NoError(t, pinned.Assign("w1", t0))
	assert.Equal(t, "w1", pinned.WorkerID)
}

func TestRunStartStale(t *testing.T) {
	r := newTestRun(t, 3)
	require.NoError(t, r.Assign("w1", t0))

	for _, tt := range []struct {
		name    string
		worker  string
		attempt int
	}{
		{"wrong attempt", "w1", 2},
		{"old attempt", "w1", 0},
		{"wrong worker", "w2", 1},
		{"no worker", "", 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			requireUnchanged(t, &r, domain.ErrStaleAttempt, func(r *domain.Run) error {
				return r.Start(tt.worker, tt.attempt, t0)
			})
		})
	}
	require.NoError(t, r.Start("w1", 1, t0))
	// Starting twice is an illegal transition.
	requireUnchanged(t, &r, domain.ErrIllegalTransition, func(r *domain.Run) error { return r.Start("w1", 1, t0) })

	// A pending run cannot be started, even by a write that looks current.
	p := newTestRun(t, 3)
	requireUnchanged(t, &p, domain.ErrStaleAttempt, func(r *domain.Run) error { return r.Start("", 1, t0) })

}

func TestRunFinishRejects(t *testing.T) {
	r := newTestRun(t, 3)
	startRun(t, &r, "w1", t0)

	for _, s := range []domain.RunState{domain.RunRunning, domain.RunPending, domain.RunAssigned,
		domain.RunLost, domain.RunSkipped, "", "done"} {
		before := r.Clone()
		err := r.Finish(domain.Report{WorkerID: "w1", Attempt: 1, State: s}, 0, t0)
		requireInvalid(t, err, "state")
		require.Equal(t, before, r, "state %q", s)
	}
	requireUnchanged(t, &r, domain.ErrStaleAttempt, func(r *domain.Run) error {
		return r.Finish(domain.Report{WorkerID: "w1", Attempt: 2, State: domain.RunSucceeded, Output: "x"}, 0, t0)
	})
	requireUnchanged(t, &r, domain.ErrStaleAttempt, func(r *domain.Run) error {
		return r.Finish(domain.Report{WorkerID: "w2", Attempt: 1, State: domain.RunFailed, Output: "x"}, 0, t0)
	})

	// Terminal runs refuse every result.
	for _, end := range []func(*domain.Run) error{
		func(r *domain.Run) error {
			return r.Finish(domain.Report{WorkerID: "w1", Attempt: 1, State: domain.RunSucceeded}, 0, t0)
		},
		func(r *domain.Run) error { return r.Cancel("stop", t0) },
	} {
		r := newTestRun(t, 3)
		startRun(t, &r, "w1", t0)
		require.NoError(t, end(&r))
		for _, s := range []domain.RunState{domain.RunSucceeded, domain.RunFailed, domain.RunTimedOut, domain.RunCancelled} {
			requireUnchanged(t, &r, domain.ErrIllegalTransition, func(r *domain.Run) error {
				return r.Finish(domain.Report{WorkerID: "w1", Attempt: 1, State: s, Output: "late"}, 0, t0)
			})
		}
	}
}

// TestRunFinishWithoutStart: a worker whose "started" write was lost may
// report a result for an assigned run. Whatever the state machine allows,
// a rejected result must leave the run as it was.
func TestRunFinishPermanentFailureIsNotRetried(t *testing.T) {
	r := newTestRun(t, 3)
	startRun(t, &r, "w1", t0)
	for _, s := range []domain.RunState{domain.RunSucceeded, domain.RunTimedOut, domain.RunCancelled} {
		before := r.Clone()
		err := r.Finish(domain.Report{WorkerID: "w1", Attempt: 1, State: s, Permanent: true}, 0, t0)
		requireInvalid(t, err, "permanent")
		require.Equal(t, before, r, "state %q", s)
	}
	require.NoError(t, r.Finish(domain.Report{WorkerID: "w1", Attempt: 1, State: domain.RunFailed,
		Error: "params.url: required", Output: "out", Permanent: true}, 0, t0.Add(time.Second)))
	assert.Equal(t, domain.RunFailed, r.State)
	assert.Equal(t, 1, r.Attempt)
	assert.Empty(t, r.Attempts)
	assert.Equal(t, "params.url: required (not retried: the handler reported a permanent failure)", r.Error)
	assert.Equal(t, "out", r.Output)
	assert.Equal(t, t0.Add(time.Second), r.FinishedAt)

	// On the last attempt there is nothing to say about retries.
	last := newTestRun(t, 1)
	startRun(t, &last, "w1", t0)
	require.NoError(t, last.Finish(domain.Report{WorkerID: "w1", Attempt: 1, State: domain.RunFailed, Error: "bad", Permanent: true}, 0, t0))
	assert.Equal(t, "bad", last.Error)
}

func TestRunFinishWithoutStart(t *testing.T) {
	r := newTestRun(t, 3)
	require.NoError(t, r.Assign("w1", t0))
	requireUnchanged(t, &r, domain.ErrIllegalTransition, func(r *domain.Run) error {
		return r.Finish(domain.Report{WorkerID: "w1", Attempt: 1, State: domain.RunSucceeded, Output: "x"}, 0, t0)
	})
}

func TestRunFinishFailedOnAssigned(t *testing.T) {
	// assigned -> failed is legal: the worker could not start the run.
	r := newTestRun(t, 1)
	require.NoError(t, r.Assign("w1", t0))
	require.NoError(t, r.Finish(domain.Report{WorkerID: "w1", Attempt: 1, State: domain.RunFailed, Error: "no handler"}, 0, t0))
	assert.Equal(t, domain.RunFailed, r.State)
	assert.Equal(t, "no handler", r.Error)
}

func TestRunRetry(t *testing.T) {
	r := newTestRun(t, 3)
	tStart := t0.Add(time.Second)
	startRun(t, &r, "w1", tStart)
	started1 := r.StartedAt

	tFail := tStart.Add(5 * time.Second)
	require.NoError(t, r.Finish(domain.Report{WorkerID: "w1", Attempt: 1, State: domain.RunFailed,
		Error: "boom", Output: "out1\n"}, 0, tFail))
	assert.Equal(t, domain.RunPending, r.State, "a failed attempt with attempts left is retried")
	assert.Equal(t, 2, r.Attempt)
	wantDelay := r.Retry.Delay(2, r.ID)
	require.Positive(t, wantDelay)
	assert.Equal(t, tFail.Add(wantDelay), r.NotBefore)
	assert.Empty(t, r.WorkerID, "the worker is cleared for re-dispatch")
	assert.True(t, r.AssignedAt.IsZero())
	assert.True(t, r.StartedAt.IsZero())
	assert.True(t, r.FinishedAt.IsZero(), "a retried run is not finished")
	assert.True(t, r.Active())
	assert.Equal(t, "boom", r.Error, "the last error stays visible")
	assert.Equal(t, "out1\n", r.Output)
	require.Equal(t, []domain.Attempt{{Attempt: 1, WorkerID: "w1", State: domain.RunFailed,
		StartedAt: started1, FinishedAt: tFail, Error: "boom"}}, r.Attempts)
	assert.Equal(t, []string{"w1"}, r.PreviousWorkers())

	// The old attempt's late writes are stale.
	requireUnchanged(t, &r, domain.ErrStaleAttempt, func(r *domain.Run) error {
		return r.Finish(domain.Report{WorkerID: "w1", Attempt: 1, State: domain.RunSucceeded}, 0, tFail)
	})
	requireUnchanged(t, &r, domain.ErrStaleAttempt, func(r *domain.Run) error {
		return r.AppendOutput("w1", 1, "late", 100)
	})

	// Attempt 2 times out (reported by the worker).
	startRun(t, &r, "w2", r.NotBefore)
	requireUnchanged(t, &r, domain.ErrStaleAttempt, func(r *domain.Run) error { return r.Start("w2", 1, tFail) })
	tFail2 := r.NotBefore.Add(time.Minute)
	require.NoError(t, r.Finish(domain.Report{WorkerID: "w2", Attempt: 2, State: domain.RunTimedOut, Error: "slow"}, 0, tFail2))
	assert.Equal(t, domain.RunPending, r.State)
	assert.Equal(t, 3, r.Attempt)
	assert.Equal(t, tFail2.Add(r.Retry.Delay(3, r.ID)), r.NotBefore)
	require.Len(t, r.Attempts, 2)
	assert.Equal(t, domain.RunTimedOut, r.Attempts[1].State)
	assert.Equal(t, "w2", r.Attempts[1].WorkerID)
	assert.Equal(t, 2, r.Attempts[1].Attempt)
	assert.Equal(t, []string{"w1", "w2"}, r.PreviousWorkers())

	// The last attempt fails for good.
	startRun(t, &r, "w3", r.NotBefore)
	tEnd := r.NotBefore.Add(time.Minute)
	require.NoError(t, r.Finish(domain.Report{WorkerID: "w3", Attempt: 3, State: domain.RunFailed, Error: "boom again"}, 0, tEnd))
	assert.Equal(t, domain.RunFailed, r.State)
	assert.Equal(t, 3, r.Attempt)
	assert.Equal(t, "w3", r.WorkerID)
	assert.Equal(t, "boom again", r.Error)
	assert.Equal(t, tEnd, r.FinishedAt)
	assert.Len(t, r.Attempts, 2, "only earlier attempts are recorded in Attempts")
	assert.False(t, r.Active())
}

func TestRunNoRetryWhenMaxAttemptsIsOne(t *testing.T) {
	for _, s := range []domain.RunState{domain.RunFailed, domain.RunTimedOut} {
		r := newTestRun(t, 1)
		startRun(t, &r, "w1", t0)
		require.NoError(t, r.Finish(domain.Report{WorkerID: "w1", Attempt: 1, State: s, Error: "e"}, 0, t0))
		assert.Equal(t, s, r.State)
		assert.Empty(t, r.Attempts)
	}
}

func TestRunLose(t *testing.T) {
	t.Run("retried while attempts are left", func(t *testing.T) {
		r := newTestRun(t, 2)
		startRun(t, &r, "w1", t0)
		tLost := t0.Add(time.Minute)
		require.NoError(t, r.Lose("worker w1 lease expired", tLost))
		assert.Equal(t, domain.RunPending, r.State)
		assert.Equal(t, 2, r.Attempt)
		assert.Equal(t, tLost.Add(r.Retry.Delay(2, r.ID)), r.NotBefore)
		require.Len(t, r.Attempts, 1)
		assert.Equal(t, domain.RunLost, r.Attempts[0].State)
		assert.Equal(t, "worker w1 lease expired", r.Attempts[0].Error)
		assert.Equal(t, []string{"w1"}, r.PreviousWorkers())

		// The second loss is final.
		startRun(t, &r, "w2", r.NotBefore)
		require.NoError(t, r.Lose("worker w2 lease expired", tLost.Add(time.Hour)))
		assert.Equal(t, domain.RunLost, r.State)
		assert.Equal(t, "worker w2 lease expired", r.Error)
		assert.Equal(t, tLost.Add(time.Hour), r.FinishedAt)
	})
	t.Run("assigned but not started", func(t *testing.T) {
		r := newTestRun(t, 2)
		require.NoError(t, r.Assign("w1", t0))
		require.NoError(t, r.Lose("gone", t0))
		assert.Equal(t, domain.RunPending, r.State)
		assert.Equal(t, []string{"w1"}, r.PreviousWorkers())
	})
	t.Run("pinned broadcast run is not retried", func(t *testing.T) {
		r := newTestRun(t, 3)
		r.PinnedWorker = "w1"
		startRun(t, &r, "w1", t0)
		require.NoError(t, r.Lose("gone", t0.Add(time.Minute)))
		assert.Equal(t, domain.RunLost, r.State)
		assert.Equal(t, 1, r.Attempt)
		assert.Empty(t, r.Attempts)
		assert.Equal(t, t0.Add(time.Minute), r.FinishedAt)
	})
	t.Run("pinned run does not retry a failure either", func(t *testing.T) {
		r := newTestRun(t, 3)
		r.PinnedWorker = "w1"
		startRun(t, &r, "w1", t0)
		require.NoError(t, r.Finish(domain.Report{WorkerID: "w1", Attempt: 1, State: domain.RunFailed}, 0, t0))
		assert.Equal(t, domain.RunFailed, r.State)
	})
	t.Run("not assigned", func(t *testing.T) {
		r := newTestRun(t, 3)
		requireUnchanged(t, &r, domain.ErrIllegalTransition, func(r *domain.Run) error { return r.Lose("x", t0) })
		require.NoError(t, r.Skip("misfire", t0))
		requireUnchanged(t, &r, domain.ErrIllegalTransition, func(r *domain.Run) error { return r.Lose("x", t0) })
	})
}

func TestRunTimeOut(t *testing.T) {
	r := newTestRun(t, 2)
	requireUnchanged(t, &r, domain.ErrIllegalTransition, func(r *domain.Run) error { return r.TimeOut(t0) })
	startRun(t, &r, "w1", t0)
	deadline := r.Deadline()
	require.NoError(t, r.TimeOut(deadline))
	assert.Equal(t, domain.RunPending, r.State)
	require.Len(t, r.Attempts, 1)
	assert.Equal(t, domain.RunTimedOut, r.Attempts[0].State)
	assert.Contains(t, r.Attempts[0].Error, "10m0s")

	startRun(t, &r, "w2", r.NotBefore)
	require.NoError(t, r.TimeOut(r.Deadline()))
	assert.Equal(t, domain.RunTimedOut, r.State)
	assert.Equal(t, r.Deadline(), r.FinishedAt)
	assert.Contains(t, r.Error, "timeout")

	// An assigned run that never started can time out too.
	a := newTestRun(t, 1)
	require.NoError(t, a.Assign("w1", t0))
	require.NoError(t, a.TimeOut(t0.Add(time.Hour)))
	assert.Equal(t, domain.RunTimedOut, a.State)
}

func TestRunCancel(t *testing.T) {
	for _, prepare := range []struct {
		name string
		f    func(*testing.T, *domain.Run)
	}{
		{"pending", func(*testing.T, *domain.Run) {}},
		{"assigned", func(t *testing.T, r *domain.Run) { require.NoError(t, r.Assign("w1", t0)) }},
		{"running", func(t *testing.T, r *domain.Run) { startRun(t, r, "w1", t0) }},
	} {
		t.Run(prepare.name, func(t *testing.T) {
			r := newTestRun(t, 5) // attempts left: a cancel still never retries
			prepare.f(t, &r)
			tCancel := t0.Add(time.Minute)
			require.NoError(t, r.Cancel("cancelled by alice", tCancel))
			assert.Equal(t, domain.RunCancelled, r.State)
			assert.Equal(t, "cancelled by alice", r.Error)
			assert.Equal(t, tCancel, r.FinishedAt)
			assert.Equal(t, 1, r.Attempt)
			assert.Empty(t, r.Attempts)
			requireUnchanged(t, &r, domain.ErrIllegalTransition, func(r *domain.Run) error { return r.Cancel("again", t0) })
		})
	}
	// A worker reporting "cancelled" (its handler saw the context end) is
	// not retried either.
	r := newTestRun(t, 5)
	startRun(t, &r, "w1", t0)
	require.NoError(t, r.Finish(domain.Report{WorkerID: "w1", Attempt: 1, State: domain.RunCancelled}, 0, t0))
	assert.Equal(t, domain.RunCancelled, r.State)
	assert.Empty(t, r.Attempts)

	// The reason is bounded.
	r = newTestRun(t, 1)
	require.NoError(t, r.Cancel(strings.Repeat("x", domain.MaxErrorLen+100), t0))
	assert.Len(t, r.Error, domain.MaxErrorLen)
}

func TestRunSkip(t *testing.T) {
	r := newTestRun(t, 3)
	require.NoError(t, r.Skip("misfire: window passed", t0))
	assert.Equal(t, domain.RunSkipped, r.State)
	assert.Equal(t, "misfire: window passed", r.Error)
	assert.Equal(t, t0, r.FinishedAt)

	r = newTestRun(t, 3)
	startRun(t, &r, "w1", t0)
	requireUnchanged(t, &r, domain.ErrIllegalTransition, func(r *domain.Run) error { return r.Skip("x", t0) })
}

func TestRunErrorIsBounded(t *testing.T) {
	r := newTestRun(t, 2)
	startRun(t, &r, "w1", t0)
	long := strings.Repeat("é", domain.MaxErrorLen) // 2 bytes each
	require.NoError(t, r.Finish(domain.Report{WorkerID: "w1", Attempt: 1, State: domain.RunFailed, Error: long}, 0, t0))
	assert.LessOrEqual(t, len(r.Error), domain.MaxErrorLen)
	assert.True(t, utf8.ValidString(r.Error))
	assert.LessOrEqual(t, len(r.Attempts[0].Error), domain.MaxErrorLen)
}

func TestRunAppendOutput(t *testing.T) {
	r := newTestRun(t, 3)
	require.NoError(t, r.Assign("w1", t0))
	requireUnchanged(t, &r, domain.ErrIllegalTransition, func(r *domain.Run) error {
		return r.AppendOutput("w1", 1, "too early", 100)
	})
	require.NoError(t, r.Start("w1", 1, t0))
	requireUnchanged(t, &r, domain.ErrStaleAttempt, func(r *domain.Run) error { return r.AppendOutput("w2", 1, "x", 100) })
	requireUnchanged(t, &r, domain.ErrStaleAttempt, func(r *domain.Run) error { return r.AppendOutput("w1", 2, "x", 100) })

	require.NoError(t, r.AppendOutput("w1", 1, "abc", 8))
	require.NoError(t, r.AppendOutput("w1", 1, "defgh", 8))
	assert.Equal(t, "abcdefgh", r.Output)
	require.NoError(t, r.AppendOutput("w1", 1, "ij", 8))
	assert.Equal(t, "cdefghij", r.Output, "keeps the last max bytes")

	// "€" is 3 bytes: the last 8 bytes of "cdefghij€€€" start inside the
	// first €, so that character is dropped whole.
	require.NoError(t, r.AppendOutput("w1", 1, "€€€", 8))
	assert.Equal(t, "€€", r.Output)
	assert.True(t, utf8.ValidString(r.Output))

	// Finish appends the report's output under its own bound.
	require.NoError(t, r.Finish(domain.Report{WorkerID: "w1", Attempt: 1, State: domain.RunSucceeded, Output: "!"}, 4, t0))
	assert.Equal(t, "€!", r.Output)
}

func TestRunFinishDefaultOutputBound(t *testing.T) {
	r := newTestRun(t, 1)
	startRun(t, &r, "w1", t0)
	big := strings.Repeat("a", domain.DefaultMaxOutput) + "tail"
	require.NoError(t, r.Finish(domain.Report{WorkerID: "w1", Attempt: 1, State: domain.RunSucceeded, Output: big}, 0, t0))
	assert.Len(t, r.Output, domain.DefaultMaxOutput)
	assert.True(t, strings.HasSuffix(r.Output, "tail"))
}

func TestTailString(t *testing.T) {
	tests := []struct {
		s    string
		max  int
		want string
	}{
		{"", 5, ""},
		{"abc", 5, "abc"},
		{"abc", 3, "abc"},
		{"abcdef", 3, "def"},
		{"abc", 0, "abc"},  // no bound
		{"abc", -1, "abc"}, // no bound
		{"aé", 2, "é"},
		{"éa", 2, "a"},
		{"x😀😀", 5, "😀"},
		{"x😀😀", 7, "😀"},
		{"x😀😀", 8, "😀😀"},
		{"ab€", 4, "b€"},
		{"ab€", 3, "€"},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, domain.TailString(tt.s, tt.max), "TailString(%q, %d)", tt.s, tt.max)
	}
}

// TestTailStringSmallMax: a bound smaller than the last character leaves
// nothing rather than a broken character.
func TestTailStringSmallMax(t *testing.T) {
	for _, tt := range []struct {
		s   string
		max int
	}{{"😀", 3}, {"😀", 1}, {"€", 2}, {"a€", 2}, {"é", 1}} {
		got := domain.TailString(tt.s, tt.max)
		assert.True(t, utf8.ValidString(got), "TailString(%q, %d) = %q", tt.s, tt.max, got)
		assert.LessOrEqual(t, len(got), tt.max, "TailString(%q, %d) = %q", tt.s, tt.max, got)
	}
}

// TestTailStringProperties: on valid UTF-8 the result is a valid suffix of
// at most max bytes that drops less than one character more than needed.
// (max is at least utf8.UTFMax here; see TestTailStringSmallMax.)
func TestTailStringProperties(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	alphabet := []string{"a", "Z", "\n", "é", "€", "😀", "ß"}
	for range 2000 {
		var b strings.Builder
		for range rng.IntN(30) {
			b.WriteString(alphabet[rng.IntN(len(alphabet))])
		}
		s := b.String()
		max := utf8.UTFMax + rng.IntN(len(s)+5)
		got := domain.TailString(s, max)
		if len(s) <= max {
			require.Equal(t, s, got)
			continue
		}
		require.True(t, strings.HasSuffix(s, got), "%q %d -> %q", s, max, got)
		require.True(t, utf8.ValidString(got), "%q %d -> %q", s, max, got)
		require.LessOrEqual(t, len(got), max, "%q %d -> %q", s, max, got)
		require.Greater(t, len(got), max-utf8.UTFMax, "%q %d -> %q dropped too much", s, max, got)
	}
}

func TestRunCloneIsDeep(t *testing.T) {
	r := newTestRun(t, 3)
	startRun(t, &r, "w1", t0)
	require.NoError(t, r.Finish(domain.Report{WorkerID: "w1", Attempt: 1, State: domain.RunFailed}, 0, t0))
	orig := r.Clone()
	c := r.Clone()
	require.Equal(t, r, c)
	c.Params[0] = 'X'
	c.Selector["zone"] = "z"
	c.Attempts[0].WorkerID = "other"
	c.Attempts = append(c.Attempts, domain.Attempt{Attempt: 9})
	assert.Equal(t, orig, r)
}

func TestPreviousWorkers(t *testing.T) {
	r := domain.Run{Attempts: []domain.Attempt{
		{Attempt: 1, WorkerID: "w1"},
		{Attempt: 2}, // never assigned
		{Attempt: 3, WorkerID: "w2"},
		{Attempt: 4, WorkerID: "w1"},
	}}
	assert.Equal(t, []string{"w1", "w2", "w1"}, r.PreviousWorkers())
	assert.Empty(t, (&domain.Run{}).PreviousWorkers())
}

func TestRunJSONRoundTrip(t *testing.T) {
	r := newTestRun(t, 3)
	startRun(t, &r, "w1", t0)
	require.NoError(t, r.Finish(domain.Report{WorkerID: "w1", Attempt: 1, State: domain.RunFailed, Error: "e"}, 0, t0))
	b, err := json.Marshal(r)
	require.NoError(t, err)
	var back domain.Run
	require.NoError(t, json.Unmarshal(b, &back))
	assert.Equal(t, r, back)
	// Unset times are omitted, not written as year 1.
	assert.NotContains(t, string(b), `"assigned_at"`)
	assert.NotContains(t, string(b), `"started_at":"0001`)
}
