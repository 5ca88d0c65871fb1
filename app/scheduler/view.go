package scheduler

import (
	"slices"
	"strings"
	"time"

	"github.com/pink-scheduler/pink/domain"
)

// view is the term's picture of the active runs and live workers, built
// from one scan and kept current by watches. Owned by the term loop.
type view struct {
	runs    map[string]*domain.Run         // active runs by ID
	byJob   map[string]map[string]struct{} // active run IDs by job
	load    map[string]int                 // assigned or running runs by worker
	pending *pendingQueue                  // pending run IDs
	workers map[string]domain.Worker       // live workers by ID
	byGroup map[string][]domain.Worker     // live workers by group, sorted by ID; rebuilt lazily
	// capable caches, by group, the live workers of the group that can
	// run a handler with a selector (sorted by ID); dropped with byGroup.
	capable map[string]map[capKey][]domain.Worker
}

// capKey is what decides whether a worker can run a run, its load aside.
type capKey struct {
	handler  string
	selector string // selectorKey of the selector
}

func newView() *view {
	return &view{
		runs: make(map[string]*domain.Run), byJob: make(map[string]map[string]struct{}),
		load: make(map[string]int), pending: newPendingQueue(),
		workers: make(map[string]domain.Worker), byGroup: make(map[string][]domain.Worker),
		capable: make(map[string]map[capKey][]domain.Worker),
	}
}

// putRun records a run's new value; a terminal run leaves the view. An
// older value than the one held (by Version) is ignored, except that
// Version 0 (our own write, not yet seen by the watch) never replaces a
// versioned one.
func (v *view) putRun(r domain.Run) {
	if old, ok := v.runs[r.ID]; ok {
		if r.Version != 0 && old.Version > r.Version {
			return
		}
		if r.Version == 0 && old.Version != 0 {
			return
		}
		v.dropRun(old.ID)
	}
	if !r.Active() {
		return
	}
	rr := r
	v.runs[r.ID] = &rr
	if v.byJob[r.JobID] == nil {
		v.byJob[r.JobID] = make(map[string]struct{})
	}
	v.byJob[r.JobID][r.ID] = struct{}{}
	switch r.State {
	case domain.RunPending:
		v.pending.put(r.ID, r.NotBefore)
	case domain.RunAssigned, domain.RunRunning:
		v.load[r.WorkerID]++
	}
}

// dropRun removes a run from the view.
func (v *view) dropRun(id string) {
	r, ok := v.runs[id]
	if !ok {
		return
	}
	delete(v.runs, id)
	if m := v.byJob[r.JobID]; m != nil {
		delete(m, id)
		if len(m) == 0 {
			delete(v.byJob, r.JobID)
		}
	}
	v.pending.remove(id)
	if r.State == domain.RunAssigned || r.State == domain.RunRunning {
		if v.load[r.WorkerID]--; v.load[r.WorkerID] <= 0 {
			delete(v.load, r.WorkerID)
		}
	}
}

// hasActive reports whether a job has an active run.
func (v *view) hasActive(jobID string) bool { return len(v.byJob[jobID]) > 0 }

// activeOf returns the active runs of a job, sorted by ID.
func (v *view) activeOf(jobID string) []domain.Run {
	var out []domain.Run
	for id := range v.byJob[jobID] {
		out = append(out, *v.runs[id])
	}
	slices.SortFunc(out, func(a, b domain.Run) int { return strings.Compare(a.ID, b.ID) })
	return out
}

// runsOn returns the assigned or running runs of a worker.
func (v *view) runsOn(workerID string) []domain.Run {
	var out []domain.Run
	for _, r := range v.runs {
		if r.WorkerID == workerID && (r.State == domain.RunAssigned || r.State == domain.RunRunning) {
			out = append(out, *r)
		}
	}
	slices.SortFunc(out, func(a, b domain.Run) int { return strings.Compare(a.ID, b.ID) })
	return out
}

func (v *view) putWorker(w domain.Worker) {
	if old, ok := v.workers[w.ID]; ok && old.Group != w.Group {
		v.forgetGroup(old.Group)
	}
	v.workers[w.ID] = w
	v.forgetGroup(w.Group)
}

func (v *view) dropWorker(id string) (domain.Worker, bool) {
	w, ok := v.workers[id]
	if ok {
		delete(v.workers, id)
		v.forgetGroup(w.Group)
	}
	return w, ok
}

// forgetGroup drops what is cached about a group's workers.
func (v *view) forgetGroup(group string) {
	delete(v.byGroup, group)
	delete(v.capable, group)
}

// capableOf returns the live workers of r's group that have r's handler
// and carry its selector's labels, sorted by ID, from the cache: routing
// then only checks load, pin and earlier attempts. The slice is shared:
// do not modify it.
func (v *view) capableOf(r *domain.Run) []domain.Worker {
	k := capKey{handler: r.Handler, selector: selectorKey(r.Selector)}
	m := v.capable[r.Group]
	if ws, ok := m[k]; ok {
		return ws
	}
	var ws []domain.Worker
	for _, w := range v.groupWorkers(r.Group) {
		if w.CanRun(r.Handler, r.Selector) {
			ws = append(ws, w)
		}
	}
	if m == nil {
		m = make(map[capKey][]domain.Worker)
		v.capable[r.Group] = m
	}
	m[k] = ws
	return ws
}

// selectorKey encodes a selector as a string, the same for equal maps.
func selectorKey(sel map[string]string) string {
	switch len(sel) {
	case 0:
		return ""
	case 1:
		for k, val := range sel {
			return k + "\x00" + val + "\x00"
		}
	}
	keys := make([]string, 0, len(sel))
	for k := range sel {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b strings.Builder
	for _, k := range keys {
		b.WriteString(k)
		b.WriteByte(0)
		b.WriteString(sel[k])
		b.WriteByte(0)
	}
	return b.String()
}

// groupWorkers returns the live workers of a group sorted by ID.
func (v *view) groupWorkers(group string) []domain.Worker {
	if ws, ok := v.byGroup[group]; ok {
		return ws
	}
	var ws []domain.Worker
	for _, w := range v.workers {
		if w.Group == group {
			ws = append(ws, w)
		}
	}
	slices.SortFunc(ws, func(a, b domain.Worker) int { return strings.Compare(a.ID, b.ID) })
	v.byGroup[group] = ws
	return ws
}

// earliestNotBefore returns the earliest retry time among pending runs
// that are not yet due, or zero. Parked runs are due already.
func (v *view) earliestNotBefore(now time.Time) time.Time {
	return v.pending.nextAfter(now)
}
