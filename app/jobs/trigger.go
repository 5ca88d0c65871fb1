package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/pink-scheduler/pink/domain"
	"github.com/pink-scheduler/pink/ports"
)

// TriggerJob fires a job now ("trigger now"), whatever its state or
// schedule, as a manual fire recorded under its own ID: params, if not
// empty, replace the job's params for this fire only; by names who asked.
// The fire's runs are pending; the leader dispatches them. A manual fire
// ignores the overlap policy (it is an explicit request) and is never
// skipped for lateness. A broadcast job gets one run per live worker that
// can run it, and domain.ErrConflict if there is none.
func (s *Service) TriggerJob(ctx context.Context, id string, params json.RawMessage, by string) (domain.Fire, error) {
	if s.cfg.Fires == nil || s.cfg.Workers == nil {
		return domain.Fire{}, errors.New("jobs: TriggerJob needs Fires and Workers in the Config")
	}
	if err := s.validParams(params); err != nil {
		return domain.Fire{}, err
	}
	if err := validateText("triggered_by", by, 256); err != nil {
		return domain.Fire{}, err
	}
	j, err := s.cfg.Jobs.GetJob(ctx, id)
	if err != nil {
		return domain.Fire{}, err
	}
	now := s.now()
	nonce := s.cfg.NewID()
	if len(nonce) > 8 {
		nonce = nonce[:8]
	}
	f := domain.Fire{
		ID: domain.ManualFireID(j.ID, now, nonce), JobID: j.ID, Group: j.Group,
		Nominal: now, Kind: domain.FireManual, Status: domain.FireDispatched,
		Params: params, TriggeredBy: by, CreatedAt: now,
	}
	w := ports.FireWrite{Fire: f}
	if j.Route == domain.RouteBroadcast {
		workers, _, err := s.cfg.Workers.ListWorkers(ctx, j.Group)
		if err != nil {
			return domain.Fire{}, err
		}
		probe := domain.NewRun(&j, &f, 0, now)
		for i, wk := range domain.Eligible(&probe, workers, domain.RouteInput{}) {
			r := domain.NewRun(&j, &f, i, now)
			r.PinnedWorker = wk.ID
			w.Runs = append(w.Runs, r)
		}
		if len(w.Runs) == 0 {
			return domain.Fire{}, fmt.Errorf("trigger broadcast job %s: no live worker of group %s can run handler %q: %w",
				j.ID, j.Group, j.Handler, domain.ErrConflict)
		}
	} else {
		for i := range j.Shards {
			w.Runs = append(w.Runs, domain.NewRun(&j, &f, i, now))
		}
	}
	for _, r := range w.Runs {
		w.Fire.RunIDs = append(w.Fire.RunIDs, r.ID)
	}
	if err := s.cfg.Fires.CreateManualFire(ctx, w); err != nil {
		return domain.Fire{}, fmt.Errorf("trigger job %s: %w", j.ID, err)
	}
	return w.Fire, nil
}

func validateText(field, s string, max int) error {
	if len(s) > max {
		return &domain.ValidationError{Field: field, Reason: fmt.Sprintf("must be at most %d bytes, got %d", max, len(s))}
	}
	return nil
}
