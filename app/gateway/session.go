package gateway

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/pink-scheduler/pink/domain"
	"github.com/pink-scheduler/pink/internal/timing"
	"github.com/pink-scheduler/pink/ports"
)

// session is one registered HTTP worker. Its goroutine (run) owns the
// lease and the assigned-runs watch; request goroutines share the state
// under mu with it.
type session struct {
	g     *Gateway
	id    string
	group string
	ttl   time.Duration
	lease ports.Lease
	log   *slog.Logger
	clock ports.Clock

	ctx    context.Context // ended by Deregister (errDeregistered) or Close
	cancel context.CancelCauseFunc
	ended  chan struct{} // closed when the goroutine has cleaned up

	// Owned by the goroutine.
	watchCh     <-chan ports.RunEvent
	watchCancel context.CancelFunc
	watchFails  int
	retry       timing.Alarm
	listBackoff timing.Backoff

	mu sync.Mutex
	// err is why the session ended; nil while it lives.
	err      error
	lastSeen time.Time
	// synced is set once the first listing is in view.
	synced bool
	// view holds the store's active runs of the worker (assigned or
	// running), by run ID.
	view map[string]domain.Run
	// delivered: attempts a poll returned, and when.
	delivered map[runKey]time.Time
	// started: attempts the worker started (or is starting) and has not
	// reported.
	started map[runKey]struct{}
	// reported: attempts the worker reported (or is reporting) that are
	// still in view; never delivered again.
	reported map[runKey]struct{}
	// lost: started attempts that stopped being the worker's.
	lost map[runKey]*lostRun
	// changed is closed and replaced whenever the state above changes or
	// the session ends: long polls wait on it.
	changed chan struct{}
	// preempt is closed when a newer poll takes over from the waiting one.
	preempt chan struct{}
}

// runKey names one attempt of a run.
type runKey struct {
	id      string
	attempt int
}

func keyOf(r *domain.Run) runKey { return runKey{r.ID, r.Attempt} }

// lostRun is an attempt the worker must stop.
type lostRun struct {
	reason string
	// listedAt is when an answer first listed it; zero before.
	listedAt time.Time
}

func newSession(g *Gateway, w domain.Worker, ttl time.Duration, lease ports.Lease) *session {
	ctx, cancel := context.WithCancelCause(g.bg)
	return &session{
		g: g, id: w.ID, group: w.Group, ttl: ttl, lease: lease, clock: g.cfg.Clock,
		log: g.log.With("group", w.Group, "worker", w.ID),
		ctx: ctx, cancel: cancel, ended: make(chan struct{}),
		lastSeen:  g.cfg.Clock.Now(),
		view:      make(map[string]domain.Run),
		delivered: make(map[runKey]time.Time),
		started:   make(map[runKey]struct{}),
		reported:  make(map[runKey]struct{}),
		lost:      make(map[runKey]*lostRun),
		changed:   make(chan struct{}),
	}
}

// info is what the worker learns at registration.
func (s *session) info() Session {
	return Session{WorkerID: s.id, Group: s.group, TTL: s.ttl, HeartbeatEvery: s.ttl / 3}
}

// touch records a call of the worker, or reports that the session ended.
func (s *session) touch() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return unknown(s.id, s.err)
	}
	s.lastSeen = s.clock.Now()
	return nil
}

// wake tells the waiting polls that something changed. Callers hold mu.
func (s *session) wake() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// run is the session's goroutine: it keeps the view of the assigned runs,
// ends the session when the worker stops calling in, when the lease ends
// or when the session is cancelled, and cleans up.
func (s *session) run() {
	defer s.g.wg.Done()
	defer close(s.ended)
	expiry := s.clock.NewTimer(s.ttl)
	defer expiry.Stop()
	s.relist()
	for {
		select {
		case <-s.ctx.Done():
			cause := context.Cause(s.ctx)
			if !errors.Is(cause, errDeregistered) {
				cause = domain.ErrClosed // the gateway is closing
			}
			s.end(cause)
			return
		case <-s.lease.Done():
			s.end(s.lease.Err())
			return
		case <-expiry.C():
			if left := s.untilExpiry(); left > 0 {
				expiry.Reset(left)
				continue
			}
			s.end(errHeartbeatsStopped)
			return
		case ev, ok := <-s.watchCh:
			s.onWatch(ev, ok)
		case <-s.retry.C():
			s.retry.Fired()
			s.relist()
		}
	}
}

