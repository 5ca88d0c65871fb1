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

var _ ports.FireStore = (*Store)(nil)

// preparedFire is one fire of a CreateFires batch, encoded and checked.
type preparedFire struct {
	index int // position in the batch
	jobID string
	key   string // the fire's ledger key, compared absent
	ops   []clientv3.Op
	bytes int
	// last is the nominal time a scheduled (not manual) fire stands for
	// (a skip summary's Last). The newest scheduled fire of each job in
	// the batch carries the job's last-fire marker: marker is its value,
	// "" for the other fires (see placeMarkers).
	scheduled bool
	last      time.Time
	marker    string
}

// CreateFires writes fires and their runs, create-if-absent per fire,
// fenced. Each fire is one nested Txn of the form
//
//	If(CreateRevision(<p>/fire/instances/<job>/<fire-id>) == 0)
//	Then(put fire, put <p>/fire/index/<fire-id>,
//	     for each run: put the run under its state key, put <p>/run/index/<run-id>,
//	     for the job's newest scheduled fire of the batch: its last-fire
//	     marker, moved forward only (markerOp))
//
// and as many fires as etcd accepts share one Txn If(fence) Then(nested
// Txns...): with the default --max-txn-ops of 128, up to 127-k fires of
// k ops each, 127-k-3 if they carry a marker (its nested Txn is one more
// op of the fire's Txn and two levels deep): 120 or so single-run fires.
// A fire with more runs than one level of a Txn holds has its puts grouped
// into unconditional nested Txns, so it stays atomic. A batch too big for
// one Txn is written in several, each fenced and atomic; if leadership is
// lost between two of them the fires already written stay (created reports
// them) and the call returns domain.ErrNotLeader. Fires repeated within
// the batch are created once.
func (s *Store) CreateFires(ctx context.Context, fence ports.Fence, batch []ports.FireWrite) ([]bool, error) {
	created := make([]bool, len(batch))
	if err := checkFence(fence); err != nil {
		return created, err
	}
	seenFires := make(map[string]bool, len(batch))
	seenRuns := make(map[string]bool)
	var prepared []preparedFire
	for i := range batch {
		if seenFires[batch[i].Fire.ID] {
			continue
		}
		seenFires[batch[i].Fire.ID] = true
		p, err := s.prepareFire(i, batch[i], fence, seenRuns)
		if err != nil {
			return created, err
		}
		prepared = append(prepared, p)
	}
	placeMarkers(prepared)
	for len(prepared) > 0 {
		// widest and widestMarked: the most puts of a fire of the chunk
		// without and with a marker (-1: none).
		n, size, widest, widestMarked := 0, 0, -1, -1
		for n < len(prepared) {
			p := prepared[n]
			w, wm := widest, widestMarked
			if p.marker != "" {
				wm = max(wm, len(p.ops))
			} else {
				w = max(w, len(p.ops))
			}
			budget := maxTxnOps - (n + 1)
			fits := (w < 0 || fitsBudget(w, budget)) && (wm < 0 || fitsBudget(wm, budget-markerBudget))
			if n > 0 && (!fits || size+p.bytes > maxTxnBytes) {
				break
			}
			n, size, widest, widestMarked = n+1, size+p.bytes, w, wm
		}
		if err := s.commitFires(ctx, fence, prepared[:n], created); err != nil {
			return created, err
		}
		prepared = prepared[n:]
	}
	return created, nil
}

