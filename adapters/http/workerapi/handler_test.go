package workerapi_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pink-scheduler/pink/adapters/http/workerapi"
	"github.com/pink-scheduler/pink/domain"
	"github.com/pink-scheduler/pink/ports"
)

func TestRegister(t *testing.T) {
	e := newEnv(t)
	rec := e.do(http.MethodPost, "/register", e.token,
		`{"group":"g","hostname":"build-7","labels":{"zone":"a"},"handlers":["echo","sleep"],"capacity":2,"version":"py/1"}`)
	require.Equal(t, http.StatusCreated, rec.Code, rec.Body.String())
	res := decode[map[string]any](t, rec)
	id, _ := res["worker_id"].(string)
	require.True(t, strings.HasPrefix(id, "build-7-"), id)
	require.Equal(t, map[string]any{"worker_id": id, "group": "g", "ttl_seconds": 5.0,
		"heartbeat_seconds": (5 * time.Second / 3).Seconds(), "max_wait_seconds": 30.0}, res)

	ws := e.workers()
	require.Len(t, ws, 1)
	require.Equal(t, domain.Worker{ID: id, Group: group, Hostname: "build-7", Labels: map[string]string{"zone": "a"},
		Handlers: []string{"echo", "sleep"}, Capacity: 2, StartedAt: ws[0].StartedAt, Protocol: "http", Version: "py/1"}, ws[0])
	entries := e.audit(workerapi.AuditWorkerRegister)
	require.Len(t, entries, 1)
	require.Equal(t, "worker/"+id, entries[0].Target)
	require.Equal(t, domain.AuditOK, entries[0].Result)

	// The group defaults to the token's; an ID may be given, once.
	rec = e.do(http.MethodPost, "/register", e.token, `{"id":"w-given","ttl_seconds":10}`)
	require.Equal(t, http.StatusCreated, rec.Code, rec.Body.String())
	require.Equal(t, "w-given", decode[map[string]any](t, rec)["worker_id"])
	requireError(t, e.do(http.MethodPost, "/register", e.token, `{"id":"w-given"}`), http.StatusConflict, "already_exists", "")
	requireError(t, e.do(http.MethodPost, "/register", e.token, `{"ttl_seconds":1}`), http.StatusBadRequest, "invalid", "ttl_seconds")
	requireError(t, e.do(http.MethodPost, "/register", e.token, `{"ttl_seconds":99999999999}`), http.StatusBadRequest, "invalid", "ttl_seconds")
	requireError(t, e.do(http.MethodPost, "/register", e.token, `{"id":"Not Valid"}`), http.StatusBadRequest, "invalid", "id")
	requireError(t, e.do(http.MethodPost, "/register", e.token, `{"capacity":100000}`), http.StatusBadRequest, "invalid", "capacity")
	require.Len(t, e.workers(), 2, "refused registrations write nothing")
}

