package memory

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/pink-scheduler/pink/domain"
	"github.com/pink-scheduler/pink/ports"
)

var (
	_ ports.UserStore  = (*Backend)(nil)
	_ ports.TokenStore = (*Backend)(nil)
	_ ports.AuditLog   = (*Backend)(nil)
)

// Listings of this file (see page.go).
const (
	listUsers  = "users"
	listTokens = "tokens"
	listAudit  = "audit"
)

// authState holds the users, tokens and audit entries of a Backend. Its
// zero value is empty and usable: maps are made on the first write. It is
// guarded by Backend.mu.
type authState struct {
	users  map[string]domain.User
	tokens map[string]domain.Token // by ID
	byHash map[string]string       // token hash -> token ID
	audit  map[string]domain.AuditEntry
}

// init makes the maps. Callers hold mu.
func (s *authState) init() {
	if s.users == nil {
		s.users = map[string]domain.User{}
		s.tokens = map[string]domain.Token{}
		s.byHash = map[string]string{}
		s.audit = map[string]domain.AuditEntry{}
	}
}

// CreateUser stores a new user and sets its Version. Returns a
// *domain.ValidationError for an invalid user and domain.ErrAlreadyExists
// if the name is taken.
func (b *Backend) CreateUser(_ context.Context, u domain.User) (domain.User, error) {
	if err := u.Validate(); err != nil {
		return domain.User{}, fmt.Errorf("create user: %w", err)
	}
	if err := b.checkSize("create user "+u.Name, u); err != nil {
		return domain.User{}, err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.auth.init()
	if _, ok := b.auth.users[u.Name]; ok {
		return domain.User{}, fmt.Errorf("create user %q: %w", u.Name, domain.ErrAlreadyExists)
	}
	u.Version = b.bump()
	b.auth.users[u.Name] = u
	b.publish()
	return u, nil
}

// GetUser returns the user, or domain.ErrNotFound.
func (b *Backend) GetUser(_ context.Context, name string) (domain.User, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	u, ok := b.auth.users[name]
	if !ok {
		return domain.User{}, fmt.Errorf("get user %q: %w", name, domain.ErrNotFound)
	}
	return u, nil
}

// ListUsers lists users by name.
func (b *Backend) ListUsers(_ context.Context, p ports.PageRequest) (ports.Page[domain.User], error) {
	b.mu.Lock()
	items := make([]domain.User, 0, len(b.auth.users))
	for _, u := range b.auth.users {
		items = append(items, u)
	}
	b.mu.Unlock()
	slices.SortFunc(items, func(x, y domain.User) int { return strings.Compare(x.Name, y.Name) })
	return paginate(listUsers, items, func(u domain.User) string { return u.Name }, strings.Compare, p)
}

// CountUsers returns the number of users.
func (b *Backend) CountUsers(context.Context) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.auth.users), nil
}

// otherActiveAdmin reports whether an active admin other than name exists.
// Callers hold mu.
func (b *Backend) otherActiveAdmin(name string) bool {
	for n, u := range b.auth.users {
		if n != name && u.ActiveAdmin() {
			return true
		}
	}
	return false
}

// UpdateUser changes a user through fn, atomically: fn runs on a copy
// without the store locked, and the result is stored only if the user did
// not change meanwhile (otherwise fn runs again on the new value). Returns
// domain.ErrNotFound, fn's error, a *domain.ValidationError if fn renamed
// the user or left it invalid, or domain.ErrConflict if the change would
// leave no active admin or after too many lost races.
func (b *Backend) UpdateUser(ctx context.Context, name string, fn func(*domain.User) error) (domain.User, error) {
	what := fmt.Sprintf("update user %q", name)
	for range maxUpdateRetries {
		if err := ctx.Err(); err != nil {
			return domain.User{}, fmt.Errorf("%s: %w", what, err)
		}
		b.mu.Lock()
		cur, ok := b.auth.users[name]
		b.mu.Unlock()
		if !ok {
			return domain.User{}, fmt.Errorf("%s: %w", what, domain.ErrNotFound)
		}
		next := cur
		if err := fn(&next); err != nil {
			return domain.User{}, err
		}
		if next.Name != name {
			return domain.User{}, fmt.Errorf("%s: %w", what, &domain.ValidationError{Field: "name", Reason: "a user cannot be renamed"})
		}
		if err := next.Validate(); err != nil {
			return domain.User{}, fmt.Errorf("%s: %w", what, err)
		}
		if err := b.checkSize(what, next); err != nil {
			return domain.User{}, err
		}
		b.mu.Lock()
		now, ok := b.auth.users[name]
		switch {
		case !ok:
			b.mu.Unlock()
			return domain.User{}, fmt.Errorf("%s: %w", what, domain.ErrNotFound)
		case now.Version != cur.Version:
			b.mu.Unlock()
			continue // lost a race: run fn again on the new value
		case cur.ActiveAdmin() && !next.ActiveAdmin() && !b.otherActiveAdmin(name):
			b.mu.Unlock()
			return domain.User{}, fmt.Errorf("%s: it is the last active admin: %w", what, domain.ErrConflict)
		}
		next.Version = b.bump()
		b.auth.users[name] = next
		b.publish()
		b.mu.Unlock()
		return next, nil
	}
	return domain.User{}, fmt.Errorf("%s: %w", what, domain.ErrConflict)
}

