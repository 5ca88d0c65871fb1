package auth

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/pink-scheduler/pink/domain"
	"github.com/pink-scheduler/pink/ports"
)

// CreateAPIToken makes a bearer token for the REST API that acts as user
// (with the user's role at the time of each request). ttl 0 means it never
// expires (unless Config.MaxAPITokenTTL requires it to). It returns the
// secret, shown to the user once and never stored, and the token. Returns a
// *domain.ValidationError (field "name" for the label, "ttl", or "owner"
// with domain.ErrNotFound for a missing user) or domain.ErrConflict for a
// disabled user.
func (s *Service) CreateAPIToken(ctx context.Context, user, name string, ttl time.Duration) (string, domain.Token, error) {
	switch limit := s.cfg.MaxAPITokenTTL; {
	case ttl < 0:
		return "", domain.Token{}, &domain.ValidationError{Field: "ttl", Reason: "must not be negative"}
	case limit > 0 && (ttl == 0 || ttl > limit):
		return "", domain.Token{}, &domain.ValidationError{Field: "ttl", Reason: fmt.Sprintf("must be between 1s and %s", limit)}
	case ttl > 0 && ttl < time.Second:
		return "", domain.Token{}, &domain.ValidationError{Field: "ttl", Reason: "must be at least 1s"}
	}
	u, err := s.cfg.Users.GetUser(ctx, user)
	if isNotFound(err) {
		return "", domain.Token{}, fmt.Errorf("create api token: %w: %w",
			&domain.ValidationError{Field: "owner", Reason: fmt.Sprintf("user %q does not exist", user)}, domain.ErrNotFound)
	}
	if err != nil {
		return "", domain.Token{}, fmt.Errorf("create api token: %w", err)
	}
	if u.Disabled {
		return "", domain.Token{}, fmt.Errorf("create api token: user %q is disabled: %w", user, domain.ErrConflict)
	}
	var expires time.Time
	if ttl > 0 {
		expires = s.now().Add(ttl)
	}
	return s.createToken(ctx, domain.TokenAPI, user, name, expires)
}

// CreateWorkerToken makes a token for the workers of group on the HTTP
// worker API. It never expires; revoke it with RevokeToken. Returns the
// secret (shown once) and the token, or a *domain.ValidationError (field
// "name", or "owner" with domain.ErrNotFound if the group does not exist —
// checked atomically with the write).
func (s *Service) CreateWorkerToken(ctx context.Context, group, name string) (string, domain.Token, error) {
	return s.createToken(ctx, domain.TokenWorker, group, name, time.Time{})
}

func (s *Service) createToken(ctx context.Context, kind domain.TokenKind, owner, name string, expires time.Time) (string, domain.Token, error) {
	now := s.now()
	secret := newSecret(kind)
	t := domain.Token{ID: newTokenID(now), Kind: kind, Owner: owner, Name: name,
		Hash: domain.HashTokenSecret(secret), CreatedAt: now, ExpiresAt: expires}
	if err := t.Validate(); err != nil {
		return "", domain.Token{}, err
	}
	t, err := s.cfg.Tokens.CreateToken(ctx, t)
	if err != nil {
		return "", domain.Token{}, err
	}
	return secret, t, nil
}

// GetToken returns a token by ID, or domain.ErrNotFound.
func (s *Service) GetToken(ctx context.Context, id string) (domain.Token, error) {
	return s.cfg.Tokens.GetToken(ctx, id)
}

// ListTokens lists tokens by ID (see ports.TokenFilter). Hashes are in the
// result; secrets exist nowhere.
func (s *Service) ListTokens(ctx context.Context, f ports.TokenFilter) (ports.Page[domain.Token], error) {
	return s.cfg.Tokens.ListTokens(ctx, f)
}

// RevokeToken deletes a token: its secret stops working at once. Returns
// domain.ErrNotFound if there is no such token.
func (s *Service) RevokeToken(ctx context.Context, id string) error {
	return s.cfg.Tokens.DeleteToken(ctx, id)
}

// RevokeTokens revokes every token of kind owned by owner (a user's
// sessions, a deleted group's worker tokens) and returns how many it
// revoked. Tokens revoked meanwhile by someone else are not counted.
func (s *Service) RevokeTokens(ctx context.Context, kind domain.TokenKind, owner string) (int, error) {
	if !kind.Valid() {
		return 0, &domain.ValidationError{Field: "kind", Reason: fmt.Sprintf("unknown token kind %q", kind)}
	}
	n := 0
	f := ports.TokenFilter{Kind: kind, Owner: owner, PageRequest: ports.PageRequest{Limit: ports.MaxPageLimit}}
	for {
		page, err := s.cfg.Tokens.ListTokens(ctx, f)
		if err != nil {
			return n, fmt.Errorf("revoke %s tokens of %q: %w", kind, owner, err)
		}
		for _, t := range page.Items {
			switch err := s.cfg.Tokens.DeleteToken(ctx, t.ID); {
			case err == nil:
				n++
			case !isNotFound(err):
				return n, fmt.Errorf("revoke %s tokens of %q: %w", kind, owner, err)
			}
		}
		if page.NextCursor == "" {
			return n, nil
		}
		f.Cursor = page.NextCursor
	}
}

func isNotFound(err error) bool { return errors.Is(err, domain.ErrNotFound) }
