package etcd

import (
	"context"
	"fmt"
	"strings"
	"time"

	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/pink-scheduler/pink/domain"
	"github.com/pink-scheduler/pink/ports"
)

// Bounds of one Prune call.
const (
	// pruneMaxDeletes bounds the records (runs plus fires) one call removes.
	pruneMaxDeletes = 1000
	// pruneMaxJobs bounds the jobs one call examines.
	pruneMaxJobs = 1000
	// pruneOpsPerTxn is how many deletes share one fenced Txn (one level,
	// with the fence compare; see maxTxnOps).
	pruneOpsPerTxn = maxTxnOps - 2
)

// pruneState is the value of <p>/prune/cursor: the job after which the
// next Prune call starts, so that successive calls cover every job even
// when one call cannot.
type pruneState struct {
	After string `json:"after"`
}

// Prune removes finished runs and fire records beyond r, job by job:
//
//   - a job's finished runs live under <p>/execute/history/snapshots/<job>/
//     and its fires under <p>/fire/instances/<job>/, both sorted oldest
//     first by ID (which starts with the nominal time);
//   - of each, the oldest max(count-PerJob, count older than now-MaxAge)
//     are removed (PerJob 0 or MaxAge 0 means no bound of that kind), with
//     the age taken from the ID (the run's ScheduledAt, the fire's
//     nominal time), so the counts are count-only reads and the selection
//     keys-only;
//   - a job's newest fire record and its newest scheduled one are always
//     kept (deriving the last-fire markers of a store written before them
//     depends on them; the markers themselves are never pruned);
//   - a run goes with its index entry, a fire with its index entry.
//
// Deletes are fenced Txns of up to pruneOpsPerTxn deletes. One call
// examines at most pruneMaxJobs jobs and removes at most pruneMaxDeletes
// records, starting after the job recorded in <p>/prune/cursor (written,
// fenced, when the call ends), wrapping around at the end. A stale fence
// gets domain.ErrNotLeader even when nothing is due.
func (s *Store) Prune(ctx context.Context, fence ports.Fence, r ports.Retention, now time.Time) (runs, fires int, err error) {
	if err := checkFence(fence); err != nil {
		return 0, 0, err
	}
	// Refuse a stale fence even when nothing is due.
	if err := s.verifyFence(ctx, "prune", fence); err != nil {
		return 0, 0, err
	}
	if r.PerJob <= 0 && r.MaxAge <= 0 {
		return 0, 0, nil
	}
	p := &pruner{s: s, fence: fence, r: r, cutoff: idTime(now.Add(-r.MaxAge))}
	start, err := p.loadCursor(ctx)
	if err != nil {
		return 0, 0, err
	}
	// pos is where the walk is; cursor the last job fully done.
	pos, cursor, wrapped := start, start, false
	for jobs := 0; jobs < pruneMaxJobs && p.budget() > 0; {
		job, ok, err := p.nextJob(ctx, pos)
		if err != nil {
			return p.runs, p.fires, err
		}
		if ok && wrapped && job+"/" > start+"/" {
			ok = false // back where this call started
		}
		if !ok {
			if wrapped || start == "" {
				cursor = "" // every job seen: start from the top next time
				break
			}
			pos, wrapped = "", true
			continue
		}
		jobs++
		done, err := p.job(ctx, job)
		if err != nil {
			return p.runs, p.fires, err
		}
		if !done {
			break // budget spent inside this job: start there next time
		}
		pos, cursor = job, job
	}
	if err := p.flush(ctx); err != nil {
		return p.runs, p.fires, err
	}
	return p.runs, p.fires, p.saveCursor(ctx, start, cursor)
}

// pruner is the state of one Prune call.
type pruner struct {
	s           *Store
	fence       ports.Fence
	r           ports.Retention
	cutoff      string // idTime of now-MaxAge
	ops         []clientv3.Op
	kinds       []byte // per op: 'r' run key, 'f' fire key, 0 index key
	queued      int    // records queued or deleted
	runs, fires int
}

func (p *pruner) budget() int { return pruneMaxDeletes - p.queued }

func (p *pruner) loadCursor(ctx context.Context) (string, error) {
	key := p.s.k.pruneCursor()
	resp, err := p.s.cli.Get(ctx, key)
	if err != nil {
		return "", translate(ctx, "prune", err)
	}
	if len(resp.Kvs) == 0 {
		return "", nil
	}
	e, err := decode(key, resp.Kvs[0].Value)
	if err != nil || e.Prune == nil {
		p.s.log.Warn("etcd prune: ignoring an unreadable cursor", "key", key, "err", err)
		return "", nil
	}
	return e.Prune.After, nil
}

