package api

import (
	"errors"
	"fmt"
	"math"
	"net"
	"net/http"
	"time"

	"github.com/pink-scheduler/pink/domain"
)

// remoteIP is the address the login limiter counts by: the connection's
// peer. Forwarding headers are not trusted (anyone can send them).
func remoteIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// rateLimited is the 429 of a locked login key.
func rateLimited(wait time.Duration) error {
	secs := max(1, int(math.Ceil(wait.Seconds())))
	return &apiError{status: http.StatusTooManyRequests, code: "rate_limited", retryAfter: secs,
		message: fmt.Sprintf("too many failed attempts: try again in %d s", secs)}
}

// handleLogin checks a password and starts a session: the secret goes in
// the session cookie only. Failures are rate-limited per user name and per
// address, and every attempt is audited.
func (a *api) handleLogin(c *call) (any, error) {
	var in loginInput
	if err := c.decodeBody(&in, false); err != nil {
		return nil, err
	}
	ctx, addr := c.r.Context(), remoteIP(c.r)
	c.target = "user/" + in.Username
	if ok, wait := a.limiter.Allow(in.Username, addr); !ok {
		c.detail = "refused: rate limited; from " + addr
		a.audit(c, domain.AuditDenied)
		return nil, rateLimited(wait)
	}
	secret, tok, err := a.auth.Login(ctx, in.Username, in.Password)
	if errors.Is(err, domain.ErrUnauthenticated) {
		a.limiter.Failure(in.Username, addr)
		c.detail = "wrong user name or password; from " + addr
		a.audit(c, domain.AuditDenied)
		return nil, err
	}
	if err != nil {
		return nil, err
	}
	a.limiter.Success(in.Username, addr)
	p, err := a.auth.Authenticate(ctx, secret)
	if err != nil {
		return nil, err
	}
	c.p, c.detail = p, "from "+addr
	a.setSessionCookie(c, secret, tok.ExpiresAt)
	return meOut{User: p.User, Role: string(p.Role), Via: "session", TokenID: tok.ID, ExpiresAt: optTime(tok.ExpiresAt)}, nil
}

// handleLogout ends the cookie's session, if any, and clears the cookie.
// It needs no valid credentials: logging out twice is fine.
func (a *api) handleLogout(c *call) (any, error) {
	if ck, err := c.r.Cookie(SessionCookie); err == nil && ck.Value != "" {
		if err := a.auth.Logout(c.r.Context(), ck.Value); err != nil {
			return nil, err
		}
	}
	a.clearCookie(c)
	if c.via != "cookie" {
		c.audited = true // no session of anyone's ended: nothing to record
	}
	return nil, nil
}

func (a *api) handleMe(c *call) (any, error) {
	out := meOut{User: c.p.User, Role: string(c.p.Role), Via: c.via, TokenID: c.p.TokenID}
	if c.via == "cookie" {
		out.Via = "session"
	}
	if c.p.TokenID != "" {
		if t, err := a.auth.GetToken(c.r.Context(), c.p.TokenID); err == nil {
			out.ExpiresAt = optTime(t.ExpiresAt)
		}
	}
	return out, nil
}

// handleChangePassword is a user changing their own password. The current
// one is checked (and rate-limited like a login); the user's sessions end,
// and a console user gets a fresh session so they stay logged in.
func (a *api) handleChangePassword(c *call) (any, error) {
	var in changePasswordInput
	if err := c.decodeBody(&in, false); err != nil {
		return nil, err
	}
	if c.via == "dev" {
		return nil, fmt.Errorf("the built-in %q user of development mode has no password: %w", DevUser, domain.ErrConflict)
	}
	ctx, addr, user := c.r.Context(), remoteIP(c.r), c.p.User
	c.target, c.detail = "user/"+user, "password changed by the user"
	if ok, wait := a.limiter.Allow(user, addr); !ok {
		c.detail = "password change refused: rate limited"
		a.audit(c, domain.AuditDenied)
		return nil, rateLimited(wait)
	}
	err := a.auth.ChangePassword(ctx, user, in.CurrentPassword, in.NewPassword)
	switch {
	case errors.Is(err, domain.ErrUnauthenticated):
		a.limiter.Failure(user, addr)
		c.detail = "password change refused: wrong current password"
		a.audit(c, domain.AuditDenied)
		return nil, &domain.ValidationError{Field: "current_password", Reason: "is not the current password"}
	case domain.FieldOf(err) == "password":
		var ve *domain.ValidationError
		errors.As(err, &ve)
		return nil, &domain.ValidationError{Field: "new_password", Reason: ve.Reason}
	case err != nil:
		return nil, err
	}
	a.limiter.Success(user, addr)
	if c.via == "cookie" {
		if secret, tok, err := a.auth.Login(ctx, user, in.NewPassword); err == nil {
			a.setSessionCookie(c, secret, tok.ExpiresAt)
		} else {
			a.clearCookie(c)
		}
	}
	return nil, nil
}
