package etcd

import (
	"context"
	"fmt"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/pink-scheduler/pink/domain"
	"github.com/pink-scheduler/pink/ports"
)

var (
	_ ports.UserStore  = (*Store)(nil)
	_ ports.TokenStore = (*Store)(nil)
	_ ports.AuditLog   = (*Store)(nil)
)

// Layout (docs/etcd-layout.md, "Users, tokens and the audit log"):
//
//	<p>/auth/users/<name>                              user
//	<p>/auth/admin-guard                               see adminGuard
//	<p>/auth/tokens/<id>                               token
//	<p>/auth/token-hash/<sha256 hex>                   tokenRef: lookup by secret
//	<p>/auth/token-owner/<kind>/<owner>/<id>           tokenRef: listing, cascade
//	<p>/auth/token-expiry/<expires, ms>~<id>           tokenRef: pruning
//	<p>/audit/<entry-id>                               audit entry
//
// A token's four keys are written and deleted together, in one Txn. Tokens
// never change except for LastUsedAt, which lives in the record only.

// Bounds of the auth stores.
const (
	// authPruneMax bounds the records one PruneExpiredTokens or PruneAudit
	// call removes.
	authPruneMax = 1000
	// cascadeBatch bounds the tokens DeleteUser removes in its final,
	// atomic Txn; a user with more has the rest revoked ahead, in batches.
	cascadeBatch = 256
	// tokensPerTxn is how many tokens (up to four deletes each) one
	// unconditional delete Txn removes.
	tokensPerTxn = maxTxnOps / 4
)

// adminGuard is the value of <p>/auth/admin-guard. A change that takes an
// active admin away (demote, disable, delete) reads the guard with every
// user at one revision, checks that another active admin remains, and
// commits only if the guard's ModRevision is still the one read, putting
// the guard as it goes: of two such changes racing, the second fails its
// compare, reads again, and sees the first. Changes that add or keep admins
// need not touch it.
type adminGuard struct {
	// By names the user whose change wrote the guard last (for operators).
	By string `json:"by"`
}

// tokenRef is the value of a token's index entries: enough to compute all
// four of its keys without reading the token.
type tokenRef struct {
	ID        string           `json:"id"`
	Kind      domain.TokenKind `json:"kind"`
	Owner     string           `json:"owner"`
	Hash      string           `json:"hash"`
	ExpiresAt time.Time        `json:"expires_at,omitzero"`
}

func refOfToken(t *domain.Token) tokenRef {
	return tokenRef{ID: t.ID, Kind: t.Kind, Owner: t.Owner, Hash: t.Hash, ExpiresAt: t.ExpiresAt}
}

// tokenKeys returns the keys of the token r describes: the record first,
// then the hash, owner and (for a token that expires) expiry entries.
func (s *Store) tokenKeys(r tokenRef) []string {
	keys := []string{s.k.token(r.ID), s.k.tokenHash(r.Hash), s.k.tokenOwnerEntry(string(r.Kind), r.Owner, r.ID)}
	if !r.ExpiresAt.IsZero() {
		keys = append(keys, s.k.tokenExpiry(idTime(r.ExpiresAt), r.ID))
	}
	return keys
}

// decodeAs decodes a value written by encode and returns its payload
// field, or an error naming what is missing.
func decodeAs[T any](key string, b []byte, what string, field func(*envelope) *T) (T, error) {
	var zero T
	e, err := decode(key, b)
	if err != nil {
		return zero, err
	}
	p := field(&e)
	if p == nil {
		return zero, fmt.Errorf("decode %s: no %s in value", key, what)
	}
	return *p, nil
}

func decodeUser(key string, b []byte) (domain.User, error) {
	return decodeAs(key, b, "user", func(e *envelope) *domain.User { return e.User })
}

func decodeToken(key string, b []byte) (domain.Token, error) {
	return decodeAs(key, b, "token", func(e *envelope) *domain.Token { return e.Token })
}

