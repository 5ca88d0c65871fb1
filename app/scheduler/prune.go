package scheduler

import (
	"context"
	"fmt"
	"sync"
)

// startPruner runs the store's Prune every PruneInterval in a goroutine of
// the term, off the loop: a prune reads and deletes history for as long as
// it takes, and the loop keeps firing meanwhile. The first prune is one
// interval after the start, so a new leader's first fires are not delayed
// by it. At most one prune is in flight (one goroutine, one call at a
// time). The goroutine ends when ctx ends or a prune fails; its error
// (domain.ErrNotLeader among others) is sent on the returned channel,
// which the loop selects on to end the term. It is added to wg, which the
// term waits for before it returns.
func (t *term) startPruner(ctx context.Context, wg *sync.WaitGroup) <-chan error {
	errc := make(chan error, 1)
	wg.Go(func() {
		timer := t.cfg.Clock.NewTimer(t.cfg.PruneInterval)
		defer timer.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-timer.C():
			}
			runs, fires, err := t.cfg.Runs.Prune(ctx, t.fence, t.cfg.Retention, t.now())
			if err != nil {
				if ctx.Err() == nil {
					errc <- fmt.Errorf("prune: %w", err)
				}
				return
			}
			if runs+fires > 0 {
				t.log.Info("pruned history", "runs", runs, "fires", fires)
			}
			timer.Reset(t.cfg.PruneInterval)
		}
	})
	return errc
}
