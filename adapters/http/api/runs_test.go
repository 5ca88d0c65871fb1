package api_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pink-scheduler/pink/domain"
	"github.com/pink-scheduler/pink/ports"
)

// move takes run id to state st through assigned and running on worker.
func (e *env) move(id, worker string, st domain.RunState) {
	e.t.Helper()
	now := e.clk.Now()
	_, err := e.mem.UpdateRun(e.ctx, id, func(r *domain.Run) error {
		if err := r.Assign(worker, now); err != nil || st == domain.RunAssigned {
			return err
		}
		if err := r.Start(worker, r.Attempt, now); err != nil || st == domain.RunRunning {
			return err
		}
		if st == domain.RunRunning {
			return nil
		}
		if err := r.AppendOutput(worker, r.Attempt, strings.Repeat("x", 5000)+"the end\n", 0); err != nil {
			return err
		}
		return r.Finish(domain.Report{RunID: id, WorkerID: worker, Attempt: r.Attempt, State: st, Error: "boom"}, 0, now)
	})
	require.NoError(e.t, err)
}

func runID(f map[string]any, i int) string { return f["run_ids"].([]any)[i].(string) }

func TestRunsListHasTheShapeOfTheIssue(t *testing.T) {
	e := newEnv(t)
	id := e.createJob(func(m map[string]any) { m["retry"] = map[string]any{"max_attempts": 1} })
	first := e.trigger(id)
	e.clk.Advance(time.Second)
	second := e.trigger(id)
	e.move(runID(first, 0), "w1", domain.RunSucceeded)

	r := e.get(viewer, "/runs?job_id="+id).status(http.StatusOK)
	m := r.obj()
	require.Equal(t, []string{"items", "next_cursor"}, keys(m))
	require.Equal(t, "", m["next_cursor"])
	items := r.items()
	require.Len(t, items, 2)
	for _, it := range items {
		requireKeys(t, it, "id", "fire_id", "job_id", "state", "worker_id", "attempt", "shard", "scheduled_at",
			"started_at", "finished_at", "output", "error")
	}
	require.Equal(t, runID(second, 0), items[0]["id"], "newest first")
	require.Equal(t, "pending", items[0]["state"])
	require.Nil(t, items[0]["started_at"])
	require.Equal(t, "", items[0]["worker_id"])
	done := items[1]
	require.Equal(t, first["id"], done["fire_id"])
	require.Equal(t, "succeeded", done["state"])
	require.Equal(t, "w1", done["worker_id"])
	require.Equal(t, float64(1), done["attempt"])
	require.Equal(t, float64(0), done["shard"])
	require.Equal(t, "2026-11-26T16:43:00Z", done["scheduled_at"])
	require.Equal(t, "2026-11-26T16:43:01Z", done["finished_at"])
	require.Equal(t, "boom", done["error"])
	require.Len(t, done["output"], 4096, "listings carry the output's tail")
	require.True(t, strings.HasSuffix(done["output"].(string), "the end\n"))
	require.Equal(t, true, done["output_truncated"])

	escaped := strings.ReplaceAll(runID(first, 0), "~", "%7E")
	require.Equal(t, runID(first, 0), e.get(viewer, "/runs/"+escaped).status(http.StatusOK).obj()["id"], "an escaped ID works too")
	detail := e.get(viewer, "/runs/"+runID(first, 0)).status(http.StatusOK).obj()
	require.Len(t, detail["output"], 5008, "the detail has the whole output")
	require.Equal(t, false, detail["output_truncated"])
	e.get(viewer, "/runs/nope").apiErr(http.StatusNotFound, "not_found", "")
}

