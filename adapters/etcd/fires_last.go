package etcd

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strings"
	"sync"
	"time"

	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/pink-scheduler/pink/domain"
)

// Last-fire markers. <p>/fire/last/<job-id> holds the newest nominal time
// the job's scheduled fire records stand for (a skip summary stands for
// its Summary.Last), so that LastFires, read at every takeover, is one
// scan of one key per job instead of a walk of the whole ledger. The value
// is the time in markerLayout, plain text: fixed width and in time order
// byte for byte, so that the Txn writing a marker can compare it with the
// stored one and never move it backwards (markerOp). CreateFires writes
// it with the fire, DeleteJob deletes it with the job, Prune leaves it.
//
// A store written before the markers existed has none: LastFires then
// derives them from the ledger once (migrateLastFires), with
// <p>/fire/last-state recording that the migration runs ("migrating") or
// ran ("done").

// markerLayout formats a marker: UTC, nanoseconds, fixed width for the
// years 1 to 9999 (CreateFires refuses other times).
const markerLayout = "2006-01-02T15:04:05.000000000Z"

// markerBudget is how much of etcd's per-level op budget a fire carrying
// a marker needs beyond its puts: the marker's Txn is one more op of the
// fire's Txn, and holds a Txn of its own (see markerOp).
const markerBudget = 3

// Values of <p>/fire/last-state.
const (
	lastFiresMigrating = "migrating"
	lastFiresMigrated  = "done"
)

func markerValue(t time.Time) string { return t.UTC().Format(markerLayout) }

// lastNominal is the newest nominal time fire f stands for: a skip
// summary's last folded time, or its nominal time.
func lastNominal(f *domain.Fire) time.Time {
	if f.Summary != nil && f.Summary.Last.After(f.Nominal) {
		return f.Summary.Last
	}
	return f.Nominal
}

// markerOp sets job's marker to val unless it holds a later time:
//
//	Txn(If(Value(marker) < val) Then(put marker)
//	    Else(Txn(If(CreateRevision(marker) = 0) Then(put marker))))
//
// (a compare of the value of a missing key fails, hence the second Txn).
func (s *Store) markerOp(jobID, val string) clientv3.Op {
	key := s.k.lastFire(jobID)
	return clientv3.OpTxn(
		[]clientv3.Cmp{clientv3.Compare(clientv3.Value(key), "<", val)},
		[]clientv3.Op{clientv3.OpPut(key, val)},
		[]clientv3.Op{clientv3.OpTxn(
			[]clientv3.Cmp{clientv3.Compare(clientv3.CreateRevision(key), "=", 0)},
			[]clientv3.Op{clientv3.OpPut(key, val)}, nil)})
}

// placeMarkers gives the newest scheduled fire of each job in prepared its
// job's marker (etcd refuses a Txn that puts a key twice, so one fire per
// job carries it). It goes in that fire's own create-if-absent Txn: it is
// written exactly when the fire is created. An older fire of the batch
// created while the newest already existed needs none: whoever created
// the newest wrote a marker at least as new.
func placeMarkers(prepared []preparedFire) {
	newest := make(map[string]int, len(prepared))
	for i := range prepared {
		p := &prepared[i]
		if !p.scheduled {
			continue
		}
		if j, ok := newest[p.jobID]; !ok || p.last.After(prepared[j].last) {
			newest[p.jobID] = i
		}
	}
	for _, i := range newest {
		prepared[i].marker = markerValue(prepared[i].last)
	}
}

// LastFires scans the last-fire markers <p>/fire/last/ (one windowed,
// paged scan at one revision). If they were never written (a store from
// before the markers: none exist but the ledger does not look empty) or
// their migration did not finish, it first derives them from the ledger
// (migrateLastFires).
func (s *Store) LastFires(ctx context.Context) (map[string]time.Time, error) {
	resp, err := s.cli.Get(ctx, s.k.lastFiresState())
	if err != nil {
		return nil, translate(ctx, "last fires", err)
	}
	state := ""
	if len(resp.Kvs) > 0 {
		state = string(resp.Kvs[0].Value)
	}
	out, err := s.scanMarkers(ctx)
	if err != nil {
		return nil, err
	}
	migrate := state == lastFiresMigrating
	if state == "" && len(out) == 0 {
		// No marker at all: a new store, or one written before them.
		kvs, _, err := s.rangeAsc(ctx, "last fires", s.k.fires(), prefixEnd(s.k.fires()), 1, true)
		if err != nil {
			return nil, err
		}
		migrate = len(kvs) > 0
	}
	if !migrate {
		return out, nil
	}
	derived, err := s.migrateLastFires(ctx)
	if err != nil {
		return nil, err
	}
	// Markers only move forward: each is now the later of the two.
	for job, t := range derived {
		if cur, ok := out[job]; !ok || t.After(cur) {
			out[job] = t
		}
	}
	return out, nil
}

// scanMarkers reads every marker.
func (s *Store) scanMarkers(ctx context.Context) (map[string]time.Time, error) {
	out := make(map[string]time.Time)
	prefix := s.k.lastFires()
	_, err := s.scanRange(ctx, "last fires", prefix, prefixEnd(prefix), 0, false, func(kv *mvccpb.KeyValue) error {
		job, err := lastSegment(kv.Key, prefix)
		if err != nil {
			return err
		}
		t, err := time.Parse(markerLayout, string(kv.Value))
		if err != nil {
			return fmt.Errorf("decode %s: %w", kv.Key, err)
		}
		out[job] = t
		return nil
	})
	return out, err
}