func TestEveryRoute(t *testing.T) {
	e := newEnv(t)
	id := e.register()
	r := e.assign(id, "h", `{"to":"alice"}`, func(r *domain.Run) { r.Shard, r.Shards = 1, 3 })

	// Poll.
	rec := e.do(http.MethodGet, "/workers/"+id+"/runs?wait=5s", e.token, "")
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	require.JSONEq(t, fmt.Sprintf(`{"runs":[{"id":%q,"attempt":1,"max_attempts":1,"job_id":%q,"fire_id":%q,
		"group":"g","handler":"h","params":{"to":"alice"},"shard":1,"shards":3,"scheduled_at":%q,
		"timeout_seconds":3600,"manual":false}],"cancelled":[]}`,
		r.ID, r.JobID, r.FireID, r.ScheduledAt.UTC().Format(time.RFC3339Nano)), rec.Body.String())
	require.JSONEq(t, `{"runs":[],"cancelled":[]}`, e.do(http.MethodGet, "/workers/"+id+"/runs", e.token, "").Body.String(),
		"returned once, then held back")

	// Start.
	base := "/workers/" + id + "/runs/" + r.ID
	rec = e.do(http.MethodPost, base+"/start", e.token, `{"attempt":1}`)
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	stored := e.run(r.ID)
	require.Equal(t, domain.RunRunning, stored.State)
	require.JSONEq(t, fmt.Sprintf(`{"id":%q,"attempt":1,"state":"running","started_at":%q,"deadline":%q}`, r.ID,
		stored.StartedAt.UTC().Format(time.RFC3339Nano), stored.Deadline().UTC().Format(time.RFC3339Nano)), rec.Body.String())

	// Output.
	rec = e.do(http.MethodPost, base+"/output", e.token, `{"attempt":1,"chunk":"50%\n"}`)
	require.Equal(t, http.StatusNoContent, rec.Code, rec.Body.String())
	require.Equal(t, "50%\n", e.run(r.ID).Output)

	// Heartbeat, with and without a body.
	for _, body := range []string{"", "{}"} {
		rec = e.do(http.MethodPost, "/workers/"+id+"/heartbeat", e.token, body)
		require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
		require.JSONEq(t, `{"cancelled":[]}`, rec.Body.String())
	}

	// Result, twice.
	for _, dup := range []bool{false, true} {
		rec = e.do(http.MethodPost, base+"/result", e.token, `{"attempt":1,"state":"succeeded","output":"done\n"}`)
		require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
		require.JSONEq(t, fmt.Sprintf(`{"id":%q,"attempt":1,"run_state":"succeeded","duplicate":%t}`, r.ID, dup), rec.Body.String())
	}
	stored = e.run(r.ID)
	require.Equal(t, domain.RunSucceeded, stored.State)
	require.Equal(t, "50%\ndone\n", stored.Output)

	// Deregister.
	rec = e.do(http.MethodDelete, "/workers/"+id, e.token, "")
	require.Equal(t, http.StatusNoContent, rec.Code, rec.Body.String())
	require.Empty(t, e.workers())
	require.Len(t, e.audit(workerapi.AuditWorkerDeregister), 1)
	requireError(t, e.do(http.MethodPost, "/workers/"+id+"/heartbeat", e.token, ""), http.StatusNotFound, "unknown_worker", "")
}

func TestFailedResultAndRetry(t *testing.T) {
	e := newEnv(t)
	id := e.register()
	r := e.assign(id, "h", `{}`, func(r *domain.Run) { r.MaxAttempts = 2 })
	base := "/workers/" + id + "/runs/" + r.ID
	require.Equal(t, http.StatusOK, e.do(http.MethodPost, base+"/start", e.token, `{"attempt":1}`).Code)
	rec := e.do(http.MethodPost, base+"/result", e.token, `{"attempt":1,"state":"failed","error":"boom"}`)
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	require.Equal(t, "pending", decode[map[string]any](t, rec)["run_state"], "retried")
	stored := e.run(r.ID)
	require.Equal(t, 2, stored.Attempt)
	require.Equal(t, "boom", stored.Attempts[0].Error)
}

func TestPermanentFailureIsNotRetried(t *testing.T) {
	e := newEnv(t)
	id := e.register()
	r := e.assign(id, "h", `{}`, func(r *domain.Run) { r.MaxAttempts = 3 })
	base := "/workers/" + id + "/runs/" + r.ID
	require.Equal(t, http.StatusOK, e.do(http.MethodPost, base+"/start", e.token, `{"attempt":1}`).Code)
	rec := e.do(http.MethodPost, base+"/result", e.token, `{"attempt":1,"state":"succeeded","permanent":true}`)
	require.Equal(t, http.StatusBadRequest, rec.Code, "only a failure can be permanent: %s", rec.Body.String())
	rec = e.do(http.MethodPost, base+"/result", e.token, `{"attempt":1,"state":"failed","error":"no such bucket","permanent":true}`)
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	require.Equal(t, "failed", decode[map[string]any](t, rec)["run_state"], "not retried")
	stored := e.run(r.ID)
	require.Equal(t, 1, stored.Attempt)
	require.Equal(t, domain.RunFailed, stored.State)
}

