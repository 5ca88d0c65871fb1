package scheduler

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func popAll(q *pendingQueue, now time.Time) []string {
	var out []string
	for {
		e, ok := q.popDue(now)
		if !ok {
			return out
		}
		out = append(out, e.id)
		q.park(e)
	}
}

func TestPendingQueueOrderParkAndUnpark(t *testing.T) {
	t0 := time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)
	q := newPendingQueue()
	q.put("c", time.Time{})
	q.put("a", time.Time{})
	q.put("retry-late", t0.Add(time.Minute))
	q.put("retry", t0.Add(-time.Second))
	q.put("b", time.Time{})
	require.Equal(t, 5, q.len())
	require.True(t, q.hasDue(t0))
	require.True(t, q.nextAfter(t0).IsZero(), "due runs first")

	// First attempts (no backoff) by ID, then retries by the end of their
	// backoff; a retry not due yet stays.
	e, ok := q.popDue(t0)
	require.True(t, ok)
	require.Equal(t, "a", e.id)
	q.remove("b") // dispatched meanwhile (its update removed it)
	q.park(e)     // "a" could not be dispatched
	require.Equal(t, []string{"c", "retry"}, popAll(q, t0))
	require.False(t, q.hasDue(t0), "the pass is over")
	require.Equal(t, t0.Add(time.Minute), q.nextAfter(t0))
	require.Equal(t, 4, q.len(), "parked runs are still pending")

	// A parked run that changes goes back into the heap at once; one that
	// is removed is not unparked.
	q.put("c", time.Time{})
	q.remove("retry")
	require.True(t, q.hasDue(t0))
	e, _ = q.popDue(t0)
	require.Equal(t, "c", e.id)
	q.park(e)
	q.unpark()
	require.Equal(t, []string{"a", "c"}, popAll(q, t0))
	q.unpark()
	require.Equal(t, []string{"a", "c", "retry-late"}, popAll(q, t0.Add(time.Hour)))
	require.Equal(t, 3, q.len())
	require.True(t, q.has("a"))
	require.False(t, q.has("retry"))
}
