package etcd

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/concurrency"

	"github.com/pink-scheduler/pink/domain"
	"github.com/pink-scheduler/pink/ports"
)

var (
	_ ports.Elector    = (*Elector)(nil)
	_ ports.Leadership = (*Leadership)(nil)
)

// Election TTL bounds.
const (
	// DefaultElectionTTL is the session TTL when ElectorOptions.TTL is 0:
	// a crashed leader is replaced within about this long.
	DefaultElectionTTL = 5 * time.Second
	// MinElectionTTL is the shortest TTL NewElector accepts; shorter ones
	// are raised to it. etcd itself raises a lease's TTL to 1.5 election
	// timeouts (1.5 s with default ticks), and TTLs are whole seconds.
	MinElectionTTL = 2 * time.Second
)

// ElectorOptions configures an Elector.
type ElectorOptions struct {
	// Prefix is the root of every key, as in Options; default
	// DefaultPrefix. Candidates live under <Prefix>/node/election/.
	Prefix string
	// NodeID is the value the elector campaigns with; it must be a valid
	// name (domain.ValidateName). Campaign returns domain.ErrInvalid
	// otherwise.
	NodeID string
	// TTL is the session lease's TTL, rounded up to whole seconds;
	// default DefaultElectionTTL, at least MinElectionTTL.
	TTL time.Duration
	// Logger receives "became leader", "lost leadership" and "resigned";
	// nil means slog.Default().
	Logger *slog.Logger
}

// Elector runs leader election for one node on concurrency.Election. Each
// term has its own session (lease); the term's fence is the leader key and
// its create revision, which every leader write compares.
type Elector struct {
	cli    *clientv3.Client
	prefix string // election prefix without its trailing '/'
	nodeID string
	ttl    int64 // seconds
	log    *slog.Logger
}

// NewElector returns an Elector campaigning as o.NodeID on cli. It does
// not own cli.
func NewElector(cli *clientv3.Client, o ElectorOptions) *Elector {
	if o.TTL == 0 {
		o.TTL = DefaultElectionTTL
	}
	o.TTL = max(o.TTL, MinElectionTTL)
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return &Elector{
		cli:    cli,
		prefix: strings.TrimSuffix(newKeys(o.Prefix).election(), "/"),
		nodeID: o.NodeID,
		ttl:    regTTLSeconds(o.TTL),
		log:    o.Logger.With("node", o.NodeID),
	}
}

// Campaign implements ports.Elector. It blocks until this node leads and
// returns the term, or returns ctx.Err() (wrapped) once ctx is done, with
// the candidacy withdrawn. A session that dies while waiting is replaced
// by a new one, transparently. Returns domain.ErrInvalid for a bad node
// ID and domain.ErrClosed once the client is closed; other etcd failures
// are retried, with backoff, until ctx ends.
func (e *Elector) Campaign(ctx context.Context) (ports.Leadership, error) {
	if err := domain.ValidateName("node_id", e.nodeID); err != nil {
		return nil, err
	}
	backoff := 50 * time.Millisecond
	for {
		l, err := e.campaignOnce(ctx)
		if l != nil {
			return l, nil
		}
		if ctx.Err() != nil {
			return nil, fmt.Errorf("campaign: %w", ctx.Err())
		}
		if e.cli.Ctx().Err() != nil {
			return nil, fmt.Errorf("campaign: etcd client closed: %w", domain.ErrClosed)
		}
		if err != nil {
			if errors.Is(err, domain.ErrInvalid) {
				return nil, err
			}
			e.log.Warn("campaign failed, retrying", "err", err, "backoff", backoff)
			if !regPause(ctx, &backoff) {
				return nil, fmt.Errorf("campaign: %w", ctx.Err())
			}
			continue
		}
		backoff = 50 * time.Millisecond // the session died: retry at once
	}
}