// DeleteUser removes a user and its api and session tokens in one write.
// Returns domain.ErrNotFound, or domain.ErrConflict for the last active
// admin.
func (b *Backend) DeleteUser(_ context.Context, name string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	u, ok := b.auth.users[name]
	if !ok {
		return fmt.Errorf("delete user %q: %w", name, domain.ErrNotFound)
	}
	if u.ActiveAdmin() && !b.otherActiveAdmin(name) {
		return fmt.Errorf("delete user %q: it is the last active admin: %w", name, domain.ErrConflict)
	}
	b.bump()
	delete(b.auth.users, name)
	for id, t := range b.auth.tokens {
		if t.Owner == name && t.Kind != domain.TokenWorker {
			delete(b.auth.tokens, id)
			delete(b.auth.byHash, t.Hash)
		}
	}
	b.publish()
	return nil
}

// CreateToken stores a new token and sets its Version. Returns a
// *domain.ValidationError for an invalid token, domain.ErrAlreadyExists if
// the ID or the hash is taken, and an error that is both a
// *domain.ValidationError for field "owner" and domain.ErrNotFound if the
// owner (user, or group for a worker token) does not exist.
func (b *Backend) CreateToken(_ context.Context, t domain.Token) (domain.Token, error) {
	if err := t.Validate(); err != nil {
		return domain.Token{}, fmt.Errorf("create token: %w", err)
	}
	if err := b.checkSize("create token "+t.ID, t); err != nil {
		return domain.Token{}, err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.auth.init()
	var owned bool
	if t.Kind == domain.TokenWorker {
		_, owned = b.groups[t.Owner]
	} else {
		_, owned = b.auth.users[t.Owner]
	}
	if !owned {
		return domain.Token{}, fmt.Errorf("create token %q: %w: %w", t.ID, ownerMissing(t), domain.ErrNotFound)
	}
	if _, ok := b.auth.tokens[t.ID]; ok {
		return domain.Token{}, fmt.Errorf("create token %q: %w", t.ID, domain.ErrAlreadyExists)
	}
	if _, ok := b.auth.byHash[t.Hash]; ok {
		return domain.Token{}, fmt.Errorf("create token %q: hash in use: %w", t.ID, domain.ErrAlreadyExists)
	}
	t.Version = b.bump()
	b.auth.tokens[t.ID] = t
	b.auth.byHash[t.Hash] = t.ID
	b.publish()
	return t, nil
}

// ownerMissing is the validation error of a token whose owner does not
// exist.
func ownerMissing(t domain.Token) error {
	what := "user"
	if t.Kind == domain.TokenWorker {
		what = "group"
	}
	return &domain.ValidationError{Field: "owner", Reason: fmt.Sprintf("%s %q does not exist", what, t.Owner)}
}

// GetToken returns the token, or domain.ErrNotFound.
func (b *Backend) GetToken(_ context.Context, id string) (domain.Token, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	t, ok := b.auth.tokens[id]
	if !ok {
		return domain.Token{}, fmt.Errorf("get token %q: %w", id, domain.ErrNotFound)
	}
	return t, nil
}

// GetTokenByHash returns the token with that hash unless it has expired at
// now; domain.ErrNotFound otherwise.
func (b *Backend) GetTokenByHash(_ context.Context, hash string, now time.Time) (domain.Token, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	t, ok := b.auth.tokens[b.auth.byHash[hash]]
	if !ok || t.Hash != hash || t.Expired(now) {
		return domain.Token{}, fmt.Errorf("get token by hash: %w", domain.ErrNotFound)
	}
	return t, nil
}

// ListTokens lists the tokens f selects, by ID.
func (b *Backend) ListTokens(_ context.Context, f ports.TokenFilter) (ports.Page[domain.Token], error) {
	if f.Kind != "" && !f.Kind.Valid() {
		return ports.Page[domain.Token]{}, fmt.Errorf("list tokens: %w",
			&domain.ValidationError{Field: "kind", Reason: fmt.Sprintf("unknown token kind %q", f.Kind)})
	}
	b.mu.Lock()
	var items []domain.Token
	for _, t := range b.auth.tokens {
		if (f.Kind == "" || t.Kind == f.Kind) && (f.Owner == "" || t.Owner == f.Owner) &&
			(f.Now.IsZero() || !t.Expired(f.Now)) {
			items = append(items, t)
		}
	}
	b.mu.Unlock()
	slices.SortFunc(items, func(x, y domain.Token) int { return strings.Compare(x.ID, y.ID) })
	return paginate(listTokens, items, func(t domain.Token) string { return t.ID }, strings.Compare, f.PageRequest)
}

// TouchToken moves the token's LastUsedAt forward to at.
func (b *Backend) TouchToken(_ context.Context, id string, at time.Time) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	t, ok := b.auth.tokens[id]
	if !ok {
		return fmt.Errorf("touch token %q: %w", id, domain.ErrNotFound)
	}
	if !at.After(t.LastUsedAt) {
		return nil
	}
	t.LastUsedAt = at
	t.Version = b.bump()
	b.auth.tokens[id] = t
	b.publish()
	return nil
}

