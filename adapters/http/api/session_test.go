package api_test

import (
	"crypto/tls"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pink-scheduler/pink/adapters/http/api"
	"github.com/pink-scheduler/pink/domain"
	"github.com/pink-scheduler/pink/ports"
)

// login logs in and returns the answer.
func (e *env) login(user, pw string, header map[string]string) resp {
	e.t.Helper()
	return e.send(req{method: http.MethodPost, path: "/auth/login", body: map[string]any{"username": user, "password": pw}, header: header})
}

func sessionCookie(t *testing.T, r resp) *http.Cookie {
	t.Helper()
	for _, c := range r.Result().Cookies() {
		if c.Name == api.SessionCookie {
			return c
		}
	}
	t.Fatalf("no session cookie in %v", r.Header())
	return nil
}

func TestLoginMeLogout(t *testing.T) {
	e := newEnv(t)
	r := e.login(operator, userPW, nil).status(http.StatusOK)
	m := r.obj()
	require.Equal(t, operator, m["user"])
	require.Equal(t, "operator", m["role"])
	require.Equal(t, "session", m["via"])
	require.Equal(t, "2026-11-27T04:43:00Z", m["expires_at"], "12 h")
	ck := sessionCookie(t, r)
	require.True(t, strings.HasPrefix(ck.Value, "pink_session_"))
	require.True(t, ck.HttpOnly)
	require.Equal(t, http.SameSiteLaxMode, ck.SameSite)
	require.Equal(t, "/", ck.Path)
	require.False(t, ck.Secure, "plain HTTP")
	require.Equal(t, 12*3600, ck.MaxAge)
	require.NotContains(t, r.Body.String(), ck.Value, "the secret is in the cookie only")

	me := e.send(req{method: http.MethodGet, path: "/auth/me", cookie: ck.Value}).status(http.StatusOK).obj()
	require.Equal(t, operator, me["user"])
	require.Equal(t, "session", me["via"])
	// The cookie works for the API too (same origin), within its role.
	id := e.createJob()
	e.send(req{method: http.MethodPost, path: "/jobs/" + id + "/pause", cookie: ck.Value}).status(http.StatusOK)
	e.send(req{method: http.MethodDelete, path: "/jobs/" + id, cookie: ck.Value}).apiErr(http.StatusForbidden, "forbidden", "")

	out := e.send(req{method: http.MethodPost, path: "/auth/logout", cookie: ck.Value}).status(http.StatusNoContent)
	cleared := sessionCookie(t, out)
	require.Equal(t, "", cleared.Value)
	require.Less(t, cleared.MaxAge, 0)
	gone := e.send(req{method: http.MethodGet, path: "/auth/me", cookie: ck.Value})
	gone.apiErr(http.StatusUnauthorized, "unauthenticated", "")
	require.Less(t, sessionCookie(t, gone).MaxAge, 0, "a dead cookie is cleared")
	e.send(req{method: http.MethodPost, path: "/auth/logout"}).status(http.StatusNoContent)

	login := e.audit(ports.AuditFilter{Action: domain.AuditUserLogin})[0]
	require.Equal(t, operator, login.Actor)
	require.Equal(t, domain.AuditOK, login.Result)
	logout := e.audit(ports.AuditFilter{Action: domain.AuditUserLogout})
	require.Len(t, logout, 1, "only the logout that ended a session")
	require.Equal(t, operator, logout[0].Actor)

	// Bearer tokens do not come from a cookie; a cookie must hold a session.
	e.send(req{method: http.MethodGet, path: "/auth/me", cookie: e.tokens[admin]}).apiErr(http.StatusUnauthorized, "unauthenticated", "")
	me = e.get(viewer, "/auth/me").status(http.StatusOK).obj()
	require.Equal(t, "bearer", me["via"])
	require.Nil(t, me["expires_at"])
}

func TestLoginOverTLSSetsASecureCookie(t *testing.T) {
	e := newEnv(t)
	hr := httptest.NewRequest(http.MethodPost, "/auth/login", strings.NewReader(`{"username":"admin","password":"`+adminPW+`"}`))
	hr.TLS = &tls.ConnectionState{}
	rec := httptest.NewRecorder()
	e.h.ServeHTTP(rec, hr)
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	require.True(t, sessionCookie(t, resp{rec, t}).Secure)

	proxied := newEnv(t, func(d *api.Deps) { d.SecureCookies = true })
	ck := sessionCookie(t, proxied.login(admin, adminPW, nil).status(http.StatusOK))
	require.True(t, ck.Secure, "behind a TLS-terminating proxy")
}