func (p *pruner) saveCursor(ctx context.Context, old, cur string) error {
	if old == cur {
		return nil
	}
	val, err := encode("prune cursor", envelope{Prune: &pruneState{After: cur}})
	if err != nil {
		return err
	}
	resp, err := p.s.cli.Txn(ctx).If(fenceCmp(p.fence)).Then(clientv3.OpPut(p.s.k.pruneCursor(), val)).Commit()
	if err != nil {
		return translate(ctx, "prune", err)
	}
	if !resp.Succeeded {
		return fmt.Errorf("prune: fence %s@%d no longer holds: %w", p.fence.Key, p.fence.Token, domain.ErrNotLeader)
	}
	return nil
}

// nextJob returns the first job after the job after ("" for the first job)
// that has history or fire records, in key order of "<job>/".
//
// A range read counts every key from its start to its end whatever its
// limit, so a read of [after's end, prefix end) with limit 1 would count
// the rest of both prefixes, for every job. nextJob probes growing windows
// instead: from start = prefix + prefixEnd(after + "/"), the keys up to
// prefixEnd(start[:len(start)-k]) for k = 1, 2, ... (k = 1 and 2 in the
// first Txn, one k a Txn after that), each read counting only its window,
// until a window holds a key. The first window with a key in either prefix
// has the answer: the other prefix has none in the same window, so none
// before its end.
func (p *pruner) nextJob(ctx context.Context, after string) (string, bool, error) {
	prefixes := []string{p.s.k.historyRuns(), p.s.k.fires()}
	if after == "" {
		return p.probe(ctx, prefixes, "", [][]string{{prefixEnd(prefixes[0]), prefixEnd(prefixes[1])}})
	}
	rel := prefixEnd(after + "/")
	for k := 1; k <= len(rel); {
		n := 1
		if k == 1 {
			n = 2
		}
		var windows [][]string
		for ; n > 0 && k <= len(rel); n, k = n-1, k+1 {
			ends := make([]string, len(prefixes))
			for i, prefix := range prefixes {
				// k = len(rel) is the whole rest of the prefix.
				ends[i] = windowEnd(prefix+rel, len(prefix)+len(rel)-k)
				if endBefore(prefixEnd(prefix), ends[i]) {
					ends[i] = prefixEnd(prefix)
				}
			}
			windows = append(windows, ends)
		}
		if job, ok, err := p.probe(ctx, prefixes, rel, windows); err != nil || ok {
			return job, ok, err
		}
	}
	return "", false, nil
}

// probe reads, in one Txn, the first key of [prefix+rel, end) of each
// prefix for each set of window ends (one end per prefix), keys only. It
// returns the job of the smallest key (by "<job>/") in the first window
// that has one.
func (p *pruner) probe(ctx context.Context, prefixes []string, rel string, windows [][]string) (string, bool, error) {
	var ops []clientv3.Op
	for _, ends := range windows {
		for i, prefix := range prefixes {
			ops = append(ops, clientv3.OpGet(prefix+rel, clientv3.WithRange(ends[i]), clientv3.WithLimit(1), clientv3.WithKeysOnly()))
		}
	}
	resp, err := p.s.cli.Txn(ctx).Then(ops...).Commit()
	if err != nil {
		return "", false, translate(ctx, "prune", err)
	}
	for w := range windows {
		best := ""
		for i, prefix := range prefixes {
			kvs := resp.Responses[w*len(prefixes)+i].GetResponseRange().GetKvs()
			if len(kvs) == 0 {
				continue
			}
			job, _, _ := strings.Cut(string(kvs[0].Key[len(prefix):]), "/")
			if best == "" || job+"/" < best+"/" {
				best = job
			}
		}
		if best != "" {
			return best, true, nil
		}
	}
	return "", false, nil
}

