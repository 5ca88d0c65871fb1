package worker_test

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/pink-scheduler/pink/adapters/clock"
	"github.com/pink-scheduler/pink/adapters/memory"
	"github.com/pink-scheduler/pink/app/worker"
	"github.com/pink-scheduler/pink/domain"
	"github.com/pink-scheduler/pink/ports"
)

// A worker of group "billing" with one handler, on the in-memory store.
// Here the example plays the leader and assigns it a run by hand; in a
// Pink cluster the scheduler does that.
func Example() {
	store := memory.New(clock.System{})
	defer store.Close()

	w, err := worker.New(worker.Config{
		Group: "billing", Registry: store, Runs: store,
		Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		panic(err)
	}
	w.Handle("send-invoices", func(ctx context.Context, run worker.Run) (worker.Result, error) {
		fmt.Fprintf(run.Output, "shard %d of %d: invoices sent\n", run.Shard+1, run.Shards)
		return worker.Result{}, nil
	})
	ctx, stop := context.WithCancel(context.Background())
	stopped := make(chan error)
	go func() { stopped <- w.Run(ctx) }()

	rev := store.Revision()
	runID := assign(store, w.ID(), "send-invoices")
	for ev := range store.WatchRuns(ctx, rev) { // wait for the result
		if ev.Run.ID == runID && ev.Run.State.Terminal() {
			fmt.Printf("%s: %s", ev.Run.State, ev.Run.Output)
			break
		}
	}
	stop()
	fmt.Println("stopped:", <-stopped)
	// Output:
	// succeeded: shard 1 of 1: invoices sent
	// stopped: <nil>
}

// assign writes a fire whose one run is assigned to the worker, as the
// leader's dispatcher does.
func assign(store *memory.Backend, workerID, handler string) string {
	ctx := context.Background()
	lead, err := store.NewElector("leader", 0).Campaign(ctx)
	if err != nil {
		panic(err)
	}
	defer lead.Resign(ctx)
	now := time.Now()
	f := domain.Fire{ID: domain.FireID("invoices", now), JobID: "invoices", Group: "billing", Nominal: now,
		Kind: domain.FireScheduled, Status: domain.FireDispatched, CreatedAt: now}
	r := domain.Run{ID: domain.RunID(f.ID, 0), FireID: f.ID, JobID: f.JobID, Group: f.Group, Handler: handler,
		Shards: 1, Attempt: 1, MaxAttempts: 1, Timeout: domain.Duration(time.Minute),
		State: domain.RunPending, ScheduledAt: now, CreatedAt: now}
	if err := r.Assign(workerID, now); err != nil {
		panic(err)
	}
	f.RunIDs = []string{r.ID}
	if _, err := store.CreateFires(ctx, lead.Fence(), []ports.FireWrite{{Fire: f, Runs: []domain.Run{r}}}); err != nil {
		panic(err)
	}
	return r.ID
}
