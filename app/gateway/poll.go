package gateway

import (
	"context"
	"fmt"
	"time"

	"github.com/pink-scheduler/pink/ports"
)

// Poll returns the runs assigned to workerID that it has not started, and
// the attempts it must stop (see Cancelled). If there are no runs to
// return it waits, up to wait (at most MaxWait; 0 does not wait), for one
// to be assigned, for an attempt to be lost, or for a run held back since
// an earlier poll to become due again; it returns with an empty result
// when wait passes. A run is returned by one poll and then held back for
// Config.RedeliverAfter while the worker does not start it: delivery is at
// least once (see the package documentation).
//
// Only one poll of a worker waits at a time: a new poll makes the waiting
// one return at once, empty but for Cancelled. A poll also returns when
// ctx ends (with ctx's error) or the session ends (ErrUnknownWorker).
// Errors as Heartbeat.
func (g *Gateway) Poll(ctx context.Context, group, workerID string, wait time.Duration) (PollResult, error) {
	s, err := g.lookup(group, workerID)
	if err != nil {
		return PollResult{}, err
	}
	wait = min(max(wait, 0), MaxWait)
	deadline := s.clock.Now().Add(wait)

	s.mu.Lock()
	if s.preempt != nil {
		close(s.preempt)
	}
	preempt := make(chan struct{})
	s.preempt = preempt
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		if s.preempt == preempt {
			s.preempt = nil
		}
		s.mu.Unlock()
	}()

	var timer ports.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for {
		s.mu.Lock()
		if s.err != nil {
			err := unknown(s.id, s.err)
			s.mu.Unlock()
			return PollResult{}, err
		}
		now := s.clock.Now()
		runs, next := s.deliverable(now)
		var res PollResult
		if len(runs) > 0 || s.freshLost() || !now.Before(deadline) {
			res = PollResult{Runs: runs, Cancelled: s.cancelled(now)}
			s.mu.Unlock()
			return res, nil
		}
		changed := s.changed
		s.mu.Unlock()

		wake := deadline
		if !next.IsZero() && next.Before(wake) {
			wake = next
		}
		if timer == nil {
			timer = s.clock.NewTimer(wake.Sub(now))
		} else {
			timer.Reset(wake.Sub(now))
		}
		select {
		case <-changed:
		case <-timer.C():
		case <-preempt:
			s.mu.Lock()
			res := PollResult{Cancelled: s.cancelled(s.clock.Now())}
			s.mu.Unlock()
			return res, nil
		case <-ctx.Done():
			return PollResult{}, fmt.Errorf("poll of worker %q: %w", workerID, ctx.Err())
		}
	}
}