func decodeTokenRef(key string, b []byte) (tokenRef, error) {
	return decodeAs(key, b, "token_ref", func(e *envelope) *tokenRef { return e.TokenRef })
}

func decodeAudit(key string, b []byte) (domain.AuditEntry, error) {
	return decodeAs(key, b, "audit", func(e *envelope) *domain.AuditEntry { return e.Audit })
}

// CreateUser stores a new user under <p>/auth/users/<name> if the name is
// free (Txn: compare the key absent, put). It sets Version to 1; the
// timestamps are the caller's.
func (s *Store) CreateUser(ctx context.Context, u domain.User) (domain.User, error) {
	if err := u.Validate(); err != nil {
		return domain.User{}, fmt.Errorf("create user: %w", err)
	}
	u.Version = 1
	val, err := encode("user", envelope{User: &u})
	if err != nil {
		return domain.User{}, err
	}
	key := s.k.user(u.Name)
	resp, err := s.cli.Txn(ctx).
		If(clientv3.Compare(clientv3.CreateRevision(key), "=", 0)).
		Then(clientv3.OpPut(key, val)).Commit()
	if err != nil {
		return domain.User{}, translate(ctx, "create user "+u.Name, err)
	}
	if !resp.Succeeded {
		return domain.User{}, fmt.Errorf("create user %q: %w", u.Name, domain.ErrAlreadyExists)
	}
	return u, nil
}

// GetUser returns the user, or domain.ErrNotFound.
func (s *Store) GetUser(ctx context.Context, name string) (domain.User, error) {
	u, _, err := s.getUser(ctx, name)
	return u, err
}

// getUser returns the user and its key's ModRevision.
func (s *Store) getUser(ctx context.Context, name string) (domain.User, int64, error) {
	if domain.ValidateName("name", name) != nil {
		return domain.User{}, 0, fmt.Errorf("user %q: %w", name, domain.ErrNotFound)
	}
	key := s.k.user(name)
	resp, err := s.cli.Get(ctx, key)
	if err != nil {
		return domain.User{}, 0, translate(ctx, "get user "+name, err)
	}
	if len(resp.Kvs) == 0 {
		return domain.User{}, 0, fmt.Errorf("user %q: %w", name, domain.ErrNotFound)
	}
	u, err := decodeUser(key, resp.Kvs[0].Value)
	return u, resp.Kvs[0].ModRevision, err
}

// ListUsers lists users by name, one range read per page.
func (s *Store) ListUsers(ctx context.Context, p ports.PageRequest) (ports.Page[domain.User], error) {
	var page ports.Page[domain.User]
	after, err := decodeCursor("u", p.Cursor)
	if err != nil {
		return page, err
	}
	start := s.k.users()
	if after != "" {
		start = s.k.user(after) + "\x00"
	}
	limit := p.EffectiveLimit()
	kvs, _, err := s.rangeAsc(ctx, "list users", start, prefixEnd(s.k.users()), int(pageLimit(limit)), false)
	if err != nil {
		return page, err
	}
	for i, kv := range kvs {
		if i == limit {
			page.NextCursor = encodeCursor("u", page.Items[limit-1].Name)
			break
		}
		u, err := decodeUser(string(kv.Key), kv.Value)
		if err != nil {
			return page, err
		}
		page.Items = append(page.Items, u)
	}
	return page, nil
}

// CountUsers counts the keys under <p>/auth/users/ (a count-only read).
func (s *Store) CountUsers(ctx context.Context) (int, error) {
	resp, err := s.cli.Get(ctx, s.k.users(), clientv3.WithRange(prefixEnd(s.k.users())), clientv3.WithCountOnly())
	if err != nil {
		return 0, translate(ctx, "count users", err)
	}
	return int(resp.Count), nil
}

