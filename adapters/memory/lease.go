package memory

import (
	"context"
	"fmt"
	"time"

	"github.com/pink-scheduler/pink/domain"
	"github.com/pink-scheduler/pink/ports"
)

// lease is a TTL lease like etcd's: records attached to it disappear when
// it ends. While its owner is alive the backend keeps it alive implicitly;
// it ends when it is revoked (Close, Resign), killed (KillLease), or one
// TTL after its keep-alive stopped (StopKeepAlive).
type lease struct {
	id  int64
	ttl time.Duration

	// Guarded by Backend.mu.
	ended    bool
	err      error // domain.ErrClosed or domain.ErrLeaseExpired once ended
	expiring bool  // keep-alive stopped, an expiry timer runs
	onEnd    func() []entry

	done chan struct{}
}

// newLease makes a lease whose end calls onEnd (under Backend.mu) to
// remove the records attached to it. Callers hold mu.
func (b *Backend) newLease(ttl time.Duration, onEnd func() []entry) *lease {
	b.nextLease++
	return &lease{id: b.nextLease, ttl: ttl, onEnd: onEnd, done: make(chan struct{})}
}

// endLease ends l with err, removing its records in one write. Callers
// hold mu.
func (b *Backend) endLease(l *lease, err error) {
	if l.ended {
		return
	}
	l.ended, l.err = true, err
	b.bump()
	b.publish(l.onEnd()...)
	close(l.done)
}

// validateTTL checks a lease TTL and rounds it up to whole seconds, as
// etcd grants leases in seconds.
func validateTTL(ttl time.Duration) (time.Duration, error) {
	if ttl < time.Second {
		return 0, &domain.ValidationError{Field: "ttl", Reason: fmt.Sprintf("must be at least 1s, got %s", ttl)}
	}
	if r := ttl % time.Second; r != 0 {
		ttl += time.Second - r
	}
	return ttl, nil
}

// Lease is a registration's lease (ports.Lease).
type Lease struct {
	b *Backend
	l *lease
}

var _ ports.Lease = (*Lease)(nil)

// Done is closed when the lease ends.
func (x *Lease) Done() <-chan struct{} { return x.l.done }

// Err returns nil while the lease lives, then domain.ErrClosed after Close
// or domain.ErrLeaseExpired after an expiry.
func (x *Lease) Err() error {
	x.b.mu.Lock()
	defer x.b.mu.Unlock()
	return x.l.err
}

// Close revokes the lease: the registration disappears at once. It is safe
// to call more than once, and after the lease expired.
func (x *Lease) Close(context.Context) error {
	x.b.mu.Lock()
	defer x.b.mu.Unlock()
	x.b.endLease(x.l, domain.ErrClosed)
	return nil
}

// leaseOf returns the lease behind a *Lease or *Leadership of this
// backend.
func (b *Backend) leaseOf(x any) (*lease, error) {
	switch v := x.(type) {
	case *Lease:
		if v.b == b {
			return v.l, nil
		}
	case *Leadership:
		if v.b == b {
			return v.l, nil
		}
	}
	return nil, fmt.Errorf("memory: %T is not a lease or leadership of this backend: %w", x, domain.ErrInvalid)
}

// KillLease ends a lease or leadership (a *Lease or *Leadership returned by
// this backend) at once, behind its owner's back, as if the owner had been
// paused past the TTL: its records disappear, Done closes and Err returns
// domain.ErrLeaseExpired. Killing an ended lease does nothing.
func (b *Backend) KillLease(leaseOrLeadership any) error {
	l, err := b.leaseOf(leaseOrLeadership)
	if err != nil {
		return err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.endLease(l, domain.ErrLeaseExpired)
	return nil
}

// StopKeepAlive simulates the crash of the owner of a lease or leadership:
// the backend stops renewing it, and it expires one TTL later on the
// backend's clock (unless it is closed or killed first). It starts a
// goroutine that waits for the expiry; Close stops it.
func (b *Backend) StopKeepAlive(leaseOrLeadership any) error {
	l, err := b.leaseOf(leaseOrLeadership)
	if err != nil {
		return err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if l.ended || l.expiring || b.closed {
		return nil
	}
	l.expiring = true
	timer := b.clock.NewTimer(l.ttl)
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		select {
		case <-timer.C():
			b.mu.Lock()
			b.endLease(l, domain.ErrLeaseExpired)
			b.mu.Unlock()
		case <-l.done:
			timer.Stop()
		case <-b.stop:
			timer.Stop()
		}
	}()
	return nil
}