// commitFires writes a chunk of fires in one fenced Txn, splitting it in
// two if etcd refuses it as too big (a refused Txn wrote nothing).
func (s *Store) commitFires(ctx context.Context, fence ports.Fence, chunk []preparedFire, created []bool) error {
	budget := maxTxnOps - len(chunk)
	nested := make([]clientv3.Op, len(chunk))
	for i, p := range chunk {
		b := budget
		if p.marker != "" {
			b -= markerBudget
		}
		ops, ok := nestOps(p.ops, b)
		if !ok {
			return fmt.Errorf("create fires: fire %d has %d writes, more than one etcd Txn holds: %w",
				p.index, len(p.ops), domain.ErrInvalid)
		}
		if p.marker != "" {
			ops = append(ops[:len(ops):len(ops)], s.markerOp(p.jobID, p.marker))
		}
		nested[i] = clientv3.OpTxn([]clientv3.Cmp{clientv3.Compare(clientv3.CreateRevision(p.key), "=", 0)}, ops, nil)
	}
	resp, err := s.cli.Txn(ctx).If(fenceCmp(fence)).Then(nested...).Commit()
	if isTooBig(err) && len(chunk) > 1 {
		half := len(chunk) / 2
		if err := s.commitFires(ctx, fence, chunk[:half], created); err != nil {
			return err
		}
		return s.commitFires(ctx, fence, chunk[half:], created)
	}
	if err != nil {
		return translate(ctx, "create fires", err)
	}
	if !resp.Succeeded {
		return fmt.Errorf("create fires: fence %s@%d no longer holds: %w", fence.Key, fence.Token, domain.ErrNotLeader)
	}
	for i, r := range resp.Responses {
		created[chunk[i].index] = r.GetResponseTxn().GetSucceeded()
	}
	return nil
}

// prepareFire checks one fire write and encodes its puts.
func (s *Store) prepareFire(i int, w ports.FireWrite, fence ports.Fence, seenRuns map[string]bool) (preparedFire, error) {
	f := w.Fire
	field := func(name string) string { return fmt.Sprintf("batch[%d].%s", i, name) }
	jobID, _, err := domain.ParseFireID(f.ID)
	if err == nil && !isKeySegment(f.ID) {
		err = fmt.Errorf("%q has characters not allowed in a key", f.ID)
	}
	if err != nil {
		return preparedFire{}, &domain.ValidationError{Field: field("fire.id"), Reason: err.Error()}
	}
	if f.JobID == "" {
		f.JobID = jobID
	}
	if f.JobID != jobID {
		return preparedFire{}, &domain.ValidationError{Field: field("fire.job_id"),
			Reason: fmt.Sprintf("%q does not match the fire ID %q", f.JobID, f.ID)}
	}
	if f.LeaderToken == 0 {
		f.LeaderToken = fence.Token
	}
	p := preparedFire{index: i, jobID: jobID, key: s.k.fire(jobID, f.ID)}
	if f.Kind != domain.FireManual {
		p.scheduled, p.last = true, lastNominal(&f)
		if y := p.last.UTC().Year(); y < 1 || y > 9999 {
			return p, &domain.ValidationError{Field: field("fire.nominal"),
				Reason: fmt.Sprintf("%s is outside the years 1 to 9999", p.last)}
		}
	}
	put := func(key, val string) {
		p.ops = append(p.ops, clientv3.OpPut(key, val))
		p.bytes += len(key) + len(val)
	}
	val, err := encodeFire(&f)
	if err != nil {
		return p, err
	}
	put(p.key, val)
	ref, err := encode("fire index", envelope{FireRef: &fireRef{JobID: jobID, Status: f.Status, Kind: f.Kind}})
	if err != nil {
		return p, err
	}
	put(s.k.fireIndex(f.ID), ref)
	for j := range w.Runs {
		r := w.Runs[j].Clone()
		if r.FireID == "" {
			r.FireID = f.ID
		}
		if r.JobID == "" {
			r.JobID = jobID
		}
		if err := s.checkNewRun(&r, &f); err != nil {
			return p, fmt.Errorf("%s: %w", field(fmt.Sprintf("runs[%d]", j)), err)
		}
		if seenRuns[r.ID] {
			return p, &domain.ValidationError{Field: field(fmt.Sprintf("runs[%d].id", j)),
				Reason: fmt.Sprintf("run %q appears twice in the batch", r.ID)}
		}
		seenRuns[r.ID] = true
		r.Version = 1
		rval, err := encodeRun(&r)
		if err != nil {
			return p, err
		}
		iref, err := encodeRunRef(&r)
		if err != nil {
			return p, err
		}
		put(s.runKey(&r), rval)
		put(s.k.runIndex(r.ID), iref)
	}
	return p, nil
}

// checkNewRun checks that run r belongs to fire f and can be stored.
func (s *Store) checkNewRun(r *domain.Run, f *domain.Fire) error {
	if r.FireID != f.ID || !strings.HasPrefix(r.ID, f.ID+"~") {
		return &domain.ValidationError{Field: "id", Reason: fmt.Sprintf("run %q is not a run of fire %q", r.ID, f.ID)}
	}
	if r.JobID != f.JobID {
		return &domain.ValidationError{Field: "job_id", Reason: fmt.Sprintf("run %q has job %q, its fire %q", r.ID, r.JobID, f.JobID)}
	}
	return checkRun(r)
}

