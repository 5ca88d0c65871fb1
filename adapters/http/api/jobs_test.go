package api_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/pink-scheduler/pink/domain"
	"github.com/pink-scheduler/pink/ports"
)

func TestGroups(t *testing.T) {
	e := newEnv(t)
	r := e.post(admin, "/groups", map[string]any{"name": "etl", "description": "nightly loads"}).status(http.StatusCreated)
	require.Equal(t, "groups/etl", r.Header().Get("Location"))
	g := r.obj()
	require.Equal(t, []string{"created_at", "description", "name", "updated_at", "version"}, keys(g))
	require.Equal(t, "etl", g["name"])
	require.Equal(t, "2026-11-26T16:43:00Z", g["created_at"])

	e.post(admin, "/groups", map[string]any{"name": "etl"}).apiErr(http.StatusConflict, "already_exists", "")
	e.post(admin, "/groups", map[string]any{"name": "Bad Name"}).apiErr(http.StatusBadRequest, "invalid", "name")
	e.post(admin, "/groups", map[string]any{"name": "x", "description": strings.Repeat("d", 2000)}).apiErr(http.StatusBadRequest, "invalid", "description")
	e.post(admin, "/groups", map[string]any{"name": "x", "owner": "me"}).apiErr(http.StatusBadRequest, "invalid", "owner")

	items := e.get(viewer, "/groups").status(http.StatusOK).items()
	require.Equal(t, []any{"billing", "etl"}, []any{items[0]["name"], items[1]["name"]})
	require.Equal(t, "etl", e.get(viewer, "/groups/etl").status(http.StatusOK).obj()["name"])
	e.get(viewer, "/groups/nope").apiErr(http.StatusNotFound, "not_found", "")

	// PUT changes the description; what GET returned can be sent back.
	g["description"] = "hourly loads"
	up := e.put(admin, "/groups/etl", g).status(http.StatusOK).obj()
	require.Equal(t, "hourly loads", up["description"])
	e.put(admin, "/groups/etl", map[string]any{"name": "other"}).apiErr(http.StatusBadRequest, "invalid", "name")
	e.put(admin, "/groups/nope", map[string]any{"description": "x"}).apiErr(http.StatusNotFound, "not_found", "")

	// A group with jobs cannot be deleted.
	id := e.createJob(func(m map[string]any) { m["group"] = "etl" })
	e.del(admin, "/groups/etl").apiErr(http.StatusConflict, "conflict", "")
	e.del(admin, "/jobs/"+id).status(http.StatusNoContent)
	e.del(admin, "/groups/etl").status(http.StatusNoContent)
	e.del(admin, "/groups/etl").apiErr(http.StatusNotFound, "not_found", "")
}

func TestDeletingAGroupRevokesItsWorkerTokens(t *testing.T) {
	e := newEnv(t)
	e.post(admin, "/groups", map[string]any{"name": "etl"}).status(http.StatusCreated)
	tok := e.post(admin, "/worker-tokens", map[string]any{"group": "etl", "name": "host-9"}).status(http.StatusCreated).obj()
	e.del(admin, "/groups/etl").status(http.StatusNoContent)
	_, err := e.auth.GetToken(e.ctx, tok["id"].(string))
	require.ErrorIs(t, err, domain.ErrNotFound, "revoked with its group")
	entry := e.audit(ports.AuditFilter{Action: domain.AuditGroupDelete})[0]
	require.Equal(t, "group/etl", entry.Target)
	require.Equal(t, "revoked 1 worker tokens", entry.Detail)
}