func TestLoginFailuresAndRateLimit(t *testing.T) {
	e := newEnv(t)
	e.login(operator, "wrong password!", nil).apiErr(http.StatusUnauthorized, "unauthenticated", "")
	e.login("nobody", "wrong password!", nil).apiErr(http.StatusUnauthorized, "unauthenticated", "")
	e.send(req{method: http.MethodPost, path: "/auth/login", body: map[string]any{"username": "x", "password": "y", "remember": true}}).
		apiErr(http.StatusBadRequest, "invalid", "remember")
	for range 3 {
		e.login(operator, "wrong password!", nil).status(http.StatusUnauthorized)
	}
	// 5 failures from this address in a minute: locked for 30 s.
	r := e.login(operator, userPW, nil)
	r.apiErr(http.StatusTooManyRequests, "rate_limited", "")
	require.Equal(t, "30", r.Header().Get("Retry-After"))
	e.login(viewer, userPW, nil).status(http.StatusTooManyRequests) // same address
	require.Len(t, e.audit(ports.AuditFilter{Action: domain.AuditUserLogin, Result: domain.AuditDenied}), 7)
	denied := e.audit(ports.AuditFilter{Action: domain.AuditUserLogin, Target: "user/" + viewer})
	require.Len(t, denied, 1)
	require.Equal(t, domain.AuditDenied, denied[0].Result)
	require.Contains(t, denied[0].Detail, "rate limited")

	e.clk.Advance(10 * time.Second)
	secs, err := strconv.Atoi(e.login(operator, userPW, nil).status(http.StatusTooManyRequests).Header().Get("Retry-After"))
	require.NoError(t, err)
	require.Equal(t, 20, secs)
	e.clk.Advance(20 * time.Second)
	e.login(operator, userPW, nil).status(http.StatusOK)
}

func TestChangeOwnPassword(t *testing.T) {
	e := newEnv(t)
	ck := sessionCookie(t, e.login(viewer, userPW, nil).status(http.StatusOK))
	body := func(cur, next string) map[string]any {
		return map[string]any{"current_password": cur, "new_password": next}
	}
	change := func(b map[string]any) resp {
		return e.send(req{method: http.MethodPost, path: "/auth/password", cookie: ck.Value, body: b})
	}
	change(body("wrong password!", "a much better passphrase")).apiErr(http.StatusBadRequest, "invalid", "current_password")
	change(body(userPW, "short")).apiErr(http.StatusBadRequest, "invalid", "new_password")
	r := change(body(userPW, "a much better passphrase")).status(http.StatusNoContent)
	fresh := sessionCookie(t, r)
	require.NotEqual(t, ck.Value, fresh.Value, "a new session replaces the ended ones")
	e.send(req{method: http.MethodGet, path: "/auth/me", cookie: ck.Value}).status(http.StatusUnauthorized)
	e.send(req{method: http.MethodGet, path: "/auth/me", cookie: fresh.Value}).status(http.StatusOK)
	e.login(viewer, "a much better passphrase", nil).status(http.StatusOK)
	e.get(viewer, "/auth/me").status(http.StatusOK) // API tokens stay
	entry := e.audit(ports.AuditFilter{Action: domain.AuditUserUpdate, Result: domain.AuditOK})[0]
	require.Equal(t, viewer, entry.Actor)
	require.Equal(t, "user/"+viewer, entry.Target)
}

