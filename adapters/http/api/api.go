package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/pink-scheduler/pink/app/auth"
	"github.com/pink-scheduler/pink/app/jobs"
	"github.com/pink-scheduler/pink/app/query"
	"github.com/pink-scheduler/pink/domain"
	"github.com/pink-scheduler/pink/ports"
)

// Deps are what the API needs: the use cases, the ports it reads or
// changes directly, and its settings. Every field is required unless its
// comment says otherwise.
type Deps struct {
	// Jobs manages groups and jobs; its Config must have Fires and
	// Workers (for trigger).
	Jobs *jobs.Service
	// Auth authenticates, authorises and audits; it also manages users
	// and tokens.
	Auth *auth.Service
	// Groups and JobStore are read for the group and job listings.
	Groups   ports.GroupStore
	JobStore ports.JobStore
	// Runs is read, and changed to cancel and delete runs.
	Runs    ports.RunStore
	Fires   ports.FireStore
	Workers ports.WorkerRegistry
	Nodes   ports.NodeRegistry
	// Leader names the leader for GET /nodes; a ports.Elector will do.
	// Optional: without it no node is marked leader.
	Leader query.LeaderFinder
	// Limiter slows password guessing on POST /auth/login. Optional: nil
	// makes one with the defaults. Share one with the console's login so
	// both count together.
	Limiter *auth.LoginLimiter
	// Clock is the time source.
	Clock ports.Clock
	// Dev is development mode: no authentication, every request acts as
	// the built-in admin "dev" (and is audited so). Only for a server on
	// a loopback address; the server refuses it elsewhere.
	Dev bool
	// SecureCookies marks the session cookie Secure even on plain HTTP
	// requests: set it behind a proxy that terminates TLS (the cookie is
	// Secure anyway when the request itself came over TLS). Optional.
	SecureCookies bool
	// TrustedOrigins are extra origins ("https://console.example.com")
	// allowed to send state-changing cookie-authenticated requests.
	// Optional.
	TrustedOrigins []string
	// Logger receives the errors answered with 5xx and failed audit
	// writes, once each. Optional: nil means slog.Default().
	Logger *slog.Logger
}

// devPrincipal is who every request acts as in development mode.
var devPrincipal = auth.Principal{User: DevUser, Role: domain.RoleAdmin}

// DevUser is the name requests act under in development mode.
const DevUser = "dev"

// api is the handler state shared by every request.
type api struct {
	d       Deps
	jobs    *jobs.Service
	auth    *auth.Service
	query   *query.Service
	limiter *auth.LoginLimiter
	log     *slog.Logger
	cop     *http.CrossOriginProtection
	routes  []*route
	doc     []byte // the OpenAPI document, encoded once
}

// New checks d and returns the API's handler, to be mounted at /api/v1
// (its routes are relative: chi's Mount strips the prefix).
func New(d Deps) (http.Handler, error) {
	switch {
	case d.Jobs == nil, d.Auth == nil, d.Groups == nil, d.JobStore == nil, d.Runs == nil,
		d.Fires == nil, d.Workers == nil, d.Nodes == nil, d.Clock == nil:
		return nil, errors.New("api: Jobs, Auth, Groups, JobStore, Runs, Fires, Workers, Nodes and Clock are required")
	}
	q, err := query.New(query.Config{Runs: d.Runs, Fires: d.Fires, Workers: d.Workers,
		Nodes: d.Nodes, Leader: d.Leader, Clock: d.Clock})
	if err != nil {
		return nil, fmt.Errorf("api: %w", err)
	}
	a := &api{d: d, jobs: d.Jobs, auth: d.Auth, query: q, limiter: d.Limiter, log: d.Logger,
		cop: http.NewCrossOriginProtection()}
	if a.limiter == nil {
		a.limiter = auth.NewLoginLimiter(d.Clock, auth.LimiterConfig{})
	}
	if a.log == nil {
		a.log = slog.Default()
	}
	for _, o := range d.TrustedOrigins {
		if err := a.cop.AddTrustedOrigin(o); err != nil {
			return nil, fmt.Errorf("api: trusted origin %q: %w", o, err)
		}
	}
	a.routes = a.table()
	doc, err := json.Marshal(openAPI(a.routes))
	if err != nil {
		return nil, fmt.Errorf("api: encode the OpenAPI document: %w", err)
	}
	a.doc = doc
	return a.router(), nil
}

// Handler is New for composition roots: it panics if d is incomplete (a
// programming error, like http.Handle with a nil handler).
func Handler(d Deps) http.Handler {
	h, err := New(d)
	if err != nil {
		panic(err)
	}
	return h
}

// router mounts every route of the table, and JSON answers for unknown
// routes and methods.
func (a *api) router() http.Handler {
	r := chi.NewRouter()
	r.NotFound(func(w http.ResponseWriter, r *http.Request) { a.fail(&call{api: a, w: w, r: r}, errRouteNotFound) })
	r.MethodNotAllowed(func(w http.ResponseWriter, r *http.Request) { a.fail(&call{api: a, w: w, r: r}, errMethod) })
	for _, rt := range a.routes {
		r.Method(rt.Method, rt.Pattern, a.serve(rt))
	}
	return r
}

