package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/pink-scheduler/pink/adapters/clock"
	"github.com/pink-scheduler/pink/adapters/http/api"
	"github.com/pink-scheduler/pink/adapters/memory"
	"github.com/pink-scheduler/pink/app/auth"
	"github.com/pink-scheduler/pink/app/jobs"
	"github.com/pink-scheduler/pink/domain"
	"github.com/pink-scheduler/pink/ports"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// t0 is the fake clock's start: 16:43 UTC, 17:43 in Berlin.
var t0 = time.Date(2026, 11, 26, 16, 43, 0, 0, time.UTC)

const (
	adminPW = "correct horse battery staple"
	userPW  = "tr0ub4dor&3-but-longer"
)

// Who a request is sent as.
const (
	anon     = ""
	admin    = "admin"
	operator = "olivia"
	viewer   = "victor"
	worker   = "worker" // a worker token of group "billing"
)

// env is the API on a memory backend, the real job and auth services and
// a fake clock, with one user (and API token) per role.
type env struct {
	t      testing.TB
	clk    *clock.Fake
	mem    *memory.Backend
	jobs   *jobs.Service
	auth   *auth.Service
	h      http.Handler
	tokens map[string]string // who -> bearer secret
	logs   *bytes.Buffer
	ctx    context.Context
	ids    int
}

type option func(*api.Deps)

func dev(d *api.Deps) { d.Dev = true }

func newEnv(t testing.TB, opts ...option) *env {
	t.Helper()
	clk := clock.NewFake(t0)
	mem := memory.New(clk)
	t.Cleanup(mem.Close)
	e := &env{t: t, clk: clk, mem: mem, tokens: map[string]string{}, logs: &bytes.Buffer{}, ctx: t.Context()}
	var err error
	e.jobs, err = jobs.New(jobs.Config{Groups: mem, Jobs: mem, Fires: mem, Workers: mem, Clock: clk, NewID: func() string {
		e.ids++
		return fmt.Sprintf("job%03d", e.ids)
	}})
	require.NoError(t, err)
	e.auth, err = auth.New(auth.Config{Users: mem, Tokens: mem, Audit: mem, Groups: mem, Clock: clk,
		Password: auth.PasswordParams{Time: 1, Memory: 64, Threads: 1}})
	require.NoError(t, err)
	created, _, err := e.auth.Bootstrap(e.ctx, adminPW)
	require.NoError(t, err)
	require.True(t, created)
	for name, role := range map[string]domain.Role{operator: domain.RoleOperator, viewer: domain.RoleViewer} {
		_, err := e.auth.CreateUser(e.ctx, name, role, userPW)
		require.NoError(t, err)
	}
	for _, name := range []string{admin, operator, viewer} {
		secret, _, err := e.auth.CreateAPIToken(e.ctx, name, "tests", 0)
		require.NoError(t, err)
		e.tokens[name] = secret
	}
	_, err = e.jobs.CreateGroup(e.ctx, domain.Group{Name: "billing", Description: "money"})
	require.NoError(t, err)
	e.tokens[worker], _, err = e.auth.CreateWorkerToken(e.ctx, "billing", "host-1")
	require.NoError(t, err)
	d := api.Deps{Jobs: e.jobs, Auth: e.auth, Groups: mem, JobStore: mem, Runs: mem, Fires: mem,
		Workers: mem, Nodes: mem, Leader: mem.NewElector("probe", time.Minute), Clock: clk,
		Logger: slog.New(slog.NewTextHandler(e.logs, nil))}
	for _, o := range opts {
		o(&d)
	}
	e.h, err = api.New(d)
	require.NoError(t, err)
	return e
}

// req is a request to build.
type req struct {
	method, path string
	body         any // nil, a string (sent as is) or a value (encoded)
	as           string
	cookie       string
	header       map[string]string
}

// resp is an answer.
type resp struct {
	*httptest.ResponseRecorder
	t testing.TB
}

