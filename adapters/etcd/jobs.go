package etcd

import (
	"context"
	"errors"
	"fmt"
	"strings"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/pink-scheduler/pink/domain"
	"github.com/pink-scheduler/pink/ports"
)

var _ ports.JobStore = (*Store)(nil)

// CreateJob stores a new job in one Txn: if the group key exists, no job
// index entry has the ID and the job key is absent, put the job under
// <p>/job/instances/<group>/<id> and its index <p>/job/index/<id>. It sets
// Version to 1; the timestamps are the caller's.
func (s *Store) CreateJob(ctx context.Context, j domain.Job) (domain.Job, error) {
	if err := domain.ValidateName("id", j.ID); err != nil {
		return domain.Job{}, err
	}
	if err := domain.ValidateName("group", j.Group); err != nil {
		return domain.Job{}, fmt.Errorf("%w: %w", err, domain.ErrNotFound)
	}
	j = j.Clone()
	j.Version = 1
	val, err := encodeJob(&j)
	if err != nil {
		return domain.Job{}, err
	}
	ref, err := encode("job index", envelope{JobRef: &jobRef{Group: j.Group}})
	if err != nil {
		return domain.Job{}, err
	}
	gkey, key, ikey := s.k.group(j.Group), s.k.job(j.Group, j.ID), s.k.jobIndex(j.ID)
	resp, err := s.cli.Txn(ctx).
		If(clientv3.Compare(clientv3.CreateRevision(gkey), ">", 0),
			clientv3.Compare(clientv3.CreateRevision(ikey), "=", 0),
			clientv3.Compare(clientv3.CreateRevision(key), "=", 0)).
		Then(clientv3.OpPut(key, val), clientv3.OpPut(ikey, ref)).
		Else(clientv3.OpGet(gkey, clientv3.WithCountOnly())).Commit()
	if err != nil {
		return domain.Job{}, translate(ctx, "create job "+j.ID, err)
	}
	if resp.Succeeded {
		return j, nil
	}
	if resp.Responses[0].GetResponseRange().GetCount() == 0 {
		return domain.Job{}, fmt.Errorf("create job %q: %w: %w", j.ID,
			&domain.ValidationError{Field: "group", Reason: fmt.Sprintf("group %q does not exist", j.Group)},
			domain.ErrNotFound)
	}
	return domain.Job{}, fmt.Errorf("create job %q: %w", j.ID, domain.ErrAlreadyExists)
}

// GetJob returns the job, or domain.ErrNotFound: two reads, the index
// entry then the job.
func (s *Store) GetJob(ctx context.Context, id string) (domain.Job, error) {
	j, _, err := s.getJob(ctx, id)
	return j, err
}

// getJob returns the job and its key's ModRevision. It reads the job at the
// revision of the index read, so the two reads agree.
func (s *Store) getJob(ctx context.Context, id string) (domain.Job, int64, error) {
	notFound := fmt.Errorf("job %q: %w", id, domain.ErrNotFound)
	if domain.ValidateName("id", id) != nil {
		return domain.Job{}, 0, notFound
	}
	ikey := s.k.jobIndex(id)
	resp, err := s.cli.Get(ctx, ikey)
	if err != nil {
		return domain.Job{}, 0, translate(ctx, "get job "+id, err)
	}
	if len(resp.Kvs) == 0 {
		return domain.Job{}, 0, notFound
	}
	e, err := decode(ikey, resp.Kvs[0].Value)
	if err != nil {
		return domain.Job{}, 0, err
	}
	if e.JobRef == nil {
		return domain.Job{}, 0, fmt.Errorf("decode %s: no job_ref in value", ikey)
	}
	key := s.k.job(e.JobRef.Group, id)
	jresp, err := s.cli.Get(ctx, key, clientv3.WithRev(resp.Header.Revision))
	if err != nil {
		if errors.Is(translate(ctx, "", err), domain.ErrCompacted) {
			// Compacted between the two reads: read the latest instead;
			// a moved job fails the caller's compare and is retried.
			jresp, err = s.cli.Get(ctx, key)
		}
		if err != nil {
			return domain.Job{}, 0, translate(ctx, "get job "+id, err)
		}
	}
	if len(jresp.Kvs) == 0 {
		return domain.Job{}, 0, notFound
	}
	j, err := decodeJob(key, jresp.Kvs[0].Value)
	return j, jresp.Kvs[0].ModRevision, err
}

