package memory_test

import (
	"context"
	"fmt"
	"time"

	"github.com/pink-scheduler/pink/adapters/clock"
	"github.com/pink-scheduler/pink/adapters/memory"
	"github.com/pink-scheduler/pink/domain"
	"github.com/pink-scheduler/pink/ports"
)

// Example shows the in-memory backend used as Pink's store: a group and a
// job, a leader's fenced fire write (created once, whatever the retries),
// and a worker-side state change.
func Example() {
	ctx := context.Background()
	b := memory.New(clock.System{})
	defer b.Close()

	if _, err := b.CreateGroup(ctx, domain.Group{Name: "reports"}); err != nil {
		panic(err)
	}
	job := domain.Job{ID: "nightly", Group: "reports", Name: "Nightly report", Schedule: "0 2 * * *", Handler: "report"}
	job.Normalize()
	if _, err := b.CreateJob(ctx, job); err != nil {
		panic(err)
	}
	_, err := b.CreateJob(ctx, domain.Job{ID: "orphan", Group: "nope"})
	fmt.Println("unknown group:", domain.FieldOf(err))

	lead, err := b.NewElector("node-1", 10*time.Second).Campaign(ctx)
	if err != nil {
		panic(err)
	}
	defer lead.Resign(ctx)

	nominal := time.Date(2026, 11, 27, 2, 0, 0, 0, time.UTC)
	fire := domain.Fire{ID: domain.FireID(job.ID, nominal), JobID: job.ID, Group: job.Group,
		Nominal: nominal, Kind: domain.FireScheduled, Status: domain.FireDispatched}
	run := domain.NewRun(&job, &fire, 0, nominal)
	write := []ports.FireWrite{{Fire: fire, Runs: []domain.Run{run}}}
	for range 2 { // a retry after an unknown outcome is harmless
		created, err := b.CreateFires(ctx, lead.Fence(), write)
		fmt.Println("created:", created, err)
	}

	r, err := b.UpdateRun(ctx, run.ID, func(r *domain.Run) error { return r.Assign("worker-1", nominal) })
	fmt.Println(r.ID, r.State, r.WorkerID, err)
	_, err = b.UpdateRun(ctx, run.ID, func(r *domain.Run) error { return r.Start("worker-1", 2, nominal) })
	fmt.Println("stale attempt:", err != nil)

	// Output:
	// unknown group: group
	// created: [true] <nil>
	// created: [false] <nil>
	// 20261127T020000.000Z~nightly~0 assigned worker-1 <nil>
	// stale attempt: true
}
