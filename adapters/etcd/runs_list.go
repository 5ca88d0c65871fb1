package etcd

import (
	"context"
	"slices"
	"strings"
	"time"

	"go.etcd.io/etcd/api/v3/mvccpb"

	"github.com/pink-scheduler/pink/domain"
	"github.com/pink-scheduler/pink/ports"
)

// ListRuns lists runs newest first, ordered by run ID descending: a run ID
// starts with its fire's nominal time (ScheduledAt, to the millisecond), so
// this is ScheduledAt then ID. The cursor is the last run ID returned. All
// reads of one call are at one revision. Which keys it reads depends on the
// filter:
//
//   - only active states asked for: the pending and assigned keys (narrowed
//     to the group or worker), keys only, then the matching runs;
//   - a JobID: the job's history keys, newest first, merged with the job's
//     active keys;
//   - otherwise: the run index <p>/run/index/, newest first, filtered on the
//     index entries before any run is read.
//
// A call examines at most listScanBudget records; a page cut short is
// shorter than the limit and has a NextCursor.
func (s *Store) ListRuns(ctx context.Context, f ports.RunFilter) (ports.Page[domain.Run], error) {
	var page ports.Page[domain.Run]
	after, err := decodeCursor("r", f.Cursor)
	if err != nil {
		return page, err
	}
	if after != "" {
		if _, err := parseRunID(after); err != nil {
			return page, &domain.ValidationError{Field: "cursor", Reason: "not a cursor of this listing"}
		}
	}
	for _, n := range []struct{ field, v string }{{"job_id", f.JobID}, {"group", f.Group}, {"worker_id", f.WorkerID}} {
		if n.v != "" && domain.ValidateName(n.field, n.v) != nil {
			return page, nil // no run can match
		}
	}
	l := &runLister{s: s, f: f, after: after, limit: f.EffectiveLimit()}
	l.wantActive, l.wantFinished = len(f.States) == 0, len(f.States) == 0
	for _, st := range f.States {
		if st.Terminal() {
			l.wantFinished = true
		} else {
			l.wantActive = true
		}
	}
	// Fix the revision every read of this call uses.
	resp, err := s.cli.Get(ctx, s.k.runIndexes()) // one (absent) key: just a revision
	if err != nil {
		return page, translate(ctx, "list runs", err)
	}
	l.rev = resp.Header.Revision
	var it candIter
	switch {
	case !l.wantFinished:
		it, err = l.activeIter(ctx)
	case f.JobID != "":
		it, err = l.jobIter(ctx)
	default:
		it = l.indexIter()
	}
	if err != nil {
		return page, err
	}
	return l.run(ctx, it)
}

// runCandidate is a run a listing may return: its ID, its key, and whether
// a filter on keys or index entries already ruled it out.
type runCandidate struct {
	id, key string
	skip    bool
}

// candIter yields candidates in descending run ID order.
type candIter func(ctx context.Context) (runCandidate, bool, error)

// runLister is the state of one ListRuns call.
type runLister struct {
	s                        *Store
	f                        ports.RunFilter
	after                    string
	limit                    int
	rev                      int64
	wantActive, wantFinished bool
}

// run reads candidates from it, fetches the ones not skipped in batches
// (a Txn of gets), applies the whole filter and fills the page.
func (l *runLister) run(ctx context.Context, it candIter) (ports.Page[domain.Run], error) {
	var page ports.Page[domain.Run]
	var batch []runCandidate
	examined, lastExamined := 0, ""
	flush := func() (bool, error) {
		if len(batch) == 0 {
			return false, nil
		}
		keys := make([]string, len(batch))
		for i, c := range batch {
			keys[i] = c.key
		}
		batch = batch[:0]
		kvs, _, err := l.s.getMany(ctx, "list runs", keys, l.rev)
		if err != nil {
			return false, err
		}
		for i, kv := range kvs {
			if kv == nil {
				continue
			}
			r, err := decodeRun(keys[i], kv.Value)
			if err != nil {
				return false, err
			}
			if !l.match(&r) {
				continue
			}
			if len(page.Items) == l.limit {
				page.NextCursor = encodeCursor("r", page.Items[l.limit-1].ID)
				return true, nil
			}
			page.Items = append(page.Items, r)
		}
		return false, nil
	}
	for {
		if examined >= listScanBudget {
			if full, err := flush(); err != nil || full {
				return page, err
			}
			page.NextCursor = encodeCursor("r", lastExamined)
			return page, nil
		}
		c, ok, err := it(ctx)
		if err != nil {
			return page, err
		}
		if !ok {
			_, err := flush()
			return page, err
		}
		examined, lastExamined = examined+1, c.id
		if c.skip {
			continue
		}
		batch = append(batch, c)
		if len(batch) >= min(maxTxnOps, l.limit+1-len(page.Items)) {
			if full, err := flush(); err != nil || full {
				return page, err
			}
		}
	}
}

