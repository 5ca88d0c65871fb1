package etcd

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/pink-scheduler/pink/domain"
	"github.com/pink-scheduler/pink/ports"
)

var (
	_ ports.WorkerRegistry = (*Store)(nil)
	_ ports.NodeRegistry   = (*Store)(nil)
)

// Registration TTL bounds.
const (
	// MinRegistrationTTL is the shortest lease a registration accepts.
	MinRegistrationTTL = time.Second
	// MaxRegistrationTTL is the longest lease a registration accepts.
	MaxRegistrationTTL = time.Hour
)

// regVersion is the schema version of worker and node values.
const regVersion = 1

// regEnvelope is a registration value as stored, in the shape of every
// Pink value (see codec.go): {"version":1,"worker":{...}},
// {"version":1,"node":{...}} or, for the worker ID index,
// {"version":1,"worker_ref":{"group":"..."}}. A payload's own "version" is
// the worker's or node's software version. Kept apart from codec.go's
// envelope only because the two files were written at the same time; they
// share the wire format.
type regEnvelope struct {
	Version   int            `json:"version"`
	Worker    *domain.Worker `json:"worker,omitempty"`
	Node      *domain.Node   `json:"node,omitempty"`
	WorkerRef *regWorkerRef  `json:"worker_ref,omitempty"`
}

// regWorkerRef is the value of a worker ID index key: the worker's group.
type regWorkerRef struct {
	Group string `json:"group"`
}

// regWorkerIndex is the key that reserves a worker ID across groups while
// the worker lives: <prefix>/worker/index/<id>, on the worker's lease.
// Worker IDs are unique across groups (ports.WorkerRegistry), but worker
// keys are per group, so the index is what a registration compares.
func (s *Store) regWorkerIndex(id string) string { return s.k.p + "/worker/index/" + id }

// RegisterWorker implements ports.WorkerRegistry: it stores w at
// <prefix>/client/<group>/instances/<id>, and reserves its ID at
// <prefix>/worker/index/<id>, under a new lease of ttl (1 s to 1 h,
// rounded up to whole seconds), which the returned Lease keeps alive.
// Returns domain.ErrAlreadyExists if a live worker has that ID, in any
// group, and a *domain.ValidationError for an invalid worker or ttl.
func (s *Store) RegisterWorker(ctx context.Context, w domain.Worker, ttl time.Duration) (ports.Lease, error) {
	if err := w.Validate(); err != nil {
		return nil, err
	}
	val, err := json.Marshal(regEnvelope{Version: regVersion, Worker: &w})
	if err != nil {
		return nil, fmt.Errorf("register worker %q: encode: %w", w.ID, domain.ErrInvalid)
	}
	ref, err := json.Marshal(regEnvelope{Version: regVersion, WorkerRef: &regWorkerRef{Group: w.Group}})
	if err != nil {
		return nil, fmt.Errorf("register worker %q: encode: %w", w.ID, domain.ErrInvalid)
	}
	l, err := s.regPut(ctx, ttl,
		regKV{key: s.k.worker(w.Group, w.ID), val: string(val)},
		regKV{key: s.regWorkerIndex(w.ID), val: string(ref)})
	if err != nil {
		return nil, fmt.Errorf("register worker %q in group %q: %w", w.ID, w.Group, err)
	}
	return l, nil
}

// RegisterNode implements ports.NodeRegistry: it stores n at
// <prefix>/node/instances/<id> under a new lease of ttl, like
// RegisterWorker. Returns domain.ErrAlreadyExists if a live node has that
// ID, and a *domain.ValidationError for an invalid node or ttl.
func (s *Store) RegisterNode(ctx context.Context, n domain.Node, ttl time.Duration) (ports.Lease, error) {
	if err := n.Validate(); err != nil {
		return nil, err
	}
	val, err := json.Marshal(regEnvelope{Version: regVersion, Node: &n})
	if err != nil {
		return nil, fmt.Errorf("register node %q: encode: %w", n.ID, domain.ErrInvalid)
	}
	l, err := s.regPut(ctx, ttl, regKV{key: s.k.node(n.ID), val: string(val)})
	if err != nil {
		return nil, fmt.Errorf("register node %q: %w", n.ID, err)
	}
	return l, nil
}