// ListJobs lists jobs ordered by group, then ID. Keys sort by "<group>/"
// which is not group order ("a-b/" < "a/"), so it walks the groups in name
// order and ranges each group's jobs. A page examines at most
// listScanBudget jobs; a page cut short by a State filter is shorter than
// the limit and has a NextCursor.
func (s *Store) ListJobs(ctx context.Context, f ports.JobFilter) (ports.Page[domain.Job], error) {
	var page ports.Page[domain.Job]
	pos, err := decodeCursor("j", f.Cursor)
	if err != nil {
		return page, err
	}
	var afterGroup, afterID string
	if pos != "" {
		var ok bool
		afterGroup, afterID, ok = cutPair(pos)
		if !ok {
			return page, &domain.ValidationError{Field: "cursor", Reason: "not a cursor of this listing"}
		}
	}
	limit := f.EffectiveLimit()
	scanned := 0
	// visit ranges one group's jobs after afterID; it returns false when
	// the page is full or the scan budget is spent.
	visit := func(group, after string) (bool, error) {
		start := s.k.groupJobs(group)
		end := prefixEnd(start)
		if after != "" {
			start = s.k.job(group, after) + "\x00"
		}
		for {
			kvs, more, err := s.rangeAsc(ctx, "list jobs", start, end, min(scanPage, max(2*(limit+1), 16)), false)
			if err != nil {
				return false, err
			}
			for _, kv := range kvs {
				j, err := decodeJob(string(kv.Key), kv.Value)
				if err != nil {
					return false, err
				}
				scanned++
				if f.State == "" || j.State == f.State {
					if len(page.Items) == limit {
						page.NextCursor = encodeCursor("j", page.Items[limit-1].Group+"/"+page.Items[limit-1].ID)
						return false, nil
					}
					page.Items = append(page.Items, j)
				}
				if scanned >= listScanBudget {
					page.NextCursor = encodeCursor("j", j.Group+"/"+j.ID)
					return false, nil
				}
			}
			if !more || len(kvs) == 0 {
				return true, nil
			}
			start = string(kvs[len(kvs)-1].Key) + "\x00"
		}
	}
	if f.Group != "" {
		if afterGroup != "" && afterGroup != f.Group {
			return page, &domain.ValidationError{Field: "cursor", Reason: "cursor of another group"}
		}
		if domain.ValidateName("group", f.Group) != nil || (afterGroup != "" && afterID == "") {
			return page, nil
		}
		_, err := visit(f.Group, afterID)
		return page, err
	}
	gstart := s.k.groups()
	if afterGroup != "" {
		// Finish the cursor's group first, then the groups after it.
		if afterID != "" {
			if cont, err := visit(afterGroup, afterID); err != nil || !cont {
				return page, err
			}
		}
		gstart = s.k.group(afterGroup) + "\x00"
	}
	for {
		gkvs, more, err := s.rangeAsc(ctx, "list jobs", gstart, prefixEnd(s.k.groups()), scanPage, true)
		if err != nil {
			return page, err
		}
		for _, kv := range gkvs {
			group, err := lastSegment(kv.Key, s.k.groups())
			if err != nil {
				return page, err
			}
			if cont, err := visit(group, ""); err != nil || !cont {
				return page, err
			}
			// Empty groups count too; "<group>/" resumes after the group.
			if scanned++; scanned >= listScanBudget {
				page.NextCursor = encodeCursor("j", group+"/")
				return page, nil
			}
		}
		if !more || len(gkvs) == 0 {
			return page, nil
		}
		gstart = string(gkvs[len(gkvs)-1].Key) + "\x00"
	}
}

