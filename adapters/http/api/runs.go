package api

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/pink-scheduler/pink/app/query"
	"github.com/pink-scheduler/pink/domain"
	"github.com/pink-scheduler/pink/ports"
)

func (a *api) handleListRuns(c *call) (any, error) {
	p, err := c.page()
	if err != nil {
		return nil, err
	}
	f := ports.RunFilter{PageRequest: p}
	for _, n := range []struct {
		name string
		dst  *string
	}{{"job_id", &f.JobID}, {"group", &f.Group}, {"worker_id", &f.WorkerID}} {
		if *n.dst, err = c.nameParam(n.name); err != nil {
			return nil, err
		}
	}
	for _, s := range c.listParam("state") {
		st := domain.RunState(s)
		if !st.Valid() {
			return nil, invalidParam("state", fmt.Sprintf("unknown run state %q; want one of %s", s, strings.Join(runStates(), ", ")))
		}
		f.States = append(f.States, st)
	}
	if f.From, err = c.timeParam("from"); err != nil {
		return nil, err
	}
	if f.To, err = c.timeParam("to"); err != nil {
		return nil, err
	}
	page, err := a.query.ListRuns(c.r.Context(), f)
	if err != nil {
		return nil, err
	}
	return newList(mapItems(page.Items, listRunOut), page.NextCursor), nil
}

func (a *api) handleGetRun(c *call) (any, error) {
	r, err := a.query.GetRun(c.r.Context(), c.urlParam("id"))
	if err != nil {
		return nil, err
	}
	return toRunOut(r, 0), nil
}

// handleCancelRun cancels an active run: the worker holding it sees the
// change and stops it. A finished run is a 409 (illegal transition).
func (a *api) handleCancelRun(c *call) (any, error) {
	now := a.d.Clock.Now().UTC()
	reason := "cancelled by " + c.p.Actor()
	r, err := a.d.Runs.UpdateRun(c.r.Context(), c.urlParam("id"), func(r *domain.Run) error {
		return r.Cancel(reason, now)
	})
	if err != nil {
		return nil, err
	}
	return toRunOut(r, 0), nil
}

func (a *api) handleDeleteRun(c *call) (any, error) {
	return nil, a.d.Runs.DeleteRun(c.r.Context(), c.urlParam("id"))
}

func (a *api) handleListFires(c *call) (any, error) {
	p, err := c.page()
	if err != nil {
		return nil, err
	}
	jobID, err := c.nameParam("job_id")
	if err != nil {
		return nil, err
	}
	status := c.query("status")
	if status == "pending" {
		page, err := a.query.PendingFires(c.r.Context(), jobID, p)
		if err != nil {
			return nil, err
		}
		return newList(mapItems(page.Items, func(pf query.PendingFire) fireOut {
			out := toFireOut(pf.Fire)
			out.PendingRunIDs = mapItems(pf.Pending, func(r domain.Run) string { return r.ID })
			return out
		}), page.NextCursor), nil
	}
	page, err := a.query.ListFires(c.r.Context(), ports.FireFilter{JobID: jobID, Status: domain.FireStatus(status), PageRequest: p})
	if err != nil {
		return nil, err
	}
	return newList(mapItems(page.Items, toFireOut), page.NextCursor), nil
}

func (a *api) handleGetFire(c *call) (any, error) {
	f, err := a.query.GetFire(c.r.Context(), c.urlParam("id"))
	if err != nil {
		return nil, err
	}
	return toFireOut(f), nil
}

// errNotPending stops the cancellation of a run that is no longer pending.
var errNotPending = errors.New("not pending")

