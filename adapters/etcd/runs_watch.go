package etcd

import (
	"context"
	"errors"
	"strings"

	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/pink-scheduler/pink/domain"
	"github.com/pink-scheduler/pink/ports"
)

// ScanActiveRuns reads every pending and assigned run at one revision: the
// pending prefix, then the assigned prefix, scanPage keys a request.
func (s *Store) ScanActiveRuns(ctx context.Context, fn func(domain.Run) error) (int64, error) {
	each := func(kv *mvccpb.KeyValue) error {
		r, err := decodeRun(string(kv.Key), kv.Value)
		if err != nil {
			return err
		}
		return fn(r)
	}
	rev, err := s.scanRange(ctx, "scan active runs", s.k.pendingRuns(), prefixEnd(s.k.pendingRuns()), 0, false, each)
	if err != nil {
		return rev, err
	}
	return s.scanRange(ctx, "scan active runs", s.k.assignedRuns(), prefixEnd(s.k.assignedRuns()), rev, false, each)
}

// ListAssigned reads <p>/execute/snapshots/<group>/<worker>/ at one
// revision.
func (s *Store) ListAssigned(ctx context.Context, group, workerID string) ([]domain.Run, int64, error) {
	var runs []domain.Run
	if domain.ValidateName("group", group) != nil || domain.ValidateName("worker_id", workerID) != nil {
		resp, err := s.cli.Get(ctx, s.k.pendingRuns(), clientv3.WithCountOnly())
		if err != nil {
			return nil, 0, translate(ctx, "list assigned runs", err)
		}
		return nil, resp.Header.Revision, nil
	}
	prefix := s.k.workerAssigned(group, workerID)
	rev, err := s.scanRange(ctx, "list assigned runs", prefix, prefixEnd(prefix), 0, false, func(kv *mvccpb.KeyValue) error {
		r, err := decodeRun(string(kv.Key), kv.Value)
		if err == nil {
			runs = append(runs, r)
		}
		return err
	})
	return runs, rev, err
}

// WatchAssigned watches the worker's prefix
// <p>/execute/snapshots/<group>/<worker>/: a put is EventPut with the run
// and its version (its key and ModRevision, for UpdateRunAt). A delete
// means the run left the worker; to tell a cancellation (which the worker
// must hear of as EventPut with the cancelled run) from the other ways
// (finished, back to pending, deleted: EventDelete with the run's last
// value under the worker), it needs what the delete's Txn wrote. If this
// Store wrote it (the worker's own report, typically), it remembers that
// (runs_moves.go): no read. Otherwise it reads the run's history key at the
// delete's revision: one read per such delete.
func (s *Store) WatchAssigned(ctx context.Context, group, workerID string, afterRevision int64) <-chan ports.RunEvent {
	prefix := s.k.workerAssigned(group, workerID)
	spec := watchSpec{name: "runs assigned to " + group + "/" + workerID, key: prefix, end: prefixEnd(prefix), after: afterRevision}
	return watch(ctx, s, spec, func(ctx context.Context, evs []*clientv3.Event) []ports.RunEvent {
		out := make([]ports.RunEvent, 0, len(evs))
		for _, ev := range evs {
			rev := ev.Kv.ModRevision
			e := ports.RunEvent{Type: ports.EventPut, Revision: rev}
			kv := ev.Kv
			if ev.Type == clientv3.EventTypeDelete {
				e.Type, kv = ports.EventDelete, ev.PrevKv
			}
			r, ok := s.watchedRun(ev, kv)
			if !ok {
				continue
			}
			e.Run = r
			if e.Type == ports.EventPut {
				e.At = ports.RunVersion{Key: string(kv.Key), Revision: rev}
			} else if c, at, ok := s.cancelledWith(ctx, string(kv.Key), kv.ModRevision, r, rev); ok && c.WorkerID == workerID {
				e.Type, e.Run, e.At = ports.EventPut, c, at
			}
			out = append(out, e)
		}
		return out
	}, runErrEvent)
}

