package etcd

import (
	"context"
	"sync"
	"time"

	"github.com/pink-scheduler/pink/domain"
)

// A worker's watch (WatchAssigned) sees a run leave the worker's prefix as
// a delete of its assignment key, and must tell a cancellation (reported as
// the cancelled run) from every other way out. Without help that takes a
// read of the run's history key at the delete's revision. But most of
// those deletes are the worker's own report, written through the same
// Store a moment before: the Store remembers the moves off an assignment
// key it writes (the key, the ModRevision the write compared, the value
// written and the revision it landed at), and the watch uses that instead
// of the read. It is only a shortcut: a delete the Store did not write, or
// one it no longer remembers, is read as before, so what the watch reports
// is exactly the same.

// maxMoves bounds the moves a Store remembers. The worker's watch takes
// each of its own moves as it sees it; the others (a leader's failovers, a
// user's cancellations, moves of workers this process does not watch) stay
// until evicted.
const maxMoves = 4096

// moveWait bounds how long a watch waits for the outcome of a write of
// this Store whose delete it already saw (normally the time for the Txn's
// response to arrive) before it reads the store instead.
const moveWait = 2 * time.Second

// move is one write of this Store that moves a run off an assignment key.
type move struct {
	from int64 // the assignment key's ModRevision the write compared
	// cancelled is the run written if the move is a cancellation (the run
	// cancelled, under its history key, which is what the watch would
	// read), nil otherwise.
	cancelled *domain.Run
	to        string        // the key written
	done      chan struct{} // closed when the write's outcome is known
	landed    int64         // after done: the write's revision, 0 if it did not land (or unknown)
}

// moveLog is the moves a Store remembers, by the assignment key moved
// from. The zero value is ready to use.
type moveLog struct {
	mu sync.Mutex
	m  map[string]*move
}

// begin records a write about to move a run off key (at ModRevision from)
// to key to; cancelled is the run written if the move is a cancellation.
// The caller must call end with its outcome.
func (l *moveLog) begin(key string, from int64, to string, cancelled *domain.Run) *move {
	mv := &move{from: from, cancelled: cancelled, to: to, done: make(chan struct{})}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.m == nil {
		l.m = make(map[string]*move)
	}
	if _, ok := l.m[key]; !ok && len(l.m) >= maxMoves {
		for k := range l.m { // evict one: any will do, a miss only costs a read
			delete(l.m, k)
			break
		}
	}
	l.m[key] = mv
	return mv
}

// end records the outcome of mv's write: the revision it landed at, or 0.
// mv may be nil.
func (l *moveLog) end(mv *move, landed int64) {
	if mv == nil {
		return
	}
	mv.landed = landed
	close(mv.done)
}

// take returns this Store's move of key that landed at revision
// rev, where prevModRev is the key's ModRevision before the delete, and
// forgets it. If the move's write is still in flight, it waits for its
// outcome (up to moveWait, or ctx). It reports false if this Store did not
// write that delete, as far as it knows.
func (l *moveLog) take(ctx context.Context, key string, prevModRev, rev int64) (*move, bool) {
	l.mu.Lock()
	mv, ok := l.m[key]
	l.mu.Unlock()
	if !ok || mv.from != prevModRev {
		return nil, false
	}
	select {
	case <-mv.done:
	default:
		t := time.NewTimer(moveWait)
		select {
		case <-mv.done:
		case <-t.C:
		case <-ctx.Done():
		}
		t.Stop()
	}
	select {
	case <-mv.done:
	default:
		return nil, false
	}
	l.mu.Lock()
	if l.m[key] == mv {
		delete(l.m, key)
	}
	l.mu.Unlock()
	// Only one write can delete the key at prevModRev: if this one landed
	// at rev, the delete is its own.
	return mv, mv.landed == rev
}

// size returns how many moves are remembered (for tests).
func (l *moveLog) size() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.m)
}
