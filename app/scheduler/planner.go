package scheduler

import (
	"container/heap"
	"time"
)

// planner is a min-heap of the next nominal fire time of every active job:
// taking the due ones costs O(log n) each, and an idle job costs nothing per
// tick. It is owned by one goroutine (the term loop) and not locked.
type planner struct {
	h   planHeap
	idx map[string]*planEntry
}

type planEntry struct {
	jobID string
	at    time.Time
	pos   int
}

func newPlanner() *planner { return &planner{idx: make(map[string]*planEntry)} }

// set schedules jobID at at, replacing any earlier entry.
func (p *planner) set(jobID string, at time.Time) {
	if e, ok := p.idx[jobID]; ok {
		e.at = at
		heap.Fix(&p.h, e.pos)
		return
	}
	e := &planEntry{jobID: jobID, at: at}
	p.idx[jobID] = e
	heap.Push(&p.h, e)
}

// remove drops jobID's entry, if any.
func (p *planner) remove(jobID string) {
	if e, ok := p.idx[jobID]; ok {
		heap.Remove(&p.h, e.pos)
		delete(p.idx, jobID)
	}
}

// next returns the earliest entry's time, or false if there is none.
func (p *planner) next() (time.Time, bool) {
	if len(p.h) == 0 {
		return time.Time{}, false
	}
	return p.h[0].at, true
}

// due pops up to max entries whose time is at or before now, earliest
// first. The caller sets their next time again.
func (p *planner) due(now time.Time, max int) []planEntry {
	var out []planEntry
	for len(p.h) > 0 && !p.h[0].at.After(now) && len(out) < max {
		e := heap.Pop(&p.h).(*planEntry)
		delete(p.idx, e.jobID)
		out = append(out, *e)
	}
	return out
}

// len returns the number of planned jobs.
func (p *planner) len() int { return len(p.h) }

// at returns the planned time of jobID.
func (p *planner) at(jobID string) (time.Time, bool) {
	e, ok := p.idx[jobID]
	if !ok {
		return time.Time{}, false
	}
	return e.at, true
}

type planHeap []*planEntry

func (h planHeap) Len() int { return len(h) }
func (h planHeap) Less(i, j int) bool {
	if h[i].at.Equal(h[j].at) {
		return h[i].jobID < h[j].jobID
	}
	return h[i].at.Before(h[j].at)
}
func (h planHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].pos, h[j].pos = i, j
}
func (h *planHeap) Push(x any) {
	e := x.(*planEntry)
	e.pos = len(*h)
	*h = append(*h, e)
}
func (h *planHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	e.pos = -1
	return e
}