// regKV is one key a registration writes.
type regKV struct{ key, val string }

// regPut creates the keys kvs, all of them only if none exists, under a
// new lease of ttl, and starts keeping the lease alive; the Lease watches
// the first key. The lease is revoked if anything fails.
func (s *Store) regPut(ctx context.Context, ttl time.Duration, kvs ...regKV) (*Lease, error) {
	if ttl < MinRegistrationTTL || ttl > MaxRegistrationTTL {
		return nil, &domain.ValidationError{
			Field:  "ttl",
			Reason: fmt.Sprintf("must be between %s and %s, got %s", MinRegistrationTTL, MaxRegistrationTTL, ttl),
		}
	}
	grant, err := s.cli.Grant(ctx, regTTLSeconds(ttl))
	if err != nil {
		return nil, regErr(ctx, "grant lease", err)
	}
	var (
		cmps []clientv3.Cmp
		puts []clientv3.Op
	)
	for _, kv := range kvs {
		cmps = append(cmps, clientv3.Compare(clientv3.CreateRevision(kv.key), "=", 0))
		puts = append(puts, clientv3.OpPut(kv.key, kv.val, clientv3.WithLease(grant.ID)))
	}
	resp, err := s.cli.Txn(ctx).If(cmps...).Then(puts...).Commit()
	if err == nil && !resp.Succeeded {
		err = domain.ErrAlreadyExists
	}
	if err != nil {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), regRevokeTimeout)
		_, _ = s.cli.Revoke(rctx, grant.ID)
		cancel()
		if errors.Is(err, domain.ErrAlreadyExists) {
			return nil, err
		}
		return nil, regErr(ctx, "put", err)
	}
	return newLease(s.cli, grant.ID, kvs[0].key, resp.Header.Revision, s.log), nil
}

// ListWorkers implements ports.WorkerRegistry: the live workers of group
// ("" for every group), ordered by ID (then group), and the revision from
// which WatchWorkers continues.
func (s *Store) ListWorkers(ctx context.Context, group string) ([]domain.Worker, int64, error) {
	pfx, err := s.regWorkerPrefix(group)
	if err != nil {
		return nil, 0, err
	}
	resp, err := s.cli.Get(ctx, pfx, clientv3.WithPrefix())
	if err != nil {
		return nil, 0, regErr(ctx, "list workers", err)
	}
	out := make([]domain.Worker, 0, len(resp.Kvs))
	for _, kv := range resp.Kvs {
		if !regIsWorkerKey(s.k, string(kv.Key)) {
			continue
		}
		w, err := regDecodeWorker(kv.Value)
		if err != nil {
			s.log.Warn("skipping undecodable worker", "key", string(kv.Key), "err", err)
			continue
		}
		out = append(out, w)
	}
	slices.SortFunc(out, func(a, b domain.Worker) int {
		return cmp.Or(cmp.Compare(a.ID, b.ID), cmp.Compare(a.Group, b.Group))
	})
	return out, resp.Header.Revision, nil
}

// ListNodes implements ports.NodeRegistry: the live nodes, ordered by ID.
func (s *Store) ListNodes(ctx context.Context) ([]domain.Node, error) {
	resp, err := s.cli.Get(ctx, s.k.nodes(), clientv3.WithPrefix(), clientv3.WithSort(clientv3.SortByKey, clientv3.SortAscend))
	if err != nil {
		return nil, regErr(ctx, "list nodes", err)
	}
	out := make([]domain.Node, 0, len(resp.Kvs))
	for _, kv := range resp.Kvs {
		v, err := regDecode(kv.Value)
		if err == nil && v.Node == nil {
			err = fmt.Errorf("decode registration: no node in value: %w", domain.ErrInvalid)
		}
		if err != nil {
			s.log.Warn("skipping undecodable node", "key", string(kv.Key), "err", err)
			continue
		}
		out = append(out, *v.Node)
	}
	return out, nil
}

// regWorkerPrefix returns the key prefix of group's workers, or of every
// worker for "".
func (s *Store) regWorkerPrefix(group string) (string, error) {
	if group == "" {
		return s.k.allWorkers(), nil
	}
	if err := domain.ValidateName("group", group); err != nil {
		return "", err
	}
	return s.k.workers(group), nil
}

