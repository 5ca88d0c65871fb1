package domain_test

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pink-scheduler/pink/domain"
)

func worker(id string, capacity int) domain.Worker {
	return domain.Worker{ID: id, Group: "g", Capacity: capacity}
}

func ids(ws []domain.Worker) []string {
	out := []string{}
	for _, w := range ws {
		out = append(out, w.ID)
	}
	return out
}

func TestEligible(t *testing.T) {
	run := &domain.Run{ID: "r", Group: "g", Handler: "h"}
	selRun := &domain.Run{ID: "r", Group: "g", Handler: "h", Selector: map[string]string{"zone": "a", "disk": "ssd"}}
	pinned := &domain.Run{ID: "r", Group: "g", Handler: "h", PinnedWorker: "w2"}

	withHandlers := func(w domain.Worker, hs ...string) domain.Worker { w.Handlers = hs; return w }
	withLabels := func(w domain.Worker, kv ...string) domain.Worker {
		w.Labels = map[string]string{}
		for i := 0; i < len(kv); i += 2 {
			w.Labels[kv[i]] = kv[i+1]
		}
		return w
	}
	otherGroup := worker("x1", 10)
	otherGroup.Group = "other"

	tests := []struct {
		name  string
		run   *domain.Run
		cands []domain.Worker
		in    domain.RouteInput
		want  []string
	}{
		{"none", run, nil, domain.RouteInput{}, []string{}},
		{"order kept", run, []domain.Worker{worker("w3", 1), worker("w1", 1), worker("w2", 1)},
			domain.RouteInput{}, []string{"w3", "w1", "w2"}},
		{"other group excluded", run, []domain.Worker{otherGroup, worker("w1", 1)},
			domain.RouteInput{}, []string{"w1"}},
		{"handler", run, []domain.Worker{
			withHandlers(worker("w1", 1), "other"),
			withHandlers(worker("w2", 1), "other", "h"),
			withHandlers(worker("w3", 1)), // empty means any
		}, domain.RouteInput{}, []string{"w2", "w3"}},
		{"handler is exact", &domain.Run{Group: "g", Handler: "h"}, []domain.Worker{
			withHandlers(worker("w1", 1), "H", "hh", "h "),
		}, domain.RouteInput{}, []string{}},
		{"selector", selRun, []domain.Worker{
			withLabels(worker("w1", 1), "zone", "a", "disk", "ssd", "extra", "x"),
			withLabels(worker("w2", 1), "zone", "a"),
			withLabels(worker("w3", 1), "zone", "b", "disk", "ssd"),
			worker("w4", 1),
			withLabels(worker("w5", 1), "zone", "a", "disk", "ssd"),
		}, domain.RouteInput{}, []string{"w1", "w5"}},
		{"empty selector value must match", &domain.Run{Group: "g", Handler: "h", Selector: map[string]string{"gpu": ""}},
			[]domain.Worker{withLabels(worker("w1", 1), "gpu", ""), withLabels(worker("w2", 1), "gpu", "a100")},
			domain.RouteInput{}, []string{"w1"}},
		{"capacity", run, []domain.Worker{worker("w1", 2), worker("w2", 2), worker("w3", 2)},
			domain.RouteInput{Load: map[string]int{"w1": 2, "w2": 1, "w3": 5}}, []string{"w2"}},
		{"no load info means idle", run, []domain.Worker{worker("w1", 1)},
			domain.RouteInput{}, []string{"w1"}},
		{"pinned", pinned, []domain.Worker{worker("w1", 1), worker("w2", 1), worker("w3", 1)},
			domain.RouteInput{}, []string{"w2"}},
		{"pinned worker full", pinned, []domain.Worker{worker("w1", 1), worker("w2", 1)},
			domain.RouteInput{Load: map[string]int{"w2": 1}}, []string{}},
		{"pinned worker gone", pinned, []domain.Worker{worker("w1", 1)},
			domain.RouteInput{}, []string{}},
		{"pinned worker avoided is still used", pinned, []domain.Worker{worker("w1", 1), worker("w2", 1)},
			domain.RouteInput{Avoid: []string{"w2"}}, []string{"w2"}},
		{"avoid dropped when another remains", run, []domain.Worker{worker("w1", 1), worker("w2", 1), worker("w3", 1)},
			domain.RouteInput{Avoid: []string{"w1", "w3"}}, []string{"w2"}},
		{"avoid kept when it is the only one", run, []domain.Worker{worker("w1", 1)},
			domain.RouteInput{Avoid: []string{"w1"}}, []string{"w1"}},
		{"all avoided", run, []domain.Worker{worker("w1", 1), worker("w2", 1)},
			domain.RouteInput{Avoid: []string{"w2", "w1"}}, []string{"w1", "w2"}},
		{"avoided worker must still be eligible", run, []domain.Worker{worker("w1", 1), worker("w2", 1)},
			domain.RouteInput{Avoid: []string{"w1"}, Load: map[string]int{"w2": 1}}, []string{"w1"}},
		{"avoid of an unknown worker", run, []domain.Worker{worker("w1", 1)},
			domain.RouteInput{Avoid: []string{"zz"}}, []string{"w1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := domain.Eligible(tt.run, tt.cands, tt.in)
			assert.Equal(t, tt.want, ids(got))
		})
	}
}

