package etcd

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/pink-scheduler/pink/domain"
	"github.com/pink-scheduler/pink/ports"
)

var _ ports.RunStore = (*Store)(nil)

// A run lives under the key of its state (runKey):
//
//	pending           <p>/schedule/snapshots/<run-id>
//	assigned, running <p>/execute/snapshots/<group>/<worker>/<run-id>
//	finished          <p>/execute/history/snapshots/<job-id>/<run-id>
//
// and <p>/run/index/<run-id> holds a runRef (job, group, state, worker),
// from which the current key is computed. A transition that changes the key
// is one Txn: compare the old key's ModRevision, delete it, put the new key
// and the index. GetRun is two reads: the index, then the run at the
// index's revision.

// runKey returns the key a run in its current state lives under.
func (s *Store) runKey(r *domain.Run) string {
	return s.refKey(r.ID, refOf(r))
}

// refKey returns the key of run id described by ref.
func (s *Store) refKey(id string, ref runRef) string {
	switch ref.State {
	case domain.RunPending:
		return s.k.pendingRun(id)
	case domain.RunAssigned, domain.RunRunning:
		return s.k.assignedRun(ref.Group, ref.WorkerID, id)
	}
	return s.k.historyRun(ref.JobID, id)
}

// refOf returns the index entry of r.
func refOf(r *domain.Run) runRef {
	ref := runRef{JobID: r.JobID, Group: r.Group, State: r.State, WorkerID: r.WorkerID}
	if r.State == domain.RunPending {
		// A pending run's key does not depend on a worker; keep the
		// index stable if a caller leaves one set.
		ref.WorkerID = ""
	}
	return ref
}

func encodeRunRef(r *domain.Run) (string, error) {
	ref := refOf(r)
	return encode("run index", envelope{RunRef: &ref})
}

// parseRunID returns the job ID of a run ID "<fire-id>~<index>", or an
// error if id is not one.
func parseRunID(id string) (string, error) {
	if !isKeySegment(id) {
		return "", &domain.ValidationError{Field: "id", Reason: fmt.Sprintf("%q is not a run ID", id)}
	}
	i := strings.LastIndex(id, "~")
	if i < 0 {
		return "", &domain.ValidationError{Field: "id", Reason: fmt.Sprintf("%q is not a run ID", id)}
	}
	if n, err := strconv.Atoi(id[i+1:]); err != nil || n < 0 || id[i+1:] != strconv.Itoa(n) {
		return "", &domain.ValidationError{Field: "id", Reason: fmt.Sprintf("%q is not a run ID: bad index", id)}
	}
	jobID, _, err := domain.ParseFireID(id[:i])
	if err != nil {
		return "", &domain.ValidationError{Field: "id", Reason: fmt.Sprintf("%q is not a run ID: %v", id, err)}
	}
	return jobID, nil
}

// isKeySegment reports whether id is safe as one segment of a key: the
// characters of fire and run IDs only ([A-Za-z0-9._~-], no '/').
func isKeySegment(id string) bool {
	if id == "" || len(id) > 512 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
			c == '.' || c == '_' || c == '~' || c == '-'
		if !ok {
			return false
		}
	}
	return true
}

// checkRun checks what the store relies on: the ID, the names used as key
// segments, and a known state with a worker when the state needs one.
func checkRun(r *domain.Run) error {
	jobID, err := parseRunID(r.ID)
	if err != nil {
		return err
	}
	if r.JobID != jobID {
		return &domain.ValidationError{Field: "job_id", Reason: fmt.Sprintf("%q does not match the run ID %q", r.JobID, r.ID)}
	}
	if err := domain.ValidateName("group", r.Group); err != nil {
		return err
	}
	if !r.State.Valid() {
		return &domain.ValidationError{Field: "state", Reason: fmt.Sprintf("unknown run state %q", r.State)}
	}
	if r.State == domain.RunAssigned || r.State == domain.RunRunning {
		if err := domain.ValidateName("worker_id", r.WorkerID); err != nil {
			return err
		}
	}
	return nil
}

// located is a run as read from the store, with where it was found.
type located struct {
	run    domain.Run
	key    string
	modRev int64
	ref    runRef
}

// locate reads a run by ID: its index entry, then its key at the index's
// revision (so the two agree).
func (s *Store) locate(ctx context.Context, id string) (located, error) {
	notFound := fmt.Errorf("run %q: %w", id, domain.ErrNotFound)
	if _, err := parseRunID(id); err != nil {
		return located{}, notFound
	}
	ikey := s.k.runIndex(id)
	resp, err := s.cli.Get(ctx, ikey)
	if err != nil {
		return located{}, translate(ctx, "get run "+id, err)
	}
	if len(resp.Kvs) == 0 {
		return located{}, notFound
	}
	ref, err := decodeRunRef(ikey, resp.Kvs[0].Value)
	if err != nil {
		return located{}, err
	}
	key := s.refKey(id, ref)
	rresp, err := s.cli.Get(ctx, key, clientv3.WithRev(resp.Header.Revision))
	if err != nil && errors.Is(translate(ctx, "", err), domain.ErrCompacted) {
		// Compacted between the reads: the latest value will do, a stale
		// one fails the caller's compare.
		rresp, err = s.cli.Get(ctx, key)
	}
	if err != nil {
		return located{}, translate(ctx, "get run "+id, err)
	}
	if len(rresp.Kvs) == 0 {
		return located{}, fmt.Errorf("run %q: index points at missing %s: %w", id, key, domain.ErrNotFound)
	}
	r, err := decodeRun(key, rresp.Kvs[0].Value)
	if err != nil {
		return located{}, err
	}
	return located{run: r, key: key, modRev: rresp.Kvs[0].ModRevision, ref: ref}, nil
}

