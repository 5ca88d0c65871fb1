package contract

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pink-scheduler/pink/domain"
	"github.com/pink-scheduler/pink/ports"
)

// Timeout bounds every wait of the suites: a channel that should close, an
// event that should arrive, a campaign that should win. It is far above
// what a correct adapter needs; the suites never sleep.
const Timeout = 5 * time.Second

// t0 is the reference time of the fixtures.
var t0 = time.Date(2026, 11, 26, 16, 0, 0, 0, time.UTC)

// waitFor fails the test unless ch is closed within d.
func waitFor(t testing.TB, ch <-chan struct{}, d time.Duration, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(d):
		t.Fatalf("timed out after %s waiting for %s", d, what)
	}
}

// notClosed fails the test if ch is already closed.
func notClosed(t testing.TB, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
		t.Fatalf("%s is closed", what)
	default:
	}
}

// recv returns the next value of ch, failing the test if none arrives
// within Timeout or ch is closed.
func recv[E any](t testing.TB, ch <-chan E) E {
	t.Helper()
	select {
	case e, ok := <-ch:
		if !ok {
			t.Fatalf("channel closed, want another event")
		}
		return e
	case <-time.After(Timeout):
		t.Fatalf("timed out after %s waiting for an event", Timeout)
	}
	panic("unreachable")
}

// waitClosed drains ch until it is closed, failing the test if that takes
// longer than Timeout. It returns what it drained.
func waitClosed[E any](t testing.TB, ch <-chan E) []E {
	t.Helper()
	var got []E
	deadline := time.After(Timeout)
	for {
		select {
		case e, ok := <-ch:
			if !ok {
				return got
			}
			got = append(got, e)
		case <-deadline:
			t.Fatalf("channel not closed after %s (drained %d events)", Timeout, len(got))
		}
	}
}

// timeoutCtx returns a context that ends after Timeout or with the test.
func timeoutCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), Timeout)
	t.Cleanup(cancel)
	return ctx
}

// campaign makes an elector for nodeID and waits until it leads. The
// leadership is resigned when the test ends.
func campaign(t *testing.T, b Backend, nodeID string) ports.Leadership {
	t.Helper()
	l, err := b.NewElector(t, nodeID).Campaign(timeoutCtx(t))
	require.NoError(t, err, "campaign as %s", nodeID)
	t.Cleanup(func() { _ = l.Resign(context.Background()) })
	return l
}

// newGroup returns a valid group.
func newGroup(name string) domain.Group {
	return domain.Group{Name: name, Description: "group " + name, CreatedAt: t0, UpdatedAt: t0}
}

// newJob returns a valid, normalized job; maxAttempts 0 means 1 (no
// retry), so that a failed run is final.
func newJob(id, group string, maxAttempts int) domain.Job {
	if maxAttempts == 0 {
		maxAttempts = 1
	}
	j := domain.Job{
		ID: id, Group: group, Name: "job " + id, Schedule: "*/5 * * * *", Handler: "echo",
		Params: json.RawMessage(`{"n":1}`), Labels: map[string]string{"team": "core"},
		Retry:    domain.Retry{MaxAttempts: maxAttempts},
		PlanFrom: t0, CreatedAt: t0, UpdatedAt: t0,
	}
	j.Normalize()
	return j
}

// fireWrite returns the write of the scheduled fire of j at nominal with
// j.Shards pending runs.
func fireWrite(j domain.Job, nominal time.Time) ports.FireWrite {
	f := domain.Fire{
		ID: domain.FireID(j.ID, nominal), JobID: j.ID, Group: j.Group, Nominal: nominal,
		Kind: domain.FireScheduled, Status: domain.FireDispatched, CreatedAt: nominal,
	}
	return withRuns(j, f)
}

// manualFireWrite returns the write of a manual fire of j at at.
func manualFireWrite(j domain.Job, at time.Time, nonce string) ports.FireWrite {
	f := domain.Fire{
		ID: domain.ManualFireID(j.ID, at, nonce), JobID: j.ID, Group: j.Group, Nominal: at,
		Kind: domain.FireManual, Status: domain.FireDispatched, TriggeredBy: "tester", CreatedAt: at,
	}
	return withRuns(j, f)
}

