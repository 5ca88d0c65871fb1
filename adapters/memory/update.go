package memory

import (
	"context"
	"fmt"

	"github.com/pink-scheduler/pink/domain"
)

// casUpdate is the compare-and-swap loop behind the Update methods, the
// in-memory twin of the etcd adapter's Txn(compare mod revision): fn runs
// on a copy without the lock held (so it may read the store), and its
// result is stored only if the record did not change meanwhile; otherwise
// fn runs again on the new value.
type casUpdate[T any] struct {
	what    string                   // for errors, e.g. `update job "x"`
	load    func() (T, bool)         // reads the record; called with mu held
	version func(T) int64            // the record's modification revision
	clone   func(T) T                // a deep copy
	check   func(cur, next *T) error // validates fn's result; called without mu
	guard   func() error             // fences the write; called with mu held (may be nil)
	store   func(cur, next T) T      // writes next and publishes; called with mu held
}

// run performs the update with fn.
func (u casUpdate[T]) run(ctx context.Context, b *Backend, fn func(*T) error) (T, error) {
	var zero T
	for range maxUpdateRetries {
		if err := ctx.Err(); err != nil {
			return zero, fmt.Errorf("%s: %w", u.what, err)
		}
		b.mu.Lock()
		cur, ok := u.load()
		b.mu.Unlock()
		if !ok {
			return zero, fmt.Errorf("%s: %w", u.what, domain.ErrNotFound)
		}
		next := u.clone(cur)
		if err := fn(&next); err != nil {
			return zero, err
		}
		if err := u.check(&cur, &next); err != nil {
			return zero, fmt.Errorf("%s: %w", u.what, err)
		}
		b.mu.Lock()
		if u.guard != nil {
			if err := u.guard(); err != nil {
				b.mu.Unlock()
				return zero, fmt.Errorf("%s: %w", u.what, err)
			}
		}
		now, ok := u.load()
		if !ok {
			b.mu.Unlock()
			return zero, fmt.Errorf("%s: %w", u.what, domain.ErrNotFound)
		}
		if u.version(now) != u.version(cur) {
			b.mu.Unlock()
			continue // lost a race: run fn again on the new value
		}
		stored := u.store(cur, next)
		b.mu.Unlock()
		return u.clone(stored), nil
	}
	return zero, fmt.Errorf("%s: %w", u.what, domain.ErrConflict)
}
