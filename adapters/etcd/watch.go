package etcd

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/pink-scheduler/pink/domain"
)

// watchSpec says what to watch: the keys [key, end), after a revision.
type watchSpec struct {
	name     string // for log lines
	key, end string
	// after is the last revision the caller has seen; the watch starts at
	// after+1. 0 (or less) means "from now".
	after int64
}

// Restart backoff after a watch stream fails for a reason other than
// compaction (no leader, a broken connection the client gave up on, ...).
const (
	watchRetryMin = 50 * time.Millisecond
	watchRetryMax = 5 * time.Second
)

// watchBuffer is how many translated events may wait for the reader.
const watchBuffer = 64

// watch runs one watch of spec in a goroutine it owns and returns the
// channel of translated events. translate turns the events of one watch
// response (all of one or more whole revisions, in order) into port
// events (it may read the store with the ctx it gets); fail makes the
// final error event.
//
// The goroutine resumes from the revision after the last one it delivered
// when the stream fails, so the reader sees no gap and no repeat; when that
// revision has been compacted it logs it, sends fail(domain.ErrCompacted)
// and closes the channel. It closes the channel when ctx is done (without
// an error event) and, after an error event, when the client is closed. It
// never outlives ctx.
func watch[T any](ctx context.Context, s *Store, spec watchSpec,
	translate func(context.Context, []*clientv3.Event) []T, fail func(error) T) <-chan T {
	out := make(chan T, watchBuffer)
	go func() {
		defer close(out)
		w := watcher[T]{s: s, spec: spec, out: out, translate: translate, fail: fail, next: max(spec.after+1, 0)}
		w.run(ctx)
	}()
	return out
}

// watcher is the state of one watch goroutine.
type watcher[T any] struct {
	s         *Store
	spec      watchSpec
	out       chan<- T
	translate func(context.Context, []*clientv3.Event) []T
	fail      func(error) T
	// next is the first revision not yet delivered; 0 until known when
	// the caller asked for "from now".
	next int64
}

func (w *watcher[T]) run(ctx context.Context) {
	backoff := watchRetryMin
	for {
		delivered, err := w.stream(ctx)
		if ctx.Err() != nil {
			return
		}
		switch {
		case errors.Is(err, domain.ErrCompacted):
			w.s.log.Warn("etcd watch: the revision to resume from was compacted; the watcher must re-read the state and watch again",
				"watch", w.spec.name, "from_revision", w.next, "err", err)
			w.send(ctx, w.fail(fmt.Errorf("watch %s from revision %d: %w", w.spec.name, w.next, domain.ErrCompacted)))
			return
		case w.s.cli.Ctx().Err() != nil:
			w.send(ctx, w.fail(fmt.Errorf("watch %s: client closed: %w", w.spec.name, domain.ErrClosed)))
			return
		case delivered:
			backoff = watchRetryMin // the stream worked for a while
		}
		w.s.log.Info("etcd watch: stream interrupted; resuming", "watch", w.spec.name,
			"from_revision", w.next, "retry_in", backoff, "err", err)
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		backoff = min(2*backoff, watchRetryMax)
	}
}

// stream runs one etcd watch until it fails or ctx is done. It reports
// whether it delivered anything, and why it ended: domain.ErrCompacted if
// the start revision is gone, the stream's error otherwise.
func (w *watcher[T]) stream(ctx context.Context) (delivered bool, err error) {
	wctx, cancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
	defer cancel()
	opts := []clientv3.OpOption{clientv3.WithRange(w.spec.end), clientv3.WithPrevKV(), clientv3.WithCreatedNotify()}
	if w.next > 0 {
		opts = append(opts, clientv3.WithRev(w.next))
	}
	wch := w.s.cli.Watch(wctx, w.spec.key, opts...)
	for {
		var resp clientv3.WatchResponse
		var ok bool
		select {
		case <-ctx.Done():
			return delivered, ctx.Err()
		case resp, ok = <-wch:
		}
		if !ok {
			return delivered, errors.New("watch channel closed")
		}
		if resp.CompactRevision != 0 || errors.Is(resp.Err(), rpctypes.ErrCompacted) {
			return delivered, fmt.Errorf("compacted at revision %d: %w", resp.CompactRevision, domain.ErrCompacted)
		}
		if err := resp.Err(); err != nil {
			return delivered, err
		}
		if resp.Created && w.next == 0 {
			w.next = resp.Header.Revision + 1
		}
		if len(resp.Events) == 0 {
			continue
		}
		for _, e := range w.translate(ctx, resp.Events) {
			if !w.send(ctx, e) {
				return delivered, ctx.Err()
			}
		}
		w.next = resp.Events[len(resp.Events)-1].Kv.ModRevision + 1
		delivered = true
	}
}

// send delivers e unless ctx is done first.
func (w *watcher[T]) send(ctx context.Context, e T) bool {
	select {
	case w.out <- e:
		return true
	case <-ctx.Done():
		return false
	}
}