// campaignOnce runs one candidacy on a new session. It returns the
// leadership if won; (nil, nil) if the session died first (campaign
// again); (nil, err) on a failure. Whatever it does not return as a
// Leadership it cleans up: the session is closed and its lease revoked,
// which removes our candidate key.
func (e *Elector) campaignOnce(ctx context.Context) (*Leadership, error) {
	grant, err := e.cli.Grant(ctx, e.ttl)
	if err != nil {
		return nil, regErr(ctx, "campaign: grant lease", err)
	}
	// concurrency.Election withdraws a cancelled candidacy with
	// Resign(client.Ctx()), which has no deadline: with etcd unreachable it
	// would block until the client closes. So the election runs on a view
	// of the client whose context ends with this candidacy (our deferred
	// revoke, bounded, does the withdrawal instead), while the session's
	// keepalive runs on the real client's context: cancelling Campaign's
	// ctx after a win must not end the term.
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	view := clientv3.NewCtxClient(cctx, clientv3.WithZapLogger(e.cli.GetLogger()))
	view.KV, view.Lease, view.Watcher = e.cli.KV, e.cli.Lease, e.cli.Watcher
	sess, err := concurrency.NewSession(view, concurrency.WithLease(grant.ID), concurrency.WithTTL(int(e.ttl)),
		concurrency.WithContext(e.cli.Ctx()))
	if err != nil {
		e.revoke(grant.ID)
		return nil, regErr(ctx, "campaign: session", err)
	}
	won := false
	defer func() {
		if !won {
			sess.Orphan()
			e.revoke(sess.Lease())
		}
	}()

	// Campaign can hang, or even return a win, on a session that died
	// while it waited: stop it as soon as the session ends.
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		select {
		case <-sess.Done():
			cancel()
		case <-cctx.Done():
		}
	}()
	el := concurrency.NewElection(sess, e.prefix)
	err = el.Campaign(cctx, e.nodeID)
	// Campaign clears Key() on Resign: save the term right away.
	key, rev := el.Key(), el.Rev()
	cancel()
	wg.Wait()
	switch {
	case ctx.Err() != nil:
		return nil, ctx.Err()
	case regIsClosed(sess.Done()):
		e.log.Warn("session ended while campaigning")
		return nil, nil
	case err != nil:
		return nil, regErr(ctx, "campaign", err)
	}

	// Verify the win: our key still exists with its create revision and is
	// the oldest candidate. Anything else means the term is already lost.
	resp, err := e.cli.Txn(ctx).
		If(clientv3.Compare(clientv3.CreateRevision(key), "=", rev)).
		Then(clientv3.OpGet(e.prefix+"/", clientv3.WithFirstCreate()...)).
		Commit()
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, regErr(ctx, "campaign: verify", err)
	}
	if !resp.Succeeded {
		e.log.Warn("lost leadership", "reason", "leader key gone right after winning", "token", rev)
		return nil, nil
	}
	kvs := resp.Responses[0].GetResponseRange().Kvs
	if len(kvs) == 0 || string(kvs[0].Key) != key {
		e.log.Warn("lost leadership", "reason", "an older candidate exists", "token", rev)
		return nil, nil
	}
	won = true
	l := newLeadership(e, sess, ports.Fence{Key: key, Token: rev})
	e.log.Info("became leader", "key", key, "token", rev)
	return l, nil
}

// revoke revokes a lease, best effort, without the caller's context (which
// may be cancelled already): this is how a candidacy is withdrawn.
func (e *Elector) revoke(id clientv3.LeaseID) {
	if e.cli.Ctx().Err() != nil {
		return // the client is closed: the lease expires on its own
	}
	ctx, cancel := context.WithTimeout(context.Background(), regRevokeTimeout)
	defer cancel()
	if _, err := e.cli.Revoke(ctx, id); err != nil && !regLeaseGone(err) {
		e.log.Warn("revoke election lease", "lease", int64(id), "err", regErr(ctx, "revoke", err))
	}
}