// regIsWorkerKey reports whether key is <p>/client/<group>/instances/<id>.
func regIsWorkerKey(k keys, key string) bool {
	rest, ok := strings.CutPrefix(key, k.allWorkers())
	if !ok {
		return false
	}
	group, id, ok := strings.Cut(rest, "/instances/")
	return ok && group != "" && !strings.Contains(group, "/") && id != "" && !strings.Contains(id, "/")
}

// regDecodeWorker decodes a stored worker value.
func regDecodeWorker(b []byte) (domain.Worker, error) {
	v, err := regDecode(b)
	if err == nil && v.Worker == nil {
		err = fmt.Errorf("decode registration: no worker in value: %w", domain.ErrInvalid)
	}
	if err != nil {
		return domain.Worker{}, err
	}
	return *v.Worker, nil
}

// regDecode decodes a registration value and checks its schema version.
// Unknown fields are ignored, so a newer Pink may add some.
func regDecode(b []byte) (regEnvelope, error) {
	var v regEnvelope
	if err := json.Unmarshal(b, &v); err != nil {
		return v, fmt.Errorf("decode registration: %w (%v)", domain.ErrInvalid, err)
	}
	if v.Version < 1 || v.Version > regVersion {
		return v, fmt.Errorf("decode registration: schema version %d not supported (this Pink reads 1..%d): %w",
			v.Version, regVersion, domain.ErrInvalid)
	}
	return v, nil
}

// WatchWorkers implements ports.WorkerRegistry: registrations (EventPut)
// and expiries or deregistrations (EventDelete, carrying the last value)
// of group's workers ("" for every group) after afterRevision, normally
// the one ListWorkers returned (watch.go's semantics). A broken watch resumes after the last delivered revision;
// if that revision was compacted the last event carries
// domain.ErrCompacted (domain.ErrClosed if the etcd client was closed).
// The channel closes when ctx is done or after such an event.
func (s *Store) WatchWorkers(ctx context.Context, group string, afterRevision int64) <-chan ports.WorkerEvent {
	pfx, err := s.regWorkerPrefix(group)
	if err != nil {
		out := make(chan ports.WorkerEvent, 1)
		out <- ports.WorkerEvent{Err: err}
		close(out)
		return out
	}
	spec := watchSpec{name: "workers " + pfx, key: pfx, end: clientv3.GetPrefixRangeEnd(pfx), after: afterRevision}
	return watch(ctx, s, spec,
		func(_ context.Context, evs []*clientv3.Event) []ports.WorkerEvent {
			out := make([]ports.WorkerEvent, 0, len(evs))
			for _, ev := range evs {
				if we, ok := s.regWorkerEvent(ev); ok {
					out = append(out, we)
				}
			}
			return out
		},
		func(err error) ports.WorkerEvent { return ports.WorkerEvent{Err: err} })
}

// regWorkerEvent converts an etcd event under the workers prefix; ok is
// false for keys that are not worker registrations or values that do not
// decode (logged).
func (s *Store) regWorkerEvent(ev *clientv3.Event) (ports.WorkerEvent, bool) {
	key := string(ev.Kv.Key)
	if !regIsWorkerKey(s.k, key) {
		return ports.WorkerEvent{}, false
	}
	we := ports.WorkerEvent{Type: ports.EventPut, Revision: ev.Kv.ModRevision}
	val := ev.Kv.Value
	if ev.Type == clientv3.EventTypeDelete {
		we.Type = ports.EventDelete
		if ev.PrevKv == nil {
			// No previous value (compacted): name the worker by its key.
			rest := strings.TrimPrefix(key, s.k.allWorkers())
			group, id, _ := strings.Cut(rest, "/instances/")
			we.Worker = domain.Worker{ID: id, Group: group}
			return we, true
		}
		val = ev.PrevKv.Value
	}
	w, err := regDecodeWorker(val)
	if err != nil {
		s.log.Warn("skipping undecodable worker", "key", key, "err", err)
		return ports.WorkerEvent{}, false
	}
	we.Worker = w
	return we, true
}
