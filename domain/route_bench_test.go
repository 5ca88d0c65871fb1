package domain_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/pink-scheduler/pink/domain"
)

// benchWorkers returns n live workers of group "g", sorted by ID as the
// scheduler passes them, with half of them labelled zone=b.
func benchWorkers(n int) ([]domain.Worker, map[string]int) {
	ws := make([]domain.Worker, n)
	load := make(map[string]int, n)
	for i := range ws {
		zone := "a"
		if i%2 == 1 {
			zone = "b"
		}
		ws[i] = domain.Worker{
			ID: fmt.Sprintf("worker-%03d", i), Group: "g", Hostname: "host", Handlers: []string{"noop", "report"},
			Labels: map[string]string{"zone": zone}, Capacity: 100, StartedAt: time.Unix(0, 0),
		}
		load[ws[i].ID] = i % 50
	}
	return ws, load
}

func benchRun(route domain.RouteStrategy) domain.Run {
	return domain.Run{ID: "20261126T000000.000Z~job~0", JobID: "job", Group: "g", Handler: "noop",
		Route: route, RouteKey: "job~0", Attempt: 1, State: domain.RunPending}
}

// BenchmarkEligible filters 100 workers for a run: as the scheduler does
// for every run it routes.
func BenchmarkEligible(b *testing.B) {
	ws, load := benchWorkers(100)
	cases := []struct {
		name string
		mod  func(*domain.Run, *domain.RouteInput)
	}{
		{"plain", func(*domain.Run, *domain.RouteInput) {}},
		{"selector", func(r *domain.Run, _ *domain.RouteInput) { r.Selector = map[string]string{"zone": "b"} }},
		{"retry-avoid-2", func(_ *domain.Run, in *domain.RouteInput) { in.Avoid = []string{"worker-003", "worker-042"} }},
	}
	for _, c := range cases {
		b.Run(c.name+"/workers=100", func(b *testing.B) {
			r := benchRun(domain.RouteRoundRobin)
			in := domain.RouteInput{Load: load}
			c.mod(&r, &in)
			b.ReportAllocs()
			for b.Loop() {
				if len(domain.Eligible(&r, ws, in)) == 0 {
					b.Fatal("no eligible worker")
				}
			}
		})
	}
}

// BenchmarkPick picks one of 100 eligible workers by each strategy.
func BenchmarkPick(b *testing.B) {
	ws, load := benchWorkers(100)
	for _, s := range []domain.RouteStrategy{domain.RouteRoundRobin, domain.RouteRandom, domain.RouteLeastBusy, domain.RouteHash} {
		b.Run(string(s)+"/workers=100", func(b *testing.B) {
			in := domain.RouteInput{Load: load}
			b.ReportAllocs()
			for b.Loop() {
				in.Counter++
				in.Random = in.Counter * 0x9e3779b97f4a7c15
				if _, ok := domain.Pick(s, "job~0", ws, in); !ok {
					b.Fatal("no pick")
				}
			}
		})
	}
}

// BenchmarkRoute is Eligible then Pick, the whole routing decision for
// one run among 100 workers.
func BenchmarkRoute(b *testing.B) {
	ws, load := benchWorkers(100)
	for _, s := range []domain.RouteStrategy{domain.RouteRoundRobin, domain.RouteLeastBusy, domain.RouteHash} {
		b.Run(string(s)+"/workers=100", func(b *testing.B) {
			r := benchRun(s)
			in := domain.RouteInput{Load: load}
			b.ReportAllocs()
			for b.Loop() {
				in.Counter++
				if _, ok := domain.Pick(r.Route, r.RouteKey, domain.Eligible(&r, ws, in), in); !ok {
					b.Fatal("no pick")
				}
			}
		})
	}
}