func TestCreateJobHasTheShapeOfTheIssue(t *testing.T) {
	e := newEnv(t)
	r := e.post(admin, "/jobs", job()).status(http.StatusCreated)
	m := r.obj()
	require.Equal(t, "jobs/job001", r.Header().Get("Location"))
	requireKeys(t, m, "id", "group", "name", "schedule", "timezone", "handler", "params", "paused", "misfire",
		"overlap", "retry", "timeout", "route", "shards")
	require.Equal(t, "job001", m["id"])
	require.Equal(t, map[string]any{"policy": "fire_once", "window": "10m0s"}, m["misfire"])
	require.Equal(t, map[string]any{"max_attempts": float64(3), "backoff": "1s", "max_backoff": "1m0s"}, m["retry"])
	require.Equal(t, map[string]any{"cmd": "echo hi"}, m["params"])
	require.Equal(t, false, m["paused"])
	require.Equal(t, "30s", m["timeout"])
	require.Equal(t, "round_robin", m["route"])
	require.Equal(t, float64(1), m["shards"])
	require.Equal(t, "2026-11-26T16:43:00Z", m["created_at"])

	// Defaults for what is left out; an ID may be given.
	min := e.post(admin, "/jobs", map[string]any{"id": "tiny", "group": "billing", "name": "n", "schedule": "@hourly", "handler": "h", "paused": true}).
		status(http.StatusCreated).obj()
	require.Equal(t, "tiny", min["id"])
	require.Equal(t, true, min["paused"])
	require.Equal(t, map[string]any{"policy": "fire_all", "window": "1m0s"}, min["misfire"])
	require.Equal(t, "forbid", min["overlap"])
	require.Equal(t, "1h0m0s", min["timeout"])
	require.Nil(t, min["params"])
	require.Equal(t, map[string]any{}, min["selector"])
	e.post(admin, "/jobs", map[string]any{"id": "tiny", "group": "billing", "name": "n", "schedule": "@hourly", "handler": "h"}).
		apiErr(http.StatusConflict, "already_exists", "")

	got := e.get(viewer, "/jobs/job001").status(http.StatusOK).obj()
	require.Equal(t, m, got)
	e.get(viewer, "/jobs/nope").apiErr(http.StatusNotFound, "not_found", "")
}

func TestJobValidationNamesTheField(t *testing.T) {
	e := newEnv(t)
	for _, tc := range []struct {
		name  string
		body  any
		field string
	}{
		{"bad cron", job(func(m map[string]any) { m["schedule"] = "61 * * * *" }), "schedule"},
		{"empty schedule", job(func(m map[string]any) { delete(m, "schedule") }), "schedule"},
		{"unknown zone", job(func(m map[string]any) { m["timezone"] = "Mars/Olympus" }), "timezone"},
		{"unknown group", job(func(m map[string]any) { m["group"] = "nope" }), "group"},
		{"no handler", job(func(m map[string]any) { m["handler"] = "" }), "handler"},
		{"bad misfire policy", job(func(m map[string]any) { m["misfire"] = map[string]any{"policy": "sometimes"} }), "misfire.policy"},
		{"bad misfire window", job(func(m map[string]any) { m["misfire"] = map[string]any{"window": "soon"} }), "misfire.window"},
		{"window too long", job(func(m map[string]any) { m["misfire"] = map[string]any{"window": "9000h"} }), "misfire.window"},
		{"too many attempts", job(func(m map[string]any) { m["retry"] = map[string]any{"max_attempts": 50} }), "retry.max_attempts"},
		{"negative attempts", job(func(m map[string]any) { m["retry"] = map[string]any{"max_attempts": -1} }), "retry.max_attempts"},
		{"bad backoff", job(func(m map[string]any) { m["retry"] = map[string]any{"backoff": "x"} }), "retry.backoff"},
		{"attempts as text", job(func(m map[string]any) { m["retry"] = map[string]any{"max_attempts": "3"} }), "retry.max_attempts"},
		{"timeout too short", job(func(m map[string]any) { m["timeout"] = "1ms" }), "timeout"},
		{"timeout as number", job(func(m map[string]any) { m["timeout"] = 30 }), "timeout"},
		{"bad overlap", job(func(m map[string]any) { m["overlap"] = "sometimes" }), "overlap"},
		{"bad route", job(func(m map[string]any) { m["route"] = "nearest" }), "route"},
		{"too many shards", job(func(m map[string]any) { m["shards"] = 1000 }), "shards"},
		{"negative shards", job(func(m map[string]any) { m["shards"] = -2 }), "shards"},
		{"fractional shards", job(func(m map[string]any) { m["shards"] = 1.5 }), "shards"},
		{"shards as text", job(func(m map[string]any) { m["shards"] = "one" }), "shards"},
		{"paused as text", job(func(m map[string]any) { m["paused"] = "no" }), "paused"},
		{"bad id", job(func(m map[string]any) { m["id"] = "Bad/ID" }), "id"},
		{"bad selector", job(func(m map[string]any) { m["selector"] = map[string]any{"zone": 1} }), "selector"},
		{"unknown field", job(func(m map[string]any) { m["colour"] = "pink" }), "colour"},
		{"unknown nested field", job(func(m map[string]any) { m["retry"] = map[string]any{"max_attempts": 2, "jitter": true} }), "retry.jitter"},
		{"version on create", job(func(m map[string]any) { m["version"] = 3 }), "version"},
		{"not an object", `[1,2]`, ""},
		{"malformed", `{"group":`, ""},
		{"two values", `{"group":"billing"} {}`, ""},
		{"empty", ``, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e.post(admin, "/jobs", tc.body).apiErr(http.StatusBadRequest, "invalid", tc.field)
		})
	}
	require.Empty(t, e.get(viewer, "/jobs").items(), "nothing was written")
}