func fiveWorkers() []domain.Worker {
	return []domain.Worker{worker("w1", 10), worker("w2", 10), worker("w3", 10), worker("w4", 10), worker("w5", 10)}
}

func TestPickEmpty(t *testing.T) {
	for _, s := range []domain.RouteStrategy{domain.RouteRoundRobin, domain.RouteRandom, domain.RouteLeastBusy,
		domain.RouteHash, domain.RouteBroadcast, ""} {
		w, ok := domain.Pick(s, "k", nil, domain.RouteInput{Counter: 3, Random: 9})
		assert.False(t, ok, s)
		assert.Equal(t, domain.Worker{}, w, s)
	}
}

func TestPickRoundRobin(t *testing.T) {
	ws := fiveWorkers()[:3]
	for _, s := range []domain.RouteStrategy{domain.RouteRoundRobin, domain.RouteBroadcast} {
		var got []string
		for c := uint64(0); c < 7; c++ {
			w, ok := domain.Pick(s, "k", ws, domain.RouteInput{Counter: c})
			require.True(t, ok)
			got = append(got, w.ID)
		}
		assert.Equal(t, []string{"w1", "w2", "w3", "w1", "w2", "w3", "w1"}, got, s)
	}
	// A counter that wrapped around still picks.
	w, ok := domain.Pick(domain.RouteRoundRobin, "k", ws, domain.RouteInput{Counter: 1<<64 - 1})
	require.True(t, ok)
	assert.Equal(t, ws[(1<<64-1)%3].ID, w.ID)
}

func TestPickRandom(t *testing.T) {
	ws := fiveWorkers()[:3]
	for r, want := range map[uint64]string{0: "w1", 1: "w2", 2: "w3", 7: "w2", 1<<64 - 1: "w1"} {
		w, ok := domain.Pick(domain.RouteRandom, "k", ws, domain.RouteInput{Random: r, Counter: 2})
		require.True(t, ok)
		assert.Equal(t, want, w.ID, "random %d", r)
	}
}

