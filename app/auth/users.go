package auth

import (
	"context"
	"errors"
	"fmt"

	"github.com/pink-scheduler/pink/domain"
	"github.com/pink-scheduler/pink/ports"
)

// CreateUser validates and stores a new user with a hashed password.
// Returns a *domain.ValidationError (field "name", "role" or "password")
// or domain.ErrAlreadyExists.
func (s *Service) CreateUser(ctx context.Context, name string, role domain.Role, password string) (domain.User, error) {
	if err := domain.ValidateUserName("name", name); err != nil {
		return domain.User{}, err
	}
	if !role.Valid() {
		return domain.User{}, &domain.ValidationError{Field: "role", Reason: fmt.Sprintf("must be one of admin, operator, viewer; got %q", role)}
	}
	if err := domain.ValidatePassword(password); err != nil {
		return domain.User{}, err
	}
	hash, err := s.hasher.hash(ctx, password)
	if err != nil {
		return domain.User{}, fmt.Errorf("create user %q: %w", name, err)
	}
	now := s.now()
	return s.cfg.Users.CreateUser(ctx, domain.User{Name: name, Role: role, PasswordHash: hash, CreatedAt: now, UpdatedAt: now})
}

// GetUser returns a user, or domain.ErrNotFound. The password hash is in
// the result: never show it.
func (s *Service) GetUser(ctx context.Context, name string) (domain.User, error) {
	return s.cfg.Users.GetUser(ctx, name)
}

// ListUsers lists users by name.
func (s *Service) ListUsers(ctx context.Context, p ports.PageRequest) (ports.Page[domain.User], error) {
	return s.cfg.Users.ListUsers(ctx, p)
}

// SetPassword gives a user a new password (an admin's reset, or the user's
// own change after ChangePassword's check) and ends the user's sessions, so
// that whoever knew the old password is logged out; API tokens stay.
// Returns a *domain.ValidationError for a password the policy refuses, or
// domain.ErrNotFound.
func (s *Service) SetPassword(ctx context.Context, name, password string) error {
	if err := domain.ValidatePassword(password); err != nil {
		return err
	}
	hash, err := s.hasher.hash(ctx, password)
	if err != nil {
		return fmt.Errorf("set password of %q: %w", name, err)
	}
	now := s.now()
	if _, err := s.cfg.Users.UpdateUser(ctx, name, func(u *domain.User) error {
		u.PasswordHash, u.UpdatedAt = hash, now
		return nil
	}); err != nil {
		return err
	}
	_, err = s.RevokeTokens(ctx, domain.TokenSession, name)
	return err
}

// ChangePassword is a user changing their own password: it checks the
// current one first (domain.ErrUnauthenticated if wrong; the caller should
// count it with the LoginLimiter), then does SetPassword.
func (s *Service) ChangePassword(ctx context.Context, name, current, password string) error {
	if err := domain.ValidatePassword(password); err != nil {
		return err
	}
	if _, err := s.checkPassword(ctx, "change password", name, current); err != nil {
		return err
	}
	return s.SetPassword(ctx, name, password)
}

// SetRole changes a user's role; it takes effect on the user's next
// request, tokens included. Demoting the last active admin gets
// domain.ErrConflict.
func (s *Service) SetRole(ctx context.Context, name string, role domain.Role) (domain.User, error) {
	if !role.Valid() {
		return domain.User{}, &domain.ValidationError{Field: "role", Reason: fmt.Sprintf("must be one of admin, operator, viewer; got %q", role)}
	}
	now := s.now()
	return s.cfg.Users.UpdateUser(ctx, name, func(u *domain.User) error {
		u.Role, u.UpdatedAt = role, now
		return nil
	})
}

// DisableUser stops a user from logging in and from authenticating with
// any token, and ends their sessions (API tokens are kept, and work again
// if the user is enabled). Disabling the last active admin gets
// domain.ErrConflict.
func (s *Service) DisableUser(ctx context.Context, name string) (domain.User, error) {
	u, err := s.setDisabled(ctx, name, true)
	if err != nil {
		return u, err
	}
	_, err = s.RevokeTokens(ctx, domain.TokenSession, name)
	return u, err
}

// EnableUser undoes DisableUser.
func (s *Service) EnableUser(ctx context.Context, name string) (domain.User, error) {
	return s.setDisabled(ctx, name, false)
}

func (s *Service) setDisabled(ctx context.Context, name string, disabled bool) (domain.User, error) {
	now := s.now()
	return s.cfg.Users.UpdateUser(ctx, name, func(u *domain.User) error {
		if u.Disabled != disabled {
			u.Disabled, u.UpdatedAt = disabled, now
		}
		return nil
	})
}

// DeleteUser removes a user with their api tokens and sessions. Deleting
// the last active admin gets domain.ErrConflict; a missing user
// domain.ErrNotFound.
func (s *Service) DeleteUser(ctx context.Context, name string) error {
	return s.cfg.Users.DeleteUser(ctx, name)
}

// checkPassword returns the user if password is theirs and they are
// enabled, and the one unauthenticated error otherwise. An unknown user
// costs the same hash verification as a known one.
func (s *Service) checkPassword(ctx context.Context, op, name, password string) (domain.User, error) {
	var u domain.User
	err := errTooLong // a password the policy refuses matches no user
	if len(password) <= domain.MaxPasswordLen {
		u, err = s.cfg.Users.GetUser(ctx, name)
	}
	if errors.Is(err, domain.ErrNotFound) || errors.Is(err, errTooLong) {
		if _, _, err := s.hasher.verify(ctx, s.dummyHash(), password[:min(len(password), domain.MaxPasswordLen)]); err != nil && ctx.Err() != nil {
			return domain.User{}, fmt.Errorf("%s: %w", op, err)
		}
		return domain.User{}, unauthenticated(op)
	}
	if err != nil {
		return domain.User{}, err
	}
	ok, stale, err := s.hasher.verify(ctx, u.PasswordHash, password)
	if err != nil {
		if ctx.Err() != nil {
			return domain.User{}, fmt.Errorf("%s: %w", op, err)
		}
		return domain.User{}, unauthenticated(op) // an unreadable stored hash matches nothing
	}
	if !ok || u.Disabled {
		return domain.User{}, unauthenticated(op)
	}
	if stale {
		s.rehash(ctx, u, password)
	}
	return u, nil
}

// rehash stores password's hash under the current parameters, if the
// user's hash has not changed meanwhile. It is best effort: a failure
// leaves the old, still valid hash.
func (s *Service) rehash(ctx context.Context, u domain.User, password string) {
	hash, err := s.hasher.hash(ctx, password)
	if err != nil {
		return
	}
	_, _ = s.cfg.Users.UpdateUser(ctx, u.Name, func(cur *domain.User) error {
		if cur.PasswordHash != u.PasswordHash {
			return errPasswordChanged
		}
		cur.PasswordHash = hash
		return nil
	})
}

var (
	errPasswordChanged = errors.New("auth: password changed meanwhile")
	errTooLong         = errors.New("auth: password too long")
)
