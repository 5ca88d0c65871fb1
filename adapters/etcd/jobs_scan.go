package etcd

import (
	"context"
	"runtime"
	"sync"

	"go.etcd.io/etcd/api/v3/mvccpb"

	"github.com/pink-scheduler/pink/domain"
)

// ScanJobs reads every job from one revision, scanPage keys a request (see
// scanRange). Each page is decoded by GOMAXPROCS goroutines while the next
// one is read; fn is called from the caller's goroutine, in key order.
func (s *Store) ScanJobs(ctx context.Context, fn func(domain.Job) error) (int64, error) {
	return scanDecoded(ctx, s, "scan jobs", s.k.jobs(), prefixEnd(s.k.jobs()), decodeJob, fn)
}

// decodeChunk is the fewest keys one decoding task gets: smaller pages are
// split into fewer tasks.
const decodeChunk = 64

// scanDecoded scans [start, end) like scanRange and calls fn with each
// value decoded, in key order, from the caller's goroutine. A reader
// goroutine reads the pages and hands each to runtime.GOMAXPROCS(0)
// decoding goroutines, in chunks, then to the caller, and goes on to the
// next page while the caller waits for the chunks and calls fn: reading,
// decoding and fn overlap. At most two pages are read ahead of fn.
//
// It stops at the first error in key order (a decode error, fn's error,
// or a read error after fn saw every key before it) and returns only once
// every goroutine it started has ended.
func scanDecoded[T any](ctx context.Context, s *Store, what, start, end string,
	decode func(key string, b []byte) (T, error), fn func(T) error) (rev int64, err error) {
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	var readRev int64
	var readErr error
	defer func() {
		// Stop the reader (it may be blocked handing over a page) and
		// wait for every goroutine before returning.
		cancel()
		wg.Wait()
		if rev == 0 {
			rev = readRev
		}
	}()

	// page is one range response being decoded: errs has one entry per
	// chunk (its first decode error, at index errAt), and done is
	// released when every chunk is done.
	type page struct {
		items []T
		errs  []error
		errAt []int
		done  sync.WaitGroup
	}
	type task struct {
		p      *page
		kvs    []*mvccpb.KeyValue
		lo, hi int
		chunk  int
	}
	workers := runtime.GOMAXPROCS(0)
	tasks := make(chan task, workers)
	pages := make(chan *page, 1)
	for range workers {
		wg.Go(func() {
			for t := range tasks {
				for i := t.lo; i < t.hi; i++ {
					v, err := decode(string(t.kvs[i].Key), t.kvs[i].Value)
					if err != nil {
						t.p.errs[t.chunk], t.p.errAt[t.chunk] = err, i
						break
					}
					t.p.items[i] = v
				}
				t.p.done.Done()
			}
		})
	}

	wg.Go(func() {
		defer close(tasks)
		defer close(pages)
		readRev, readErr = s.scanPages(ctx, what, start, end, 0, false, func(kvs []*mvccpb.KeyValue) error {
			if len(kvs) == 0 {
				return nil
			}
			n := min(workers, (len(kvs)+decodeChunk-1)/decodeChunk)
			p := &page{items: make([]T, len(kvs)), errs: make([]error, n), errAt: make([]int, n)}
			p.done.Add(n)
			size := (len(kvs) + n - 1) / n
			for c := range n {
				t := task{p: p, kvs: kvs, lo: c * size, hi: min((c+1)*size, len(kvs)), chunk: c}
				select {
				case tasks <- t:
				case <-ctx.Done():
					// The caller stopped; nobody waits for this page.
					return ctx.Err()
				}
			}
			// Every chunk of p is queued: a caller waiting for it cannot
			// wait forever.
			select {
			case pages <- p:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		})
	})

	for p := range pages {
		p.done.Wait()
		items, failed := p.items, error(nil)
		for c, err := range p.errs {
			if err != nil {
				items, failed = p.items[:p.errAt[c]], err
				break
			}
		}
		for _, v := range items {
			if err := fn(v); err != nil {
				return 0, err
			}
		}
		if failed != nil {
			return 0, failed
		}
	}
	// pages is closed: the reader is done, and readRev and readErr are set.
	return readRev, readErr
}