// GetRun returns a run by ID: two reads (index, then run).
func (s *Store) GetRun(ctx context.Context, id string) (domain.Run, error) {
	l, err := s.locate(ctx, id)
	return l.run, err
}

// UpdateRun changes a run through fn with a compare-and-swap on the run
// key's ModRevision; a state change moves the run to its new key in the
// same Txn. Not fenced.
func (s *Store) UpdateRun(ctx context.Context, id string, fn func(*domain.Run) error) (domain.Run, error) {
	r, _, err := s.updateRun(ctx, nil, id, fn)
	return r, err
}

// LeaderUpdateRun is UpdateRun with the fence compare added to the Txn; the
// Else branch reads the fence key so that a lost leadership
// (domain.ErrNotLeader) is told apart from a lost race (retried).
func (s *Store) LeaderUpdateRun(ctx context.Context, fence ports.Fence, id string, fn func(*domain.Run) error) (domain.Run, error) {
	if err := checkFence(fence); err != nil {
		return domain.Run{}, err
	}
	r, _, err := s.updateRun(ctx, &fence, id, fn)
	return r, err
}

// updateRun is UpdateRun, fenced when fence is not nil: locate (2 reads),
// then writeRun, until the compare holds.
func (s *Store) updateRun(ctx context.Context, fence *ports.Fence, id string, fn func(*domain.Run) error) (domain.Run, ports.RunVersion, error) {
	var out domain.Run
	var v ports.RunVersion
	err := casLoop(ctx, "update run "+id, func() error {
		cur, err := s.locate(ctx, id)
		if err != nil {
			return err
		}
		out, v, err = s.writeRun(ctx, fence, cur, fn)
		return err
	})
	return out, v, err
}

// writeRun applies fn to a copy of cur.run and writes the result with one
// Txn comparing cur's ModRevision, fenced when fence is not nil. It returns
// the written run and its version, errTryAgain if the compare failed (the
// run changed since cur was read), domain.ErrNotLeader if the fence failed,
// or fn's error. Ops: a change in place is 1 put (+1 index put if the state
// or worker changed); a move is delete + put + index put; plus 1 compare
// (2 when fenced).
func (s *Store) writeRun(ctx context.Context, fence *ports.Fence, cur located, fn func(*domain.Run) error) (domain.Run, ports.RunVersion, error) {
	id := cur.run.ID
	what := "update run " + id
	r := cur.run.Clone()
	if err := fn(&r); err != nil {
		return domain.Run{}, ports.RunVersion{}, err
	}
	switch {
	case r.ID != cur.run.ID:
		return domain.Run{}, ports.RunVersion{}, &domain.ValidationError{Field: "id", Reason: "a run's ID cannot change"}
	case r.FireID != cur.run.FireID:
		return domain.Run{}, ports.RunVersion{}, &domain.ValidationError{Field: "fire_id", Reason: "a run's fire cannot change"}
	case r.JobID != cur.run.JobID:
		return domain.Run{}, ports.RunVersion{}, &domain.ValidationError{Field: "job_id", Reason: "a run's job cannot change"}
	case r.Group != cur.run.Group:
		return domain.Run{}, ports.RunVersion{}, &domain.ValidationError{Field: "group", Reason: "a run's group cannot change"}
	}
	if err := checkRun(&r); err != nil {
		return domain.Run{}, ports.RunVersion{}, err
	}
	r.Version = cur.run.Version + 1
	val, err := encodeRun(&r)
	if err != nil {
		return domain.Run{}, ports.RunVersion{}, err
	}
	cmps := []clientv3.Cmp{clientv3.Compare(clientv3.ModRevision(cur.key), "=", cur.modRev)}
	var elseOps []clientv3.Op
	if fence != nil {
		cmps = append(cmps, fenceCmp(*fence))
		elseOps = append(elseOps, clientv3.OpGet(fence.Key))
	}
	key := s.runKey(&r)
	var ops []clientv3.Op
	if key != cur.key {
		ops = append(ops, clientv3.OpDelete(cur.key))
	}
	ops = append(ops, clientv3.OpPut(key, val))
	if refOf(&r) != cur.ref {
		iref, err := encodeRunRef(&r)
		if err != nil {
			return domain.Run{}, ports.RunVersion{}, err
		}
		ops = append(ops, clientv3.OpPut(s.k.runIndex(id), iref))
	}
	// A move off a worker's assignment key is remembered, so that the
	// worker's watch (on this Store) learns what it was without a read.
	var mv *move
	if key != cur.key && strings.HasPrefix(cur.key, s.k.assignedRuns()) {
		var cancelled *domain.Run
		if r.State == domain.RunCancelled {
			c := r.Clone()
			cancelled = &c
		}
		mv = s.moves.begin(cur.key, cur.modRev, key, cancelled)
	}
	resp, err := s.cli.Txn(ctx).If(cmps...).Then(ops...).Else(elseOps...).Commit()
	switch {
	case err != nil:
		s.moves.end(mv, 0)
		return domain.Run{}, ports.RunVersion{}, translate(ctx, what, err)
	case !resp.Succeeded:
		s.moves.end(mv, 0)
		if fence != nil && !fenceHolds(resp, 0, *fence) {
			return domain.Run{}, ports.RunVersion{}, fmt.Errorf("%s: fence %s@%d no longer holds: %w", what, fence.Key, fence.Token, domain.ErrNotLeader)
		}
		return domain.Run{}, ports.RunVersion{}, errTryAgain
	}
	s.moves.end(mv, resp.Header.Revision)
	return r, ports.RunVersion{Key: key, Revision: resp.Header.Revision}, nil
}

