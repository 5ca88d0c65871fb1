package query

import (
	"context"
	"errors"
	"time"

	"github.com/pink-scheduler/pink/domain"
	"github.com/pink-scheduler/pink/ports"
)

// PendingFire is a fire that still has runs waiting for a worker.
type PendingFire struct {
	// Fire is the fire record. If the record could not be read (pruned
	// meanwhile), it is rebuilt from the runs: ID, JobID, Group, Nominal
	// and Kind are set.
	Fire domain.Fire
	// Pending lists the fire's pending runs, by ID descending.
	Pending []domain.Run
}

// maxPendingScan bounds the pending runs one PendingFires call reads.
const maxPendingScan = 10_000

// PendingFires lists the fires with at least one pending run (created but
// not yet assigned to a worker: no worker online, a retry's backoff, ...),
// newest first, optionally of one job. It reads the pending runs through
// RunStore.ListRuns — never the whole fire ledger — and at most 10 000 of
// them per call; a page cut short by that bound is shorter than the limit
// and has a NextCursor. Cancel a pending fire by cancelling its pending
// runs: the fire record is the ledger and stays.
//
// The cursor is the last fire ID returned: the next page restarts the run
// scan at that fire's millisecond and skips fires whose ID is not smaller.
func (s *Service) PendingFires(ctx context.Context, jobID string, p ports.PageRequest) (ports.Page[PendingFire], error) {
	var out ports.Page[PendingFire]
	if err := validName("job_id", jobID); err != nil {
		return out, err
	}
	after, err := decodeCursor(cursorPending, p.Cursor)
	if err != nil {
		return out, err
	}
	f := ports.RunFilter{JobID: jobID, States: []domain.RunState{domain.RunPending},
		PageRequest: ports.PageRequest{Limit: ports.MaxPageLimit}}
	if after != "" {
		_, nominal, err := domain.ParseFireID(after)
		if err != nil {
			return out, &domain.ValidationError{Field: "cursor", Reason: "not a cursor of this listing"}
		}
		f.To = nominal.Add(time.Millisecond) // IDs carry the millisecond
	}
	limit := p.EffectiveLimit()
	var groups []PendingFire
	scanned, more := 0, false
scan:
	for {
		page, err := s.cfg.Runs.ListRuns(ctx, f)
		if err != nil {
			return out, wrap("list pending fires", err)
		}
		for _, r := range page.Items {
			scanned++
			if r.State != domain.RunPending || (after != "" && r.FireID >= after) {
				continue
			}
			if n := len(groups); n > 0 && groups[n-1].Fire.ID == r.FireID {
				groups[n-1].Pending = append(groups[n-1].Pending, r)
				continue
			}
			if len(groups) == limit {
				more = true
				break scan
			}
			groups = append(groups, PendingFire{Fire: fireOf(r), Pending: []domain.Run{r}})
		}
		if page.NextCursor == "" {
			break
		}
		if scanned >= maxPendingScan {
			// The last fire may have more pending runs beyond the bound:
			// leave it to the next page unless it is the only one.
			more = true
			if len(groups) > 1 {
				groups = groups[:len(groups)-1]
			}
			break
		}
		f.Cursor = page.NextCursor
	}
	for i := range groups {
		fire, err := s.cfg.Fires.GetFire(ctx, groups[i].Fire.ID)
		switch {
		case err == nil:
			groups[i].Fire = fire
		case !errors.Is(err, domain.ErrNotFound):
			return out, wrap("list pending fires", err)
		}
	}
	out.Items = groups
	if out.Items == nil {
		out.Items = []PendingFire{}
	}
	if more && len(groups) > 0 {
		out.NextCursor = encodeCursor(cursorPending, groups[len(groups)-1].Fire.ID)
	}
	return out, nil
}

// fireOf rebuilds what a run tells of its fire.
func fireOf(r domain.Run) domain.Fire {
	kind := domain.FireScheduled
	if r.Manual {
		kind = domain.FireManual
	}
	return domain.Fire{ID: r.FireID, JobID: r.JobID, Group: r.Group, Nominal: r.ScheduledAt,
		Kind: kind, Status: domain.FireDispatched}
}
