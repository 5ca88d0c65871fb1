package console_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pink-scheduler/pink/adapters/clock"
	"github.com/pink-scheduler/pink/adapters/http/console"
	"github.com/pink-scheduler/pink/adapters/memory"
	"github.com/pink-scheduler/pink/app/auth"
	"github.com/pink-scheduler/pink/app/jobs"
	"github.com/pink-scheduler/pink/app/query"
	"github.com/pink-scheduler/pink/domain"
	"github.com/pink-scheduler/pink/ports"
)

// Passwords of the users every env has.
const (
	adminPassword    = "admin-password-123"
	operatorPassword = "operator-password-123"
	viewerPassword   = "viewer-password-123"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// env is a console on an in-memory store, served by httptest, with three
// users (admin, operator, viewer), a group "g" and a job "j1" in it.
type env struct {
	t       *testing.T
	mem     *memory.Backend
	auth    *auth.Service
	jobs    *jobs.Service
	limiter *auth.LoginLimiter
	srv     *httptest.Server
	ctx     context.Context
	job     domain.Job
}

type envOpt func(*console.Deps)

func withDev(d *console.Deps) { d.Dev = true }

func newEnv(t *testing.T, opts ...envOpt) *env {
	t.Helper()
	ctx := context.Background()
	clk := clock.System{}
	mem := memory.New(clk)
	t.Cleanup(mem.Close)
	as, err := auth.New(auth.Config{Users: mem, Tokens: mem, Audit: mem, Groups: mem, Clock: clk,
		Password: auth.PasswordParams{Time: 1, Memory: 64, Threads: 1}, Logger: quiet})
	require.NoError(t, err)
	created, _, err := as.Bootstrap(ctx, adminPassword)
	require.NoError(t, err)
	require.True(t, created)
	_, err = as.CreateUser(ctx, "operator", domain.RoleOperator, operatorPassword)
	require.NoError(t, err)
	_, err = as.CreateUser(ctx, "viewer", domain.RoleViewer, viewerPassword)
	require.NoError(t, err)
	js, err := jobs.New(jobs.Config{Groups: mem, Jobs: mem, Fires: mem, Workers: mem, Clock: clk})
	require.NoError(t, err)
	el := mem.NewElector("node-1", time.Second)
	qs, err := query.New(query.Config{Runs: mem, Fires: mem, Workers: mem, Nodes: mem, Leader: el, Clock: clk})
	require.NoError(t, err)
	limiter := auth.NewLoginLimiter(clk, auth.LimiterConfig{MaxFailures: 3, Window: time.Minute, Backoff: time.Minute})

	_, err = js.CreateGroup(ctx, domain.Group{Name: "g", Description: "the test group"})
	require.NoError(t, err)
	j, err := js.CreateJob(ctx, domain.Job{ID: "j1", Group: "g", Name: "Nightly report", Schedule: "0 30 2 * * *",
		Timezone: "Europe/Berlin", Handler: "echo", Params: []byte(`{"msg":"hi"}`)})
	require.NoError(t, err)

	d := console.Deps{Auth: as, Limiter: limiter, Jobs: js, Query: qs, Groups: mem, JobStore: mem,
		Runs: mem, Clock: clk, Logger: quiet}
	for _, o := range opts {
		o(&d)
	}
	h, err := console.New(d)
	require.NoError(t, err)
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return &env{t: t, mem: mem, auth: as, jobs: js, limiter: limiter, srv: srv, ctx: ctx, job: j}
}

// lead makes node-1 the leader and registers it, so the nodes page has
// something to show.
func (e *env) lead() {
	e.t.Helper()
	ctx, cancel := context.WithCancel(e.ctx)
	l, err := e.mem.NewElector("node-1", time.Second).Campaign(ctx)
	require.NoError(e.t, err)
	lease, err := e.mem.RegisterNode(ctx, domain.Node{ID: "node-1", Address: "127.0.0.1:8002", Hostname: "h1", StartedAt: time.Now()}, time.Second)
	require.NoError(e.t, err)
	e.t.Cleanup(func() {
		_ = lease.Close(context.Background())
		_ = l.Resign(context.Background())
		cancel()
	})
}

// worker registers a worker of group g offering handler echo.
func (e *env) worker() {
	e.t.Helper()
	lease, err := e.mem.RegisterWorker(e.ctx, domain.Worker{ID: "w1", Group: "g", Hostname: "host-1",
		Handlers: []string{"echo"}, Labels: map[string]string{"zone": "a"}, Capacity: 4, StartedAt: time.Now()}, time.Second)
	require.NoError(e.t, err)
	e.t.Cleanup(func() { _ = lease.Close(context.Background()) })
}

// trigger fires j1 now and returns its run (pending: no scheduler runs).
func (e *env) trigger() domain.Run {
	e.t.Helper()
	f, err := e.jobs.TriggerJob(e.ctx, "j1", nil, "test")
	require.NoError(e.t, err)
	r, err := e.mem.GetRun(e.ctx, f.RunIDs[0])
	require.NoError(e.t, err)
	return r
}

// client is a browser-like HTTP client with a cookie jar that does not
// follow redirects (tests look at them).
type client struct {
	e *env
	c *http.Client
}

func (e *env) client() *client {
	jar, err := cookiejar.New(nil)
	require.NoError(e.t, err)
	return &client{e: e, c: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}}
}

// login returns a client logged in as user.
func (e *env) login(user, password string) *client {
	e.t.Helper()
	c := e.client()
	resp := c.post("/login", url.Values{"username": {user}, "password": {password}})
	require.Equal(e.t, http.StatusSeeOther, resp.status, resp.body)
	require.Equal(e.t, "/", resp.header.Get("Location"))
	return c
}

func (e *env) admin() *client    { return e.login("admin", adminPassword) }
func (e *env) operator() *client { return e.login("operator", operatorPassword) }
func (e *env) viewer() *client   { return e.login("viewer", viewerPassword) }

type response struct {
	status int
	header http.Header
	body   string
}

func (c *client) do(req *http.Request) response {
	c.e.t.Helper()
	resp, err := c.c.Do(req)
	require.NoError(c.e.t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(c.e.t, err)
	return response{status: resp.StatusCode, header: resp.Header, body: string(b)}
}

func (c *client) get(path string) response {
	c.e.t.Helper()
	req, err := http.NewRequest(http.MethodGet, c.e.srv.URL+path, nil)
	require.NoError(c.e.t, err)
	return c.do(req)
}

func (c *client) post(path string, form url.Values, headers ...string) response {
	c.e.t.Helper()
	req, err := http.NewRequest(http.MethodPost, c.e.srv.URL+path, strings.NewReader(form.Encode()))
	require.NoError(c.e.t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	return c.do(req)
}

// flash follows a redirect and returns the page it lands on.
func (c *client) follow(resp response) response {
	c.e.t.Helper()
	require.Equal(c.e.t, http.StatusSeeOther, resp.status, resp.body)
	return c.get(resp.header.Get("Location"))
}

// auditFor lists the audit entries of a target, newest first.
func (e *env) auditFor(target string) []domain.AuditEntry {
	e.t.Helper()
	page, err := e.auth.ListAudit(e.ctx, ports.AuditFilter{Target: target})
	require.NoError(e.t, err)
	return page.Items
}
