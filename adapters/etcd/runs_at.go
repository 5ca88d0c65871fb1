package etcd

import (
	"context"
	"errors"

	"github.com/pink-scheduler/pink/domain"
	"github.com/pink-scheduler/pink/ports"
)

// UpdateRunAt changes a run the caller holds at a known version: the
// version is the run's key and that key's ModRevision (from the worker's
// watch event, or from the response of the caller's previous write), so
// the write is one Txn comparing that ModRevision, without the two reads
// of locate. When the compare fails (the run changed or moved since), when
// at does not name the key of known in this store, or when fn refuses
// known, it falls back to UpdateRun: locate, fn on the current value,
// compare-and-swap, retried. Not fenced.
func (s *Store) UpdateRunAt(ctx context.Context, known domain.Run, at ports.RunVersion, fn func(*domain.Run) error) (domain.Run, ports.RunVersion, error) {
	if at.Revision > 0 && checkRun(&known) == nil && at.Key == s.runKey(&known) {
		cur := located{run: known, key: at.Key, modRev: at.Revision, ref: refOf(&known)}
		r, v, err := s.writeRun(ctx, nil, cur, fn)
		switch {
		case err == nil:
			return r, v, nil
		case errors.Is(err, domain.ErrUnavailable), errors.Is(err, domain.ErrClosed), ctx.Err() != nil:
			// The write's outcome is unknown: the caller decides whether
			// to try again (which then finds the run changed, or not).
			return domain.Run{}, ports.RunVersion{}, err
		}
		// A lost compare, or fn's verdict on a value that may be stale:
		// ask again on the run as it is now.
	}
	return s.updateRun(ctx, nil, known.ID, fn)
}
