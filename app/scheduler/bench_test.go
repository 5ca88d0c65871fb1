package scheduler

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/pink-scheduler/pink/adapters/clock"
	"github.com/pink-scheduler/pink/adapters/memory"
	"github.com/pink-scheduler/pink/domain"
	"github.com/pink-scheduler/pink/ports"
)

// The benchmarks here measure the leader loop's own work, without a store:
// the planner (a heap of next fire times) and building one fire (overlap
// check, runs, routing). cmd/pink-bench measures the whole pipeline on
// etcd.

var benchEpoch = time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)

// filledPlanner returns a planner of n jobs due within the next hour.
func filledPlanner(n int) *planner {
	p := newPlanner()
	r := rand.New(rand.NewPCG(1, 2))
	for i := range n {
		p.set(fmt.Sprintf("job-%07d", i), benchEpoch.Add(time.Duration(r.Int64N(int64(time.Hour)))))
	}
	return p
}

var plannerSizes = []int{1000, 100_000, 1_000_000}

// BenchmarkPlannerDue is the planner's hot path: take the earliest due job
// and plan its next fire a second later, in a planner of n jobs (all due).
func BenchmarkPlannerDue(b *testing.B) {
	for _, n := range plannerSizes {
		b.Run(fmt.Sprintf("jobs=%d", n), func(b *testing.B) {
			p := filledPlanner(n)
			now := benchEpoch.AddDate(100, 0, 0) // every job is due, again and again
			b.ReportAllocs()
			for b.Loop() {
				d := p.due(now, 1)
				p.set(d[0].jobID, d[0].at.Add(time.Second))
			}
		})
	}
}

// BenchmarkPlannerDueBatch takes due jobs 64 at a time (the scheduler's
// default batch) and plans them again; reported per job.
func BenchmarkPlannerDueBatch(b *testing.B) {
	for _, n := range plannerSizes {
		b.Run(fmt.Sprintf("jobs=%d", n), func(b *testing.B) {
			p := filledPlanner(n)
			now := benchEpoch.AddDate(100, 0, 0)
			b.ReportAllocs()
			jobs := 0
			for b.Loop() {
				for _, d := range p.due(now, 64) {
					p.set(d.jobID, d.at.Add(time.Second))
				}
				jobs += 64
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(jobs), "ns/job")
		})
	}
}

// BenchmarkPlannerPush adds a job to a planner of n jobs and removes it
// again (a job created, then deleted).
func BenchmarkPlannerPush(b *testing.B) {
	for _, n := range plannerSizes {
		b.Run(fmt.Sprintf("jobs=%d", n), func(b *testing.B) {
			p := filledPlanner(n)
			at := benchEpoch.Add(30 * time.Minute)
			b.ReportAllocs()
			for b.Loop() {
				p.set("new-job", at)
				p.remove("new-job")
			}
		})
	}
}

// BenchmarkPlannerReplan moves a planned job to another time (a job whose
// schedule changed).
func BenchmarkPlannerReplan(b *testing.B) {
	for _, n := range plannerSizes {
		b.Run(fmt.Sprintf("jobs=%d", n), func(b *testing.B) {
			p := filledPlanner(n)
			r := rand.New(rand.NewPCG(3, 4))
			b.ReportAllocs()
			for b.Loop() {
				p.set(fmt.Sprintf("job-%07d", r.IntN(n)), benchEpoch.Add(time.Duration(r.Int64N(int64(time.Hour)))))
			}
		})
	}
}

// benchLeadership is a term that never ends.
type benchLeadership struct{}

func (benchLeadership) Fence() ports.Fence           { return ports.Fence{Key: "/bench/leader", Token: 1} }
func (benchLeadership) Done() <-chan struct{}        { return nil }
func (benchLeadership) Resign(context.Context) error { return nil }

// benchTerm returns a term with workers live workers of group "g" and
// jobs jobs, without a store behind it.
func benchTerm(b *testing.B, workers, jobs int, route domain.RouteStrategy) *term {
	mem := memory.New(clock.System{})
	s, err := New(Config{Jobs: mem, Fires: mem, Runs: mem, Workers: mem, Elector: mem.NewElector("bench", time.Second),
		Clock: clock.System{}, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		b.Fatal(err)
	}
	t := newTerm(s, benchLeadership{})
	for i := range workers {
		t.v.putWorker(domain.Worker{ID: fmt.Sprintf("w-%03d", i), Group: "g", Handlers: []string{"noop"},
			Capacity: domain.MaxCapacity, Labels: map[string]string{"zone": "a"}})
	}
	for i := range jobs {
		j := domain.Job{ID: fmt.Sprintf("job-%07d", i), Group: "g", Name: "bench", Schedule: "* * * * * *",
			Handler: "noop", State: domain.JobActive, Route: route, Overlap: domain.OverlapAllow, PlanFrom: benchEpoch}
		j.Normalize()
		if _, changed := t.putJob(j, false); !changed {
			b.Fatal("job not added")
		}
	}
	return t
}

// BenchmarkFireDue is the loop's CPU per fire, store excluded: overlap
// check, a run routed to one of the workers, the run put into the view,
// the fire added to the batch. The loop also drops the run from the view
// again (as the runs watch does when it finishes), so the view stays
// small.
func BenchmarkFireDue(b *testing.B) {
	for _, workers := range []int{4, 100} {
		for _, route := range []domain.RouteStrategy{domain.RouteRoundRobin, domain.RouteLeastBusy} {
			b.Run(fmt.Sprintf("workers=%d/route=%s", workers, route), func(b *testing.B) {
				const jobs = 1000
				t := benchTerm(b, workers, jobs, route)
				ids := make([]string, 0, jobs)
				for id := range t.jobs {
					ids = append(ids, id)
				}
				ctx := context.Background()
				at := benchEpoch.Add(time.Second)
				i := 0
				b.ReportAllocs()
				for b.Loop() {
					e := t.jobs[ids[i%jobs]]
					if err := t.fireDue(ctx, e, at, at); err != nil {
						b.Fatal(err)
					}
					w := t.batch[len(t.batch)-1]
					for _, r := range w.Runs {
						t.v.dropRun(r.ID)
					}
					if len(t.batch) == 64 {
						t.batch, t.batchJobs, t.batchPending = t.batch[:0], t.batchJobs[:0], 0
					}
					if i++; i%jobs == 0 {
						at = at.Add(time.Second)
					}
				}
			})
		}
	}
}
