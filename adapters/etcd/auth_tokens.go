package etcd

import (
	"context"
	"fmt"
	"time"

	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/pink-scheduler/pink/domain"
	"github.com/pink-scheduler/pink/ports"
)

// Tokens: see the layout in auth.go.

// CreateToken stores a token and its index entries in one Txn: if the
// owner's key exists (<p>/auth/users/<owner>, or <p>/group/instances/<owner>
// for a worker token) and neither the token key nor the hash entry does,
// put the token, its hash, owner and (if it expires) expiry entries. It
// sets Version to 1.
func (s *Store) CreateToken(ctx context.Context, t domain.Token) (domain.Token, error) {
	if err := t.Validate(); err != nil {
		return domain.Token{}, fmt.Errorf("create token: %w", err)
	}
	what := "create token " + t.ID
	t.Version = 1
	val, err := encode("token", envelope{Token: &t})
	if err != nil {
		return domain.Token{}, err
	}
	ref := refOfToken(&t)
	rval, err := encode("token index", envelope{TokenRef: &ref})
	if err != nil {
		return domain.Token{}, err
	}
	owner := s.k.user(t.Owner)
	if t.Kind == domain.TokenWorker {
		owner = s.k.group(t.Owner)
	}
	keys := s.tokenKeys(ref)
	ops := []clientv3.Op{clientv3.OpPut(keys[0], val)}
	for _, k := range keys[1:] {
		ops = append(ops, clientv3.OpPut(k, rval))
	}
	resp, err := s.cli.Txn(ctx).
		If(clientv3.Compare(clientv3.CreateRevision(owner), ">", 0),
			clientv3.Compare(clientv3.CreateRevision(keys[0]), "=", 0),
			clientv3.Compare(clientv3.CreateRevision(keys[1]), "=", 0)).
		Then(ops...).
		Else(clientv3.OpGet(owner, clientv3.WithCountOnly()), clientv3.OpGet(keys[0], clientv3.WithCountOnly())).Commit()
	if err != nil {
		return domain.Token{}, translate(ctx, what, err)
	}
	switch {
	case resp.Succeeded:
		return t, nil
	case resp.Responses[0].GetResponseRange().GetCount() == 0:
		kind := "user"
		if t.Kind == domain.TokenWorker {
			kind = "group"
		}
		return domain.Token{}, fmt.Errorf("%s: %w: %w", what,
			&domain.ValidationError{Field: "owner", Reason: fmt.Sprintf("%s %q does not exist", kind, t.Owner)},
			domain.ErrNotFound)
	case resp.Responses[1].GetResponseRange().GetCount() > 0:
		return domain.Token{}, fmt.Errorf("%s: %w", what, domain.ErrAlreadyExists)
	}
	return domain.Token{}, fmt.Errorf("%s: hash in use: %w", what, domain.ErrAlreadyExists)
}

// GetToken returns the token, or domain.ErrNotFound.
func (s *Store) GetToken(ctx context.Context, id string) (domain.Token, error) {
	t, _, err := s.getToken(ctx, id, 0)
	return t, err
}

// getToken returns the token at revision rev (0: now) and its key's
// ModRevision.
func (s *Store) getToken(ctx context.Context, id string, rev int64) (domain.Token, int64, error) {
	if domain.ValidateName("id", id) != nil {
		return domain.Token{}, 0, fmt.Errorf("token %q: %w", id, domain.ErrNotFound)
	}
	key := s.k.token(id)
	var opts []clientv3.OpOption
	if rev > 0 {
		opts = append(opts, clientv3.WithRev(rev))
	}
	resp, err := s.cli.Get(ctx, key, opts...)
	if err != nil {
		return domain.Token{}, 0, translate(ctx, "get token "+id, err)
	}
	if len(resp.Kvs) == 0 {
		return domain.Token{}, 0, fmt.Errorf("token %q: %w", id, domain.ErrNotFound)
	}
	t, err := decodeToken(key, resp.Kvs[0].Value)
	return t, resp.Kvs[0].ModRevision, err
}

