package console

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/pink-scheduler/pink/app/auth"
	"github.com/pink-scheduler/pink/domain"
)

// SessionCookie is the name of the console's session cookie. It holds a
// session secret (app/auth); the store keeps only its hash.
const SessionCookie = "pink_session"

// DevUser is the user every request acts as in development mode.
const DevUser = "dev"

// devPrincipal is who a request acts for in development mode.
var devPrincipal = auth.Principal{User: DevUser, Role: domain.RoleAdmin}

type principalKey struct{}

type secureKey struct{}

// isSecure reports whether the console's cookies get the Secure flag: on
// TLS, or always with Deps.SecureCookies.
func isSecure(r *http.Request) bool {
	return r.TLS != nil || r.Context().Value(secureKey{}) != nil
}

// secureCookies marks every request for Secure cookies (Deps.SecureCookies).
func secureCookies(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), secureKey{}, true)))
	})
}

// principalOf returns who the request acts for (the zero Principal before
// requireSession).
func principalOf(r *http.Request) auth.Principal {
	p, _ := r.Context().Value(principalKey{}).(auth.Principal)
	return p
}

// remoteIP returns the request's peer address without the port. Headers
// such as X-Forwarded-For are not trusted: anyone can send them.
func remoteIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// isJSONPath reports whether a path is one of the console's JSON
// endpoints, which answer errors in JSON rather than with a page.
func isJSONPath(p string) bool {
	return strings.HasPrefix(p, "/console/") && !strings.HasPrefix(p, "/console/static/")
}

// sessionPrincipal authenticates the request's session cookie. It returns
// the zero Principal and nil when there is no valid session, and an error
// only when the store could not answer.
func (c *console) sessionPrincipal(r *http.Request) (auth.Principal, bool, error) {
	ck, err := r.Cookie(SessionCookie)
	if err != nil || ck.Value == "" {
		return auth.Principal{}, false, nil
	}
	p, err := c.d.Auth.Authenticate(r.Context(), ck.Value)
	switch {
	case errors.Is(err, domain.ErrUnauthenticated):
		return auth.Principal{}, true, nil
	case err != nil:
		return auth.Principal{}, true, err
	case p.Kind != domain.TokenSession: // an API token pasted into the cookie
		return auth.Principal{}, true, nil
	}
	return p, true, nil
}

// requireSession lets a request through with its Principal in the
// context, or sends the browser to the login page (a JSON endpoint answers
// 401). In development mode a request without a valid session acts as the
// admin "dev".
func (c *console) requireSession(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, hadCookie, err := c.sessionPrincipal(r)
		if err != nil {
			c.log.Error("console: authenticate session", "err", err)
			c.renderError(w, r, http.StatusServiceUnavailable, "Store unavailable",
				"The console could not check your session because the store did not answer. Try again in a moment.")
			return
		}
		if p.IsZero() && c.d.Dev {
			p = devPrincipal
		}
		if p.IsZero() {
			if hadCookie {
				clearSessionCookie(w, r)
			}
			if isJSONPath(r.URL.Path) {
				writeJSON(w, http.StatusUnauthorized, jsonError{Error: jsonErrorBody{Code: "unauthenticated", Message: "log in first"}})
				return
			}
			target := "/login"
			if r.Method == http.MethodGet && r.URL.RequestURI() != "/" {
				target += "?next=" + url.QueryEscape(r.URL.RequestURI())
			}
			http.Redirect(w, r, target, http.StatusSeeOther)
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), principalKey{}, p)))
	})
}

// need wraps a read with the authorisation of action: a refused request
// gets a 403 page (or JSON).
func (c *console) need(action domain.Action, h http.HandlerFunc) http.HandlerFunc {
	return c.authorize(action, "", h)
}

// change wraps a form post with the authorisation of action; a refused one
// is audited as auditAction (denied), as the API does.
func (c *console) change(action domain.Action, auditAction string, h http.HandlerFunc) http.HandlerFunc {
	return c.authorize(action, auditAction, h)
}

func (c *console) authorize(action domain.Action, auditAction string, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		p := principalOf(r)
		err := c.d.Auth.Authorize(p, action)
		if err == nil {
			h(w, r)
			return
		}
		if auditAction != "" {
			c.audit(r, auditAction, auditTarget(r), fmt.Sprintf("refused: %s %s needs %s, role is %s", r.Method, r.URL.Path, action, p.Role), domain.AuditDenied)
		}
		if isJSONPath(r.URL.Path) {
			writeJSON(w, http.StatusForbidden, jsonError{Error: jsonErrorBody{Code: "forbidden", Message: "your role does not allow this"}})
			return
		}
		c.renderError(w, r, http.StatusForbidden, "Not allowed",
			fmt.Sprintf("Your role (%s) does not allow this. Ask an admin if you need it.", p.Role))
	}
}