// lastFiresPeek is how many of a job's newest scheduled fire records the
// migration reads: one is the newest by nominal time, and a skip summary
// among the few before it may stand for a later time.
const lastFiresPeek = 8

// Each step of the migration reads the ledger keys of, and writes the
// markers of, migrateJobsPerTxn jobs in one Txn each (a marker's guarded
// put is one op with two nested levels under it: 120 fit etcd's default
// budget of 128 per level); migrateSteps steps run at a time, so that
// their writes share etcd's fsyncs.
const (
	migrateJobsPerTxn = 120
	migrateSteps      = 8
)

// migrateLastFires writes the marker of every job from its ledger, once:
// it marks <p>/fire/last-state "migrating", reads the job IDs (the keys of
// <p>/job/index/), then per group of migrateJobsPerTxn jobs reads the keys
// of their ledgers (one Txn), the values of each job's newest
// lastFiresPeek scheduled records (getMany), and writes their markers with
// markerOp (one Txn: a marker only moves forward, so a leader that wrote
// one meanwhile keeps it), and finally marks the state "done". A migration
// cut short is redone by the next LastFires. The writes are not fenced:
// they only ever record what the ledger holds. It returns the markers it
// derived.
func (s *Store) migrateLastFires(ctx context.Context) (map[string]time.Time, error) {
	s.log.Info("etcd: deriving the last-fire markers from the fire ledger (once)")
	if _, err := s.cli.Put(ctx, s.k.lastFiresState(), lastFiresMigrating); err != nil {
		return nil, translate(ctx, "last fires", err)
	}
	var jobs []string
	prefix := s.k.jobIndexes()
	if _, err := s.scanRange(ctx, "last fires", prefix, prefixEnd(prefix), 0, true, func(kv *mvccpb.KeyValue) error {
		id, err := lastSegment(kv.Key, prefix)
		jobs = append(jobs, id)
		return err
	}); err != nil {
		return nil, err
	}
	out := make(map[string]time.Time)
	var mu sync.Mutex
	steps := make(chan []string)
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	errs := make([]error, migrateSteps)
	for w := range migrateSteps {
		wg.Go(func() {
			for step := range steps {
				found, err := s.migrateJobs(sctx, step)
				if err != nil {
					errs[w] = err
					cancel()
					return
				}
				mu.Lock()
				maps.Copy(out, found)
				mu.Unlock()
			}
		})
	}
feed:
	for i := 0; i < len(jobs); i += migrateJobsPerTxn {
		select {
		case steps <- jobs[i:min(i+migrateJobsPerTxn, len(jobs))]:
		case <-sctx.Done():
			break feed
		}
	}
	close(steps)
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, translate(ctx, "last fires", err)
	}
	if _, err := s.cli.Put(ctx, s.k.lastFiresState(), lastFiresMigrated); err != nil {
		return nil, translate(ctx, "last fires", err)
	}
	s.log.Info("etcd: last-fire markers derived", "jobs", len(jobs), "with_fires", len(out))
	return out, nil
}

// migrateJobs derives and writes the markers of jobs (see
// migrateLastFires) and returns them.
func (s *Store) migrateJobs(ctx context.Context, jobs []string) (map[string]time.Time, error) {
	// The keys of each job's ledger, newest first: a descending read
	// returns every key of its range (etcd ignores its limit), which here
	// is one job's records, keys only.
	ops := make([]clientv3.Op, len(jobs))
	for i, job := range jobs {
		ops[i] = clientv3.OpGet(s.k.jobFires(job), clientv3.WithRange(prefixEnd(s.k.jobFires(job))),
			clientv3.WithKeysOnly(), clientv3.WithSort(clientv3.SortByKey, clientv3.SortDescend))
	}
	resp, err := s.cli.Txn(ctx).Then(ops...).Commit()
	if err != nil {
		return nil, translate(ctx, "last fires", err)
	}
	var keys, keyJobs []string
	for i, job := range jobs {
		n := 0
		for _, kv := range resp.Responses[i].GetResponseRange().GetKvs() {
			id := string(kv.Key[len(s.k.jobFires(job)):])
			if strings.Count(id, "~") != 1 {
				continue // a manual fire (ManualFireID): it does not count
			}
			keys, keyJobs = append(keys, string(kv.Key)), append(keyJobs, job)
			if n++; n == lastFiresPeek {
				break
			}
		}
	}
	kvs, _, err := s.getMany(ctx, "last fires", keys, 0)
	if err != nil {
		return nil, err
	}
	found := make(map[string]time.Time)
	for i, kv := range kvs {
		if kv == nil {
			continue // pruned since
		}
		f, err := decodeFire(keys[i], kv.Value)
		if err != nil {
			return nil, err
		}
		if f.Kind == domain.FireManual {
			continue
		}
		if cur, ok := found[keyJobs[i]]; !ok || lastNominal(&f).After(cur) {
			found[keyJobs[i]] = lastNominal(&f)
		}
	}
	writes := make([]clientv3.Op, 0, len(found))
	for job, t := range found {
		if y := t.UTC().Year(); y < 1 || y > 9999 {
			s.log.Warn("etcd: a fire's nominal time is out of range; no last-fire marker", "job", job, "time", t)
			delete(found, job)
			continue
		}
		writes = append(writes, s.markerOp(job, markerValue(t)))
	}
	if len(writes) == 0 {
		return found, nil
	}
	if _, err := s.cli.Txn(ctx).Then(writes...).Commit(); err != nil {
		return nil, translate(ctx, "last fires", err)
	}
	return found, nil
}