// match applies the whole filter to a run.
func (l *runLister) match(r *domain.Run) bool {
	f := l.f
	switch {
	case f.JobID != "" && r.JobID != f.JobID,
		f.Group != "" && r.Group != f.Group,
		f.WorkerID != "" && r.WorkerID != f.WorkerID,
		len(f.States) > 0 && !slices.Contains(f.States, r.State),
		!f.From.IsZero() && r.ScheduledAt.Before(f.From),
		!f.To.IsZero() && !r.ScheduledAt.Before(f.To):
		return false
	}
	return true
}

// matchRef applies what an index entry can tell of the filter.
func (l *runLister) matchRef(ref runRef) bool {
	f := l.f
	switch {
	case f.JobID != "" && ref.JobID != f.JobID,
		f.Group != "" && ref.Group != f.Group,
		f.WorkerID != "" && ref.WorkerID != f.WorkerID && ref.State != domain.RunPending,
		len(f.States) > 0 && !slices.Contains(f.States, ref.State):
		return false
	}
	return true
}

// idTime is the time prefix of fire and run IDs for t.
func idTime(t time.Time) string {
	return strings.TrimSuffix(domain.FireID("x", t), "~x")
}

// bounds returns the [start, end) range of keys under prefix whose run ID
// can satisfy the cursor and the From/To filter.
func (l *runLister) bounds(prefix string) (string, string) {
	start, end := prefix, prefixEnd(prefix)
	if !l.f.From.IsZero() {
		start = prefix + idTime(l.f.From)
	}
	if !l.f.To.IsZero() {
		// IDs keep milliseconds: round To up so runs in its millisecond stay in.
		to := l.f.To.Truncate(time.Millisecond)
		if to.Before(l.f.To) {
			to = to.Add(time.Millisecond)
		}
		end = prefix + idTime(to)
	}
	if l.after != "" && prefix+l.after < end {
		end = prefix + l.after
	}
	return start, end
}

// rangeIter yields the keys of [start, end) newest first, mapping each
// through fn, reading scanPage keys a request at the lister's revision.
func (l *runLister) rangeIter(start, end string, keysOnly bool, fn func(kv *mvccpb.KeyValue) (runCandidate, error)) candIter {
	var buf []*mvccpb.KeyValue
	done := false
	return func(ctx context.Context) (runCandidate, bool, error) {
		if len(buf) == 0 && !done {
			kvs, more, _, err := l.s.rangeRead(ctx, "list runs", start, end,
				rangeOpts{limit: min(scanPage, max(2*(l.limit+1), 64)), keysOnly: keysOnly, desc: true, rev: l.rev})
			if err != nil {
				return runCandidate{}, false, err
			}
			buf, done = kvs, !more || len(kvs) == 0
			if len(kvs) > 0 {
				end = string(kvs[len(kvs)-1].Key)
			}
		}
		if len(buf) == 0 {
			return runCandidate{}, false, nil
		}
		kv := buf[0]
		buf = buf[1:]
		c, err := fn(kv)
		return c, err == nil, err
	}
}

