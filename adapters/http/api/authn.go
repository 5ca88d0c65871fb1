package api

import (
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/pink-scheduler/pink/app/auth"
	"github.com/pink-scheduler/pink/domain"
)

// SessionCookie is the name of the cookie that carries a console session's
// secret. The console and the API share it: a login on either works on
// both.
const SessionCookie = "pink_session"

// authenticate returns who r acts for: in development mode the built-in
// admin; else the bearer token of the Authorization header if there is
// one (it wins over a cookie), else the session cookie; else the zero
// Principal. A credential that does not authenticate is
// domain.ErrUnauthenticated; a store failure is returned as is.
func (a *api) authenticate(r *http.Request) (auth.Principal, string, error) {
	if a.d.Dev {
		return devPrincipal, "dev", nil
	}
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, secret, _ := strings.Cut(h, " ")
		if !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(secret) == "" {
			return auth.Principal{}, "bearer", fmt.Errorf("authorization header: want \"Bearer <token>\": %w", domain.ErrUnauthenticated)
		}
		p, err := a.auth.Authenticate(r.Context(), strings.TrimSpace(secret))
		return p, "bearer", err
	}
	if ck, err := r.Cookie(SessionCookie); err == nil && ck.Value != "" {
		p, err := a.auth.Authenticate(r.Context(), ck.Value)
		if err == nil && p.Kind != domain.TokenSession {
			// Only a session belongs in the cookie; an API or worker
			// token pasted there is refused rather than half-trusted.
			return auth.Principal{}, "cookie", fmt.Errorf("the session cookie holds no session: %w", domain.ErrUnauthenticated)
		}
		return p, "cookie", err
	}
	return auth.Principal{}, "", nil
}

// hasCredentials reports whether r carries a bearer header or a session
// cookie.
func hasCredentials(r *http.Request) bool {
	if r.Header.Get("Authorization") != "" {
		return true
	}
	ck, err := r.Cookie(SessionCookie)
	return err == nil && ck.Value != ""
}

// setSessionCookie sends the session secret: HttpOnly, SameSite=Lax, Path
// /, Secure when the request came over TLS (or with Deps.SecureCookies),
// lasting as long as the session.
func (a *api) setSessionCookie(c *call, secret string, expires time.Time) {
	http.SetCookie(c.w, &http.Cookie{
		Name: SessionCookie, Value: secret, Path: "/",
		Expires: expires, MaxAge: int(expires.Sub(a.d.Clock.Now()).Seconds()),
		HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: a.secure(c),
	})
}

// clearCookie tells the browser to forget the session cookie.
func (a *api) clearCookie(c *call) {
	http.SetCookie(c.w, &http.Cookie{
		Name: SessionCookie, Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: a.secure(c),
	})
}

// secure reports whether cookies must be Secure for c.
func (a *api) secure(c *call) bool { return c.r.TLS != nil || a.d.SecureCookies }