// UpdateUser changes a user through fn with a compare-and-swap on the user
// key's ModRevision, retrying on a lost race (at most maxCASTries times,
// then domain.ErrConflict). A change that takes an active admin away also
// compares and puts the admin guard (see adminGuard), and gets
// domain.ErrConflict if no other active admin is left.
func (s *Store) UpdateUser(ctx context.Context, name string, fn func(*domain.User) error) (domain.User, error) {
	what := "update user " + name
	var out domain.User
	err := casLoop(ctx, what, func() error {
		u, rev, err := s.getUser(ctx, name)
		if err != nil {
			return err
		}
		old := u
		if err := fn(&u); err != nil {
			return err
		}
		if u.Name != name {
			return fmt.Errorf("%s: %w", what, &domain.ValidationError{Field: "name", Reason: "a user cannot be renamed"})
		}
		if err := u.Validate(); err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		u.Version = old.Version + 1
		val, err := encode("user", envelope{User: &u})
		if err != nil {
			return err
		}
		key := s.k.user(name)
		cmps := []clientv3.Cmp{clientv3.Compare(clientv3.ModRevision(key), "=", rev)}
		ops := []clientv3.Op{clientv3.OpPut(key, val)}
		if old.ActiveAdmin() && !u.ActiveAdmin() {
			c, op, err := s.adminGuardFor(ctx, what, name, rev)
			if err != nil {
				return err
			}
			cmps, ops = append(cmps, c), append(ops, op)
		}
		resp, err := s.cli.Txn(ctx).If(cmps...).Then(ops...).Commit()
		if err != nil {
			return translate(ctx, what, err)
		}
		if !resp.Succeeded {
			return errTryAgain
		}
		out = u
		return nil
	})
	return out, err
}

// adminGuardFor prepares a change that takes user name, read at
// ModRevision rev, out of the active admins: it reads the guard and every
// user at one revision and returns the guard's compare and put. It returns
// errTryAgain if the user changed since rev and domain.ErrConflict if no
// other active admin exists.
func (s *Store) adminGuardFor(ctx context.Context, what, name string, rev int64) (clientv3.Cmp, clientv3.Op, error) {
	gkey, users := s.k.adminGuard(), s.k.users()
	resp, err := s.cli.Txn(ctx).Then(clientv3.OpGet(gkey),
		clientv3.OpGet(users, clientv3.WithRange(prefixEnd(users)))).Commit()
	if err != nil {
		return clientv3.Cmp{}, clientv3.Op{}, translate(ctx, what, err)
	}
	var grev int64
	if kvs := resp.Responses[0].GetResponseRange().GetKvs(); len(kvs) == 1 {
		grev = kvs[0].ModRevision
	}
	self, others := false, false
	for _, kv := range resp.Responses[1].GetResponseRange().GetKvs() {
		if string(kv.Key) == s.k.user(name) {
			self = kv.ModRevision == rev
			continue
		}
		u, err := decodeUser(string(kv.Key), kv.Value)
		if err != nil {
			return clientv3.Cmp{}, clientv3.Op{}, err
		}
		others = others || u.ActiveAdmin()
	}
	if !self {
		return clientv3.Cmp{}, clientv3.Op{}, errTryAgain
	}
	if !others {
		return clientv3.Cmp{}, clientv3.Op{}, fmt.Errorf("%s: it is the last active admin: %w", what, domain.ErrConflict)
	}
	val, err := encode("admin guard", envelope{AdminGuard: &adminGuard{By: name}})
	if err != nil {
		return clientv3.Cmp{}, clientv3.Op{}, err
	}
	return clientv3.Compare(clientv3.ModRevision(gkey), "=", grev), clientv3.OpPut(gkey, val), nil
}