// job queues the deletes due in one job. It returns false if the delete
// budget ran out before the job was done.
func (p *pruner) job(ctx context.Context, job string) (bool, error) {
	hist, fires := p.s.k.jobHistory(job), p.s.k.jobFires(job)
	count := func(prefix string) clientv3.Op {
		return clientv3.OpGet(prefix, clientv3.WithRange(prefixEnd(prefix)), clientv3.WithCountOnly())
	}
	old := func(prefix string) clientv3.Op {
		return clientv3.OpGet(prefix, clientv3.WithRange(prefix+p.cutoff), clientv3.WithCountOnly())
	}
	resp, err := p.s.cli.Txn(ctx).Then(count(hist), old(hist), count(fires), old(fires),
		clientv3.OpGet(fires, clientv3.WithRange(prefixEnd(fires)), clientv3.WithKeysOnly(),
			clientv3.WithLimit(lastFiresPeek), clientv3.WithSort(clientv3.SortByKey, clientv3.SortDescend))).Commit()
	if err != nil {
		return false, translate(ctx, "prune", err)
	}
	n := make([]int, 4)
	for i := range n {
		n[i] = int(resp.Responses[i].GetResponseRange().GetCount())
	}
	keep, err := p.protectedFires(ctx, fires, resp.Responses[4].GetResponseRange().GetKvs())
	if err != nil {
		return false, err
	}
	due := func(total, older int) int {
		d := 0
		if p.r.PerJob > 0 {
			d = total - p.r.PerJob
		}
		if p.r.MaxAge > 0 {
			d = max(d, older)
		}
		return max(d, 0)
	}
	runsDue, firesDue := due(n[0], n[1]), due(n[2], n[3])
	complete := true
	if runsDue > p.budget() {
		runsDue, complete = p.budget(), false
	}
	if runsDue > 0 {
		kvs, _, err := p.s.rangeAsc(ctx, "prune", hist, prefixEnd(hist), runsDue, true)
		if err != nil {
			return false, err
		}
		for _, kv := range kvs {
			if err := p.queue(ctx, 'r', string(kv.Key), p.s.k.runIndex(string(kv.Key[len(hist):]))); err != nil {
				return false, err
			}
		}
	}
	if firesDue > p.budget() {
		firesDue, complete = p.budget(), false
	}
	if firesDue > 0 {
		kvs, _, err := p.s.rangeAsc(ctx, "prune", fires, prefixEnd(fires), firesDue+len(keep), true)
		if err != nil {
			return false, err
		}
		deleted := 0
		for _, kv := range kvs {
			id := string(kv.Key[len(fires):])
			if keep[id] || deleted == firesDue {
				continue
			}
			if err := p.queue(ctx, 'f', string(kv.Key), p.s.k.fireIndex(id)); err != nil {
				return false, err
			}
			deleted++
		}
	}
	return complete, nil
}

// protectedFires returns the IDs of a job's newest fire record and of its
// newest scheduled one (a FireID, not a ManualFireID), which Prune keeps.
// newest is the job's newest keys, newest first; if they are all manual
// fires it reads further back.
func (p *pruner) protectedFires(ctx context.Context, prefix string, newest []*mvccpb.KeyValue) (map[string]bool, error) {
	keep := make(map[string]bool, 2)
	for len(newest) > 0 {
		for _, kv := range newest {
			id := string(kv.Key[len(prefix):])
			if len(keep) == 0 {
				keep[id] = true
			}
			if strings.Count(id, "~") == 1 {
				keep[id] = true
				return keep, nil
			}
		}
		var err error
		newest, _, err = p.s.rangeDesc(ctx, "prune", prefix, string(newest[len(newest)-1].Key), scanPage, true)
		if err != nil {
			return nil, err
		}
	}
	return keep, nil
}

// queue adds the deletes of one record (its key and its index entry),
// flushing a full Txn.
func (p *pruner) queue(ctx context.Context, kind byte, key, index string) error {
	if len(p.ops)+2 > pruneOpsPerTxn {
		if err := p.flush(ctx); err != nil {
			return err
		}
	}
	p.ops = append(p.ops, clientv3.OpDelete(key), clientv3.OpDelete(index))
	p.kinds = append(p.kinds, kind, 0)
	p.queued++
	return nil
}

// flush deletes what is queued in one fenced Txn and counts what went.
func (p *pruner) flush(ctx context.Context) error {
	if len(p.ops) == 0 {
		return nil
	}
	resp, err := p.s.cli.Txn(ctx).If(fenceCmp(p.fence)).Then(p.ops...).Commit()
	if err != nil {
		return translate(ctx, "prune", err)
	}
	if !resp.Succeeded {
		return fmt.Errorf("prune: fence %s@%d no longer holds: %w", p.fence.Key, p.fence.Token, domain.ErrNotLeader)
	}
	for i, r := range resp.Responses {
		if r.GetResponseDeleteRange().GetDeleted() == 0 {
			continue
		}
		switch p.kinds[i] {
		case 'r':
			p.runs++
		case 'f':
			p.fires++
		}
	}
	p.ops, p.kinds = p.ops[:0], p.kinds[:0]
	return nil
}