func TestEscapedRunID(t *testing.T) {
	e := newEnv(t)
	id := e.register()
	r := e.assign(id, "h", `{}`)
	require.Contains(t, r.ID, "~")
	escaped := strings.ReplaceAll(url.PathEscape(r.ID), "~", "%7E")
	rec := e.do(http.MethodPost, "/workers/"+id+"/runs/"+escaped+"/start", e.token, `{"attempt":1}`)
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	require.Equal(t, domain.RunRunning, e.run(r.ID).State)
}

func TestBadRequests(t *testing.T) {
	e := newEnv(t, func(d *workerapi.Deps) { d.MaxBodyBytes = 1024 })
	id := e.register()
	r := e.assign(id, "h", `{}`)
	start := "/workers/" + id + "/runs/" + r.ID + "/start"
	for name, tc := range map[string]struct {
		path, body  string
		status      int
		code, field string
	}{
		"malformed JSON":   {start, `{"attempt":`, http.StatusBadRequest, "invalid", "body"},
		"not an object":    {start, `[1]`, http.StatusBadRequest, "invalid", "body"},
		"unknown field":    {start, `{"attempt":1,"atempt":2}`, http.StatusBadRequest, "invalid", "atempt"},
		"wrong type":       {start, `{"attempt":"1"}`, http.StatusBadRequest, "invalid", "attempt"},
		"trailing data":    {start, `{"attempt":1} {}`, http.StatusBadRequest, "invalid", "body"},
		"no body":          {start, ``, http.StatusBadRequest, "invalid", "body"},
		"attempt 0":        {start, `{"attempt":0}`, http.StatusBadRequest, "invalid", "attempt"},
		"oversized body":   {start, `{"attempt":1,"x":"` + strings.Repeat("a", 2000) + `"}`, http.StatusRequestEntityTooLarge, "too_large", "body"},
		"oversized output": {"/workers/" + id + "/runs/" + r.ID + "/output", `{"attempt":1,"chunk":"` + strings.Repeat("a", 2000) + `"}`, http.StatusRequestEntityTooLarge, "too_large", "body"},
		"bad result state": {"/workers/" + id + "/runs/" + r.ID + "/result", `{"attempt":1,"state":"cancelled"}`, http.StatusBadRequest, "invalid", "state"},
		"heartbeat field":  {"/workers/" + id + "/heartbeat", `{"x":1}`, http.StatusBadRequest, "invalid", "x"},
		"register garbage": {"/register", `nope`, http.StatusBadRequest, "invalid", "body"},
	} {
		t.Run(name, func(t *testing.T) {
			requireError(t, e.do(http.MethodPost, tc.path, e.token, tc.body), tc.status, tc.code, tc.field)
		})
	}
	for _, wait := range []string{"31s", "-1s", "forever", "NaN", "1e400"} {
		requireError(t, e.do(http.MethodGet, "/workers/"+id+"/runs?wait="+url.QueryEscape(wait), e.token, ""),
			http.StatusBadRequest, "invalid", "wait")
	}
	require.Equal(t, domain.RunAssigned, e.run(r.ID).State, "bad requests change nothing")
	requireError(t, e.do(http.MethodGet, "/nope", e.token, ""), http.StatusNotFound, "not_found", "")
	requireError(t, e.do(http.MethodGet, "/register", e.token, ""), http.StatusMethodNotAllowed, "method_not_allowed", "")
}

