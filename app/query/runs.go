package query

import (
	"context"
	"fmt"

	"github.com/pink-scheduler/pink/domain"
	"github.com/pink-scheduler/pink/ports"
)

// ListRuns lists the runs f selects, newest first (by scheduled time, then
// ID), one page at a time. It checks the filter first: unknown states
// (field "state"), malformed IDs ("job_id", "group", "worker_id") and an
// empty time range ("to" not after "from") are *domain.ValidationError. A
// page may be shorter than the limit and still have a NextCursor (the
// store examines a bounded number of runs per call).
func (s *Service) ListRuns(ctx context.Context, f ports.RunFilter) (ports.Page[domain.Run], error) {
	if err := CheckRunFilter(f); err != nil {
		return ports.Page[domain.Run]{}, err
	}
	page, err := s.cfg.Runs.ListRuns(ctx, f)
	return page, wrap("list runs", err)
}

// CheckRunFilter returns the *domain.ValidationError ListRuns would return
// for f, or nil.
func CheckRunFilter(f ports.RunFilter) error {
	for _, st := range f.States {
		if !st.Valid() {
			return &domain.ValidationError{Field: "state", Reason: fmt.Sprintf("unknown run state %q", st)}
		}
	}
	for _, n := range [...]struct{ field, v string }{{"job_id", f.JobID}, {"group", f.Group}, {"worker_id", f.WorkerID}} {
		if err := validName(n.field, n.v); err != nil {
			return err
		}
	}
	if !f.From.IsZero() && !f.To.IsZero() && !f.To.After(f.From) {
		return &domain.ValidationError{Field: "to", Reason: "must be after from"}
	}
	return nil
}

// GetRun returns a run with its output, or domain.ErrNotFound.
func (s *Service) GetRun(ctx context.Context, id string) (domain.Run, error) {
	return s.cfg.Runs.GetRun(ctx, id)
}

// GetFire returns a fire record, or domain.ErrNotFound.
func (s *Service) GetFire(ctx context.Context, id string) (domain.Fire, error) {
	return s.cfg.Fires.GetFire(ctx, id)
}

// ListFires lists the fire records f selects, newest first. f.Status must
// be "", domain.FireDispatched or domain.FireSkipped (field "status"); for
// the fires still waiting for a worker use PendingFires.
func (s *Service) ListFires(ctx context.Context, f ports.FireFilter) (ports.Page[domain.Fire], error) {
	switch f.Status {
	case "", domain.FireDispatched, domain.FireSkipped:
	default:
		return ports.Page[domain.Fire]{}, &domain.ValidationError{Field: "status",
			Reason: fmt.Sprintf("must be dispatched, skipped or pending; got %q", f.Status)}
	}
	if err := validName("job_id", f.JobID); err != nil {
		return ports.Page[domain.Fire]{}, err
	}
	page, err := s.cfg.Fires.ListFires(ctx, f)
	return page, wrap("list fires", err)
}