func TestReplaceJob(t *testing.T) {
	e := newEnv(t)
	id := e.createJob()
	cur := e.get(viewer, "/jobs/"+id).obj()

	// What GET returned can be PUT back, changed.
	cur["name"] = "renamed"
	cur["schedule"] = "@daily"
	e.clk.Advance(1e9)
	up := e.put(admin, "/jobs/"+id, cur).status(http.StatusOK).obj()
	require.Equal(t, "renamed", up["name"])
	require.Equal(t, "@daily", up["schedule"])
	require.Equal(t, cur["created_at"], up["created_at"])
	require.Equal(t, "2026-11-26T16:43:01Z", up["updated_at"])

	// PUT replaces: what is left out takes its default.
	bare := e.put(admin, "/jobs/"+id, map[string]any{"group": "billing", "name": "n", "schedule": "@hourly", "handler": "h"}).
		status(http.StatusOK).obj()
	require.Nil(t, bare["params"])
	require.Equal(t, "1h0m0s", bare["timeout"])

	// A stale version is a conflict, not a lost update.
	cur["version"] = up["version"]
	e.put(admin, "/jobs/"+id, cur).apiErr(http.StatusConflict, "conflict", "")
	cur["version"] = bare["version"]
	e.put(admin, "/jobs/"+id, cur).status(http.StatusOK)

	e.put(admin, "/jobs/"+id, job(func(m map[string]any) { m["group"] = "other" })).apiErr(http.StatusBadRequest, "invalid", "group")
	e.put(admin, "/jobs/"+id, job(func(m map[string]any) { m["id"] = "other" })).apiErr(http.StatusBadRequest, "invalid", "id")
	e.put(admin, "/jobs/"+id, job(func(m map[string]any) { m["schedule"] = "nope" })).apiErr(http.StatusBadRequest, "invalid", "schedule")
	e.put(admin, "/jobs/nope", job()).apiErr(http.StatusNotFound, "not_found", "")

	e.del(admin, "/jobs/"+id).status(http.StatusNoContent)
	e.del(admin, "/jobs/"+id).apiErr(http.StatusNotFound, "not_found", "")
}

func TestListJobsFilters(t *testing.T) {
	e := newEnv(t)
	e.post(admin, "/groups", map[string]any{"name": "etl"}).status(http.StatusCreated)
	a := e.createJob()
	b := e.createJob(func(m map[string]any) { m["group"] = "etl"; m["paused"] = true })
	ids := func(items []map[string]any) []any {
		var out []any
		for _, it := range items {
			out = append(out, it["id"])
		}
		return out
	}
	require.Equal(t, []any{a, b}, ids(e.get(viewer, "/jobs").items()))
	require.Equal(t, []any{b}, ids(e.get(viewer, "/jobs?group=etl").items()))
	require.Equal(t, []any{b}, ids(e.get(viewer, "/jobs?paused=true").items()))
	require.Equal(t, []any{a}, ids(e.get(viewer, "/jobs?paused=false").items()))
	e.get(viewer, "/jobs?paused=maybe").apiErr(http.StatusBadRequest, "invalid", "paused")
	e.get(viewer, "/jobs?group=Bad!").apiErr(http.StatusBadRequest, "invalid", "group")
	e.get(viewer, "/jobs?grup=etl").apiErr(http.StatusBadRequest, "invalid", "grup")
	e.get(viewer, "/jobs?limit=1&limit=2").apiErr(http.StatusBadRequest, "invalid", "limit")
}