func TestRunsFilters(t *testing.T) {
	e := newEnv(t)
	e.post(admin, "/groups", map[string]any{"name": "etl"}).status(http.StatusCreated)
	a := e.createJob(func(m map[string]any) { m["retry"] = map[string]any{"max_attempts": 1} })
	b := e.createJob(func(m map[string]any) { m["group"] = "etl" })
	fa := e.trigger(a)
	e.clk.Advance(time.Hour)
	fb := e.trigger(b)
	e.move(runID(fa, 0), "w1", domain.RunFailed)
	e.move(runID(fb, 0), "w2", domain.RunRunning)
	ids := func(path string) []string {
		var out []string
		for _, it := range e.get(viewer, path).status(http.StatusOK).items() {
			out = append(out, it["id"].(string))
		}
		return out
	}
	ra, rb := runID(fa, 0), runID(fb, 0)
	require.Equal(t, []string{rb, ra}, ids("/runs"))
	require.Equal(t, []string{ra}, ids("/runs?job_id="+a))
	require.Equal(t, []string{rb}, ids("/runs?group=etl"))
	require.Equal(t, []string{rb}, ids("/runs?worker_id=w2"))
	require.Equal(t, []string{ra}, ids("/runs?state=failed"))
	require.Equal(t, []string{rb, ra}, ids("/runs?state=failed,running"))
	require.Equal(t, []string{rb, ra}, ids("/runs?state=failed&state=running"))
	require.Empty(t, ids("/runs?state=pending"))
	require.Equal(t, []string{rb}, ids("/runs?from="+url.QueryEscape("2026-11-26T17:00:00+00:00")))
	require.Equal(t, []string{ra}, ids("/runs?to=2026-11-26T17:00:00Z"))
	require.Equal(t, []string{ra}, ids("/runs?from=2026-11-26T16:00:00Z&to=2026-11-26T17:00:00Z"))

	e.get(viewer, "/runs?state=done").apiErr(http.StatusBadRequest, "invalid", "state")
	e.get(viewer, "/runs?from=yesterday").apiErr(http.StatusBadRequest, "invalid", "from")
	e.get(viewer, "/runs?to=2026-13-01T00:00:00Z").apiErr(http.StatusBadRequest, "invalid", "to")
	e.get(viewer, "/runs?from=2026-11-27T00:00:00Z&to=2026-11-26T00:00:00Z").apiErr(http.StatusBadRequest, "invalid", "to")
	e.get(viewer, "/runs?job_id=Bad!").apiErr(http.StatusBadRequest, "invalid", "job_id")
	e.get(viewer, "/runs?worker=w1").apiErr(http.StatusBadRequest, "invalid", "worker")
}

func TestCancelAndDeleteRuns(t *testing.T) {
	e := newEnv(t)
	id := e.createJob(func(m map[string]any) { m["shards"] = 3; m["retry"] = map[string]any{"max_attempts": 1} })
	f := e.trigger(id)
	pending, running, finished := runID(f, 0), runID(f, 1), runID(f, 2)
	e.move(running, "w1", domain.RunRunning)
	e.move(finished, "w1", domain.RunSucceeded)

	c := e.post(operator, "/runs/"+running+"/cancel", nil).status(http.StatusOK).obj()
	require.Equal(t, "cancelled", c["state"])
	require.Equal(t, "cancelled by olivia", c["error"])
	require.Equal(t, "cancelled", e.post(operator, "/runs/"+pending+"/cancel", nil).status(http.StatusOK).obj()["state"])
	e.post(operator, "/runs/"+finished+"/cancel", nil).apiErr(http.StatusConflict, "illegal_transition", "")
	e.post(operator, "/runs/"+running+"/cancel", nil).apiErr(http.StatusConflict, "illegal_transition", "")
	e.post(operator, "/runs/nope/cancel", nil).apiErr(http.StatusNotFound, "not_found", "")
	cancels := e.audit(ports.AuditFilter{Action: domain.AuditRunCancel, Target: "run/" + running})
	require.Len(t, cancels, 2, "the cancel and the refused second one")
	require.ElementsMatch(t, []domain.AuditResult{domain.AuditOK, domain.AuditError}, []domain.AuditResult{cancels[0].Result, cancels[1].Result})

	active := e.trigger(id)
	e.del(admin, "/runs/"+runID(active, 0)).apiErr(http.StatusConflict, "conflict", "")
	e.del(admin, "/runs/"+finished).status(http.StatusNoContent)
	e.del(admin, "/runs/"+finished).apiErr(http.StatusNotFound, "not_found", "")
}

