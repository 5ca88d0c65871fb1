package etcd

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"sync"
	"time"

	"go.etcd.io/etcd/api/v3/mvccpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/pink-scheduler/pink/domain"
	"github.com/pink-scheduler/pink/ports"
)

var _ ports.Lease = (*Lease)(nil)

// regRevokeTimeout bounds the best-effort revokes made without a caller's
// context (cleanup after a failed registration, after a lost lease).
const regRevokeTimeout = 5 * time.Second

// Lease is a registration kept alive on an etcd lease: the registration
// key is attached to the lease, which is renewed in the background
// (clientv3 KeepAlive) until Close. Done closes as soon as the key
// disappears (a watch on it: revoke, expiry or deletion are seen within
// milliseconds) or the keepalive stream gives up (the client could not
// renew it within the TTL). Its goroutine runs until then or until Close:
// call Close when done with the registration.
type Lease struct {
	cli *clientv3.Client
	id  clientv3.LeaseID
	key string
	log *slog.Logger

	cancel context.CancelFunc // stops the keeper goroutine
	done   chan struct{}      // closed when the lease ends
	exited chan struct{}      // closed when the keeper goroutine returns

	mu        sync.Mutex
	err       error // set once, just before done closes
	closeOnce sync.Once
	closeErr  error
}

// newLease starts keeping lease id alive for the registration key, which
// was created at revision createRev, and returns its handle.
func newLease(cli *clientv3.Client, id clientv3.LeaseID, key string, createRev int64, log *slog.Logger) *Lease {
	ctx, cancel := context.WithCancel(context.Background())
	l := &Lease{
		cli: cli, id: id, key: key, log: log,
		cancel: cancel, done: make(chan struct{}), exited: make(chan struct{}),
	}
	go l.keep(ctx, createRev)
	return l
}

// keep renews the lease and watches the key until either ends or ctx (the
// owner's Close) is cancelled.
func (l *Lease) keep(ctx context.Context, createRev int64) {
	defer close(l.exited)
	ka, err := l.cli.KeepAlive(ctx, l.id)
	if err != nil {
		l.end(domain.ErrLeaseExpired, "keepalive refused")
		return
	}
	gone := make(chan struct{})
	wctx, wcancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if regWaitKeyGone(wctx, l.cli, l.key, createRev) == nil {
			close(gone)
		}
	}()
	defer func() { wcancel(); wg.Wait() }()
	for {
		select {
		case _, ok := <-ka:
			if ok {
				continue
			}
			if ctx.Err() != nil {
				return // Close stopped us
			}
			l.end(domain.ErrLeaseExpired, "keepalive ended")
			return
		case <-gone:
			l.end(domain.ErrLeaseExpired, "registration deleted")
			return
		case <-ctx.Done():
			return
		}
	}
}

// end records why the lease ended and closes done, once; it revokes the
// lease in case only the key went away.
func (l *Lease) end(err error, reason string) {
	l.mu.Lock()
	first := l.err == nil
	if first {
		l.err = err
	}
	l.mu.Unlock()
	if !first {
		return
	}
	close(l.done)
	if errors.Is(err, domain.ErrLeaseExpired) {
		l.log.Warn("lease lost", "key", l.key, "reason", reason)
		if l.cli.Ctx().Err() != nil {
			return // the client is closed: the lease expires on its own
		}
		ctx, cancel := context.WithTimeout(context.Background(), regRevokeTimeout)
		_, _ = l.cli.Revoke(ctx, l.id)
		cancel()
	}
}

// Done implements ports.Lease: it is closed when the lease ends.
func (l *Lease) Done() <-chan struct{} { return l.done }

// Err implements ports.Lease: nil while the lease lives, then
// domain.ErrLeaseExpired, or domain.ErrClosed after Close.
func (l *Lease) Err() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.err
}

// Close implements ports.Lease: it stops the renewal and revokes the
// lease, which deletes the registration at once. Later calls return the
// first call's result. If the revoke fails the registration still
// disappears when the TTL runs out.
func (l *Lease) Close(ctx context.Context) error {
	l.closeOnce.Do(func() {
		l.cancel()
		<-l.exited
		l.mu.Lock()
		expired := l.err != nil
		l.mu.Unlock()
		l.end(domain.ErrClosed, "closed")
		if expired {
			return // already revoked by end
		}
		if _, err := l.cli.Revoke(ctx, l.id); err != nil && !regLeaseGone(err) {
			l.closeErr = regErr(ctx, "revoke lease of "+l.key, err)
		}
	})
	return l.closeErr
}

// leaseID returns the etcd lease behind the registration (for tests that
// revoke it behind the owner's back).
func (l *Lease) leaseID() clientv3.LeaseID { return l.id }

// regWaitKeyGone blocks until key, created at createRev, no longer exists
// (deleted, or replaced by a key with another create revision); it returns
// nil then, ctx's error when ctx ends first, or domain.ErrClosed once the
// client is closed. A broken watch (lost raft leader, ...) is started
// again.
func regWaitKeyGone(ctx context.Context, cli *clientv3.Client, key string, createRev int64) error {
	backoff := 50 * time.Millisecond
	for {
		if err := cli.Ctx().Err(); err != nil {
			return fmt.Errorf("watch %s: client closed: %w", key, domain.ErrClosed)
		}
		gone := regWatchGone(ctx, cli, key, createRev)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if gone {
			return nil
		}
		if !regPause(ctx, &backoff) {
			return ctx.Err()
		}
	}
}

// regWatchGone watches key and reports true once it is gone, false when
// the watch ends first. The watch starts "from now" and the key is read
// once the watch exists: etcd serves a watch that starts at a past
// revision only from its next unsynced-watcher pass (every 100 ms), so
// this way a deletion is seen within milliseconds whenever it happens.
func regWatchGone(ctx context.Context, cli *clientv3.Client, key string, createRev int64) bool {
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	wch := cli.Watch(clientv3.WithRequireLeader(wctx), key, clientv3.WithFilterPut(), clientv3.WithCreatedNotify())
	for wr := range wch {
		if wr.Canceled || wr.Err() != nil {
			return false
		}
		if wr.Created {
			// Deletions after the watch's start revision will arrive;
			// this read covers the ones before.
			resp, err := cli.Get(wctx, key)
			if err != nil {
				return false
			}
			if len(resp.Kvs) == 0 || resp.Kvs[0].CreateRevision != createRev {
				return true
			}
		}
		for _, ev := range wr.Events {
			if ev.Type == mvccpb.DELETE {
				return true
			}
		}
	}
	return false
}

// regTTLSeconds converts a TTL to the whole seconds etcd leases take,
// rounding up.
func regTTLSeconds(ttl time.Duration) int64 {
	return int64(math.Ceil(ttl.Seconds()))
}

// regErr translates an etcd error with translate (txn.go), except that a
// lease etcd no longer knows is domain.ErrLeaseExpired.
func regErr(ctx context.Context, op string, err error) error {
	if regLeaseGone(err) {
		return fmt.Errorf("%s: %w", op, domain.ErrLeaseExpired)
	}
	return translate(ctx, op, err)
}

// regLeaseGone reports whether err is etcd's "requested lease not found".
func regLeaseGone(err error) bool {
	return errors.Is(err, rpctypes.ErrLeaseNotFound) || errors.Is(err, rpctypes.ErrGRPCLeaseNotFound)
}

// regPause waits *backoff, doubling it up to 2 s; it reports false if ctx
// ended first.
func regPause(ctx context.Context, backoff *time.Duration) bool {
	t := time.NewTimer(*backoff)
	defer t.Stop()
	*backoff = min(2**backoff, 2*time.Second)
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
