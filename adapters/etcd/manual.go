package etcd

import (
	"context"
	"fmt"
	"strings"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/pink-scheduler/pink/domain"
	"github.com/pink-scheduler/pink/ports"
)

// CreateManualFire writes a manual fire and its pending runs in one Txn,
// create-if-absent on the fire's ledger key, without a fence:
//
//	If(CreateRevision(<p>/fire/instances/<job>/<fire-id>) == 0)
//	Then(put fire, put fire index, for each run: put run, put run index)
//
// Returns domain.ErrAlreadyExists if the fire exists and a
// *domain.ValidationError for a fire that is not manual or runs that are
// not pending runs of it.
func (s *Store) CreateManualFire(ctx context.Context, w ports.FireWrite) error {
	f := w.Fire
	if _, _, err := domain.ParseFireID(f.ID); err != nil {
		return err
	}
	if f.Kind != domain.FireManual || strings.Count(f.ID, "~") != 2 {
		return &domain.ValidationError{Field: "kind", Reason: fmt.Sprintf("fire %q is not a manual fire", f.ID)}
	}
	for _, r := range w.Runs {
		if r.State != domain.RunPending {
			return &domain.ValidationError{Field: "runs", Reason: fmt.Sprintf("run %q of a manual fire must be pending, not %s", r.ID, r.State)}
		}
	}
	p, err := s.prepareFire(0, w, ports.Fence{}, map[string]bool{})
	if err != nil {
		return err
	}
	ops, ok := nestOps(p.ops, maxTxnOps)
	if !ok {
		return fmt.Errorf("create manual fire %q: %d writes, more than one etcd Txn holds: %w", f.ID, len(p.ops), domain.ErrInvalid)
	}
	resp, err := s.cli.Txn(ctx).If(clientv3.Compare(clientv3.CreateRevision(p.key), "=", 0)).Then(ops...).Commit()
	if err != nil {
		return translate(ctx, "create manual fire", err)
	}
	if !resp.Succeeded {
		return fmt.Errorf("create manual fire %q: %w", f.ID, domain.ErrAlreadyExists)
	}
	return nil
}