func TestPendingFires(t *testing.T) {
	e := newEnv(t)
	id := e.createJob(func(m map[string]any) { m["shards"] = 2 })
	f1 := e.trigger(id)
	e.clk.Advance(time.Second)
	f2 := e.trigger(id)
	e.move(runID(f2, 0), "w1", domain.RunRunning) // one of f2's runs is taken

	all := e.get(viewer, "/fires?job_id="+id).status(http.StatusOK).items()
	require.Len(t, all, 2)
	require.Equal(t, f2["id"], all[0]["id"], "newest first")
	require.Equal(t, "dispatched", all[0]["status"])
	require.NotContains(t, all[0], "pending_run_ids")

	pending := e.get(viewer, "/fires?status=pending").status(http.StatusOK).items()
	require.Len(t, pending, 2)
	require.Equal(t, []any{runID(f2, 1)}, pending[0]["pending_run_ids"])
	require.Equal(t, []any{runID(f1, 1), runID(f1, 0)}, pending[1]["pending_run_ids"])
	require.Len(t, e.get(viewer, "/runs?state=pending").items(), 3, "the pending runs, the other way to see it")

	require.Equal(t, f1["id"], e.get(viewer, "/fires/"+f1["id"].(string)).status(http.StatusOK).obj()["id"])
	e.get(viewer, "/fires/nope").apiErr(http.StatusNotFound, "not_found", "")
	e.get(viewer, "/fires?status=lost").apiErr(http.StatusBadRequest, "invalid", "status")
	e.get(viewer, "/fires?job_id=NO").apiErr(http.StatusBadRequest, "invalid", "job_id")
	e.get(viewer, "/fires?status=skipped").status(http.StatusOK)

	// Deleting a pending fire cancels its pending runs; the record stays.
	e.del(operator, "/fires/"+f2["id"].(string)).apiErr(http.StatusForbidden, "forbidden", "")
	d := e.del(admin, "/fires/"+f2["id"].(string)).status(http.StatusOK).obj()
	require.Equal(t, []any{runID(f2, 1)}, d["cancelled_run_ids"])
	require.Equal(t, "running", e.get(viewer, "/runs/"+runID(f2, 0)).obj()["state"], "a taken run is left alone")
	require.Equal(t, "cancelled", e.get(viewer, "/runs/"+runID(f2, 1)).obj()["state"])
	e.get(viewer, "/fires/"+f2["id"].(string)).status(http.StatusOK)
	e.del(admin, "/fires/"+f2["id"].(string)).apiErr(http.StatusConflict, "conflict", "")
	e.del(admin, "/fires/nope").apiErr(http.StatusNotFound, "not_found", "")
	require.Len(t, e.get(viewer, "/fires?status=pending").items(), 1)
	entry := e.audit(ports.AuditFilter{Action: domain.AuditFireDelete, Result: domain.AuditOK})[0]
	require.Equal(t, "fire/"+f2["id"].(string), entry.Target)
}

func TestWorkersAndNodes(t *testing.T) {
	e := newEnv(t)
	for _, w := range []domain.Worker{
		{ID: "w1", Group: "billing", Hostname: "host-1", Handlers: []string{"shell"}, Labels: map[string]string{"zone": "a"}, Capacity: 4},
		{ID: "w2", Group: "billing", Capacity: 1},
	} {
		l, err := e.mem.RegisterWorker(e.ctx, w, 10*time.Second)
		require.NoError(t, err)
		t.Cleanup(func() { _ = l.Close(context.Background()) })
	}
	id := e.createJob()
	f := e.trigger(id)
	e.move(runID(f, 0), "w1", domain.RunRunning)

	items := e.get(viewer, "/workers?group=billing").status(http.StatusOK).items()
	require.Len(t, items, 2)
	w1 := items[0]
	requireKeys(t, w1, "id", "group", "handlers", "labels", "running", "capacity")
	require.Equal(t, "w1", w1["id"])
	require.Equal(t, []any{"shell"}, w1["handlers"])
	require.Equal(t, map[string]any{"zone": "a"}, w1["labels"])
	require.Len(t, w1["running"], 1)
	require.Equal(t, runID(f, 0), w1["running"].([]any)[0].(map[string]any)["id"])
	require.Equal(t, []any{}, items[1]["running"])
	require.Equal(t, []any{}, items[1]["handlers"])
	require.Empty(t, e.get(viewer, "/workers?group=etl").items())
	require.Len(t, e.get(viewer, "/workers").items(), 2)
	e.get(viewer, "/workers?group=ETL").apiErr(http.StatusBadRequest, "invalid", "group")

	for _, n := range []string{"n2", "n1"} {
		l, err := e.mem.RegisterNode(e.ctx, domain.Node{ID: n, Address: "http://" + n + ":8002"}, 10*time.Second)
		require.NoError(t, err)
		t.Cleanup(func() { _ = l.Close(context.Background()) })
	}
	m := e.get(viewer, "/nodes").status(http.StatusOK).obj()
	require.Equal(t, "", m["leader_id"])
	lead, err := e.mem.NewElector("n2", 10*time.Second).Campaign(e.ctx)
	require.NoError(t, err)
	t.Cleanup(func() { _ = lead.Resign(context.Background()) })
	r := e.get(viewer, "/nodes").status(http.StatusOK)
	nodes := r.items()
	require.Len(t, nodes, 2)
	for _, n := range nodes {
		requireKeys(t, n, "id", "address", "leader")
	}
	require.Equal(t, []any{"n1", false, "n2", true}, []any{nodes[0]["id"], nodes[0]["leader"], nodes[1]["id"], nodes[1]["leader"]})
	require.Equal(t, "http://n1:8002", nodes[0]["address"])
	require.Equal(t, "n2", r.obj()["leader_id"])
}

