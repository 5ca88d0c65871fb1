package gateway_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/pink-scheduler/pink/adapters/clock"
	"github.com/pink-scheduler/pink/adapters/memory"
	"github.com/pink-scheduler/pink/app/gateway"
	"github.com/pink-scheduler/pink/domain"
	"github.com/pink-scheduler/pink/ports"
)

// A worker's session, as the HTTP worker API drives it: register, poll,
// start, send output, report. Here the example plays the leader and
// assigns a run by hand; in a Pink cluster the scheduler does that.
func Example() {
	ctx := context.Background()
	store := memory.New(clock.System{})
	defer store.Close()
	gw, err := gateway.New(gateway.Config{Registry: store, Runs: store, Clock: clock.System{},
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		panic(err)
	}
	defer gw.Close(ctx)

	s, err := gw.Register(ctx, domain.Worker{ID: "py-1", Group: "billing", Handlers: []string{"send-invoices"}}, 0)
	if err != nil {
		panic(err)
	}
	fmt.Printf("registered %s; heartbeat every %s\n", s.WorkerID, s.HeartbeatEvery.Round(time.Millisecond))

	runID := assignRun(store, s.WorkerID, "send-invoices")
	res, err := gw.Poll(ctx, "billing", s.WorkerID, 10*time.Second) // returns once the run is assigned
	if err != nil {
		panic(err)
	}
	run := res.Runs[0]
	fmt.Println("polled", run.Handler, run.ID == runID, "attempt", run.Attempt)

	if _, err := gw.Start(ctx, "billing", s.WorkerID, run.ID, run.Attempt); err != nil {
		panic(err)
	}
	if err := gw.Output(ctx, "billing", s.WorkerID, run.ID, run.Attempt, "42 invoices sent\n"); err != nil {
		panic(err)
	}
	fin, err := gw.Finish(ctx, "billing", s.WorkerID, domain.Report{RunID: run.ID, Attempt: run.Attempt, State: domain.RunSucceeded})
	if err != nil {
		panic(err)
	}
	fmt.Printf("%s: %s", fin.Run.State, fin.Run.Output)

	// Results are accepted at most once per attempt: a different one is
	// refused (the same one again is accepted as a duplicate).
	_, err = gw.Finish(ctx, "billing", s.WorkerID, domain.Report{RunID: run.ID, Attempt: 1, State: domain.RunFailed})
	fmt.Println(errors.Is(err, domain.ErrIllegalTransition))

	if err := gw.Deregister(ctx, "billing", s.WorkerID); err != nil {
		panic(err)
	}
	ws, _, _ := store.ListWorkers(ctx, "billing")
	fmt.Println("workers left:", len(ws))
	// Output:
	// registered py-1; heartbeat every 1.667s
	// polled send-invoices true attempt 1
	// succeeded: 42 invoices sent
	// true
	// workers left: 0
}

// assignRun writes a fire whose one run is assigned to the worker, as the
// leader's dispatcher does, and returns the run's ID.
func assignRun(store *memory.Backend, workerID, handler string) string {
	ctx := context.Background()
	lead, err := store.NewElector("leader", 0).Campaign(ctx)
	if err != nil {
		panic(err)
	}
	now := time.Now()
	fireID := domain.FireID("invoices", now)
	r := domain.Run{ID: domain.RunID(fireID, 0), FireID: fireID, JobID: "invoices", Group: "billing",
		Handler: handler, Shards: 1, Attempt: 1, MaxAttempts: 1, State: domain.RunPending,
		ScheduledAt: now, CreatedAt: now}
	if err := r.Assign(workerID, now); err != nil {
		panic(err)
	}
	f := domain.Fire{ID: fireID, JobID: "invoices", Group: "billing", Nominal: now, Kind: domain.FireScheduled,
		Status: domain.FireDispatched, RunIDs: []string{r.ID}, CreatedAt: now}
	if _, err := store.CreateFires(ctx, lead.Fence(), []ports.FireWrite{{Fire: f, Runs: []domain.Run{r}}}); err != nil {
		panic(err)
	}
	return r.ID
}
