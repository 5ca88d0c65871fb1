package memory

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/pink-scheduler/pink/domain"
	"github.com/pink-scheduler/pink/ports"
)

// PruneBatch bounds the records one Prune call removes, as the etcd
// adapter bounds the operations of a Txn.
const PruneBatch = 512

// finishedAt is the time a finished run's age counts from.
func finishedAt(r domain.Run) time.Time {
	if !r.FinishedAt.IsZero() {
		return r.FinishedAt
	}
	return r.ScheduledAt
}

// Prune removes, fenced and in one write, at most PruneBatch records:
// finished runs beyond the newest r.PerJob of their job or finished more
// than r.MaxAge before now, and fire records beyond the newest r.PerJob of
// their job or whose (last) nominal time is more than r.MaxAge before now.
// A zero PerJob or MaxAge does not limit. Active runs are never removed,
// nor are a job's newest fire record, its newest scheduled fire record
// (LastFires needs it) and fires that still have active runs. It returns
// how many runs and fires it removed; call it until both are zero to
// prune everything due.
func (b *Backend) Prune(_ context.Context, fence ports.Fence, r ports.Retention, now time.Time) (runs, fires int, err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := b.checkFence(fence); err != nil {
		return 0, 0, fmt.Errorf("prune: %w", err)
	}
	var edge time.Time
	if r.MaxAge > 0 {
		edge = now.Add(-r.MaxAge)
	}
	tooOld := func(t time.Time) bool { return !edge.IsZero() && t.Before(edge) }
	tooMany := func(i int) bool { return r.PerJob > 0 && i >= r.PerJob }

	finished := map[string][]domain.Run{} // by job
	busyFires := map[string]bool{}
	for _, x := range b.runs {
		if x.Active() {
			busyFires[x.FireID] = true
			continue
		}
		finished[x.JobID] = append(finished[x.JobID], x)
	}
	var runIDs []string
	for _, rs := range finished {
		slices.SortFunc(rs, func(x, y domain.Run) int { return strings.Compare(runKey(y), runKey(x)) })
		for i, x := range rs {
			if tooMany(i) || tooOld(finishedAt(x)) {
				runIDs = append(runIDs, x.ID)
			}
		}
	}

	byJob := map[string][]domain.Fire{}
	for _, f := range b.fires {
		byJob[f.JobID] = append(byJob[f.JobID], f)
	}
	var fireIDs []string
	for _, fs := range byJob {
		slices.SortFunc(fs, func(x, y domain.Fire) int {
			return cmp.Or(lastNominal(y).Compare(lastNominal(x)), strings.Compare(y.ID, x.ID))
		})
		newestScheduled := true
		for i, f := range fs {
			keep := i == 0 || busyFires[f.ID] || (newestScheduled && f.Kind != domain.FireManual)
			if f.Kind != domain.FireManual {
				newestScheduled = false
			}
			if !keep && (tooMany(i) || tooOld(lastNominal(f))) {
				fireIDs = append(fireIDs, f.ID)
			}
		}
	}

	// Oldest first, so a bounded call removes the most overdue records.
	slices.SortFunc(runIDs, func(x, y string) int { return strings.Compare(runKey(b.runs[x]), runKey(b.runs[y])) })
	slices.Sort(fireIDs)
	runIDs = runIDs[:min(len(runIDs), PruneBatch)]
	fireIDs = fireIDs[:min(len(fireIDs), PruneBatch-len(runIDs))]
	if len(runIDs)+len(fireIDs) == 0 {
		return 0, 0, nil
	}
	b.bump()
	events := make([]entry, 0, len(runIDs))
	for _, id := range runIDs {
		events = append(events, entry{kind: kindRun, prev: b.runs[id]})
		delete(b.runs, id)
	}
	for _, id := range fireIDs {
		delete(b.fires, id)
	}
	b.publish(events...)
	return len(runIDs), len(fireIDs), nil
}