func TestStats(t *testing.T) {
	e := newEnv(t)
	id := e.createJob(func(m map[string]any) { m["retry"] = map[string]any{"max_attempts": 1} })
	f := e.trigger(id)
	e.move(runID(f, 0), "w1", domain.RunFailed)
	e.trigger(id)
	m := e.get(viewer, "/stats").status(http.StatusOK).obj()
	requireKeys(t, m, "hourly", "daily", "generated_at", "timezone", "truncated", "scanned")
	hourly, daily := m["hourly"].([]any), m["daily"].([]any)
	require.Len(t, hourly, 24)
	require.Len(t, daily, 30)
	last := hourly[23].(map[string]any)
	require.Equal(t, "2026-11-26T16:00:00Z", last["start"])
	counts := last["counts"].(map[string]any)
	require.Len(t, counts, len(domain.AllRunStates))
	require.Equal(t, float64(1), counts["failed"])
	require.Equal(t, float64(1), counts["pending"])
	require.Equal(t, float64(2), last["total"])
	require.Equal(t, float64(2), daily[29].(map[string]any)["total"])
	require.Equal(t, false, m["truncated"])

	berlin := e.get(viewer, "/stats?tz=Europe/Berlin").status(http.StatusOK).obj()
	require.Equal(t, "Europe/Berlin", berlin["timezone"])
	require.Equal(t, "2026-11-26T17:00:00+01:00", berlin["hourly"].([]any)[23].(map[string]any)["start"])
	e.get(viewer, "/stats?tz=Nowhere/Land").apiErr(http.StatusBadRequest, "invalid", "tz")
}

func TestPaginationWalk(t *testing.T) {
	e := newEnv(t)
	want := map[string]bool{}
	for range 23 {
		want[e.createJob()] = true
	}
	walk := func(path string, limit int) []string {
		var got []string
		cursor := ""
		for pages := 0; ; pages++ {
			require.Less(t, pages, 50)
			u := fmt.Sprintf("%s%slimit=%d", path, sep(path), limit)
			if cursor != "" {
				u += "&cursor=" + url.QueryEscape(cursor)
			}
			r := e.get(admin, u).status(http.StatusOK)
			items := r.items()
			require.LessOrEqual(t, len(items), limit)
			for _, it := range items {
				got = append(got, it["id"].(string))
			}
			cursor = r.obj()["next_cursor"].(string)
			if cursor == "" {
				return got
			}
		}
	}
	jobs := walk("/jobs", 10)
	require.Len(t, jobs, 23)
	for _, id := range jobs {
		require.True(t, want[id])
	}
	// Runs and pending fires: 23 fires of one run each.
	var fires []string
	for id := range want {
		e.clk.Advance(time.Millisecond)
		fires = append(fires, e.trigger(id)["id"].(string))
	}
	require.Len(t, walk("/runs", 7), 23)
	require.Len(t, walk("/fires", 5), 23)
	pending := walk("/fires?status=pending", 4)
	require.ElementsMatch(t, fires, pending)
	require.Len(t, walk("/audit", 9), len(e.audit(ports.AuditFilter{PageRequest: ports.PageRequest{Limit: 1000}})))

	for _, q := range []string{"0", "1001", "ten", "-5", "1.5"} {
		e.get(viewer, "/jobs?limit="+q).apiErr(http.StatusBadRequest, "invalid", "limit")
	}
	for _, path := range []string{"/jobs", "/runs", "/fires", "/fires?status=pending", "/groups", "/workers", "/nodes", "/users", "/tokens", "/audit"} {
		e.get(admin, path+sep(path)+"cursor=bm9wZQ").apiErr(http.StatusBadRequest, "invalid", "cursor")
	}
	e.get(viewer, "/jobs?cursor="+strings.Repeat("a", 3000)).apiErr(http.StatusBadRequest, "invalid", "cursor")
}

func sep(path string) string {
	if strings.Contains(path, "?") {
		return "&"
	}
	return "?"
}
