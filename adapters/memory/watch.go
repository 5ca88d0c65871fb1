package memory

import (
	"context"
	"fmt"
	"sort"

	"github.com/pink-scheduler/pink/domain"
)

// kind tells the records of the event log apart.
type kind uint8

const (
	kindJob kind = iota + 1
	kindRun
	kindWorker
)

// entry is one change in the event log. prev and val are private copies
// that are never changed; watchers clone them again before handing them
// out.
type entry struct {
	rev  int64
	kind kind
	prev any // the value before the change; nil for a creation
	val  any // the value after the change; nil for a deletion
}

// watchBatch bounds the events a watcher copies out of the log under the
// lock at a time.
const watchBatch = 256

// watch starts a goroutine that delivers, in log order, the events that
// conv makes of the entries after revision after, until ctx is done or the
// backend closes. conv returns false to skip an entry; fail makes the last
// event of a watch that fell behind the log. The goroutine never blocks a
// writer: it reads the log under the lock and sends without it.
func watch[E any](ctx context.Context, b *Backend, after int64, conv func(entry) (E, bool), fail func(error) E) <-chan E {
	out := make(chan E)
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		close(out)
		return out
	}
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		defer close(out)
		w := watcher[E]{b: b, ctx: ctx, out: out}
		w.run(after, conv, fail)
	}()
	return out
}

// watcher is the state of one watch goroutine.
type watcher[E any] struct {
	b   *Backend
	ctx context.Context
	out chan<- E
}

// send delivers ev, and reports false if the watch must end first.
func (w *watcher[E]) send(ev E) bool {
	select {
	case w.out <- ev:
		return true
	case <-w.ctx.Done():
		return false
	case <-w.b.stop:
		return false
	}
}

func (w *watcher[E]) run(after int64, conv func(entry) (E, bool), fail func(error) E) {
	b := w.b
	b.mu.Lock()
	if after+1 < b.compactRev {
		compactRev := b.compactRev
		b.mu.Unlock()
		w.send(fail(fmt.Errorf("watch from revision %d, compacted up to %d: %w", after+1, compactRev, domain.ErrCompacted)))
		return
	}
	// The first event to deliver is the first one after revision after.
	seq := b.firstSeq + int64(sort.Search(len(b.log), func(i int) bool { return b.log[i].rev > after }))
	b.mu.Unlock()

	var batch []entry
	for {
		b.mu.Lock()
		if seq < b.firstSeq {
			compactRev := b.compactRev
			b.mu.Unlock()
			w.send(fail(fmt.Errorf("watcher fell behind, history compacted up to revision %d: %w", compactRev, domain.ErrCompacted)))
			return
		}
		i := int(seq - b.firstSeq)
		batch = append(batch[:0], b.log[i:min(i+watchBatch, len(b.log))]...)
		seq += int64(len(batch))
		notify := b.notify
		b.mu.Unlock()

		for _, e := range batch {
			if e.rev <= after {
				continue // a watch from a future revision waits for it
			}
			if ev, ok := conv(e); ok && !w.send(ev) {
				return
			}
		}
		clear(batch)
		if len(batch) > 0 {
			continue
		}
		select {
		case <-notify:
		case <-w.ctx.Done():
			return
		case <-b.stop:
			return
		}
	}
}
