package etcd

import (
	"context"
	"fmt"
	"strings"
	"time"

	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/pink-scheduler/pink/domain"
	"github.com/pink-scheduler/pink/ports"
)

// The audit log: <p>/audit/<entry-id>, one key per entry. Entry IDs start
// with the entry's time, so key order is time order.

// AppendAudit puts the entry under <p>/audit/<id> if the key is absent.
func (s *Store) AppendAudit(ctx context.Context, e domain.AuditEntry) error {
	if err := e.Validate(); err != nil {
		return fmt.Errorf("append audit: %w", err)
	}
	val, err := encode("audit entry", envelope{Audit: &e})
	if err != nil {
		return err
	}
	key := s.k.audit(e.ID)
	resp, err := s.cli.Txn(ctx).
		If(clientv3.Compare(clientv3.CreateRevision(key), "=", 0)).
		Then(clientv3.OpPut(key, val)).Commit()
	if err != nil {
		return translate(ctx, "append audit "+e.ID, err)
	}
	if !resp.Succeeded {
		return fmt.Errorf("append audit %q: %w", e.ID, domain.ErrAlreadyExists)
	}
	return nil
}

// ListAudit reads <p>/audit/ backwards, within the keys From and To allow,
// filtering each entry; a call examines at most listScanBudget entries.
func (s *Store) ListAudit(ctx context.Context, f ports.AuditFilter) (ports.Page[domain.AuditEntry], error) {
	var page ports.Page[domain.AuditEntry]
	after, err := decodeCursor("a", f.Cursor)
	if err != nil {
		return page, err
	}
	prefix := s.k.audits()
	start, end := prefix, prefixEnd(prefix)
	if !f.From.IsZero() {
		start = prefix + domain.AuditIDPrefix(f.From)
	}
	if !f.To.IsZero() {
		// IDs keep milliseconds: round To up so entries of its millisecond
		// are read (and then filtered exactly).
		to := f.To.Truncate(time.Millisecond)
		if to.Before(f.To) {
			to = to.Add(time.Millisecond)
		}
		end = prefix + domain.AuditIDPrefix(to)
	}
	if after != "" && prefix+after < end {
		end = prefix + after
	}
	limit := f.EffectiveLimit()
	next, err := s.listDesc(ctx, "list audit", start, end, limit, func(kv *mvccpb.KeyValue) (string, bool, error) {
		e, err := decodeAudit(string(kv.Key), kv.Value)
		if err != nil {
			return "", false, err
		}
		ok := (f.Actor == "" || e.Actor == f.Actor) && (f.Target == "" || e.Target == f.Target) &&
			(f.Result == "" || e.Result == f.Result) &&
			strings.HasPrefix(e.Action, f.Action) &&
			(f.From.IsZero() || !e.At.Before(f.From)) && (f.To.IsZero() || e.At.Before(f.To))
		if ok && len(page.Items) < limit {
			page.Items = append(page.Items, e)
		}
		return e.ID, ok, nil
	})
	page.NextCursor = encodeCursor("a", next)
	return page, err
}

// PruneAudit counts the entries and those older than the cutoff (two
// count-only reads in one Txn), then deletes the oldest due ones, at most
// authPruneMax, keys-only and in Txns of maxTxnOps deletes.
func (s *Store) PruneAudit(ctx context.Context, keep int, maxAge time.Duration, now time.Time) (int, error) {
	const what = "prune audit"
	if keep < 0 || maxAge < 0 {
		return 0, fmt.Errorf("%s: %w", what, &domain.ValidationError{Field: "retention", Reason: "keep and max age must not be negative"})
	}
	if keep == 0 && maxAge == 0 {
		return 0, nil
	}
	prefix := s.k.audits()
	resp, err := s.cli.Txn(ctx).Then(
		clientv3.OpGet(prefix, clientv3.WithRange(prefixEnd(prefix)), clientv3.WithCountOnly()),
		clientv3.OpGet(prefix, clientv3.WithRange(prefix+domain.AuditIDPrefix(now.Add(-maxAge))), clientv3.WithCountOnly()),
	).Commit()
	if err != nil {
		return 0, translate(ctx, what, err)
	}
	total, older := int(resp.Responses[0].GetResponseRange().GetCount()), int(resp.Responses[1].GetResponseRange().GetCount())
	due := 0
	if keep > 0 {
		due = total - keep
	}
	if maxAge > 0 {
		due = max(due, older)
	}
	due = min(due, authPruneMax)
	if due <= 0 {
		return 0, nil
	}
	kvs, _, err := s.rangeAsc(ctx, what, prefix, prefixEnd(prefix), due, true)
	if err != nil {
		return 0, err
	}
	n := 0
	for i := 0; i < len(kvs); i += maxTxnOps {
		chunk := kvs[i:min(i+maxTxnOps, len(kvs))]
		ops := make([]clientv3.Op, len(chunk))
		for j, kv := range chunk {
			ops[j] = clientv3.OpDelete(string(kv.Key))
		}
		resp, err := s.cli.Txn(ctx).Then(ops...).Commit()
		if err != nil {
			return n, translate(ctx, what, err)
		}
		for _, r := range resp.Responses {
			n += int(r.GetResponseDeleteRange().GetDeleted())
		}
	}
	return n, nil
}
