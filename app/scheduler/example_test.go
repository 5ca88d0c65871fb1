package scheduler_test

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/pink-scheduler/pink/adapters/clock"
	"github.com/pink-scheduler/pink/adapters/memory"
	"github.com/pink-scheduler/pink/app/jobs"
	"github.com/pink-scheduler/pink/app/scheduler"
	"github.com/pink-scheduler/pink/app/worker"
	"github.com/pink-scheduler/pink/domain"
)

// A complete Pink in one process, on the in-memory store: a scheduler that
// elects itself leader, a worker with one handler, and a job that fires
// every second. With the etcd adapter instead of memory, the same code runs
// a cluster.
func Example() {
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	quiet := slog.New(slog.DiscardHandler)
	store := memory.New(clock.System{})
	defer store.Close()

	// The leader.
	sched, err := scheduler.New(scheduler.Config{
		Jobs: store, Fires: store, Runs: store, Workers: store,
		Elector: store.NewElector("node-1", 5*time.Second), Clock: clock.System{}, Logger: quiet,
	})
	if err != nil {
		panic(err)
	}
	// A worker of group "reports".
	w, err := worker.New(worker.Config{Group: "reports", Registry: store, Runs: store, Logger: quiet})
	if err != nil {
		panic(err)
	}
	w.Handle("hello", func(ctx context.Context, run worker.Run) (worker.Result, error) {
		fmt.Fprintf(run.Output, "hello from attempt %d", run.Attempt)
		return worker.Result{}, nil
	})
	done := make(chan struct{}, 2)
	go func() { _ = sched.Run(ctx); done <- struct{}{} }()
	go func() { _ = w.Run(ctx); done <- struct{}{} }()

	// A group and a job, through the job service (validation, defaults).
	svc, err := jobs.New(jobs.Config{Groups: store, Jobs: store, Clock: clock.System{}})
	if err != nil {
		panic(err)
	}
	if _, err := svc.CreateGroup(ctx, domain.Group{Name: "reports"}); err != nil {
		panic(err)
	}
	job, err := svc.CreateJob(ctx, domain.Job{Group: "reports", Name: "greeting",
		Schedule: "* * * * * *", Handler: "hello"})
	if err != nil {
		panic(err)
	}

	// Wait for the first run to finish.
	for ev := range store.WatchRuns(ctx, 0) {
		if ev.Run.JobID == job.ID && ev.Run.State.Terminal() {
			fmt.Printf("%s: %s\n", ev.Run.State, ev.Run.Output)
			break
		}
	}
	stop()
	<-done
	<-done
	// Output:
	// succeeded: hello from attempt 1
}