// DeleteUser removes a user and its api and session tokens in one Txn:
// compare the user's ModRevision and that no owner index entry of the user
// was added since they were read (a prefix compare on ModRevision), then
// delete the user and every key of every token. The last active admin is
// refused (see adminGuard).
func (s *Store) DeleteUser(ctx context.Context, name string) error {
	what := "delete user " + name
	return casLoop(ctx, what, func() error {
		u, rev, err := s.getUser(ctx, name)
		if err != nil {
			return err
		}
		key := s.k.user(name)
		cmps := []clientv3.Cmp{clientv3.Compare(clientv3.ModRevision(key), "=", rev)}
		ops := []clientv3.Op{clientv3.OpDelete(key)}
		if u.ActiveAdmin() {
			c, op, err := s.adminGuardFor(ctx, what, name, rev)
			if err != nil {
				return err
			}
			cmps, ops = append(cmps, c), append(ops, op)
		}
		refs, tcmps, err := s.ownedTokens(ctx, what, name)
		if err != nil {
			return err
		}
		cmps = append(cmps, tcmps...)
		for _, r := range refs {
			for _, k := range s.tokenKeys(r) {
				ops = append(ops, clientv3.OpDelete(k))
			}
		}
		ops, ok := nestOps(ops, maxTxnOps-len(cmps))
		if !ok {
			return fmt.Errorf("%s: %d tokens do not fit one Txn: %w", what, len(refs), domain.ErrInvalid)
		}
		resp, err := s.cli.Txn(ctx).If(cmps...).Then(ops...).Commit()
		if err != nil {
			return translate(ctx, what, err)
		}
		if !resp.Succeeded {
			return errTryAgain
		}
		return nil
	})
}

// ownedTokens returns the index entries of user name's api and session
// tokens, and compares that fail if an entry is added after the read. A
// user with more than cascadeBatch tokens has batches of them revoked
// first (they are about to be anyway).
func (s *Store) ownedTokens(ctx context.Context, what, name string) ([]tokenRef, []clientv3.Cmp, error) {
	prefixes := []string{s.k.tokenOwner(string(domain.TokenAPI), name), s.k.tokenOwner(string(domain.TokenSession), name)}
	for {
		ops := make([]clientv3.Op, len(prefixes))
		for i, p := range prefixes {
			ops[i] = clientv3.OpGet(p, clientv3.WithRange(prefixEnd(p)), clientv3.WithLimit(cascadeBatch+1))
		}
		resp, err := s.cli.Txn(ctx).Then(ops...).Commit()
		if err != nil {
			return nil, nil, translate(ctx, what, err)
		}
		var refs []tokenRef
		more := false
		for _, r := range resp.Responses {
			rr := r.GetResponseRange()
			more = more || rr.GetMore()
			for _, kv := range rr.GetKvs() {
				ref, err := decodeTokenRef(string(kv.Key), kv.Value)
				if err != nil {
					return nil, nil, err
				}
				refs = append(refs, ref)
			}
		}
		if !more && len(refs) <= cascadeBatch {
			cmps := make([]clientv3.Cmp, len(prefixes))
			for i, p := range prefixes {
				cmps[i] = clientv3.Compare(clientv3.ModRevision(p), "<", resp.Header.Revision+1).WithPrefix()
			}
			return refs, cmps, nil
		}
		if _, err := s.deleteTokenRefs(ctx, what, refs[:min(len(refs), cascadeBatch)]); err != nil {
			return nil, nil, err
		}
	}
}

// deleteTokenRefs deletes every key of the tokens refs describe, in
// unconditional Txns of tokensPerTxn tokens, and returns how many token
// records it removed (a token already gone does not count).
func (s *Store) deleteTokenRefs(ctx context.Context, what string, refs []tokenRef) (int, error) {
	n := 0
	for i := 0; i < len(refs); i += tokensPerTxn {
		var ops []clientv3.Op
		var records []int // index in ops of each record's delete
		for _, r := range refs[i:min(i+tokensPerTxn, len(refs))] {
			records = append(records, len(ops))
			for _, k := range s.tokenKeys(r) {
				ops = append(ops, clientv3.OpDelete(k))
			}
		}
		resp, err := s.cli.Txn(ctx).Then(ops...).Commit()
		if err != nil {
			return n, translate(ctx, what, err)
		}
		for _, j := range records {
			if resp.Responses[j].GetResponseDeleteRange().GetDeleted() > 0 {
				n++
			}
		}
	}
	return n, nil
}