// untilExpiry returns how long the session has left without a call.
func (s *session) untilExpiry() time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ttl - s.clock.Now().Sub(s.lastSeen)
}

// end ends the session with cause: later calls get ErrUnknownWorker, the
// waiting polls return, the lease is closed (deregistering the worker) and
// the watch ends.
func (s *session) end(cause error) {
	s.mu.Lock()
	s.err = cause
	s.wake()
	s.mu.Unlock()
	s.g.remove(s)
	s.retry.Stop()
	leaseLost := s.lease.Err() != nil
	if !leaseLost {
		closeLease(s.lease, s.log)
	}
	s.endWatch()
	s.cancel(cause) // release the context's resources
	switch {
	case errors.Is(cause, errDeregistered):
		s.log.Info("http worker deregistered")
	case errors.Is(cause, errHeartbeatsStopped):
		s.log.Warn("http worker stopped calling in: deregistered it; the leader fails its runs over", "ttl", s.ttl)
	case leaseLost:
		s.log.Error("HTTP WORKER LEASE LOST: its registration ended behind the gateway's back; the leader fails its runs over and the worker must register again",
			"err", cause)
	default:
		s.log.Info("http worker session closed: the gateway is stopping")
	}
}

// relist reads the runs assigned to the worker into the view and watches
// from there; on failure it arms a retry.
func (s *session) relist() {
	s.closeWatch()
	ctx, cancel := context.WithTimeout(s.ctx, callTimeout)
	runs, rev, err := s.g.cfg.Runs.ListAssigned(ctx, s.group, s.id)
	cancel()
	if err != nil {
		if s.ctx.Err() != nil {
			return // ending: the loop sees it next
		}
		d := s.listBackoff.Next()
		s.log.Warn("listing the http worker's assigned runs failed; retrying", "err", err, "in", d)
		s.retry.Set(s.clock, d)
		return
	}
	s.mu.Lock()
	s.reconcile(runs)
	s.mu.Unlock()
	wctx, wcancel := context.WithCancel(s.ctx)
	s.watchCh, s.watchCancel = s.g.cfg.Runs.WatchAssigned(wctx, s.group, s.id, rev), wcancel
}

// onWatch handles one value of the watch channel: an event, or the end of
// the watch (listed again at once the first time, after a pause if the
// new watch fails too without an event between).
func (s *session) onWatch(ev ports.RunEvent, ok bool) {
	if ok && ev.Err == nil {
		s.watchFails = 0
		s.listBackoff.Reset()
		s.mu.Lock()
		s.apply(ev)
		s.mu.Unlock()
		return
	}
	err := ev.Err
	if !ok {
		err = errors.New("watch channel closed")
	}
	s.closeWatch()
	s.watchFails++
	if s.watchFails == 1 {
		level := slog.LevelWarn
		if errors.Is(err, domain.ErrCompacted) {
			level = slog.LevelInfo
		}
		s.log.Log(s.ctx, level, "http worker's assigned-runs watch ended; listing again", "err", err)
		s.relist()
		return
	}
	d := s.listBackoff.Next()
	s.log.Warn("http worker's assigned-runs watch failed again; listing again after a pause", "err", err, "in", d)
	s.retry.Set(s.clock, d)
}

// closeWatch ends the current watch, if any.
func (s *session) closeWatch() {
	if s.watchCancel != nil {
		s.watchCancel()
	}
	s.watchCh, s.watchCancel = nil, nil
}

// endWatch ends the current watch and waits, briefly, for the store to
// close its channel, so no watch outlives the session.
func (s *session) endWatch() {
	ch := s.watchCh
	s.closeWatch()
	if ch == nil {
		return
	}
	t := s.clock.NewTimer(callTimeout)
	defer t.Stop()
	for {
		select {
		case _, ok := <-ch:
			if !ok {
				return
			}
		case <-t.C():
			s.log.Warn("the assigned-runs watch did not close after its cancellation")
			return
		}
	}
}