// Leader implements ports.Elector: the oldest candidate under the
// election prefix, or domain.ErrNotFound. Informational only.
func (e *Elector) Leader(ctx context.Context) (ports.LeaderInfo, error) {
	resp, err := e.cli.Get(ctx, e.prefix+"/", clientv3.WithFirstCreate()...)
	if err != nil {
		return ports.LeaderInfo{}, regErr(ctx, "get leader", err)
	}
	if len(resp.Kvs) == 0 {
		return ports.LeaderInfo{}, fmt.Errorf("get leader: %w", domain.ErrNotFound)
	}
	kv := resp.Kvs[0]
	return ports.LeaderInfo{
		NodeID: string(kv.Value),
		Fence:  ports.Fence{Key: string(kv.Key), Token: kv.CreateRevision},
	}, nil
}

// Leadership is one term of leadership won by an Elector. It ends when its
// session ends (lease expired or revoked: seen at once through a watch on
// the leader key, or when renewal fails for a TTL) or on Resign.
type Leadership struct {
	e     *Elector
	sess  *concurrency.Session
	fence ports.Fence

	done   chan struct{} // closed when the term ends
	stop   chan struct{} // closed by Resign to stop the monitor
	exited chan struct{} // closed when the monitor returns

	endOnce    sync.Once
	resignOnce sync.Once
	resignErr  error
}

// newLeadership starts monitoring a term.
func newLeadership(e *Elector, sess *concurrency.Session, f ports.Fence) *Leadership {
	l := &Leadership{
		e: e, sess: sess, fence: f,
		done: make(chan struct{}), stop: make(chan struct{}), exited: make(chan struct{}),
	}
	go l.monitor()
	return l
}

// monitor ends the term when the session ends or the leader key goes
// away, whichever is seen first, unless Resign stops it.
func (l *Leadership) monitor() {
	defer close(l.exited)
	ctx, cancel := context.WithCancel(context.Background())
	gone := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if regWaitKeyGone(ctx, l.e.cli, l.fence.Key, l.fence.Token) == nil {
			close(gone)
		}
	}()
	var reason string
	select {
	case <-l.stop:
	case <-l.sess.Done():
		reason = "session ended"
	case <-gone:
		reason = "leader key deleted"
	}
	cancel()
	wg.Wait()
	if reason == "" {
		return // Resign
	}
	l.end()
	l.e.log.Warn("lost leadership", "reason", reason, "token", l.fence.Token)
	// The lease may still live (key deleted by hand): free it.
	l.sess.Orphan()
	l.e.revoke(l.sess.Lease())
}

func (l *Leadership) end() { l.endOnce.Do(func() { close(l.done) }) }

// Fence implements ports.Leadership: the leader key and its create
// revision. Tokens of later terms are larger.
func (l *Leadership) Fence() ports.Fence { return l.fence }

// Done implements ports.Leadership.
func (l *Leadership) Done() <-chan struct{} { return l.done }

// Resign implements ports.Leadership: it ends the term and revokes its
// session lease, deleting the leader key so a follower takes over within
// milliseconds. Safe to call more than once and after Done; later calls
// return the first one's result. If the revoke fails the key still
// disappears when the TTL runs out.
func (l *Leadership) Resign(ctx context.Context) error {
	l.resignOnce.Do(func() {
		lost := regIsClosed(l.done)
		l.end()
		close(l.stop)
		<-l.exited
		if lost {
			return // the monitor already revoked the lease
		}
		l.sess.Orphan()
		if _, err := l.e.cli.Revoke(ctx, l.sess.Lease()); err != nil {
			if !regLeaseGone(err) {
				l.resignErr = regErr(ctx, "resign", err)
			}
		}
		l.e.log.Info("resigned", "token", l.fence.Token)
	})
	return l.resignErr
}

// leaseID returns the term's session lease (for tests that revoke it
// behind the leader's back).
func (l *Leadership) leaseID() clientv3.LeaseID { return l.sess.Lease() }

func regIsClosed(c <-chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}
