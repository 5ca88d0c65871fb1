package main

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/pink-scheduler/pink/domain"
	"github.com/pink-scheduler/pink/ports"
)

// probes time each run against its nominal time at the moments the
// scheduler and the workers learn that a write landed: they wrap the ports
// those components write through, so what they measure includes the
// store's commit (fsync) and nothing of the harness's own.
type probes struct {
	fired    recorder // fire recorded (dispatched), nominal -> CreateFires returned
	assigned recorder // run created already assigned, same moment
	finished recorder // result recorded (succeeded), nominal -> UpdateRun returned
	skipped  atomic.Int64
	pending  atomic.Int64 // runs created pending (no eligible worker then)
	failed   atomic.Int64 // results other than succeeded
}

// fireProbe is the scheduler's FireStore, timed.
type fireProbe struct {
	ports.FireStore
	p *probes
}

func (f fireProbe) CreateFires(ctx context.Context, fence ports.Fence, batch []ports.FireWrite) ([]bool, error) {
	created, err := f.FireStore.CreateFires(ctx, fence, batch)
	now := time.Now()
	var fired, assigned []time.Duration
	for i, w := range batch {
		if i >= len(created) || !created[i] {
			continue
		}
		if w.Fire.Status != domain.FireDispatched {
			f.p.skipped.Add(1)
			continue
		}
		lag := now.Sub(w.Fire.Nominal)
		fired = append(fired, lag)
		for _, r := range w.Runs {
			if r.State == domain.RunAssigned {
				assigned = append(assigned, lag)
			} else {
				f.p.pending.Add(1)
			}
		}
	}
	f.p.fired.addAll(now, fired)
	f.p.assigned.addAll(now, assigned)
	return created, err
}

// runProbe is the workers' RunStore, timed.
type runProbe struct {
	ports.RunStore
	p *probes
}

func (r runProbe) UpdateRun(ctx context.Context, id string, fn func(*domain.Run) error) (domain.Run, error) {
	run, err := r.RunStore.UpdateRun(ctx, id, fn)
	r.observe(run, err)
	return run, err
}

// UpdateRunAt is the workers' usual write (from the version they hold).
func (r runProbe) UpdateRunAt(ctx context.Context, known domain.Run, at ports.RunVersion, fn func(*domain.Run) error) (domain.Run, ports.RunVersion, error) {
	run, v, err := r.RunStore.UpdateRunAt(ctx, known, at, fn)
	r.observe(run, err)
	return run, v, err
}

// observe counts a run a worker finished.
func (r runProbe) observe(run domain.Run, err error) {
	if err == nil && run.State.Terminal() {
		if run.State == domain.RunSucceeded {
			now := time.Now()
			r.p.finished.add(now, now.Sub(run.ScheduledAt))
		} else {
			r.p.failed.Add(1)
		}
	}
}