// call is one request on its way through a route.
type call struct {
	api   *api
	w     http.ResponseWriter
	r     *http.Request
	route *route
	// p is who the request acts for (zero on public routes); via says how
	// it was authenticated: "bearer", "cookie" or "dev".
	p   auth.Principal
	via string
	// status is the success status; the route's by default.
	status int
	// target and detail go to the audit entry of a state change; target
	// defaults to "<resource>/<path parameter>".
	target, detail string
	// audited is set by handlers that write their own audit entries.
	audited bool
}

// serve runs a route: cross-origin check, authentication, authorisation,
// the handler, the audit entry, the response.
func (a *api) serve(rt *route) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		c := &call{api: a, w: w, r: r, route: rt, status: rt.Status}
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				a.fail(c, fmt.Errorf("panic: %v", v))
			}
		}()
		body, err := a.run(c)
		if err != nil {
			a.fail(c, err)
			return
		}
		if body == nil {
			setHeaders(w)
			w.WriteHeader(c.status)
			return
		}
		writeJSON(w, c.status, body)
	}
}

func (a *api) run(c *call) (any, error) {
	r, rt := c.r, c.route
	unsafe := !safeMethod(r.Method)
	if unsafe && r.Header.Get("Authorization") == "" {
		// Bearer requests carry no ambient credential: a browser cannot
		// be tricked into sending one. Everything else (cookies, dev
		// mode, the login form) must not come from another origin.
		if err := a.cop.Check(r); err != nil {
			return nil, a.deny(c, errCrossOrigin)
		}
	}
	if rt.Action != "" || rt.OptionalAuth {
		p, via, err := a.authenticate(r)
		c.p, c.via = p, via
		switch {
		case err != nil && rt.OptionalAuth:
			c.p, c.via = auth.Principal{}, ""
		case err != nil:
			return nil, a.deny(c, err)
		case rt.Action != "" && p.IsZero():
			return nil, a.deny(c, errNoCredentials)
		case rt.Action != "":
			if err := a.auth.Authorize(p, rt.Action); err != nil {
				return nil, a.deny(c, err)
			}
		}
	}
	if err := c.checkQuery(); err != nil {
		return nil, err
	}
	body, err := rt.handle(c)
	if unsafe && !c.audited && rt.Audit != "" {
		result := domain.AuditOK
		if err != nil {
			result = domain.AuditError
			if s := classify(err).status; s == http.StatusUnauthorized || s == http.StatusForbidden {
				result = domain.AuditDenied
			}
		}
		a.audit(c, result)
	}
	return body, err
}

// deny audits a refused request and returns err. A request without any
// credential on a safe method is not audited: it tried nobody's identity,
// and auditing it would let anyone turn reads into store writes.
func (a *api) deny(c *call, err error) error {
	s := classify(err).status
	if s != http.StatusUnauthorized && s != http.StatusForbidden {
		return err // the auth store failed: not a refusal
	}
	if safeMethod(c.r.Method) && !hasCredentials(c.r) && !a.d.Dev {
		return err
	}
	c.detail = fmt.Sprintf("%s %s: %s", c.r.Method, c.r.URL.Path, message(err))
	a.audit(c, domain.AuditDenied)
	return err
}

// audit records c's action with result, logging (once) a failed write:
// the change itself has happened and is answered as it went.
func (a *api) audit(c *call, result domain.AuditResult) {
	c.audited = true
	action := "api.request"
	if c.route != nil && c.route.Audit != "" {
		action = c.route.Audit
	}
	target := c.target
	if target == "" {
		target = c.defaultTarget()
	}
	// The change has happened: record it even if the client has gone.
	ctx := context.WithoutCancel(c.r.Context())
	if err := a.auth.Audit(ctx, c.p, action, target, c.detail, result); err != nil {
		a.log.Error("api: audit entry not written", "action", action, "target", target,
			"actor", c.p.Actor(), "result", result, "err", err)
	}
}

// defaultTarget is "<resource>/<first path parameter>", e.g. "job/nightly".
func (c *call) defaultTarget() string {
	if c.route == nil {
		return ""
	}
	resource, _, _ := strings.Cut(c.route.Audit, ".")
	if rc := chi.RouteContext(c.r.Context()); rc != nil {
		for i, k := range rc.URLParams.Keys {
			if k != "*" && i < len(rc.URLParams.Values) {
				return resource + "/" + c.urlParam(k)
			}
		}
	}
	return ""
}

// fail writes err as the API's error response; a 5xx is logged here, once.
func (a *api) fail(c *call, err error) {
	ae := classify(err)
	if ae.status >= 500 && c.r.Context().Err() == nil { // not when the client gave up
		id := ""
		if c.route != nil {
			id = c.route.ID
		}
		a.log.Error("api: request failed", "op", id, "method", c.r.Method, "path", c.r.URL.Path,
			"status", ae.status, "err", err)
	}
	h := c.w.Header()
	switch {
	case ae.status == http.StatusUnauthorized:
		h.Set("WWW-Authenticate", `Bearer realm="pink"`)
		if c.via == "cookie" {
			a.clearCookie(c)
		}
	case ae.retryAfter > 0:
		h.Set("Retry-After", fmt.Sprint(ae.retryAfter))
	}
	writeJSON(c.w, ae.status, errorBody{Error: errorDetail{Code: ae.code, Message: ae.message, Field: ae.field}})
}

func safeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions
}

// setHeaders sets the headers of every API response.
func setHeaders(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
}

// writeJSON writes v as the JSON body of a response with the status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	setHeaders(w)
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v) // the client went away: nothing to do
}