// skipFireWrite returns a skipped scheduled fire of j at nominal, without
// runs.
func skipFireWrite(j domain.Job, nominal time.Time) ports.FireWrite {
	return ports.FireWrite{Fire: domain.Fire{
		ID: domain.FireID(j.ID, nominal), JobID: j.ID, Group: j.Group, Nominal: nominal,
		Kind: domain.FireScheduled, Status: domain.FireSkipped, Reason: domain.SkipMisfire, CreatedAt: nominal,
	}}
}

func withRuns(j domain.Job, f domain.Fire) ports.FireWrite {
	w := ports.FireWrite{Fire: f}
	for i := range j.Shards {
		r := domain.NewRun(&j, &f, i, f.Nominal)
		w.Runs = append(w.Runs, r)
		w.Fire.RunIDs = append(w.Fire.RunIDs, r.ID)
	}
	return w
}

// createFires writes fires with fence and requires every one to be
// created.
func createFires(t testing.TB, fires ports.FireStore, fence ports.Fence, ws ...ports.FireWrite) {
	t.Helper()
	created, err := fires.CreateFires(timeoutCtx(t), fence, ws)
	require.NoError(t, err)
	require.Len(t, created, len(ws))
	for i, c := range created {
		require.True(t, c, "fire %s not created", ws[i].Fire.ID)
	}
}

// updateRun applies fn to run id and requires it to succeed.
func updateRun(t testing.TB, runs ports.RunStore, id string, fn func(*domain.Run) error) domain.Run {
	t.Helper()
	r, err := runs.UpdateRun(timeoutCtx(t), id, fn)
	require.NoError(t, err, "update run %s", id)
	return r
}

// assign returns an update that assigns a run to worker.
func assign(worker string) func(*domain.Run) error {
	return func(r *domain.Run) error { return r.Assign(worker, t0) }
}

// finish returns an update that assigns a pending run to worker, starts
// it and finishes it in state s.
func finish(worker string, s domain.RunState) func(*domain.Run) error {
	return func(r *domain.Run) error {
		if r.State == domain.RunPending {
			if err := r.Assign(worker, t0); err != nil {
				return err
			}
		}
		if r.State == domain.RunAssigned {
			if err := r.Start(r.WorkerID, r.Attempt, t0); err != nil {
				return err
			}
		}
		return r.Finish(domain.Report{RunID: r.ID, WorkerID: r.WorkerID, Attempt: r.Attempt, State: s}, 0, r.ScheduledAt.Add(time.Minute))
	}
}

// walkPages lists every page of a listing with the given limit and returns
// the items in order, checking that each page respects the limit and the
// walk ends.
func walkPages[T any](t testing.TB, limit int, list func(ports.PageRequest) (ports.Page[T], error)) []T {
	t.Helper()
	var all []T
	p := ports.PageRequest{Limit: limit}
	for i := 0; ; i++ {
		require.Less(t, i, 1000, "the cursor walk does not end")
		page, err := list(p)
		require.NoError(t, err)
		require.LessOrEqual(t, len(page.Items), limit, "page longer than the limit")
		all = append(all, page.Items...)
		if page.NextCursor == "" {
			return all
		}
		require.NotEqual(t, p.Cursor, page.NextCursor, "the cursor does not move")
		p.Cursor = page.NextCursor
	}
}

// badCursors are cursors no adapter makes.
var badCursors = []string{"%%% not a cursor %%%", "\x00\xff", "/pink/job/instances/../../etc"}

// checkBadCursors requires list to refuse every bad cursor with
// domain.ErrInvalid.
func checkBadCursors[T any](t testing.TB, list func(ports.PageRequest) (ports.Page[T], error)) {
	t.Helper()
	for _, c := range badCursors {
		_, err := list(ports.PageRequest{Cursor: c})
		require.ErrorIs(t, err, domain.ErrInvalid, "cursor %q", c)
	}
}

// errSentinel is a callback error the Update tests check propagates.
var errSentinel = errors.New("contract: callback refused")

// ids returns the IDs of items.
func ids[T any](items []T, id func(T) string) []string {
	var out []string
	for _, x := range items {
		out = append(out, id(x))
	}
	return out
}

func jobID(j domain.Job) string       { return j.ID }
func runID(r domain.Run) string       { return r.ID }
func workerID(w domain.Worker) string { return w.ID }
func nodeID(n domain.Node) string     { return n.ID }
func groupName(g domain.Group) string { return g.Name }