// cutPair splits a job cursor "<group>/<id>"; the ID is empty in a cursor
// that resumes after a whole group.
func cutPair(s string) (string, string, bool) {
	g, id, ok := strings.Cut(s, "/")
	return g, id, ok && domain.ValidateName("group", g) == nil && (id == "" || domain.ValidateName("id", id) == nil)
}

// UpdateJob changes a job through fn with a compare-and-swap on the job
// key's ModRevision, retrying on a lost race. fn changing the ID or the
// group gets domain.ErrInvalid.
func (s *Store) UpdateJob(ctx context.Context, id string, fn func(*domain.Job) error) (domain.Job, error) {
	var out domain.Job
	err := casLoop(ctx, "update job "+id, func() error {
		cur, rev, err := s.getJob(ctx, id)
		if err != nil {
			return err
		}
		j := cur.Clone()
		if err := fn(&j); err != nil {
			return err
		}
		if j.ID != cur.ID {
			return &domain.ValidationError{Field: "id", Reason: "a job's ID cannot change"}
		}
		if j.Group != cur.Group {
			return &domain.ValidationError{Field: "group", Reason: "a job cannot move to another group"}
		}
		j.Version = cur.Version + 1
		val, err := encodeJob(&j)
		if err != nil {
			return err
		}
		key := s.k.job(j.Group, id)
		resp, err := s.cli.Txn(ctx).
			If(clientv3.Compare(clientv3.ModRevision(key), "=", rev)).
			Then(clientv3.OpPut(key, val)).Commit()
		if err != nil {
			return translate(ctx, "update job "+id, err)
		}
		if !resp.Succeeded {
			return errTryAgain
		}
		out = j
		return nil
	})
	return out, err
}

// DeleteJob removes a job, its index entry and its last-fire marker in one
// Txn comparing the job key's ModRevision, and returns the deleted value.
// Its fire records and finished runs stay until Prune removes them.
func (s *Store) DeleteJob(ctx context.Context, id string) (domain.Job, error) {
	var out domain.Job
	err := casLoop(ctx, "delete job "+id, func() error {
		j, rev, err := s.getJob(ctx, id)
		if err != nil {
			return err
		}
		key := s.k.job(j.Group, id)
		resp, err := s.cli.Txn(ctx).
			If(clientv3.Compare(clientv3.ModRevision(key), "=", rev)).
			Then(clientv3.OpDelete(key), clientv3.OpDelete(s.k.jobIndex(id)), clientv3.OpDelete(s.k.lastFire(id))).Commit()
		if err != nil {
			return translate(ctx, "delete job "+id, err)
		}
		if !resp.Succeeded {
			return errTryAgain
		}
		out = j
		return nil
	})
	return out, err
}

// WatchJobs watches <p>/job/instances/ from afterRevision+1 (see watch).
func (s *Store) WatchJobs(ctx context.Context, afterRevision int64) <-chan ports.JobEvent {
	prefix := s.k.jobs()
	return watch(ctx, s, watchSpec{name: "jobs", key: prefix, end: prefixEnd(prefix), after: afterRevision},
		func(_ context.Context, evs []*clientv3.Event) []ports.JobEvent {
			out := make([]ports.JobEvent, 0, len(evs))
			for _, ev := range evs {
				e := ports.JobEvent{Type: ports.EventPut, Revision: ev.Kv.ModRevision}
				kv := ev.Kv
				if ev.Type == clientv3.EventTypeDelete {
					e.Type, kv = ports.EventDelete, ev.PrevKv
				}
				if kv == nil {
					s.log.Warn("etcd: job delete event without its previous value; skipped", "key", string(ev.Kv.Key))
					continue
				}
				j, err := decodeJob(string(kv.Key), kv.Value)
				if err != nil {
					s.log.Warn("etcd: undecodable job in watch; skipped", "err", err)
					continue
				}
				e.Job = j
				out = append(out, e)
			}
			return out
		},
		func(err error) ports.JobEvent { return ports.JobEvent{Err: err} })
}
