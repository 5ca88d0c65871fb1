package gateway

import (
	"slices"
	"strings"
	"time"

	"github.com/pink-scheduler/pink/domain"
	"github.com/pink-scheduler/pink/ports"
)

// The methods of this file keep a session's view of its worker's runs.
// Callers hold s.mu.

// apply applies one event of the assigned-runs watch.
func (s *session) apply(ev ports.RunEvent) {
	r := ev.Run
	switch {
	case ev.Type == ports.EventDelete:
		s.drop(r.ID, ReasonTakenAway)
	case r.State == domain.RunCancelled:
		s.drop(r.ID, ReasonCancelled)
	case !r.Active() || r.WorkerID != s.id || r.Group != s.group:
		s.drop(r.ID, ReasonTakenAway) // not expected from WatchAssigned
	default:
		s.forget(func(k runKey) bool { return k.id == r.ID && k.attempt != r.Attempt }, ReasonTakenAway)
		s.view[r.ID] = r
	}
	s.wake()
}

// drop removes a run from the view: every attempt of it the worker
// started is lost for reason.
func (s *session) drop(id, reason string) {
	delete(s.view, id)
	s.forget(func(k runKey) bool { return k.id == id }, reason)
}

// reconcile replaces the view with a full listing. Attempts the worker
// started that are not in it were taken away while the watch was down.
func (s *session) reconcile(runs []domain.Run) {
	clear(s.view)
	for _, r := range runs {
		if r.Active() && r.WorkerID == s.id && r.Group == s.group {
			s.view[r.ID] = r
		}
	}
	s.forget(func(k runKey) bool {
		r, ok := s.view[k.id]
		return !ok || r.Attempt != k.attempt
	}, ReasonTakenAway)
	s.synced = true
	s.wake()
}

// forget drops the attempts that match from the session's bookkeeping;
// those the worker started become lost for reason.
func (s *session) forget(match func(runKey) bool, reason string) {
	for k := range s.delivered {
		if match(k) {
			delete(s.delivered, k)
		}
	}
	for k := range s.reported {
		if match(k) {
			delete(s.reported, k)
		}
	}
	for k := range s.started {
		if match(k) {
			delete(s.started, k)
			if _, ok := s.lost[k]; !ok {
				s.lost[k] = &lostRun{reason: reason}
			}
		}
	}
}

// deliverable returns the runs a poll at now may return (assigned, not
// started or reported, not delivered within RedeliverAfter) and marks them
// delivered; and when the next held-back run becomes deliverable (zero if
// none).
func (s *session) deliverable(now time.Time) (runs []domain.Run, next time.Time) {
	if !s.synced {
		return nil, time.Time{}
	}
	after := s.g.cfg.RedeliverAfter
	for _, r := range s.view {
		k := keyOf(&r)
		if r.State != domain.RunAssigned {
			continue
		}
		if _, ok := s.started[k]; ok {
			continue
		}
		if _, ok := s.reported[k]; ok {
			continue
		}
		if at, ok := s.delivered[k]; ok {
			if due := at.Add(after); now.Before(due) {
				if next.IsZero() || due.Before(next) {
					next = due
				}
				continue
			}
		}
		runs = append(runs, r.Clone())
	}
	slices.SortFunc(runs, func(a, b domain.Run) int { return strings.Compare(a.ID, b.ID) })
	for i := range runs {
		s.delivered[keyOf(&runs[i])] = now
	}
	return runs, next
}

// freshLost reports whether an attempt became lost that no answer listed
// yet: a waiting poll returns at once for it.
func (s *session) freshLost() bool {
	for _, l := range s.lost {
		if l.listedAt.IsZero() {
			return true
		}
	}
	return false
}

// cancelled lists the lost attempts at now, by run ID, and forgets those
// listed for longer than lostTTLs TTLs.
func (s *session) cancelled(now time.Time) []Cancelled {
	keep := lostTTLs * s.ttl
	var out []Cancelled
	for k, l := range s.lost {
		if l.listedAt.IsZero() {
			l.listedAt = now
		} else if now.Sub(l.listedAt) >= keep {
			delete(s.lost, k)
			continue
		}
		out = append(out, Cancelled{RunID: k.id, Attempt: k.attempt, Reason: l.reason})
	}
	slices.SortFunc(out, func(a, b Cancelled) int {
		if c := strings.Compare(a.RunID, b.RunID); c != 0 {
			return c
		}
		return a.Attempt - b.Attempt
	})
	return out
}

// cancelledNow is cancelled for a heartbeat.
func (s *session) cancelledNow() []Cancelled {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cancelled(s.clock.Now())
}
