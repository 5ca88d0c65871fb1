package memory

import (
	"encoding/json"
	"fmt"
	"sync"

	"github.com/pink-scheduler/pink/domain"
	"github.com/pink-scheduler/pink/ports"
)

// Defaults of the options.
const (
	// DefaultMaxValueSize mirrors etcd's default request size limit
	// (--max-request-bytes, 1.5 MiB): a bigger record is refused.
	DefaultMaxValueSize = 3 << 19
	// DefaultHistory is how many change events the backend keeps for
	// watches. A watch that falls further behind gets domain.ErrCompacted.
	DefaultHistory = 10_000
	// maxUpdateRetries bounds the compare-and-swap loop of the Update
	// methods before they give up with domain.ErrConflict.
	maxUpdateRetries = 100
)

// Option configures a Backend.
type Option func(*Backend)

// WithMaxValueSize sets the largest encoded record the backend accepts, in
// bytes (default DefaultMaxValueSize).
func WithMaxValueSize(n int) Option {
	return func(b *Backend) {
		if n > 0 {
			b.maxValue = n
		}
	}
}

// WithHistory sets how many change events the backend keeps for watches
// (default DefaultHistory). Older events are dropped as if compacted.
func WithHistory(n int) Option {
	return func(b *Backend) {
		if n > 0 {
			b.history = n
		}
	}
}

// Backend is an in-memory store implementing ports.GroupStore,
// ports.JobStore, ports.FireStore, ports.RunStore, ports.WorkerRegistry and
// ports.NodeRegistry; NewElector makes ports.Elector values on it. It is
// safe for concurrent use. The zero value is not usable: call New.
type Backend struct {
	clock    ports.Clock
	maxValue int
	history  int

	mu  sync.Mutex
	rev int64 // revision of the last write, like etcd's header revision

	groups  map[string]domain.Group
	jobs    map[string]domain.Job // by job ID
	fires   map[string]domain.Fire
	runs    map[string]domain.Run
	workers map[string]workerRec // by worker ID
	nodes   map[string]nodeRec   // by node ID
	auth    authState            // users, tokens and the audit log (auth.go)

	// candidates of the election, in create-revision order: the first is
	// the leader.
	candidates []*candidate
	nextLease  int64

	// log holds the recent change events watches read; log[i] has
	// sequence number firstSeq+i. compactRev is the oldest revision a watch
	// may start from.
	log        []entry
	firstSeq   int64
	compactRev int64

	// notify is closed and replaced after every write: watchers and
	// campaigners wait on it.
	notify chan struct{}

	closed bool
	stop   chan struct{} // closed by Close
	wg     sync.WaitGroup
}

var (
	_ ports.GroupStore     = (*Backend)(nil)
	_ ports.JobStore       = (*Backend)(nil)
	_ ports.FireStore      = (*Backend)(nil)
	_ ports.RunStore       = (*Backend)(nil)
	_ ports.WorkerRegistry = (*Backend)(nil)
	_ ports.NodeRegistry   = (*Backend)(nil)
)

// New returns an empty backend whose leases expire on clock, which must
// not be nil (pass clock.System{} or a clock.Fake). It starts no
// goroutine, so it can be created inside a testing/synctest bubble (with
// clock.System) as well as with clock.Fake.
func New(clock ports.Clock, opts ...Option) *Backend {
	b := &Backend{
		clock:      clock,
		maxValue:   DefaultMaxValueSize,
		history:    DefaultHistory,
		groups:     map[string]domain.Group{},
		jobs:       map[string]domain.Job{},
		fires:      map[string]domain.Fire{},
		runs:       map[string]domain.Run{},
		workers:    map[string]workerRec{},
		nodes:      map[string]nodeRec{},
		firstSeq:   1,
		compactRev: 1,
		notify:     make(chan struct{}),
		stop:       make(chan struct{}),
	}
	for _, o := range opts {
		o(b)
	}
	return b
}

// Revision returns the revision of the last write.
func (b *Backend) Revision() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.rev
}

// Close ends every watch (their channels close) and every pending lease
// expiry, and waits for the backend's goroutines to exit. Leases and
// leaderships are left as they are. Close is safe to call more than once;
// the stores keep answering reads and writes after it, but new watches
// close at once and Campaign fails with domain.ErrClosed.
func (b *Backend) Close() {
	b.mu.Lock()
	if !b.closed {
		b.closed = true
		close(b.stop)
	}
	b.mu.Unlock()
	b.wg.Wait()
}

// Compact forgets the change history up to the current revision, as etcd's
// compaction does: a watch starting before the current revision gets
// domain.ErrCompacted, and so does a running watch that has not read it
// all yet.
func (b *Backend) Compact() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.compactTo(b.rev)
}

// compactTo drops the events older than rev. Callers hold mu.
func (b *Backend) compactTo(rev int64) {
	if rev <= b.compactRev {
		return
	}
	n := 0
	for n < len(b.log) && b.log[n].rev < rev {
		n++
	}
	clear(b.log[:n]) // let the dropped values be collected
	b.log = b.log[n:]
	b.firstSeq += int64(n)
	b.compactRev = rev
}

// bump starts a write: it increments the revision and returns it. Callers
// hold mu and must call publish before releasing it.
func (b *Backend) bump() int64 {
	b.rev++
	return b.rev
}

// publish appends the events of the write at the current revision to the
// log, trims the log to its bound and wakes up watchers and campaigners.
// Callers hold mu.
func (b *Backend) publish(events ...entry) {
	for _, e := range events {
		e.rev = b.rev
		b.log = append(b.log, e)
	}
	if over := len(b.log) - b.history; over > 0 {
		// Drop whole revisions, as a compaction does.
		b.compactTo(b.log[over-1].rev + 1)
	}
	close(b.notify)
	b.notify = make(chan struct{})
}

// checkSize refuses a record whose JSON encoding exceeds the size limit, or
// that cannot be encoded at all (invalid JSON params, for example), as the
// etcd adapter would.
func (b *Backend) checkSize(what string, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("%s: %w", what, &domain.ValidationError{Field: "value", Reason: "cannot be encoded: " + err.Error()})
	}
	if len(data) > b.maxValue {
		return fmt.Errorf("%s: %w", what, &domain.ValidationError{Field: "value",
			Reason: fmt.Sprintf("encoded record is %d bytes, more than the limit of %d", len(data), b.maxValue)})
	}
	return nil
}