// auditTarget names what a form post acts on, as the audit log does:
// "job/<id>", "group/<name>", "run/<id>", "fire/<id>", "user/<name>",
// "token/<id>"; "" for a create.
func auditTarget(r *http.Request) string {
	seg, _, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
	kind := strings.TrimSuffix(seg, "s")
	if v := urlParam(r, "id"); v != "" {
		return kind + "/" + v
	}
	if v := urlParam(r, "name"); v != "" {
		return kind + "/" + v
	}
	return ""
}

// can reports whether the request's principal may perform action.
func (c *console) can(r *http.Request, action domain.Action) bool {
	return c.d.Auth.Authorize(principalOf(r), action) == nil
}

// audit records what the request's principal did; a failure to record is
// logged (once, here) and does not fail the request.
func (c *console) audit(r *http.Request, action, target, detail string, result domain.AuditResult) {
	if err := c.d.Auth.Audit(r.Context(), principalOf(r), action, target, detail, result); err != nil {
		c.log.Warn("console: audit failed", "action", action, "target", target, "err", err)
	}
}

// safeNext returns next if it is a path on this site, "/" otherwise: the
// login form must not become an open redirect.
func safeNext(next string) string {
	if next == "" || !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") ||
		strings.HasPrefix(next, "/\\") || strings.ContainsAny(next, "\r\n") {
		return "/"
	}
	if u, err := url.Parse(next); err != nil || u.IsAbs() || u.Host != "" {
		return "/"
	}
	return next
}

type loginData struct {
	Next     string
	Username string
	Error    string
	Notice   string
}

// loginPage shows the login form.
func (c *console) loginPage(w http.ResponseWriter, r *http.Request) {
	d := loginData{Next: safeNext(r.URL.Query().Get("next"))}
	if r.URL.Query().Get("out") != "" {
		d.Notice = "You have been logged out."
	}
	c.render(w, r, http.StatusOK, "login", "Log in", "", d)
}

// loginSubmit checks the password, rate-limited per user name and remote
// address, and starts a session.
func (c *console) loginSubmit(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	if err := r.ParseForm(); err != nil {
		c.renderError(w, r, http.StatusBadRequest, "Bad request", "The form could not be read.")
		return
	}
	name := strings.TrimSpace(r.PostForm.Get("username"))
	password := r.PostForm.Get("password")
	d := loginData{Next: safeNext(r.PostForm.Get("next")), Username: name}
	ip := remoteIP(r)
	if ok, wait := c.d.Limiter.Allow(name, ip); !ok {
		secs := int(math.Ceil(wait.Seconds()))
		w.Header().Set("Retry-After", strconv.Itoa(secs))
		d.Error = fmt.Sprintf("Too many failed attempts. Try again in %s.", (time.Duration(secs) * time.Second).String())
		c.render(w, r, http.StatusTooManyRequests, "login", "Log in", "", d)
		return
	}
	secret, tok, err := c.d.Auth.Login(r.Context(), name, password)
	if errors.Is(err, domain.ErrUnauthenticated) {
		c.d.Limiter.Failure(name, ip)
		c.audit(r, domain.AuditUserLogin, "user/"+name, "console login refused from "+ip, domain.AuditDenied)
		d.Error = "Wrong user name or password."
		c.render(w, r, http.StatusUnauthorized, "login", "Log in", "", d)
		return
	}
	if err != nil {
		c.log.Error("console: login", "err", err)
		d.Error = "The store did not answer; try again in a moment."
		c.render(w, r, http.StatusServiceUnavailable, "login", "Log in", "", d)
		return
	}
	c.d.Limiter.Success(name, ip)
	http.SetCookie(w, &http.Cookie{
		Name: SessionCookie, Value: secret, Path: "/",
		MaxAge: int(c.d.Auth.SessionTTL().Seconds()), HttpOnly: true, Secure: isSecure(r),
		SameSite: http.SameSiteLaxMode,
	})
	p := auth.Principal{User: tok.Owner, TokenID: tok.ID, Kind: domain.TokenSession}
	r = r.WithContext(context.WithValue(r.Context(), principalKey{}, p))
	c.audit(r, domain.AuditUserLogin, "user/"+tok.Owner, "console login from "+ip, domain.AuditOK)
	http.Redirect(w, r, d.Next, http.StatusSeeOther)
}

// logout ends the session (if any) and shows the login page.
func (c *console) logout(w http.ResponseWriter, r *http.Request) {
	p, _, _ := c.sessionPrincipal(r)
	if ck, err := r.Cookie(SessionCookie); err == nil && ck.Value != "" {
		if err := c.d.Auth.Logout(r.Context(), ck.Value); err != nil {
			c.log.Warn("console: logout", "err", err)
		}
	}
	if !p.IsZero() {
		r = r.WithContext(context.WithValue(r.Context(), principalKey{}, p))
		c.audit(r, domain.AuditUserLogout, "user/"+p.User, "console logout", domain.AuditOK)
	}
	clearSessionCookie(w, r)
	http.Redirect(w, r, "/login?out=1", http.StatusSeeOther)
}

func clearSessionCookie(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, &http.Cookie{Name: SessionCookie, Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, Secure: isSecure(r), SameSite: http.SameSiteLaxMode})
}