func TestCrossOriginProtection(t *testing.T) {
	e := newEnv(t)
	ck := sessionCookie(t, e.login(admin, adminPW, nil).status(http.StatusOK)).Value
	id := e.createJob()
	cross := map[string]string{"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"}
	// A cookie-authenticated state change from another site is refused.
	r := e.send(req{method: http.MethodPost, path: "/jobs/" + id + "/pause", cookie: ck, header: cross})
	r.apiErr(http.StatusForbidden, "cross_origin", "")
	e.send(req{method: http.MethodDelete, path: "/jobs/" + id, cookie: ck,
		header: map[string]string{"Origin": "https://evil.example"}}).apiErr(http.StatusForbidden, "cross_origin", "")
	e.send(req{method: http.MethodPost, path: "/auth/login", header: cross,
		body: map[string]any{"username": admin, "password": adminPW}}).apiErr(http.StatusForbidden, "cross_origin", "")
	require.Equal(t, false, e.get(viewer, "/jobs/"+id).obj()["paused"], "nothing changed")
	entry := e.audit(ports.AuditFilter{Result: domain.AuditDenied, Action: domain.AuditJobPause})[0]
	require.Equal(t, domain.ActorAnonymous, entry.Actor)
	require.Contains(t, entry.Detail, "cross-origin")

	// Same origin, a read, or a bearer token: allowed.
	e.send(req{method: http.MethodPost, path: "/jobs/" + id + "/pause", cookie: ck,
		header: map[string]string{"Sec-Fetch-Site": "same-origin"}}).status(http.StatusOK)
	e.send(req{method: http.MethodGet, path: "/jobs/" + id, cookie: ck, header: cross}).status(http.StatusOK)
	e.send(req{method: http.MethodPost, path: "/jobs/" + id + "/resume", as: operator, header: cross}).status(http.StatusOK)
}

func TestTrustedOrigins(t *testing.T) {
	e := newEnv(t, func(d *api.Deps) { d.TrustedOrigins = []string{"https://console.example.com"} })
	ck := sessionCookie(t, e.login(admin, adminPW, nil).status(http.StatusOK)).Value
	id := e.createJob()
	e.send(req{method: http.MethodPost, path: "/jobs/" + id + "/pause", cookie: ck,
		header: map[string]string{"Sec-Fetch-Site": "cross-site", "Origin": "https://console.example.com"}}).status(http.StatusOK)
	_, err := api.New(api.Deps{})
	require.ErrorContains(t, err, "required")
	require.Panics(t, func() { api.Handler(api.Deps{}) })
}

func TestRequestBodies(t *testing.T) {
	e := newEnv(t)
	big := `{"name":"x","description":"` + strings.Repeat("a", api.MaxBodyBytes) + `"}`
	e.post(admin, "/groups", big).apiErr(http.StatusRequestEntityTooLarge, "too_large", "")
	e.send(req{method: http.MethodPost, path: "/groups", as: admin, body: `{"name":"x"}`,
		header: map[string]string{"Content-Type": "text/plain"}}).apiErr(http.StatusUnsupportedMediaType, "unsupported_media_type", "")
	e.send(req{method: http.MethodPost, path: "/groups", as: admin, body: `name=x`,
		header: map[string]string{"Content-Type": "application/x-www-form-urlencoded"}}).apiErr(http.StatusUnsupportedMediaType, "unsupported_media_type", "")
	e.send(req{method: http.MethodPost, path: "/groups", as: admin, body: `{"name":"x"}`,
		header: map[string]string{"Content-Type": "application/json; charset=utf-8"}}).status(http.StatusCreated)
	e.post(admin, "/groups", `{"name":"y","nme":"z"}`).apiErr(http.StatusBadRequest, "invalid", "nme")
	e.post(admin, "/groups", `{"name":"y"}garbage`).apiErr(http.StatusBadRequest, "invalid", "")
	e.post(admin, "/groups", `{"name":5}`).apiErr(http.StatusBadRequest, "invalid", "name")
	e.post(admin, "/users", `{"name":"u","role":"viewer","password":"long enough pass","is_admin":true}`).apiErr(http.StatusBadRequest, "invalid", "is_admin")
	e.post(admin, "/tokens", `{"name":"t","scope":"all"}`).apiErr(http.StatusBadRequest, "invalid", "scope")
	e.get(viewer, "/groups/y").apiErr(http.StatusNotFound, "not_found", "")
}

func TestUnknownRoutesAndMethodsAnswerJSON(t *testing.T) {
	e := newEnv(t)
	e.get(viewer, "/nope").apiErr(http.StatusNotFound, "not_found", "")
	e.send(req{method: http.MethodPatch, path: "/jobs", as: admin}).apiErr(http.StatusMethodNotAllowed, "method_not_allowed", "")
	// No state change on GET: the changing routes do not answer it.
	for _, p := range []string{"/jobs/x/pause", "/jobs/x/trigger", "/runs/x/cancel", "/auth/logout", "/users/x/disable"} {
		e.get(admin, p).apiErr(http.StatusMethodNotAllowed, "method_not_allowed", "")
	}
}