// DeleteToken revokes a token. Returns domain.ErrNotFound.
func (b *Backend) DeleteToken(_ context.Context, id string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	t, ok := b.auth.tokens[id]
	if !ok {
		return fmt.Errorf("delete token %q: %w", id, domain.ErrNotFound)
	}
	b.bump()
	delete(b.auth.tokens, id)
	delete(b.auth.byHash, t.Hash)
	b.publish()
	return nil
}

// PruneExpiredTokens removes, in one write, at most PruneBatch tokens
// expired at now, the longest expired first.
func (b *Backend) PruneExpiredTokens(_ context.Context, now time.Time) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	var due []domain.Token
	for _, t := range b.auth.tokens {
		if t.Expired(now) {
			due = append(due, t)
		}
	}
	if len(due) == 0 {
		return 0, nil
	}
	slices.SortFunc(due, func(x, y domain.Token) int {
		if c := x.ExpiresAt.Compare(y.ExpiresAt); c != 0 {
			return c
		}
		return strings.Compare(x.ID, y.ID)
	})
	due = due[:min(len(due), PruneBatch)]
	b.bump()
	for _, t := range due {
		delete(b.auth.tokens, t.ID)
		delete(b.auth.byHash, t.Hash)
	}
	b.publish()
	return len(due), nil
}

// AppendAudit stores an entry. Returns a *domain.ValidationError or
// domain.ErrAlreadyExists.
func (b *Backend) AppendAudit(_ context.Context, e domain.AuditEntry) error {
	if err := e.Validate(); err != nil {
		return fmt.Errorf("append audit: %w", err)
	}
	if err := b.checkSize("append audit "+e.ID, e); err != nil {
		return err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.auth.init()
	if _, ok := b.auth.audit[e.ID]; ok {
		return fmt.Errorf("append audit %q: %w", e.ID, domain.ErrAlreadyExists)
	}
	b.bump()
	b.auth.audit[e.ID] = e
	b.publish()
	return nil
}

// matchAudit reports whether f selects e (paging aside).
func matchAudit(f *ports.AuditFilter, e *domain.AuditEntry) bool {
	switch {
	case f.Actor != "" && e.Actor != f.Actor,
		f.Target != "" && e.Target != f.Target,
		f.Result != "" && e.Result != f.Result,
		!strings.HasPrefix(e.Action, f.Action),
		!f.From.IsZero() && e.At.Before(f.From),
		!f.To.IsZero() && !e.At.Before(f.To):
		return false
	}
	return true
}

// ListAudit lists the entries f selects, newest first (by ID).
func (b *Backend) ListAudit(_ context.Context, f ports.AuditFilter) (ports.Page[domain.AuditEntry], error) {
	b.mu.Lock()
	var items []domain.AuditEntry
	for _, e := range b.auth.audit {
		if matchAudit(&f, &e) {
			items = append(items, e)
		}
	}
	b.mu.Unlock()
	slices.SortFunc(items, func(x, y domain.AuditEntry) int { return strings.Compare(y.ID, x.ID) })
	return paginate(listAudit, items, func(e domain.AuditEntry) string { return e.ID }, descending, f.PageRequest)
}

// PruneAudit removes, in one write, at most PruneBatch of the oldest
// entries among those beyond the newest keep and those whose ID time is
// before now-maxAge.
func (b *Backend) PruneAudit(_ context.Context, keep int, maxAge time.Duration, now time.Time) (int, error) {
	if keep < 0 || maxAge < 0 {
		return 0, fmt.Errorf("prune audit: %w", &domain.ValidationError{Field: "retention", Reason: "keep and max age must not be negative"})
	}
	if keep == 0 && maxAge == 0 {
		return 0, nil
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	ids := make([]string, 0, len(b.auth.audit))
	for id := range b.auth.audit {
		ids = append(ids, id)
	}
	slices.Sort(ids) // oldest first
	due := 0
	if keep > 0 {
		due = len(ids) - keep
	}
	if maxAge > 0 {
		cutoff := domain.AuditIDPrefix(now.Add(-maxAge))
		older, _ := slices.BinarySearch(ids, cutoff)
		due = max(due, older)
	}
	due = min(due, PruneBatch)
	if due <= 0 {
		return 0, nil
	}
	b.bump()
	for _, id := range ids[:due] {
		delete(b.auth.audit, id)
	}
	b.publish()
	return due, nil
}
