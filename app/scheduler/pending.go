package scheduler

import (
	"container/heap"
	"time"
)

// pendingQueue holds the IDs of the pending runs of the view, for
// dispatchPending to take a bounded number per turn instead of sorting all
// of them after every event.
//
// A run is in one of two places. The heap orders the runs by NotBefore
// (the end of a retry's backoff; zero for a first attempt), then ID (which
// starts with the nominal time): a turn pops the due ones, earliest first.
// A run that a turn could not dispatch (no worker can take it now) is
// parked: it stays pending and out of the heap until the heap holds no due
// run any more and something changed (capacity freed, a worker came); then
// unpark puts every parked run back and a new pass begins. So a turn never
// looks at the same run twice, and runs that cannot be dispatched do not
// hide the ones behind them.
//
// Owned by the term loop; not locked.
type pendingQueue struct {
	h      pendHeap
	idx    map[string]*pendEntry
	parked []*pendEntry
}

type pendEntry struct {
	id        string
	notBefore time.Time
	pos       int  // index in h; -1 when popped or parked
	gone      bool // removed from the queue (a parked entry is removed lazily)
}

func newPendingQueue() *pendingQueue {
	return &pendingQueue{idx: make(map[string]*pendEntry)}
}

// len returns the number of pending runs, parked ones included.
func (q *pendingQueue) len() int { return len(q.idx) }

// has reports whether id is pending.
func (q *pendingQueue) has(id string) bool {
	_, ok := q.idx[id]
	return ok
}

// put adds a pending run to the heap, or moves it there with its new
// NotBefore if it was already queued.
func (q *pendingQueue) put(id string, notBefore time.Time) {
	q.remove(id)
	e := &pendEntry{id: id, notBefore: notBefore}
	q.idx[id] = e
	heap.Push(&q.h, e)
}

// remove drops id, wherever it is.
func (q *pendingQueue) remove(id string) {
	e, ok := q.idx[id]
	if !ok {
		return
	}
	delete(q.idx, id)
	e.gone = true
	if e.pos >= 0 {
		heap.Remove(&q.h, e.pos)
	}
}

// hasDue reports whether the heap holds a run due at now.
func (q *pendingQueue) hasDue(now time.Time) bool {
	return len(q.h) > 0 && !q.h[0].notBefore.After(now)
}

// nextAfter returns the earliest NotBefore in the heap if it is after now
// (a retry's backoff ends then), or zero.
func (q *pendingQueue) nextAfter(now time.Time) time.Time {
	if len(q.h) > 0 && q.h[0].notBefore.After(now) {
		return q.h[0].notBefore
	}
	return time.Time{}
}

// popDue takes the earliest due run out of the heap. It stays pending:
// the caller dispatches it (its update removes it) or parks it.
func (q *pendingQueue) popDue(now time.Time) (*pendEntry, bool) {
	if !q.hasDue(now) {
		return nil, false
	}
	return heap.Pop(&q.h).(*pendEntry), true
}

// park sets aside a popped run until the next pass. A run updated since it
// was popped (removed, or queued again) is left alone.
func (q *pendingQueue) park(e *pendEntry) {
	if e.gone || e.pos >= 0 {
		return
	}
	q.parked = append(q.parked, e)
}

// unpark puts the parked runs back into the heap.
func (q *pendingQueue) unpark() {
	for i, e := range q.parked {
		if !e.gone && e.pos < 0 {
			heap.Push(&q.h, e)
		}
		q.parked[i] = nil
	}
	q.parked = q.parked[:0]
}

type pendHeap []*pendEntry

func (h pendHeap) Len() int { return len(h) }
func (h pendHeap) Less(i, j int) bool {
	if c := h[i].notBefore.Compare(h[j].notBefore); c != 0 {
		return c < 0
	}
	return h[i].id < h[j].id
}
func (h pendHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].pos, h[j].pos = i, j
}
func (h *pendHeap) Push(x any) {
	e := x.(*pendEntry)
	e.pos = len(*h)
	*h = append(*h, e)
}
func (h *pendHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	e.pos = -1
	return e
}
