package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"sync/atomic"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/pink-scheduler/pink/adapters/etcd"
	"github.com/pink-scheduler/pink/domain"
)

// The store's codec is internal to adapters/etcd, so the bulk loader
// writes the documented wire format itself (docs/etcd-layout.md, "Values")
// and checks it by reading records back through the store.
type envelope struct {
	Version int          `json:"version"`
	Job     *domain.Job  `json:"job,omitempty"`
	Fire    *domain.Fire `json:"fire,omitempty"`
	JobRef  *jobRef      `json:"job_ref,omitempty"`
	FireRef *fireRef     `json:"fire_ref,omitempty"`
}

type jobRef struct {
	Group string `json:"group"`
}

type fireRef struct {
	JobID  string            `json:"job_id"`
	Status domain.FireStatus `json:"status"`
	Kind   domain.FireKind   `json:"kind"`
}

func encodeValue(e envelope) string {
	e.Version = 1
	b, err := json.Marshal(e)
	if err != nil {
		panic(err) // the harness's own values always encode
	}
	return string(b)
}

// loadSpec says what to bulk-load under a prefix.
type loadSpec struct {
	prefix   string
	group    string
	jobs     int
	schedule string
	shards   int
	planFrom time.Time
	// withFire adds one past fire per job (dispatched, a second before
	// planFrom), as a leader finds in the ledger of a store in use.
	withFire bool
	// firesOnly writes the fires of jobs loaded before with the same spec.
	firesOnly bool
}

// bulkLoad writes the group and spec.jobs jobs (and their fires) with
// unconditional batched Txns of up to puts puts, from loaders goroutines.
// It returns the keys written. It then reads a job and a fire back through
// the store and compares them with what it wrote.
func bulkLoad(ctx context.Context, cli *clientv3.Client, st *etcd.Store, spec loadSpec, puts, loaders int) (int64, error) {
	if !spec.firesOnly {
		if _, err := st.CreateGroup(ctx, domain.Group{Name: spec.group, CreatedAt: spec.planFrom, UpdatedAt: spec.planFrom}); err != nil {
			return 0, fmt.Errorf("create group: %w", err)
		}
	}
	perJob := len(jobOps(spec, 0))
	jobsPerTxn := max(1, puts/perJob)
	var next, written atomic.Int64
	// load writes batches until every job is taken.
	load := func(ctx context.Context) error {
		ops := make([]clientv3.Op, 0, jobsPerTxn*perJob)
		for {
			first := int(next.Add(int64(jobsPerTxn))) - jobsPerTxn
			if first >= spec.jobs {
				return nil
			}
			ops = ops[:0]
			for i := first; i < min(first+jobsPerTxn, spec.jobs); i++ {
				ops = append(ops, jobOps(spec, i)...)
			}
			if _, err := cli.Txn(ctx).Then(ops...).Commit(); err != nil {
				return fmt.Errorf("bulk load: %w", err)
			}
			written.Add(int64(len(ops)))
		}
	}
	lctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	errs := make([]error, loaders)
	for i := range loaders {
		wg.Go(func() {
			if errs[i] = load(lctx); errs[i] != nil {
				cancel()
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return written.Load(), err
	}
	return written.Load(), verifyLoad(ctx, st, spec)
}

// jobOps returns the puts of job number i of spec: the job and its index
// entry, and with withFire its past fire and the fire's index entry.
func jobOps(spec loadSpec, i int) []clientv3.Op {
	p := spec.prefix
	j := benchJob(i, spec.group, spec.schedule, spec.shards, spec.planFrom)
	j.Version = 1
	var ops []clientv3.Op
	if !spec.firesOnly {
		ops = append(ops,
			clientv3.OpPut(p+"/job/instances/"+j.Group+"/"+j.ID, encodeValue(envelope{Job: &j})),
			clientv3.OpPut(p+"/job/index/"+j.ID, encodeValue(envelope{JobRef: &jobRef{Group: j.Group}})))
	}
	if spec.withFire || spec.firesOnly {
		f := pastFire(&j)
		ops = append(ops,
			clientv3.OpPut(p+"/fire/instances/"+j.ID+"/"+f.ID, encodeValue(envelope{Fire: &f})),
			clientv3.OpPut(p+"/fire/index/"+f.ID, encodeValue(envelope{FireRef: &fireRef{JobID: j.ID, Status: f.Status, Kind: f.Kind}})),
			// The job's last-fire marker, as CreateFires writes it
			// (adapters/etcd/fires_last.go; docs/etcd-layout.md).
			clientv3.OpPut(p+"/fire/last/"+j.ID, f.Nominal.UTC().Format(markerLayout)))
	}
	return ops
}

// markerLayout is the etcd adapter's layout of a last-fire marker: a
// fixed-width UTC time, so that etcd's byte order is time order.
const markerLayout = "2006-01-02T15:04:05.000000000Z"

// pastFire is the fire bulkLoad stores for j with withFire.
func pastFire(j *domain.Job) domain.Fire {
	at := j.PlanFrom.Add(-time.Second).Truncate(time.Second)
	id := domain.FireID(j.ID, at)
	return domain.Fire{
		ID: id, JobID: j.ID, Group: j.Group, Nominal: at, Kind: domain.FireScheduled,
		Status: domain.FireDispatched, RunIDs: []string{domain.RunID(id, 0)}, CreatedAt: at, LeaderToken: 1,
	}
}

// verifyLoad reads the last job (and its fire) back through the store.
func verifyLoad(ctx context.Context, st *etcd.Store, spec loadSpec) error {
	want := benchJob(spec.jobs-1, spec.group, spec.schedule, spec.shards, spec.planFrom)
	want.Version = 1
	got, err := st.GetJob(ctx, want.ID)
	if err != nil {
		return fmt.Errorf("bulk load: read back job %s: %w", want.ID, err)
	}
	if !reflect.DeepEqual(normTimes(got), normTimes(want)) {
		return fmt.Errorf("bulk load: job %s reads back as %+v, wrote %+v", want.ID, got, want)
	}
	if !spec.withFire && !spec.firesOnly {
		return nil
	}
	wf := pastFire(&want)
	f, err := st.GetFire(ctx, wf.ID)
	if err != nil {
		return fmt.Errorf("bulk load: read back fire %s: %w", wf.ID, err)
	}
	if f.ID != wf.ID || !f.Nominal.Equal(wf.Nominal) || f.Status != wf.Status {
		return errors.New("bulk load: fire reads back differently")
	}
	return nil
}

// normTimes drops the monotonic clock and location of a job's times,
// which JSON does not keep.
func normTimes(j domain.Job) domain.Job {
	j.PlanFrom, j.CreatedAt, j.UpdatedAt = j.PlanFrom.UTC(), j.CreatedAt.UTC(), j.UpdatedAt.UTC()
	return j
}

// leases keeps worker registrations made without a worker runtime.
type leases struct {
	mu sync.Mutex
	l  []interface{ Close(context.Context) error }
}

func (l *leases) add(x interface{ Close(context.Context) error }) {
	l.mu.Lock()
	l.l = append(l.l, x)
	l.mu.Unlock()
}

func (l *leases) closeAll() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, x := range l.l {
		_ = x.Close(ctx)
	}
	l.l = nil
}