func TestPauseResumeTrigger(t *testing.T) {
	e := newEnv(t)
	id := e.createJob()
	p := e.post(operator, "/jobs/"+id+"/pause", nil).status(http.StatusOK).obj()
	require.Equal(t, true, p["paused"])
	require.Equal(t, true, e.post(operator, "/jobs/"+id+"/pause", nil).status(http.StatusOK).obj()["paused"], "idempotent")
	require.Equal(t, false, e.post(operator, "/jobs/"+id+"/resume", nil).status(http.StatusOK).obj()["paused"])
	e.post(operator, "/jobs/nope/pause", nil).apiErr(http.StatusNotFound, "not_found", "")
	e.post(operator, "/jobs/nope/resume", nil).apiErr(http.StatusNotFound, "not_found", "")

	// Trigger with the job's params.
	r := e.post(operator, "/jobs/"+id+"/trigger", nil).status(http.StatusCreated)
	f := r.obj()
	require.True(t, strings.HasPrefix(r.Header().Get("Location"), "../../fires/"))
	require.Equal(t, "manual", f["kind"])
	require.Equal(t, id, f["job_id"])
	require.Equal(t, operator, f["triggered_by"])
	require.Len(t, f["run_ids"], 1)
	run := e.get(viewer, "/runs/"+f["run_ids"].([]any)[0].(string)).status(http.StatusOK).obj()
	require.Equal(t, "pending", run["state"])
	require.Equal(t, map[string]any{"cmd": "echo hi"}, run["params"])

	// Trigger with an override.
	e.clk.Advance(1e6)
	f = e.post(operator, "/jobs/"+id+"/trigger", map[string]any{"params": map[string]any{"cmd": "echo override"}}).status(http.StatusCreated).obj()
	require.Equal(t, map[string]any{"cmd": "echo override"}, f["params"])
	run = e.get(viewer, "/runs/"+f["run_ids"].([]any)[0].(string)).obj()
	require.Equal(t, map[string]any{"cmd": "echo override"}, run["params"])
	entry := e.audit(ports.AuditFilter{Action: domain.AuditJobTrigger})[0]
	require.Contains(t, entry.Detail, "params overridden")

	e.post(operator, "/jobs/"+id+"/trigger", map[string]any{"params": 1, "extra": 2}).apiErr(http.StatusBadRequest, "invalid", "extra")
	e.post(operator, "/jobs/nope/trigger", nil).apiErr(http.StatusNotFound, "not_found", "")
	// A broadcast job with no worker online: nothing to run it on.
	b := e.createJob(func(m map[string]any) { m["route"] = "broadcast" })
	e.post(operator, "/jobs/"+b+"/trigger", nil).apiErr(http.StatusConflict, "conflict", "")
}

func TestPlanAndPreview(t *testing.T) {
	e := newEnv(t)
	id := e.createJob()
	m := e.get(viewer, "/jobs/"+id+"/plan?count=3").status(http.StatusOK).obj()
	require.Equal(t, []any{"2026-11-27T02:30:00+01:00", "2026-11-28T02:30:00+01:00", "2026-11-29T02:30:00+01:00"}, m["next"])
	require.Len(t, e.get(viewer, "/jobs/"+id+"/plan").obj()["next"], 10, "10 by default")
	for _, q := range []string{"0", "101", "x", "-1"} {
		e.get(viewer, "/jobs/"+id+"/plan?count="+q).apiErr(http.StatusBadRequest, "invalid", "count")
	}
	e.get(viewer, "/jobs/nope/plan").apiErr(http.StatusNotFound, "not_found", "")

	m = e.get(viewer, "/schedule/preview?expr=0+9+*+*+1-5&tz=America/New_York&count=2&after=2026-11-26T00:00:00Z").status(http.StatusOK).obj()
	require.Equal(t, []any{"2026-11-26T09:00:00-05:00", "2026-11-27T09:00:00-05:00"}, m["next"])
	require.Equal(t, "America/New_York", m["timezone"])
	m = e.get(viewer, "/schedule/preview?expr=@hourly").status(http.StatusOK).obj()
	require.Len(t, m["next"], 10)
	require.Equal(t, "2026-11-26T17:00:00Z", m["next"].([]any)[0], "after now, in UTC")

	e.get(viewer, "/schedule/preview?expr=61+*+*+*+*").apiErr(http.StatusBadRequest, "invalid", "expr")
	e.get(viewer, "/schedule/preview?expr=@daily&tz=Mars/Olympus").apiErr(http.StatusBadRequest, "invalid", "tz")
	e.get(viewer, "/schedule/preview").apiErr(http.StatusBadRequest, "invalid", "expr")
	e.get(viewer, "/schedule/preview?expr=@daily&count=500").apiErr(http.StatusBadRequest, "invalid", "count")
	e.get(viewer, "/schedule/preview?expr=@daily&after=yesterday").apiErr(http.StatusBadRequest, "invalid", "after")
}
