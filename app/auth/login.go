package auth

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/pink-scheduler/pink/domain"
)

// sessionLabel is the Name of the session tokens Login makes.
const sessionLabel = "console login"

// Login checks a user's password and, if it is right and the user is
// enabled, starts a session: it returns the session's secret (for the
// cookie; it is shown nowhere else and cannot be recovered) and its token,
// which expires after Config.SessionTTL. Every refusal — unknown user,
// wrong password, disabled user — is the same domain.ErrUnauthenticated
// and takes the same time: an unknown user's password is checked against a
// dummy hash. Other errors (domain.ErrUnavailable, ...) are the store's.
// Rate limiting is the caller's, with a LoginLimiter.
func (s *Service) Login(ctx context.Context, name, password string) (string, domain.Token, error) {
	u, err := s.checkPassword(ctx, "login", name, password)
	if err != nil {
		return "", domain.Token{}, err
	}
	now := s.now()
	secret := newSecret(domain.TokenSession)
	t, err := s.cfg.Tokens.CreateToken(ctx, domain.Token{
		ID: newTokenID(now), Kind: domain.TokenSession, Owner: u.Name, Name: sessionLabel,
		Hash: domain.HashTokenSecret(secret), CreatedAt: now, ExpiresAt: now.Add(s.cfg.SessionTTL),
	})
	if err != nil {
		if errors.Is(err, domain.ErrNotFound) {
			return "", domain.Token{}, unauthenticated("login") // deleted meanwhile
		}
		return "", domain.Token{}, fmt.Errorf("login: %w", err)
	}
	return secret, t, nil
}

// Authenticate returns who a secret (an api, worker or session token)
// stands for. For an api or session token that is the owning user with
// their current role, read now, so a role change applies at once; for a
// worker token, its group, which must still exist. An unknown, malformed,
// expired or revoked secret, a disabled or deleted user and a deleted group
// all get the same domain.ErrUnauthenticated; a store failure is returned
// as is. It records when the token was last used, at most once per
// Config.TouchInterval (best effort).
func (s *Service) Authenticate(ctx context.Context, secret string) (Principal, error) {
	const op = "authenticate"
	kind, ok := SecretKind(secret)
	if !ok {
		return Principal{}, unauthenticated(op)
	}
	now := s.now()
	t, err := s.cfg.Tokens.GetTokenByHash(ctx, domain.HashTokenSecret(secret), now)
	if errors.Is(err, domain.ErrNotFound) || (err == nil && t.Kind != kind) {
		return Principal{}, unauthenticated(op)
	}
	if err != nil {
		return Principal{}, fmt.Errorf("%s: %w", op, err)
	}
	p := Principal{TokenID: t.ID, Kind: t.Kind}
	if t.Kind == domain.TokenWorker {
		_, err := s.cfg.Groups.GetGroup(ctx, t.Owner)
		if errors.Is(err, domain.ErrNotFound) {
			return Principal{}, unauthenticated(op)
		}
		if err != nil {
			return Principal{}, fmt.Errorf("%s: %w", op, err)
		}
		p.Group = t.Owner
	} else {
		u, err := s.cfg.Users.GetUser(ctx, t.Owner)
		if errors.Is(err, domain.ErrNotFound) || (err == nil && u.Disabled) {
			return Principal{}, unauthenticated(op)
		}
		if err != nil {
			return Principal{}, fmt.Errorf("%s: %w", op, err)
		}
		p.User, p.Role = u.Name, u.Role
	}
	if now.Sub(t.LastUsedAt) >= s.cfg.TouchInterval {
		// Bookkeeping only: a failure (a revoke racing with us, a store
		// hiccup) must not fail the request.
		_ = s.cfg.Tokens.TouchToken(ctx, t.ID, now)
	}
	return p, nil
}

// Logout ends the session a secret names. An unknown, expired or already
// ended session, and a secret that is not a session's, change nothing and
// are not errors: the caller clears the cookie either way.
func (s *Service) Logout(ctx context.Context, secret string) error {
	if kind, ok := SecretKind(secret); !ok || kind != domain.TokenSession {
		return nil
	}
	t, err := s.cfg.Tokens.GetTokenByHash(ctx, domain.HashTokenSecret(secret), s.now())
	if err == nil && t.Kind == domain.TokenSession {
		err = s.cfg.Tokens.DeleteToken(ctx, t.ID)
	}
	if err != nil && !errors.Is(err, domain.ErrNotFound) {
		return fmt.Errorf("logout: %w", err)
	}
	return nil
}

// SessionTTL returns how long a session lasts (for the cookie's Max-Age).
func (s *Service) SessionTTL() time.Duration { return s.cfg.SessionTTL }
