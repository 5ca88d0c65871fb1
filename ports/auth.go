package ports

import (
	"context"
	"time"

	"github.com/pink-scheduler/pink/domain"
)

// UserStore keeps users. It enforces one rule across users, atomically:
// while at least one active admin (domain.User.ActiveAdmin) exists, no
// change may leave none. Demoting, disabling or deleting the last active
// admin gets domain.ErrConflict, even when two such changes race.
type UserStore interface {
	// CreateUser stores a new user; it sets Version. Returns a
	// *domain.ValidationError for an invalid user (domain.User.Validate)
	// and domain.ErrAlreadyExists if the name is taken.
	CreateUser(ctx context.Context, u domain.User) (domain.User, error)
	// GetUser returns domain.ErrNotFound if there is no such user.
	GetUser(ctx context.Context, name string) (domain.User, error)
	// ListUsers lists users by name.
	ListUsers(ctx context.Context, p PageRequest) (Page[domain.User], error)
	// CountUsers returns how many users exist (0 on a fresh install: the
	// auth service then creates the first admin).
	CountUsers(ctx context.Context) (int, error)
	// UpdateUser changes a user through fn, atomically, like UpdateGroup:
	// fn runs on a copy and may run several times. The name cannot change
	// and the result must pass Validate (a *domain.ValidationError
	// otherwise). Returns domain.ErrNotFound, fn's error, domain.ErrConflict
	// if the change would leave no active admin, or domain.ErrConflict
	// after too many lost races.
	UpdateUser(ctx context.Context, name string, fn func(*domain.User) error) (domain.User, error)
	// DeleteUser removes a user together with every api and session token
	// it owns, atomically, so that a user created later with the same name
	// inherits nothing. Returns domain.ErrNotFound, or domain.ErrConflict if
	// the user is the last active admin.
	DeleteUser(ctx context.Context, name string) error
}

// TokenFilter selects tokens for ListTokens. Empty fields match everything.
type TokenFilter struct {
	Kind  domain.TokenKind
	Owner string
	// Now, if set, leaves out the tokens expired at Now.
	Now time.Time
	PageRequest
}

// TokenStore keeps tokens: api, worker and session credentials, by the
// hash of their secret (the store never sees a secret).
type TokenStore interface {
	// CreateToken stores a new token; it sets Version. Returns a
	// *domain.ValidationError for an invalid token (domain.Token.Validate);
	// domain.ErrAlreadyExists if the ID or the hash is taken; and, if the
	// owner does not exist (the user for api and session tokens, the group
	// for worker tokens — checked atomically with the write), an error that
	// is both a *domain.ValidationError for field "owner" and
	// domain.ErrNotFound.
	CreateToken(ctx context.Context, t domain.Token) (domain.Token, error)
	// GetToken returns the token with that ID, expired or not. Returns
	// domain.ErrNotFound if there is none.
	GetToken(ctx context.Context, id string) (domain.Token, error)
	// GetTokenByHash returns the token whose Hash is hash, in a bounded
	// number of reads whatever the number of tokens. A token expired at now
	// is not returned: domain.ErrNotFound, as for an unknown or revoked one.
	GetTokenByHash(ctx context.Context, hash string, now time.Time) (domain.Token, error)
	// ListTokens lists the tokens f selects, ordered by ID, expired ones
	// included unless f.Now is set.
	ListTokens(ctx context.Context, f TokenFilter) (Page[domain.Token], error)
	// TouchToken sets the token's LastUsedAt to at if that is later than
	// the stored one (otherwise it writes nothing). Returns
	// domain.ErrNotFound if the token is gone (revoked meanwhile).
	TouchToken(ctx context.Context, id string, at time.Time) error
	// DeleteToken removes (revokes) a token: from its return on, no read
	// finds it. Returns domain.ErrNotFound if there is no such token.
	DeleteToken(ctx context.Context, id string) error
	// PruneExpiredTokens removes tokens expired at now and reports how
	// many. It does a bounded amount of work per call: call it until it
	// returns 0 to remove everything due.
	PruneExpiredTokens(ctx context.Context, now time.Time) (int, error)
}

// AuditFilter selects audit entries for ListAudit. Empty fields match
// everything.
type AuditFilter struct {
	// Actor matches AuditEntry.Actor exactly.
	Actor string
	// Action matches entries whose Action starts with it ("job." for every
	// job action, "job.trigger" for triggers).
	Action string
	// Target matches AuditEntry.Target exactly.
	Target string
	// Result matches AuditEntry.Result exactly ("denied" for refused
	// attempts).
	Result domain.AuditResult
	// From and To bound At (From inclusive, To exclusive).
	From, To time.Time
	PageRequest
}

// AuditLog keeps the audit log: append-only entries, read newest first,
// with bounded retention.
type AuditLog interface {
	// AppendAudit stores an entry. Returns a *domain.ValidationError for an
	// invalid entry (domain.AuditEntry.Validate) and domain.ErrAlreadyExists
	// if its ID is taken.
	AppendAudit(ctx context.Context, e domain.AuditEntry) error
	// ListAudit lists the entries f selects, newest first (by ID). A call
	// examines a bounded number of entries: with a filter that matches
	// rarely, a page may be shorter than the limit and still have a
	// NextCursor.
	ListAudit(ctx context.Context, f AuditFilter) (Page[domain.AuditEntry], error)
	// PruneAudit removes the entries beyond the newest keep and those made
	// more than maxAge before now (to the millisecond of their ID), and
	// reports how many it removed. keep 0 or maxAge 0 does not bound. It
	// does a bounded amount of work per call: call it until it returns 0.
	PruneAudit(ctx context.Context, keep int, maxAge time.Duration, now time.Time) (int, error)
}