// DeleteRun removes a finished run and its index entry in one Txn
// comparing the run key's ModRevision. An active run gets
// domain.ErrConflict.
func (s *Store) DeleteRun(ctx context.Context, id string) error {
	what := "delete run " + id
	return casLoop(ctx, what, func() error {
		cur, err := s.locate(ctx, id)
		if err != nil {
			return err
		}
		if cur.run.Active() {
			return fmt.Errorf("%s: the run is %s: %w", what, cur.run.State, domain.ErrConflict)
		}
		resp, err := s.cli.Txn(ctx).
			If(clientv3.Compare(clientv3.ModRevision(cur.key), "=", cur.modRev)).
			Then(clientv3.OpDelete(cur.key), clientv3.OpDelete(s.k.runIndex(id))).Commit()
		if err != nil {
			return translate(ctx, what, err)
		}
		if !resp.Succeeded {
			return errTryAgain
		}
		return nil
	})
}

// LeaderDeleteRuns removes runs in any state, fenced. It reads the index
// entries (a Txn of gets), then deletes in fenced Txns of up to 126 nested
// Txns If(index ModRevision unchanged) Then(delete run key, delete index);
// a run that moved in between is read again and retried.
func (s *Store) LeaderDeleteRuns(ctx context.Context, fence ports.Fence, ids []string) error {
	if err := checkFence(fence); err != nil {
		return err
	}
	seen := make(map[string]bool, len(ids))
	var todo []string
	for _, id := range ids {
		if _, err := parseRunID(id); err == nil && !seen[id] {
			seen[id] = true
			todo = append(todo, id)
		}
	}
	committed := false
	for try := 0; len(todo) > 0; try++ {
		if try == maxCASTries {
			return fmt.Errorf("delete runs: lost the race %d times: %w", maxCASTries, domain.ErrConflict)
		}
		ikeys := make([]string, len(todo))
		for i, id := range todo {
			ikeys[i] = s.k.runIndex(id)
		}
		kvs, _, err := s.getMany(ctx, "delete runs", ikeys, 0)
		if err != nil {
			return err
		}
		var nested []clientv3.Op
		var nestedIDs []string
		for i, kv := range kvs {
			if kv == nil {
				continue // already gone
			}
			ref, err := decodeRunRef(ikeys[i], kv.Value)
			if err != nil {
				return err
			}
			nested = append(nested, clientv3.OpTxn(
				[]clientv3.Cmp{clientv3.Compare(clientv3.ModRevision(ikeys[i]), "=", kv.ModRevision)},
				[]clientv3.Op{clientv3.OpDelete(s.refKey(todo[i], ref)), clientv3.OpDelete(ikeys[i])}, nil))
			nestedIDs = append(nestedIDs, todo[i])
		}
		var retry []string
		const perTxn = maxTxnOps - 2 // each nested Txn has 2 ops at its level
		for i := 0; i < len(nested); i += perTxn {
			j := min(i+perTxn, len(nested))
			resp, err := s.cli.Txn(ctx).If(fenceCmp(fence)).Then(nested[i:j]...).Commit()
			if err != nil {
				return translate(ctx, "delete runs", err)
			}
			committed = true
			if !resp.Succeeded {
				return fmt.Errorf("delete runs: fence %s@%d no longer holds: %w", fence.Key, fence.Token, domain.ErrNotLeader)
			}
			for k, r := range resp.Responses {
				if !r.GetResponseTxn().GetSucceeded() {
					retry = append(retry, nestedIDs[i+k])
				}
			}
		}
		todo = retry
	}
	if !committed {
		// Nothing to delete: still refuse a stale fence.
		return s.verifyFence(ctx, "delete runs", fence)
	}
	return nil
}