// indexIter walks the run index, filtering on the index entries.
func (l *runLister) indexIter() candIter {
	prefix := l.s.k.runIndexes()
	start, end := l.bounds(prefix)
	return l.rangeIter(start, end, false, func(kv *mvccpb.KeyValue) (runCandidate, error) {
		id := string(kv.Key[len(prefix):])
		ref, err := decodeRunRef(string(kv.Key), kv.Value)
		if err != nil {
			return runCandidate{}, err
		}
		return runCandidate{id: id, key: l.s.refKey(id, ref), skip: !l.matchRef(ref)}, nil
	})
}

// historyIter walks one job's history keys.
func (l *runLister) historyIter() candIter {
	prefix := l.s.k.jobHistory(l.f.JobID)
	start, end := l.bounds(prefix)
	return l.rangeIter(start, end, true, func(kv *mvccpb.KeyValue) (runCandidate, error) {
		return runCandidate{id: string(kv.Key[len(prefix):]), key: string(kv.Key)}, nil
	})
}

// activeIter lists the active keys that can match, newest first. The
// active set is what the cluster is doing now, so it is read whole (keys
// only).
func (l *runLister) activeIter(ctx context.Context) (candIter, error) {
	var cands []runCandidate
	add := func(prefix string) func(kv *mvccpb.KeyValue) error {
		return func(kv *mvccpb.KeyValue) error {
			key := string(kv.Key)
			id := key[strings.LastIndexByte(key, '/')+1:]
			if l.after != "" && id >= l.after {
				return nil
			}
			if l.f.JobID != "" {
				if job, err := parseRunID(id); err != nil || job != l.f.JobID {
					return nil
				}
			}
			cands = append(cands, runCandidate{id: id, key: key})
			return nil
		}
	}
	wantPending := len(l.f.States) == 0 || slices.Contains(l.f.States, domain.RunPending)
	wantAssigned := len(l.f.States) == 0 || slices.Contains(l.f.States, domain.RunAssigned) ||
		slices.Contains(l.f.States, domain.RunRunning)
	if wantPending && l.f.WorkerID == "" {
		p := l.s.k.pendingRuns()
		if _, err := l.s.scanRange(ctx, "list runs", p, prefixEnd(p), l.rev, true, add(p)); err != nil {
			return nil, err
		}
	}
	if wantAssigned {
		p := l.s.k.assignedRuns()
		switch {
		case l.f.Group != "" && l.f.WorkerID != "":
			p = l.s.k.workerAssigned(l.f.Group, l.f.WorkerID)
		case l.f.Group != "":
			p = l.s.k.groupAssigned(l.f.Group)
		}
		if _, err := l.s.scanRange(ctx, "list runs", p, prefixEnd(p), l.rev, true, add(p)); err != nil {
			return nil, err
		}
	}
	slices.SortFunc(cands, func(a, b runCandidate) int { return strings.Compare(b.id, a.id) })
	return func(context.Context) (runCandidate, bool, error) {
		if len(cands) == 0 {
			return runCandidate{}, false, nil
		}
		c := cands[0]
		cands = cands[1:]
		return c, true, nil
	}, nil
}

// jobIter merges the job's history with its active runs, newest first.
func (l *runLister) jobIter(ctx context.Context) (candIter, error) {
	hist := l.historyIter()
	if !l.wantActive {
		return hist, nil
	}
	act, err := l.activeIter(ctx)
	if err != nil {
		return nil, err
	}
	return mergeIters(hist, act), nil
}

// mergeIters merges two descending iterators into one.
func mergeIters(a, b candIter) candIter {
	var ha, hb runCandidate
	var okA, okB, primed bool
	return func(ctx context.Context) (runCandidate, bool, error) {
		var err error
		if !primed {
			primed = true
			if ha, okA, err = a(ctx); err != nil {
				return runCandidate{}, false, err
			}
			if hb, okB, err = b(ctx); err != nil {
				return runCandidate{}, false, err
			}
		}
		switch {
		case okA && (!okB || ha.id >= hb.id):
			c := ha
			ha, okA, err = a(ctx)
			return c, err == nil, err
		case okB:
			c := hb
			hb, okB, err = b(ctx)
			return c, err == nil, err
		}
		return runCandidate{}, false, nil
	}
}
