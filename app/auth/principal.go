package auth

import (
	"fmt"

	"github.com/pink-scheduler/pink/domain"
)

// Principal is who a request acts for, as Authenticate found it.
type Principal struct {
	// User and Role are set for api and session tokens: the owning user
	// and their role when the request was authenticated.
	User string
	Role domain.Role
	// TokenID is the token the request authenticated with.
	TokenID string
	Kind    domain.TokenKind
	// Group is set for worker tokens: the group whose workers it admits.
	Group string
}

// System is the principal of what Pink does by itself (bootstrap,
// retention). It may do everything; no secret authenticates as it.
var System = Principal{User: domain.ActorSystem, Role: domain.RoleAdmin}

// IsZero reports whether p is the zero Principal: nobody authenticated.
func (p Principal) IsZero() bool { return p == Principal{} }

// Actor returns p's name in the audit log: the user, "token:<id>" for a
// worker token, domain.ActorSystem, or domain.ActorAnonymous for the zero
// Principal (and for anything the audit log could not store).
func (p Principal) Actor() string {
	var a string
	switch {
	case p.Kind == domain.TokenWorker:
		a = domain.TokenActor(p.TokenID)
	case p.User != "":
		a = p.User
	default:
		return domain.ActorAnonymous
	}
	if domain.ValidateAuditActor("actor", a) != nil {
		return domain.ActorAnonymous
	}
	return a
}

// Authorize returns nil if p may perform a, domain.ErrUnauthenticated for
// the zero Principal and domain.ErrForbidden otherwise: worker tokens may
// use only the worker API (see AuthorizeWorker), users what their role
// allows (domain.Role.Allows).
func (s *Service) Authorize(p Principal, a domain.Action) error {
	switch {
	case p.IsZero():
		return fmt.Errorf("authorize %s: %w", a, domain.ErrUnauthenticated)
	case !a.Valid():
		return fmt.Errorf("authorize: unknown action %q: %w", a, domain.ErrForbidden)
	case p.Kind == domain.TokenWorker:
		return fmt.Errorf("authorize %s: a worker token may only use the worker API: %w", a, domain.ErrForbidden)
	case !p.Role.Allows(a):
		return fmt.Errorf("authorize %s: user %q has role %q: %w", a, p.User, p.Role, domain.ErrForbidden)
	}
	return nil
}

// AuthorizeWorker returns nil if p is a worker token of group,
// domain.ErrUnauthenticated for the zero Principal and domain.ErrForbidden
// otherwise (a user's token, or another group's worker token).
func (s *Service) AuthorizeWorker(p Principal, group string) error {
	switch {
	case p.IsZero():
		return fmt.Errorf("authorize worker of %q: %w", group, domain.ErrUnauthenticated)
	case p.Kind != domain.TokenWorker:
		return fmt.Errorf("authorize worker of %q: the worker API needs a worker token: %w", group, domain.ErrForbidden)
	case p.Group != group:
		return fmt.Errorf("authorize worker of %q: the token is for group %q: %w", group, p.Group, domain.ErrForbidden)
	}
	return nil
}