// handleDeleteFire cancels a pending fire: each of its runs still pending
// is cancelled (the fire record is the ledger of the slot and stays). Runs
// already assigned or finished are left alone; if none was pending, 409.
func (a *api) handleDeleteFire(c *call) (any, error) {
	// Once started, cancel every pending run even if the client goes away:
	// half a fire cancelled and unreported helps nobody.
	ctx := context.WithoutCancel(c.r.Context())
	f, err := a.query.GetFire(ctx, c.urlParam("id"))
	if err != nil {
		return nil, err
	}
	now := a.d.Clock.Now().UTC()
	reason := "pending fire cancelled by " + c.p.Actor()
	out := fireCancelledOut{ID: f.ID, Cancelled: []string{}}
	for _, id := range f.RunIDs {
		_, err := a.d.Runs.UpdateRun(ctx, id, func(r *domain.Run) error {
			if r.State != domain.RunPending {
				return errNotPending
			}
			return r.Cancel(reason, now)
		})
		switch {
		case err == nil:
			out.Cancelled = append(out.Cancelled, id)
		case errors.Is(err, errNotPending), errors.Is(err, domain.ErrNotFound):
		default:
			c.detail = fmt.Sprintf("cancelled %d runs before failing", len(out.Cancelled))
			return nil, err
		}
	}
	if len(out.Cancelled) == 0 {
		return nil, fmt.Errorf("fire %s has no pending run: %w", f.ID, domain.ErrConflict)
	}
	c.detail = fmt.Sprintf("cancelled runs %s", strings.Join(out.Cancelled, ", "))
	return out, nil
}

func (a *api) handleListWorkers(c *call) (any, error) {
	p, err := c.page()
	if err != nil {
		return nil, err
	}
	group, err := c.nameParam("group")
	if err != nil {
		return nil, err
	}
	page, err := a.query.Workers(c.r.Context(), group, p)
	if err != nil {
		return nil, err
	}
	return newList(mapItems(page.Items, func(v query.WorkerView) workerOut {
		w := v.Worker
		return workerOut{ID: w.ID, Group: w.Group, Hostname: w.Hostname, Address: w.Address,
			Labels: nonNilMap(w.Labels), Handlers: append([]string{}, w.Handlers...), Capacity: w.Capacity,
			StartedAt: w.StartedAt.UTC(), Protocol: w.Protocol, Version: w.Version,
			Running: mapItems(v.Running, listRunOut)}
	}), page.NextCursor), nil
}

func (a *api) handleListNodes(c *call) (any, error) {
	p, err := c.page()
	if err != nil {
		return nil, err
	}
	page, err := a.query.Nodes(c.r.Context(), p)
	if err != nil {
		return nil, err
	}
	return nodeList{
		list: newList(mapItems(page.Items, func(v query.NodeView) nodeOut {
			n := v.Node
			return nodeOut{ID: n.ID, Address: n.Address, Hostname: n.Hostname, StartedAt: n.StartedAt.UTC(),
				Version: n.Version, Leader: v.Leader}
		}), page.NextCursor),
		LeaderID: page.LeaderID,
	}, nil
}

func (a *api) handleStats(c *call) (any, error) {
	loc := time.UTC
	if tz := c.query("tz"); tz != "" {
		l, err := loadLocation(tz)
		if err != nil {
			return nil, err
		}
		loc = l
	}
	st, err := a.query.Stats(c.r.Context(), loc)
	if err != nil {
		return nil, err
	}
	buckets := func(bs []query.Bucket) []bucketOut {
		return mapItems(bs, func(b query.Bucket) bucketOut {
			counts := make(map[string]int, len(b.Counts))
			for s, n := range b.Counts {
				counts[string(s)] = n
			}
			return bucketOut{Start: b.Start.Format(time.RFC3339), End: b.End.Format(time.RFC3339), Counts: counts, Total: b.Total}
		})
	}
	return statsOut{GeneratedAt: st.GeneratedAt.Format(time.RFC3339Nano), Timezone: loc.String(),
		Hourly: buckets(st.Hourly), Daily: buckets(st.Daily), Scanned: st.Scanned, Truncated: st.Truncated,
		CompleteFrom: st.CompleteFrom.Format(time.RFC3339Nano)}, nil
}

// loadLocation loads an IANA zone the way schedules do, so a zone the job
// form accepts is accepted here (field "tz" otherwise).
func loadLocation(tz string) (*time.Location, error) {
	s, err := domain.ParseSchedule("@daily", tz)
	if err != nil {
		var se *domain.ScheduleError
		if errors.As(err, &se) {
			return nil, invalidParam("tz", se.Reason)
		}
		return nil, invalidParam("tz", "unknown time zone")
	}
	return s.Location(), nil
}
