package domain

import "slices"

// RouteInput is what a routing decision depends on besides the candidates.
// It carries no randomness source or clock: the caller supplies them, so the
// decision is a pure function.
type RouteInput struct {
	// Counter is the caller's round-robin counter for the job.
	Counter uint64
	// Random is a random number, used by the random strategy.
	Random uint64
	// Load maps worker ID to its active runs (least_busy, capacity).
	Load map[string]int
	// Avoid lists workers to skip when another is eligible (earlier
	// attempts of a retried run).
	Avoid []string
}

// Eligible returns the workers of candidates that can run r: right handler,
// matching selector, below capacity, pinned worker if any. If some eligible
// worker is not in in.Avoid, the avoided ones are dropped. The order of
// candidates is kept; pass them sorted by ID for stable decisions.
//
// It allocates once, the result: see AppendEligible.
func Eligible(r *Run, candidates []Worker, in RouteInput) []Worker {
	return AppendEligible(nil, r, candidates, in)
}

// AppendEligible appends the workers Eligible returns to dst and returns
// the extended slice; with a dst of enough capacity (a buffer the caller
// reuses) it does not allocate. The candidates are filtered once into a
// list of indices (on the stack for up to 128 eligible workers), and the
// avoided ones are sorted out only when in.Avoid is not empty.
func AppendEligible(dst []Worker, r *Run, candidates []Worker, in RouteInput) []Worker {
	idx := make([]int32, 0, 128)
	fresh := 0
	for i := range candidates {
		if !CanTake(r, &candidates[i], in.Load) {
			continue
		}
		idx = append(idx, int32(i))
		if len(in.Avoid) > 0 && !avoided(candidates[i].ID, in.Avoid) {
			fresh++
		}
	}
	if len(idx) == 0 {
		return dst
	}
	dropAvoided := len(in.Avoid) > 0 && fresh > 0
	n := len(idx)
	if dropAvoided {
		n = fresh
	}
	dst = slices.Grow(dst, n)
	for _, i := range idx {
		if dropAvoided && avoided(candidates[i].ID, in.Avoid) {
			continue
		}
		dst = append(dst, candidates[i])
	}
	return dst
}

// CanTake reports whether worker w can take run r now: same group, right
// handler, matching selector, the pinned worker if r has one, and below
// its capacity by load. It is Eligible's test for one worker, without the
// Avoid preference.
func CanTake(r *Run, w *Worker, load map[string]int) bool {
	if w.Group != r.Group || !w.CanRun(r.Handler, r.Selector) {
		return false
	}
	if r.PinnedWorker != "" && w.ID != r.PinnedWorker {
		return false
	}
	return w.Capacity <= 0 || load[w.ID] < w.Capacity
}

func avoided(id string, avoid []string) bool {
	for _, a := range avoid {
		if a == id {
			return true
		}
	}
	return false
}

// Pick chooses one worker of eligible for a run by strategy. It returns
// false if eligible is empty. Broadcast is handled by the caller (one run
// per worker) and picks like round robin here.
func Pick(strategy RouteStrategy, key string, eligible []Worker, in RouteInput) (Worker, bool) {
	if len(eligible) == 0 {
		return Worker{}, false
	}
	n := uint64(len(eligible))
	switch strategy {
	case RouteRandom:
		return eligible[in.Random%n], true
	case RouteLeastBusy:
		best := 0
		for i := 1; i < len(eligible); i++ {
			if loadRatio(eligible[i], in.Load) < loadRatio(eligible[best], in.Load) {
				best = i
			}
		}
		return eligible[best], true
	case RouteHash:
		// Rendezvous (highest random weight) hashing: each key goes to the
		// worker with the highest hash(key, worker); removing a worker only
		// moves the keys it held.
		best, bestScore := 0, uint64(0)
		for i, w := range eligible {
			s := mix(fnv64(key) ^ fnv64(w.ID))
			if i == 0 || s > bestScore {
				best, bestScore = i, s
			}
		}
		return eligible[best], true
	default:
		return eligible[in.Counter%n], true
	}
}

// loadRatio compares workers of different capacity: active runs per slot.
func loadRatio(w Worker, load map[string]int) float64 {
	c := w.Capacity
	if c <= 0 {
		c = 1
	}
	return float64(load[w.ID]) / float64(c)
}

// mix is a 64-bit finalizer (splitmix64) spreading fnv's weak low bits.
func mix(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}