func TestPickLeastBusy(t *testing.T) {
	tests := []struct {
		name string
		ws   []domain.Worker
		load map[string]int
		want string
	}{
		{"lowest load", []domain.Worker{worker("w1", 10), worker("w2", 10), worker("w3", 10)},
			map[string]int{"w1": 5, "w2": 1, "w3": 3}, "w2"},
		{"missing load is idle", []domain.Worker{worker("w1", 10), worker("w2", 10)},
			map[string]int{"w1": 1}, "w2"},
		{"ratio, not count", []domain.Worker{worker("w1", 100), worker("w2", 2)},
			map[string]int{"w1": 10, "w2": 1}, "w1"}, // 0.1 < 0.5
		{"ratio, small idle worker", []domain.Worker{worker("w1", 10), worker("w2", 1)},
			map[string]int{"w1": 3, "w2": 0}, "w2"},
		{"tie goes to the first", []domain.Worker{worker("w3", 4), worker("w1", 2), worker("w2", 4)},
			map[string]int{"w3": 2, "w1": 1, "w2": 2}, "w3"},
		{"no load at all", []domain.Worker{worker("w2", 4), worker("w1", 4)}, nil, "w2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w, ok := domain.Pick(domain.RouteLeastBusy, "k", tt.ws, domain.RouteInput{Load: tt.load, Counter: 1, Random: 1})
			require.True(t, ok)
			assert.Equal(t, tt.want, w.ID)
		})
	}
}

func hashKeys(n int) []string {
	keys := make([]string, n)
	for i := range keys {
		keys[i] = fmt.Sprintf("job-%d~%d", i/4, i%4)
	}
	return keys
}

func pickHash(t *testing.T, key string, ws []domain.Worker, in domain.RouteInput) string {
	t.Helper()
	w, ok := domain.Pick(domain.RouteHash, key, ws, in)
	require.True(t, ok)
	return w.ID
}

func TestPickHashStable(t *testing.T) {
	ws := fiveWorkers()
	rng := rand.New(rand.NewPCG(1, 1))
	for _, key := range hashKeys(200) {
		first := pickHash(t, key, ws, domain.RouteInput{})
		// Independent of counter, randomness, load and candidate order.
		shuffled := append([]domain.Worker(nil), ws...)
		rng.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
		in := domain.RouteInput{Counter: rng.Uint64(), Random: rng.Uint64(), Load: map[string]int{"w1": 3}}
		assert.Equal(t, first, pickHash(t, key, shuffled, in), key)
	}
}

func TestPickHashSpreads(t *testing.T) {
	ws := fiveWorkers()
	counts := map[string]int{}
	for _, key := range hashKeys(1000) {
		counts[pickHash(t, key, ws, domain.RouteInput{})]++
	}
	require.Len(t, counts, 5, "every worker gets keys: %v", counts)
	for id, n := range counts {
		assert.InDelta(t, 200, n, 80, "worker %s got %d of 1000 keys: %v", id, n, counts)
	}
}

// TestPickHashMinimalMovement: removing a worker moves only its keys, and
// adding one moves keys only to it (rendezvous hashing).
func TestPickHashMinimalMovement(t *testing.T) {
	ws := fiveWorkers()
	keys := hashKeys(1000)
	before := map[string]string{}
	for _, k := range keys {
		before[k] = pickHash(t, k, ws, domain.RouteInput{})
	}
	for removed := range ws {
		rest := append(append([]domain.Worker(nil), ws[:removed]...), ws[removed+1:]...)
		gone := ws[removed].ID
		moved := 0
		for _, k := range keys {
			after := pickHash(t, k, rest, domain.RouteInput{})
			require.NotEqual(t, gone, after)
			if before[k] == gone {
				moved++
				continue
			}
			require.Equal(t, before[k], after, "key %s moved from %s though %s was removed", k, before[k], gone)
		}
		assert.Positive(t, moved)
	}

	// Adding a sixth worker: a key either stays or moves to the new one.
	more := append(append([]domain.Worker(nil), ws...), worker("w6", 10))
	toNew := 0
	for _, k := range keys {
		after := pickHash(t, k, more, domain.RouteInput{})
		if after != before[k] {
			require.Equal(t, "w6", after, "key %s moved between old workers", k)
			toNew++
		}
	}
	assert.InDelta(t, 1000/6, toNew, 70, "about a sixth of the keys move to the new worker")
}