// GetTokenByHash reads <p>/auth/token-hash/<hash>, then the token at the
// same revision: two reads. An expired token is not found.
func (s *Store) GetTokenByHash(ctx context.Context, hash string, now time.Time) (domain.Token, error) {
	notFound := fmt.Errorf("get token by hash: %w", domain.ErrNotFound)
	if !domain.ValidTokenHash(hash) {
		return domain.Token{}, notFound
	}
	key := s.k.tokenHash(hash)
	resp, err := s.cli.Get(ctx, key)
	if err != nil {
		return domain.Token{}, translate(ctx, "get token by hash", err)
	}
	if len(resp.Kvs) == 0 {
		return domain.Token{}, notFound
	}
	ref, err := decodeTokenRef(key, resp.Kvs[0].Value)
	if err != nil {
		return domain.Token{}, err
	}
	if !ref.ExpiresAt.IsZero() && !now.Before(ref.ExpiresAt) {
		return domain.Token{}, notFound
	}
	t, _, err := s.getToken(ctx, ref.ID, resp.Header.Revision)
	if err != nil {
		return domain.Token{}, err
	}
	if t.Hash != hash || t.Expired(now) {
		return domain.Token{}, notFound
	}
	return t, nil
}

// ListTokens lists tokens by ID. With a kind and an owner it walks that
// owner's index entries (<p>/auth/token-owner/<kind>/<owner>/), otherwise
// the tokens themselves, filtered; a call examines at most listScanBudget
// records.
func (s *Store) ListTokens(ctx context.Context, f ports.TokenFilter) (ports.Page[domain.Token], error) {
	var page ports.Page[domain.Token]
	if f.Kind != "" && !f.Kind.Valid() {
		return page, fmt.Errorf("list tokens: %w",
			&domain.ValidationError{Field: "kind", Reason: fmt.Sprintf("unknown token kind %q", f.Kind)})
	}
	after, err := decodeCursor("t", f.Cursor)
	if err != nil {
		return page, err
	}
	if after != "" && domain.ValidateName("cursor", after) != nil {
		return page, &domain.ValidationError{Field: "cursor", Reason: "not a cursor of this listing"}
	}
	if f.Owner != "" && domain.ValidateName("owner", f.Owner) != nil {
		return page, nil // no token has such an owner
	}
	limit := f.EffectiveLimit()
	live := func(expires time.Time) bool { return f.Now.IsZero() || expires.IsZero() || f.Now.Before(expires) }
	if f.Kind != "" && f.Owner != "" {
		prefix := s.k.tokenOwner(string(f.Kind), f.Owner)
		var keys []string
		next, err := s.listAsc(ctx, "list tokens", prefix+after, prefixEnd(prefix), after != "", limit,
			func(kv *mvccpb.KeyValue) (string, bool, error) {
				ref, err := decodeTokenRef(string(kv.Key), kv.Value)
				if err != nil {
					return "", false, err
				}
				ok := live(ref.ExpiresAt)
				if ok && len(keys) < limit {
					keys = append(keys, s.k.token(ref.ID))
				}
				return ref.ID, ok, nil
			})
		if err != nil {
			return page, err
		}
		kvs, _, err := s.getMany(ctx, "list tokens", keys, 0)
		if err != nil {
			return page, err
		}
		for _, kv := range kvs {
			if kv == nil {
				continue // revoked since the index was read
			}
			t, err := decodeToken(string(kv.Key), kv.Value)
			if err != nil {
				return page, err
			}
			page.Items = append(page.Items, t)
		}
		page.NextCursor = encodeCursor("t", next)
		return page, nil
	}
	prefix := s.k.tokens()
	next, err := s.listAsc(ctx, "list tokens", prefix+after, prefixEnd(prefix), after != "", limit,
		func(kv *mvccpb.KeyValue) (string, bool, error) {
			t, err := decodeToken(string(kv.Key), kv.Value)
			if err != nil {
				return "", false, err
			}
			ok := (f.Kind == "" || t.Kind == f.Kind) && (f.Owner == "" || t.Owner == f.Owner) && live(t.ExpiresAt)
			if ok && len(page.Items) < limit {
				page.Items = append(page.Items, t)
			}
			return t.ID, ok, nil
		})
	page.NextCursor = encodeCursor("t", next)
	return page, err
}

