package scheduler

import (
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pink-scheduler/pink/adapters/clock"
	"github.com/pink-scheduler/pink/adapters/memory"
	"github.com/pink-scheduler/pink/domain"
)

func testTerm(t *testing.T) *term {
	mem := memory.New(clock.System{})
	t.Cleanup(mem.Close)
	s, err := New(Config{Jobs: mem, Fires: mem, Runs: mem, Workers: mem, Elector: mem.NewElector("t", time.Second),
		Clock: clock.System{}, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Random: func() uint64 { return 5 }})
	require.NoError(t, err)
	return newTerm(s, benchLeadership{})
}

func workerIDs(ws []domain.Worker) []string {
	out := []string{}
	for _, w := range ws {
		out = append(out, w.ID)
	}
	return out
}

func TestCapableWorkersFollowWorkerChanges(t *testing.T) {
	v := newView()
	r := &domain.Run{Group: "g", Handler: "h", Selector: map[string]string{"zone": "a"}}
	v.putWorker(domain.Worker{ID: "w2", Group: "g", Labels: map[string]string{"zone": "a"}})
	v.putWorker(domain.Worker{ID: "w1", Group: "g", Labels: map[string]string{"zone": "a"}, Handlers: []string{"h"}})
	v.putWorker(domain.Worker{ID: "w3", Group: "g", Labels: map[string]string{"zone": "b"}})
	v.putWorker(domain.Worker{ID: "x1", Group: "other", Labels: map[string]string{"zone": "a"}})
	require.Equal(t, []string{"w1", "w2"}, workerIDs(v.capableOf(r)))
	require.Equal(t, []string{"w1", "w2", "w3"}, workerIDs(v.capableOf(&domain.Run{Group: "g", Handler: "h"})))

	// A worker re-registers with other labels, one leaves, one changes
	// group: the cache follows.
	v.putWorker(domain.Worker{ID: "w3", Group: "g", Labels: map[string]string{"zone": "a"}})
	require.Equal(t, []string{"w1", "w2", "w3"}, workerIDs(v.capableOf(r)))
	v.dropWorker("w1")
	require.Equal(t, []string{"w2", "w3"}, workerIDs(v.capableOf(r)))
	v.putWorker(domain.Worker{ID: "w2", Group: "other", Labels: map[string]string{"zone": "a"}})
	require.Equal(t, []string{"w3"}, workerIDs(v.capableOf(r)))
	require.Equal(t, []string{"w2", "x1"}, workerIDs(v.capableOf(&domain.Run{Group: "other", Handler: "h", Selector: map[string]string{"zone": "a"}})))
	require.Empty(t, v.capableOf(&domain.Run{Group: "g", Handler: "h", Selector: map[string]string{"zone": "a", "disk": "ssd"}}))
}

func TestSelectorKey(t *testing.T) {
	require.Equal(t, "", selectorKey(nil))
	require.Equal(t, selectorKey(map[string]string{"a": "1", "b": "2"}), selectorKey(map[string]string{"b": "2", "a": "1"}))
	require.NotEqual(t, selectorKey(map[string]string{"a": "1"}), selectorKey(map[string]string{"a": "1", "b": "2"}))
	require.NotEqual(t, selectorKey(map[string]string{"a": "1b"}), selectorKey(map[string]string{"a1": "b"}))
}

// The term routes through its cache of capable workers; it must choose as
// domain.Eligible and domain.Pick over all the group's workers do.
func TestRouteDecidesAsEligibleAndPick(t *testing.T) {
	tm := testTerm(t)
	rng := rand.New(rand.NewPCG(5, 6))
	for i := range 40 {
		w := domain.Worker{ID: fmt.Sprintf("w%02d", i), Group: []string{"g", "g", "other"}[i%3], Capacity: 1 + rng.IntN(3)}
		if rng.IntN(3) == 0 {
			w.Handlers = []string{"other"}
		}
		if rng.IntN(2) == 0 {
			w.Labels = map[string]string{"zone": []string{"a", "b"}[rng.IntN(2)]}
		}
		tm.v.putWorker(w)
	}
	strategies := []domain.RouteStrategy{domain.RouteRoundRobin, domain.RouteRandom, domain.RouteLeastBusy, domain.RouteHash}
	for i := range 3000 {
		for id := range tm.v.workers {
			if rng.IntN(4) == 0 {
				tm.v.load[id] = rng.IntN(4)
			}
		}
		r := domain.Run{ID: fmt.Sprintf("r%d", i), Group: "g", Handler: "h", RouteKey: fmt.Sprintf("k%d", rng.IntN(50)),
			Route: strategies[rng.IntN(len(strategies))]}
		if rng.IntN(3) == 0 {
			r.Selector = map[string]string{"zone": "a"}
		}
		if rng.IntN(4) == 0 {
			r.Attempts = []domain.Attempt{{WorkerID: fmt.Sprintf("w%02d", rng.IntN(40))}}
		}
		counter := uint64(rng.IntN(1000))
		in := domain.RouteInput{Load: tm.v.load, Avoid: r.PreviousWorkers(), Counter: counter, Random: 5}
		want, wantOK := domain.Pick(r.Route, r.RouteKey, domain.Eligible(&r, tm.v.groupWorkers("g"), in), in)
		c := counter
		got, ok := tm.route(&r, &c)
		require.Equal(t, wantOK, ok, "case %d", i)
		require.Equal(t, want.ID, got.ID, "case %d", i)
		if ok {
			require.Equal(t, counter+1, c, "case %d: the counter moves on", i)
		} else {
			require.Equal(t, counter, c, "case %d: the counter stays", i)
		}
	}
}
