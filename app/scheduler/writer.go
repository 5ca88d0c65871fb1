package scheduler

import (
	"context"
	"fmt"
	"sync"

	"github.com/pink-scheduler/pink/domain"
	"github.com/pink-scheduler/pink/ports"
)

// maxInFlight bounds the CreateFires calls a term has in flight at once.
// Fires are create-if-absent and every write is fenced, so batches written
// concurrently cannot double a fire nor land after the term is over; the
// pipeline only hides the store's round trip (and fsync) behind the
// building of the next batches.
const maxInFlight = 4

// flight is one batch of fires handed to a writer goroutine.
type flight struct {
	fires   []ports.FireWrite
	jobs    []*jobEntry // the job of each fire, to release their flying count
	pending int         // runs written pending (no worker yet)
	created []bool
	err     error
}

// writers is the term's pipeline of CreateFires calls. It is owned by the
// loop, except done, on which the writer goroutines hand their results
// back (it has room for every batch in flight, so they never block).
type writers struct {
	wg       *sync.WaitGroup
	done     chan *flight
	inFlight int
	// pending counts the runs written pending in the batches in flight:
	// the loop must not update those runs before they exist.
	pending int
	err     error // the first error; the term ends with it
}

func newWriters(wg *sync.WaitGroup) writers {
	return writers{wg: wg, done: make(chan *flight, maxInFlight)}
}

// add appends a fire of job e to the batch. A job never has fires in two
// batches in flight: if one of its batches is in flight, add waits for
// every batch in flight first. So a job's fires land in the order they
// were made, and a batch that fails ends the term before a newer fire of
// the same job is written (the next term catches up from the newest fire
// of each job; a gap behind it would be lost).
func (t *term) add(ctx context.Context, e *jobEntry, w ports.FireWrite) error {
	if e.flying > 0 {
		if err := t.drain(ctx); err != nil {
			return err
		}
	}
	t.batch = append(t.batch, w)
	t.batchJobs = append(t.batchJobs, e)
	for i := range w.Runs {
		if w.Runs[i].State == domain.RunPending {
			t.batchPending++
		}
	}
	return nil
}

// flush hands the batched fires to a writer goroutine, fenced, after
// waiting for a slot if maxInFlight batches are in flight. It returns the
// first error of a batch already finished: a refused fence ends the term,
// and no write is started after it.
func (t *term) flush(ctx context.Context) error {
	if t.w.err != nil {
		return t.w.err
	}
	if len(t.batch) == 0 {
		return nil
	}
	for t.w.inFlight >= maxInFlight {
		if err := t.receive(<-t.w.done); err != nil {
			return err
		}
	}
	f := &flight{fires: t.batch, jobs: t.batchJobs, pending: t.batchPending}
	t.batch, t.batchJobs, t.batchPending = nil, nil, 0
	for _, e := range f.jobs {
		e.flying++
	}
	t.w.inFlight++
	t.w.pending += f.pending
	t.w.wg.Go(func() {
		f.created, f.err = t.cfg.Fires.CreateFires(ctx, t.fence, f.fires)
		if n := countCreated(f); n > 0 {
			// Counted here, when the fires are committed, not when the loop
			// gets to the result.
			t.s.setStatus(func(st *Status) { st.Fired += n })
		}
		t.w.done <- f
	})
	return nil
}

// countCreated counts the fires of f that were written. Without an error,
// a fire the store did not report on counts as written.
func countCreated(f *flight) int64 {
	n := int64(0)
	for i := range f.fires {
		if i < len(f.created) && f.created[i] || i >= len(f.created) && f.err == nil {
			n++
		}
	}
	return n
}

// sync writes the batch and waits for every batch in flight: afterwards
// every fire and run the term made exists in the store (or the term ends
// with the first error).
func (t *term) sync(ctx context.Context) error {
	if err := t.flush(ctx); err != nil {
		return err
	}
	return t.drain(ctx)
}

// drain waits for every batch in flight (the unsent batch stays).
func (t *term) drain(ctx context.Context) error {
	for t.w.inFlight > 0 {
		if err := t.receive(<-t.w.done); err != nil {
			return err
		}
	}
	return t.w.err
}

// poll takes the results of the batches finished so far, without waiting.
func (t *term) poll() error {
	for t.w.inFlight > 0 {
		select {
		case f := <-t.w.done:
			if err := t.receive(f); err != nil {
				return err
			}
		default:
			return t.w.err
		}
	}
	return t.w.err
}

// receive records the result of a finished batch. A fire that already
// existed (written by an earlier term) leaves its runs to the store: the
// runs fireDue put in the view for it are dropped again unless the store's
// own value (seen by a scan or the watch) has replaced them.
func (t *term) receive(f *flight) error {
	t.w.inFlight--
	t.w.pending -= f.pending
	for _, e := range f.jobs {
		e.flying--
	}
	if f.pending > 0 {
		t.dispatchDirty = true // its pending runs exist now
	}
	if f.err != nil {
		if t.w.err == nil {
			t.w.err = fmt.Errorf("record %d fires: %w", len(f.fires), f.err)
		}
		return t.w.err
	}
	for i, w := range f.fires {
		if i < len(f.created) && !f.created[i] {
			t.log.Debug("fire already recorded", "fire", w.Fire.ID)
			for _, r := range w.Runs {
				if cur, ok := t.v.runs[r.ID]; ok && cur.Version == 0 {
					t.v.dropRun(r.ID)
				}
			}
		}
	}
	return nil
}