func (e *env) send(r req) resp {
	e.t.Helper()
	var body io.Reader
	switch b := r.body.(type) {
	case nil:
	case string:
		body = strings.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		require.NoError(e.t, err)
		body = bytes.NewReader(raw)
	}
	hr := httptest.NewRequest(r.method, r.path, body)
	if body != nil {
		hr.Header.Set("Content-Type", "application/json")
	}
	if r.as != "" {
		secret, ok := e.tokens[r.as]
		require.True(e.t, ok, "unknown caller %q", r.as)
		hr.Header.Set("Authorization", "Bearer "+secret)
	}
	if r.cookie != "" {
		hr.AddCookie(&http.Cookie{Name: api.SessionCookie, Value: r.cookie})
	}
	for k, v := range r.header {
		hr.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	e.h.ServeHTTP(rec, hr)
	return resp{rec, e.t}
}

func (e *env) get(as, path string) resp {
	return e.send(req{method: http.MethodGet, path: path, as: as})
}
func (e *env) post(as, path string, body any) resp {
	return e.send(req{method: http.MethodPost, path: path, as: as, body: body})
}
func (e *env) put(as, path string, body any) resp {
	return e.send(req{method: http.MethodPut, path: path, as: as, body: body})
}
func (e *env) del(as, path string) resp {
	return e.send(req{method: http.MethodDelete, path: path, as: as})
}

// status checks the status code, showing the body if it differs.
func (r resp) status(code int) resp {
	r.t.Helper()
	require.Equal(r.t, code, r.Code, "body: %s", r.Body.String())
	return r
}

// obj decodes the body as an object.
func (r resp) obj() map[string]any {
	r.t.Helper()
	var m map[string]any
	require.NoError(r.t, json.Unmarshal(r.Body.Bytes(), &m), r.Body.String())
	return m
}

// items returns the items of a listing.
func (r resp) items() []map[string]any {
	r.t.Helper()
	m := r.obj()
	require.Contains(r.t, m, "next_cursor")
	raw, ok := m["items"].([]any)
	require.True(r.t, ok, "items is an array: %s", r.Body.String())
	out := make([]map[string]any, len(raw))
	for i, x := range raw {
		out[i] = x.(map[string]any)
	}
	return out
}

// apiErr checks an error answer: status, code and field.
func (r resp) apiErr(status int, code, field string) map[string]any {
	r.t.Helper()
	r.status(status)
	m := r.obj()
	require.Equal(r.t, []string{"error"}, keys(m), r.Body.String())
	e := m["error"].(map[string]any)
	require.Equal(r.t, code, e["code"], r.Body.String())
	got, _ := e["field"].(string)
	require.Equal(r.t, field, got, r.Body.String())
	require.NotEmpty(r.t, e["message"])
	return e
}

func keys(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// requireKeys checks that m has at least these keys.
func requireKeys(t *testing.T, m map[string]any, want ...string) {
	t.Helper()
	for _, k := range want {
		require.Contains(t, m, k, "key %q in %v", k, keys(m))
	}
}

// audit returns the audit entries, newest first, matching f.
func (e *env) audit(f ports.AuditFilter) []domain.AuditEntry {
	e.t.Helper()
	page, err := e.auth.ListAudit(e.ctx, f)
	require.NoError(e.t, err)
	return page.Items
}

// job is a valid job body; change adjusts it.
func job(change ...func(map[string]any)) map[string]any {
	j := map[string]any{
		"group": "billing", "name": "nightly", "schedule": "0 30 2 * * *", "timezone": "Europe/Berlin",
		"handler": "shell", "params": map[string]any{"cmd": "echo hi"}, "paused": false,
		"misfire": map[string]any{"policy": "fire_once", "window": "10m"}, "overlap": "forbid",
		"retry": map[string]any{"max_attempts": 3, "backoff": "1s"}, "timeout": "30s",
		"route": "round_robin", "shards": 1,
	}
	for _, c := range change {
		c(j)
	}
	return j
}

// createJob creates a job and returns its ID.
func (e *env) createJob(change ...func(map[string]any)) string {
	e.t.Helper()
	m := e.post(admin, "/jobs", job(change...)).status(http.StatusCreated).obj()
	return m["id"].(string)
}

// trigger fires a job now and returns the fire.
func (e *env) trigger(id string) map[string]any {
	e.t.Helper()
	return e.post(operator, "/jobs/"+id+"/trigger", nil).status(http.StatusCreated).obj()
}