// cancelledWith returns run r as written to the history at revision rev,
// and its version, if that write is a cancellation (r moved there in that
// revision). key is r's assignment key, deleted at rev, and prevModRev its
// ModRevision before. If this Store made that write, it knows; otherwise it
// reads the history key at rev.
func (s *Store) cancelledWith(ctx context.Context, key string, prevModRev int64, r domain.Run, rev int64) (domain.Run, ports.RunVersion, bool) {
	if mv, ok := s.moves.take(ctx, key, prevModRev, rev); ok {
		if mv.cancelled == nil {
			return domain.Run{}, ports.RunVersion{}, false
		}
		return mv.cancelled.Clone(), ports.RunVersion{Key: mv.to, Revision: rev}, true
	}
	hkey := s.k.historyRun(r.JobID, r.ID)
	resp, err := s.cli.Get(ctx, hkey, clientv3.WithRev(rev))
	if err != nil && ctx.Err() == nil && errors.Is(translate(ctx, "", err), domain.ErrCompacted) {
		resp, err = s.cli.Get(ctx, hkey) // a move's result stays until pruned
	}
	if err != nil {
		if ctx.Err() == nil {
			s.log.Warn("etcd watch: cannot read a run's history to tell a cancellation; reporting a delete",
				"run", r.ID, "err", err)
		}
		return domain.Run{}, ports.RunVersion{}, false
	}
	if len(resp.Kvs) == 0 || resp.Kvs[0].ModRevision != rev {
		return domain.Run{}, ports.RunVersion{}, false
	}
	h, err := decodeRun(hkey, resp.Kvs[0].Value)
	if err != nil || h.State != domain.RunCancelled {
		return domain.Run{}, ports.RunVersion{}, false
	}
	return h, ports.RunVersion{Key: hkey, Revision: rev}, true
}

func runErrEvent(err error) ports.RunEvent { return ports.RunEvent{Err: err} }

// watchedRun decodes the run of a watch event, logging and skipping what
// cannot be decoded.
func (s *Store) watchedRun(ev *clientv3.Event, kv *mvccpb.KeyValue) (domain.Run, bool) {
	if kv == nil {
		s.log.Warn("etcd watch: run event without its previous value; skipped", "key", string(ev.Kv.Key))
		return domain.Run{}, false
	}
	r, err := decodeRun(string(kv.Key), kv.Value)
	if err != nil {
		s.log.Warn("etcd watch: undecodable run; skipped", "err", err)
		return domain.Run{}, false
	}
	return r, true
}

// WatchRuns watches every run key: one watch of the key range from
// <p>/execute/ to the end of <p>/schedule/snapshots/, which holds the
// three run prefixes (and some other keys, filtered out here). A move of a
// run between prefixes is a delete and a put in one revision: it is
// reported as one EventPut with the new value. A run deleted without a put
// in the same revision is an EventDelete with its last value.
func (s *Store) WatchRuns(ctx context.Context, afterRevision int64) <-chan ports.RunEvent {
	spec := watchSpec{name: "runs", key: s.k.p + "/execute/", end: prefixEnd(s.k.pendingRuns()), after: afterRevision}
	return watch(ctx, s, spec, func(_ context.Context, evs []*clientv3.Event) []ports.RunEvent {
		return s.runEvents(evs)
	}, runErrEvent)
}

// runEvents folds the events of each revision into one event per run.
func (s *Store) runEvents(evs []*clientv3.Event) []ports.RunEvent {
	var out []ports.RunEvent
	for i := 0; i < len(evs); {
		rev := evs[i].Kv.ModRevision
		j := i
		for j < len(evs) && evs[j].Kv.ModRevision == rev {
			j++
		}
		var order []string
		last := make(map[string]*clientv3.Event)
		for _, ev := range evs[i:j] {
			id, ok := s.runKeyID(string(ev.Kv.Key))
			if !ok {
				continue
			}
			prev, seen := last[id]
			if !seen {
				order = append(order, id)
			}
			// A put wins over a delete in the same revision (a move).
			if !seen || ev.Type == clientv3.EventTypePut || prev.Type != clientv3.EventTypePut {
				last[id] = ev
			}
		}
		for _, id := range order {
			ev := last[id]
			e := ports.RunEvent{Type: ports.EventPut, Revision: rev}
			kv := ev.Kv
			if ev.Type == clientv3.EventTypeDelete {
				e.Type, kv = ports.EventDelete, ev.PrevKv
			}
			if r, ok := s.watchedRun(ev, kv); ok {
				e.Run = r
				out = append(out, e)
			}
		}
		i = j
	}
	return out
}

// runKeyID returns the run ID of a key under one of the three run
// prefixes.
func (s *Store) runKeyID(key string) (string, bool) {
	for _, p := range []string{s.k.pendingRuns(), s.k.assignedRuns(), s.k.historyRuns()} {
		if strings.HasPrefix(key, p) {
			return key[strings.LastIndexByte(key, '/')+1:], true
		}
	}
	return "", false
}