func TestAuthentication(t *testing.T) {
	e := newEnv(t)
	id := e.register()
	r := e.assign(id, "h", `{}`)
	routes := []struct{ method, path, body string }{
		{http.MethodPost, "/register", `{}`},
		{http.MethodPost, "/workers/" + id + "/heartbeat", ``},
		{http.MethodGet, "/workers/" + id + "/runs", ``},
		{http.MethodPost, "/workers/" + id + "/runs/" + r.ID + "/start", `{"attempt":1}`},
		{http.MethodPost, "/workers/" + id + "/runs/" + r.ID + "/output", `{"attempt":1,"chunk":"x"}`},
		{http.MethodPost, "/workers/" + id + "/runs/" + r.ID + "/result", `{"attempt":1,"state":"succeeded"}`},
		{http.MethodDelete, "/workers/" + id, ``},
	}
	for _, rt := range routes {
		for _, token := range []string{"", "pink_worker_" + strings.Repeat("a", 52), "garbage"} {
			rec := e.do(rt.method, rt.path, token, rt.body)
			requireError(t, rec, http.StatusUnauthorized, "unauthenticated", "")
			require.Equal(t, `Bearer realm="pink-worker"`, rec.Header().Get("WWW-Authenticate"))
		}
		// A user's API token is not a worker token.
		requireError(t, e.do(rt.method, rt.path, e.user, rt.body), http.StatusForbidden, "forbidden", "")
		if rt.path != "/register" {
			// Another group's worker token does not reach this worker.
			requireError(t, e.do(rt.method, rt.path, e.other, rt.body), http.StatusForbidden, "forbidden", "")
		}
	}
	requireError(t, e.do(http.MethodPost, "/register", e.token, `{"group":"other"}`), http.StatusForbidden, "forbidden", "")
	require.NotEmpty(t, e.audit(workerapi.AuditWorkerDenied), "refusals are audited")
	require.Equal(t, domain.RunAssigned, e.run(r.ID).State)
	require.Len(t, e.workers(), 1)

	// The other group's token works for its own group.
	rec := e.do(http.MethodPost, "/register", e.other, `{"group":"other"}`)
	require.Equal(t, http.StatusCreated, rec.Code, rec.Body.String())

	// A revoked token stops working at once.
	page, err := e.auth.ListTokens(e.ctx, ports.TokenFilter{Kind: domain.TokenWorker, Owner: group})
	require.NoError(t, err)
	require.Len(t, page.Items, 1)
	require.NoError(t, e.auth.RevokeToken(e.ctx, page.Items[0].ID))
	requireError(t, e.do(http.MethodPost, "/workers/"+id+"/heartbeat", e.token, ""), http.StatusUnauthorized, "unauthenticated", "")
}

func TestNotFoundAndConflicts(t *testing.T) {
	e := newEnv(t)
	id := e.register()
	r := e.assign(id, "h", `{}`, func(r *domain.Run) { r.MaxAttempts = 2 })
	base := "/workers/" + id + "/runs/" + r.ID

	requireError(t, e.do(http.MethodGet, "/workers/nobody/runs", e.token, ""), http.StatusNotFound, "unknown_worker", "")
	requireError(t, e.do(http.MethodDelete, "/workers/nobody", e.token, ""), http.StatusNotFound, "unknown_worker", "")
	requireError(t, e.do(http.MethodPost, "/workers/"+id+"/runs/20000101T000000.000Z~nope~0/start", e.token, `{"attempt":1}`),
		http.StatusNotFound, "not_found", "")

	require.Contains(t, e.do(http.MethodGet, "/workers/"+id+"/runs?wait=5s", e.token, "").Body.String(), r.ID)
	requireError(t, e.do(http.MethodPost, base+"/start", e.token, `{"attempt":2}`), http.StatusConflict, "stale_attempt", "")
	requireError(t, e.do(http.MethodPost, base+"/output", e.token, `{"attempt":1,"chunk":"x"}`), http.StatusConflict, "illegal_transition", "")
	require.Equal(t, http.StatusOK, e.do(http.MethodPost, base+"/start", e.token, `{"attempt":1}`).Code)

	// The leader fails the attempt over: the worker is told to stop it, and
	// its late writes are stale.
	_, err := e.mem.LeaderUpdateRun(e.ctx, e.lead.Fence(), r.ID, func(x *domain.Run) error { return x.Lose("test", time.Now()) })
	require.NoError(t, err)
	want := fmt.Sprintf(`{"cancelled":[{"id":%q,"attempt":1,"reason":"taken_away"}]}`, r.ID)
	require.Eventually(t, func() bool { // once the session's watch has seen it
		rec := e.do(http.MethodPost, "/workers/"+id+"/heartbeat", e.token, "")
		return rec.Code == http.StatusOK && strings.TrimSpace(rec.Body.String()) == want
	}, 5*time.Second, 5*time.Millisecond)
	requireError(t, e.do(http.MethodPost, base+"/output", e.token, `{"attempt":1,"chunk":"x"}`), http.StatusConflict, "stale_attempt", "")
	requireError(t, e.do(http.MethodPost, base+"/result", e.token, `{"attempt":1,"state":"succeeded"}`), http.StatusConflict, "stale_attempt", "")
	require.JSONEq(t, `{"cancelled":[]}`, e.do(http.MethodPost, "/workers/"+id+"/heartbeat", e.token, "").Body.String(),
		"the worker's report ends the listing")
	require.Equal(t, domain.RunPending, e.run(r.ID).State)
}