func TestPickUnknownStrategyIsRoundRobin(t *testing.T) {
	ws := fiveWorkers()
	w, ok := domain.Pick("", "k", ws, domain.RouteInput{Counter: 7, Random: 1})
	require.True(t, ok)
	assert.Equal(t, "w3", w.ID)
}

func TestWorkerCanRun(t *testing.T) {
	w := domain.Worker{ID: "w", Group: "g", Handlers: []string{"a", "b"}, Labels: map[string]string{"zone": "eu"}}
	assert.True(t, w.CanRun("a", nil))
	assert.True(t, w.CanRun("b", map[string]string{"zone": "eu"}))
	assert.False(t, w.CanRun("c", nil))
	assert.False(t, w.CanRun("a", map[string]string{"zone": "us"}))
	assert.False(t, w.CanRun("a", map[string]string{"zone": "eu", "gpu": "yes"}))
	anyHandler := domain.Worker{ID: "w", Group: "g"}
	assert.True(t, anyHandler.CanRun("anything", nil))
}

// eligibleReference is Eligible as it was first written (two slices grown
// by appending); the faster one must decide exactly as it did.
func eligibleReference(r *domain.Run, candidates []domain.Worker, in domain.RouteInput) []domain.Worker {
	var out, fresh []domain.Worker
	for _, w := range candidates {
		if w.Group != r.Group || !w.CanRun(r.Handler, r.Selector) {
			continue
		}
		if r.PinnedWorker != "" && w.ID != r.PinnedWorker {
			continue
		}
		if w.Capacity > 0 && in.Load[w.ID] >= w.Capacity {
			continue
		}
		out = append(out, w)
		avoided := false
		for _, a := range in.Avoid {
			if a == w.ID {
				avoided = true
				break
			}
		}
		if !avoided {
			fresh = append(fresh, w)
		}
	}
	if len(fresh) > 0 {
		return fresh
	}
	return out
}

func TestEligibleMatchesReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	var buf []domain.Worker
	for i := range 2000 {
		n := rng.IntN(200) // past the 128 indices kept on the stack
		cands := make([]domain.Worker, n)
		load := map[string]int{}
		for k := range cands {
			w := worker(fmt.Sprintf("w%03d", k), 1+rng.IntN(3))
			if rng.IntN(10) == 0 {
				w.Group = "other"
			}
			if rng.IntN(4) == 0 {
				w.Handlers = []string{"other"}
			}
			if rng.IntN(2) == 0 {
				w.Labels = map[string]string{"zone": []string{"a", "b"}[rng.IntN(2)]}
			}
			load[w.ID] = rng.IntN(4)
			cands[k] = w
		}
		r := &domain.Run{ID: "r", Group: "g", Handler: "h"}
		if rng.IntN(3) == 0 {
			r.Selector = map[string]string{"zone": "a"}
		}
		if n > 0 && rng.IntN(5) == 0 {
			r.PinnedWorker = cands[rng.IntN(n)].ID
		}
		in := domain.RouteInput{Load: load}
		for range rng.IntN(4) {
			if n > 0 {
				in.Avoid = append(in.Avoid, cands[rng.IntN(n)].ID)
			}
		}
		want := ids(eligibleReference(r, cands, in))
		require.Equal(t, want, ids(domain.Eligible(r, cands, in)), "case %d", i)
		buf = domain.AppendEligible(buf[:0], r, cands, in)
		require.Equal(t, want, ids(buf), "case %d, appended", i)
	}
}

func TestAppendEligibleReusesItsBuffer(t *testing.T) {
	cands := fiveWorkers()
	r := &domain.Run{ID: "r", Group: "g", Handler: "h"}
	in := domain.RouteInput{Load: map[string]int{"w2": 10}, Avoid: []string{"w1"}}
	buf := make([]domain.Worker, 0, len(cands))
	allocs := testing.AllocsPerRun(100, func() {
		buf = domain.AppendEligible(buf[:0], r, cands, in)
	})
	require.Equal(t, []string{"w3", "w4", "w5"}, ids(buf))
	require.Zero(t, allocs)
}