// listAsc is listDesc (paging.go) in ascending key order, from start (or
// just after it, if exclusive) to end.
func (s *Store) listAsc(ctx context.Context, what, start, end string, exclusive bool, limit int,
	match func(kv *mvccpb.KeyValue) (pos string, ok bool, err error)) (next string, err error) {
	if exclusive {
		start += "\x00"
	}
	scanned, matched := 0, 0
	var lastMatch string
	for {
		kvs, more, err := s.rangeAsc(ctx, what, start, end, min(scanPage, max(limit+1, 16)), false)
		if err != nil {
			return "", err
		}
		for _, kv := range kvs {
			pos, ok, err := match(kv)
			if err != nil {
				return "", err
			}
			scanned++
			if ok {
				if matched == limit {
					return lastMatch, nil
				}
				matched, lastMatch = matched+1, pos
			}
			if scanned >= listScanBudget {
				return pos, nil
			}
		}
		if !more || len(kvs) == 0 {
			return "", nil
		}
		start = string(kvs[len(kvs)-1].Key) + "\x00"
	}
}

// TouchToken moves LastUsedAt forward with a compare-and-swap on the
// token key (a revoked token stays revoked: the compare fails, the retry
// finds nothing).
func (s *Store) TouchToken(ctx context.Context, id string, at time.Time) error {
	what := "touch token " + id
	return casLoop(ctx, what, func() error {
		t, rev, err := s.getToken(ctx, id, 0)
		if err != nil {
			return err
		}
		if !at.After(t.LastUsedAt) {
			return nil
		}
		t.LastUsedAt = at
		t.Version++
		val, err := encode("token", envelope{Token: &t})
		if err != nil {
			return err
		}
		key := s.k.token(id)
		resp, err := s.cli.Txn(ctx).
			If(clientv3.Compare(clientv3.ModRevision(key), "=", rev)).
			Then(clientv3.OpPut(key, val)).Commit()
		if err != nil {
			return translate(ctx, what, err)
		}
		if !resp.Succeeded {
			return errTryAgain
		}
		return nil
	})
}

// DeleteToken deletes the token and its index entries in one Txn that
// compares the token key's ModRevision.
func (s *Store) DeleteToken(ctx context.Context, id string) error {
	what := "delete token " + id
	return casLoop(ctx, what, func() error {
		t, rev, err := s.getToken(ctx, id, 0)
		if err != nil {
			return err
		}
		var ops []clientv3.Op
		for _, k := range s.tokenKeys(refOfToken(&t)) {
			ops = append(ops, clientv3.OpDelete(k))
		}
		resp, err := s.cli.Txn(ctx).
			If(clientv3.Compare(clientv3.ModRevision(s.k.token(id)), "=", rev)).
			Then(ops...).Commit()
		if err != nil {
			return translate(ctx, what, err)
		}
		if !resp.Succeeded {
			return errTryAgain
		}
		return nil
	})
}

// PruneExpiredTokens reads the expiry index up to now (one range read of at
// most authPruneMax entries, oldest expiry first) and deletes those tokens
// with all their keys.
func (s *Store) PruneExpiredTokens(ctx context.Context, now time.Time) (int, error) {
	prefix := s.k.tokenExpiries()
	kvs, _, err := s.rangeAsc(ctx, "prune tokens", prefix, prefixEnd(prefix+idTime(now)), authPruneMax, false)
	if err != nil {
		return 0, err
	}
	refs := make([]tokenRef, 0, len(kvs))
	for _, kv := range kvs {
		ref, err := decodeTokenRef(string(kv.Key), kv.Value)
		if err != nil {
			return 0, err
		}
		if !ref.ExpiresAt.IsZero() && !now.Before(ref.ExpiresAt) {
			refs = append(refs, ref)
		}
	}
	return s.deleteTokenRefs(ctx, "prune tokens", refs)
}