func TestLongPoll(t *testing.T) {
	e := newEnv(t)
	id := e.register()
	type answer struct {
		code int
		body string
	}
	done := make(chan answer)
	go func() {
		rec := e.do(http.MethodGet, "/workers/"+id+"/runs?wait=20", e.token, "")
		done <- answer{rec.Code, rec.Body.String()}
	}()
	select {
	case a := <-done:
		t.Fatalf("the poll returned before a run was assigned: %d %s", a.code, a.body)
	case <-time.After(50 * time.Millisecond):
	}
	start := time.Now()
	r := e.assign(id, "h", `{}`)
	a := <-done
	require.Less(t, time.Since(start), 5*time.Second)
	require.Equal(t, http.StatusOK, a.code, a.body)
	require.Contains(t, a.body, r.ID)
}

func TestCancelledRunIsReported(t *testing.T) {
	e := newEnv(t)
	id := e.register()
	r := e.assign(id, "h", `{}`)
	require.Contains(t, e.do(http.MethodGet, "/workers/"+id+"/runs?wait=5s", e.token, "").Body.String(), r.ID)
	require.Equal(t, http.StatusOK, e.do(http.MethodPost, "/workers/"+id+"/runs/"+r.ID+"/start", e.token, `{"attempt":1}`).Code)
	_, err := e.mem.UpdateRun(e.ctx, r.ID, func(x *domain.Run) error { return x.Cancel("by alice", time.Now()) })
	require.NoError(t, err)
	want := fmt.Sprintf(`[{"id":%q,"attempt":1,"reason":"cancelled"}]`, r.ID)
	require.Eventually(t, func() bool {
		rec := e.do(http.MethodGet, "/workers/"+id+"/runs?wait=1s", e.token, "")
		return rec.Code == http.StatusOK && strings.Contains(rec.Body.String(), want)
	}, 5*time.Second, 10*time.Millisecond)
	rec := e.do(http.MethodPost, "/workers/"+id+"/heartbeat", e.token, "")
	require.JSONEq(t, `{"cancelled":`+want+`}`, rec.Body.String())
}

func TestUnavailable(t *testing.T) {
	e := newEnv(t)
	require.NoError(t, e.gw.Close(context.Background()))
	requireError(t, e.do(http.MethodPost, "/register", e.token, `{}`), http.StatusServiceUnavailable, "unavailable", "")
}

func TestHandlerNeedsDeps(t *testing.T) {
	require.Panics(t, func() { workerapi.Handler(workerapi.Deps{}) })
}
