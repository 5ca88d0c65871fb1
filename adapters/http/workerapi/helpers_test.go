package workerapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/pink-scheduler/pink/adapters/clock"
	"github.com/pink-scheduler/pink/adapters/http/workerapi"
	"github.com/pink-scheduler/pink/adapters/memory"
	"github.com/pink-scheduler/pink/app/auth"
	"github.com/pink-scheduler/pink/app/gateway"
	"github.com/pink-scheduler/pink/domain"
	"github.com/pink-scheduler/pink/ports"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// The tests serve the API as pink-node mounts it, at /api/v1/worker of a
// chi router, on the memory backend with real tokens from app/auth. They
// play the leader by hand: they write fires whose runs are assigned to a
// worker, fenced by a leadership of the backend, as the dispatcher does.

const (
	group  = "g"
	prefix = "/api/v1/worker"
)

// env is a store, the auth service, a gateway and the API on them.
type env struct {
	t     testing.TB
	ctx   context.Context
	mem   *memory.Backend
	lead  ports.Leadership
	auth  *auth.Service
	gw    *gateway.Gateway
	h     http.Handler
	token string // a worker token of group g
	other string // a worker token of group "other"
	user  string // an admin's api token
	n     int
}

func newEnv(t testing.TB, mutate ...func(*workerapi.Deps)) *env {
	t.Helper()
	ctx := t.Context()
	mem := memory.New(clock.System{})
	t.Cleanup(mem.Close)
	for _, g := range []string{group, "other"} {
		_, err := mem.CreateGroup(ctx, domain.Group{Name: g})
		require.NoError(t, err)
	}
	svc, err := auth.New(auth.Config{Users: mem, Tokens: mem, Audit: mem, Groups: mem, Clock: clock.System{},
		Password: auth.PasswordParams{Time: 1, Memory: 64, Threads: 1}})
	require.NoError(t, err)
	e := &env{t: t, ctx: ctx, mem: mem, auth: svc}
	e.token, _, err = svc.CreateWorkerToken(ctx, group, "test workers")
	require.NoError(t, err)
	e.other, _, err = svc.CreateWorkerToken(ctx, "other", "other workers")
	require.NoError(t, err)
	_, err = svc.CreateUser(ctx, "alice", domain.RoleAdmin, "correct horse battery staple")
	require.NoError(t, err)
	e.user, _, err = svc.CreateAPIToken(ctx, "alice", "cli", 0)
	require.NoError(t, err)
	e.lead, err = mem.NewElector("test-leader", 0).Campaign(ctx)
	require.NoError(t, err)

	log := slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
	e.gw, err = gateway.New(gateway.Config{Registry: mem, Runs: mem, Clock: clock.System{}, Logger: log})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, e.gw.Close(context.Background())) })
	deps := workerapi.Deps{Gateway: e.gw, Auth: svc, Audit: svc, Logger: log}
	for _, m := range mutate {
		m(&deps)
	}
	root := chi.NewRouter()
	root.Mount(prefix, workerapi.Handler(deps))
	e.h = root
	return e
}

// do serves one request with a bearer token ("" for none) and a body (""
// for none).
func (e *env) do(method, path, token, body string) *httptest.ResponseRecorder {
	e.t.Helper()
	return e.serve(e.ctx, method, path, token, body)
}

// serve is do with a context, and without e.t (fuzz functions may not use
// the *testing.F).
func (e *env) serve(ctx context.Context, method, path, token, body string) *httptest.ResponseRecorder {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req := httptest.NewRequestWithContext(ctx, method, prefix+path, rd)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	rec := httptest.NewRecorder()
	e.h.ServeHTTP(rec, req)
	return rec
}

// register registers a worker of group g with a TTL of a minute (so that
// no test depends on heartbeats) and returns its ID.
func (e *env) register() string {
	e.t.Helper()
	rec := e.do(http.MethodPost, "/register", e.token, `{"hostname":"host-1","handlers":["h"],"ttl_seconds":60}`)
	require.Equal(e.t, http.StatusCreated, rec.Code, rec.Body.String())
	var res struct {
		WorkerID string `json:"worker_id"`
	}
	require.NoError(e.t, json.Unmarshal(rec.Body.Bytes(), &res))
	return res.WorkerID
}

// assign writes a new fire whose one run is assigned to workerID, as the
// leader's dispatcher would, and returns the run.
func (e *env) assign(workerID, handler, params string, mutate ...func(*domain.Run)) domain.Run {
	e.t.Helper()
	e.n++
	now := time.Now()
	jobID := fmt.Sprintf("job-%d", e.n)
	fireID := domain.FireID(jobID, now)
	r := domain.Run{
		ID: domain.RunID(fireID, 0), FireID: fireID, JobID: jobID, Group: group, Handler: handler,
		Params: json.RawMessage(params), Shards: 1, Attempt: 1, MaxAttempts: 1,
		Timeout: domain.Duration(time.Hour), State: domain.RunPending, ScheduledAt: now, CreatedAt: now,
	}
	for _, m := range mutate {
		m(&r)
	}
	require.NoError(e.t, r.Assign(workerID, now))
	f := domain.Fire{ID: fireID, JobID: jobID, Group: group, Nominal: now, Kind: domain.FireScheduled,
		Status: domain.FireDispatched, RunIDs: []string{r.ID}, CreatedAt: now}
	created, err := e.mem.CreateFires(e.ctx, e.lead.Fence(), []ports.FireWrite{{Fire: f, Runs: []domain.Run{r}}})
	require.NoError(e.t, err)
	require.Equal(e.t, []bool{true}, created)
	return r
}

// run returns the stored run.
func (e *env) run(id string) domain.Run {
	e.t.Helper()
	r, err := e.mem.GetRun(e.ctx, id)
	require.NoError(e.t, err)
	return r
}

// workers lists the registered workers of group g.
func (e *env) workers() []domain.Worker {
	e.t.Helper()
	ws, _, err := e.mem.ListWorkers(e.ctx, group)
	require.NoError(e.t, err)
	return ws
}

// audit lists the audit entries of an action.
func (e *env) audit(action string) []domain.AuditEntry {
	e.t.Helper()
	page, err := e.auth.ListAudit(e.ctx, ports.AuditFilter{Action: action})
	require.NoError(e.t, err)
	return page.Items
}

// requireError checks an error response: status, code and field.
func requireError(t *testing.T, rec *httptest.ResponseRecorder, status int, code, field string) {
	t.Helper()
	require.Equal(t, status, rec.Code, rec.Body.String())
	require.Equal(t, "application/json; charset=utf-8", rec.Header().Get("Content-Type"))
	var body struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
			Field   string `json:"field"`
		} `json:"error"`
	}
	dec := json.NewDecoder(rec.Body)
	dec.DisallowUnknownFields()
	require.NoError(t, dec.Decode(&body), "one error shape")
	require.Equal(t, code, body.Error.Code)
	require.Equal(t, field, body.Error.Field)
	require.NotEmpty(t, body.Error.Message)
}

// decode decodes a JSON response.
func decode[T any](t *testing.T, rec *httptest.ResponseRecorder) T {
	t.Helper()
	var v T
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &v), rec.Body.String())
	return v
}