// GetFire reads <p>/fire/instances/<job>/<fire-id> (the job comes from
// the fire ID): one read.
func (s *Store) GetFire(ctx context.Context, id string) (domain.Fire, error) {
	jobID, _, err := domain.ParseFireID(id)
	if err != nil || !isKeySegment(id) {
		return domain.Fire{}, fmt.Errorf("fire %q: %w", id, domain.ErrNotFound)
	}
	key := s.k.fire(jobID, id)
	resp, err := s.cli.Get(ctx, key)
	if err != nil {
		return domain.Fire{}, translate(ctx, "get fire "+id, err)
	}
	if len(resp.Kvs) == 0 {
		return domain.Fire{}, fmt.Errorf("fire %q: %w", id, domain.ErrNotFound)
	}
	return decodeFire(key, resp.Kvs[0].Value)
}

// ListFires lists fires newest first (by fire ID, which starts with the
// nominal time). With a JobID it ranges that job's ledger keys backwards;
// without, it ranges the global index <p>/fire/index/ backwards, filters on
// the index entries and reads the matching fires (a Txn of gets). A call
// examines at most listScanBudget records: a page cut short by a filter is
// shorter than the limit and has a NextCursor.
func (s *Store) ListFires(ctx context.Context, f ports.FireFilter) (ports.Page[domain.Fire], error) {
	var page ports.Page[domain.Fire]
	after, err := decodeCursor("f", f.Cursor)
	if err != nil {
		return page, err
	}
	limit := f.EffectiveLimit()
	if f.JobID != "" {
		if domain.ValidateName("job_id", f.JobID) != nil {
			return page, nil
		}
		start, end := s.k.jobFires(f.JobID), prefixEnd(s.k.jobFires(f.JobID))
		if after != "" {
			end = s.k.fire(f.JobID, after)
		}
		next, err := s.listDesc(ctx, "list fires", start, end, limit, func(kv *mvccpb.KeyValue) (string, bool, error) {
			fire, err := decodeFire(string(kv.Key), kv.Value)
			if err != nil {
				return "", false, err
			}
			ok := f.Status == "" || fire.Status == f.Status
			if ok && len(page.Items) < limit {
				page.Items = append(page.Items, fire)
			}
			return fire.ID, ok, nil
		})
		page.NextCursor = encodeCursor("f", next)
		return page, err
	}
	start, end := s.k.fireIndexes(), prefixEnd(s.k.fireIndexes())
	if after != "" {
		end = s.k.fireIndex(after)
	}
	var ids []string
	next, err := s.listDesc(ctx, "list fires", start, end, limit, func(kv *mvccpb.KeyValue) (string, bool, error) {
		id := string(kv.Key[len(start):])
		e, err := decode(string(kv.Key), kv.Value)
		if err != nil {
			return "", false, err
		}
		ok := e.FireRef != nil && (f.Status == "" || e.FireRef.Status == f.Status)
		if ok && len(ids) < limit {
			ids = append(ids, id)
		}
		return id, ok, nil
	})
	if err != nil {
		return page, err
	}
	page.Items, err = s.readFires(ctx, ids)
	page.NextCursor = encodeCursor("f", next)
	return page, err
}

// readFires reads fires by ID (a Txn of gets), skipping any deleted since
// the index was read.
func (s *Store) readFires(ctx context.Context, ids []string) ([]domain.Fire, error) {
	keys := make([]string, len(ids))
	for i, id := range ids {
		jobID, _, err := domain.ParseFireID(id)
		if err != nil {
			return nil, fmt.Errorf("fire index entry %q: %w", id, err)
		}
		keys[i] = s.k.fire(jobID, id)
	}
	kvs, _, err := s.getMany(ctx, "list fires", keys, 0)
	if err != nil {
		return nil, err
	}
	out := make([]domain.Fire, 0, len(kvs))
	for i, kv := range kvs {
		if kv == nil {
			continue
		}
		f, err := decodeFire(keys[i], kv.Value)
		if err != nil {
			return nil, err
		}
		out = append(out, f)
	}
	return out, nil
}
