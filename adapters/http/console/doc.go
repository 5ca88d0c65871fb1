// Package console is Pink's web console: server-rendered pages (html/template)
// with a little hand-written JavaScript, embedded in the binary with go:embed,
// so `go build` alone produces a working console that needs no network
// access (no CDN) and no front-end build. See docs/adr/0013-console.md.
//
// Handler returns the console's http.Handler; the node mounts it at "/".
// Every page needs a console session (the "pink_session" cookie made by the
// login form) unless Deps.Dev is set, in which case every request acts as
// the admin "dev" and each page shows a DEV MODE banner.
//
// Safety, in one place:
//   - Authentication: the session cookie is HttpOnly, SameSite=Lax and
//     Secure on TLS; it holds a session secret that app/auth checks on every
//     request, so a revoked session, a disabled user or a changed role takes
//     effect at once.
//   - Authorisation: every route maps to a domain.Action checked with
//     auth.Service.Authorize (403 page); pages hide or disable the buttons a
//     role may not use, but the check is always on the server.
//   - CSRF: no GET changes anything; every request goes through
//     net/http's CrossOriginProtection, which refuses cross-origin POSTs.
//   - XSS: html/template escapes everything, and a strict
//     Content-Security-Policy allows only the console's own scripts and
//     styles (there is no inline script or style anywhere).
//   - Login is rate-limited per user name and per remote address
//     (auth.LoginLimiter).
//   - Every change is recorded in the audit log, refused attempts too.
package console
