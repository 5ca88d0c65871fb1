package api_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pink-scheduler/pink/domain"
	"github.com/pink-scheduler/pink/ports"
)

// route is an operation of the document, with its path parameters filled.
type routeCase struct {
	method, path, role string // role: "" for public routes
}

func routeCases(t *testing.T, e *env) []routeCase {
	t.Helper()
	var out []routeCase
	for key, op := range operations(t, e.openAPIDoc()) {
		method, path, _ := strings.Cut(key, " ")
		for _, p := range []string{"{id}", "{name}"} {
			path = strings.ReplaceAll(path, p, "nosuch")
		}
		role, _ := op["x-pink-role"].(string)
		out = append(out, routeCase{method, path, role})
	}
	return out
}

var rank = map[string]int{viewer: 1, operator: 2, admin: 3}
var roleRank = map[string]int{"viewer": 1, "operator": 2, "admin": 3}

func TestEveryRouteNeedsCredentials(t *testing.T) {
	e := newEnv(t)
	public := 0
	for _, rc := range routeCases(t, e) {
		r := e.send(req{method: rc.method, path: rc.path})
		if rc.role == "" {
			public++
			require.NotEqual(t, http.StatusUnauthorized, r.Code, "%s %s is public", rc.method, rc.path)
			continue
		}
		r.apiErr(http.StatusUnauthorized, "unauthenticated", "")
		require.Equal(t, `Bearer realm="pink"`, r.Header().Get("WWW-Authenticate"))

		bad := e.send(req{method: rc.method, path: rc.path, header: map[string]string{"Authorization": "Bearer pink_api_" + strings.Repeat("a", 52)}})
		bad.apiErr(http.StatusUnauthorized, "unauthenticated", "")
		basic := e.send(req{method: rc.method, path: rc.path, header: map[string]string{"Authorization": "Basic YWRtaW46YWRtaW4="}})
		basic.apiErr(http.StatusUnauthorized, "unauthenticated", "")
	}
	require.Equal(t, 3, public, "openapi.json, login and logout")
}

func TestEachRoleIsAllowedOrForbiddenAsSpecified(t *testing.T) {
	e := newEnv(t)
	for _, rc := range routeCases(t, e) {
		if rc.role == "" {
			continue
		}
		for _, who := range []string{viewer, operator, admin} {
			r := e.send(req{method: rc.method, path: rc.path, as: who})
			if rank[who] < roleRank[rc.role] {
				r.apiErr(http.StatusForbidden, "forbidden", "")
			} else {
				require.NotContains(t, []int{http.StatusUnauthorized, http.StatusForbidden}, r.Code,
					"%s may %s %s: %s", who, rc.method, rc.path, r.Body.String())
			}
		}
		// A worker token admits workers to the worker API, nothing here.
		e.send(req{method: rc.method, path: rc.path, as: worker}).apiErr(http.StatusForbidden, "forbidden", "")
	}
}

func TestTheRolesOfTheIssue(t *testing.T) {
	e := newEnv(t)
	id := e.createJob()
	// viewer: read only.
	e.get(viewer, "/jobs/"+id).status(http.StatusOK)
	e.post(viewer, "/jobs/"+id+"/pause", nil).apiErr(http.StatusForbidden, "forbidden", "")
	e.post(viewer, "/jobs/"+id+"/trigger", nil).apiErr(http.StatusForbidden, "forbidden", "")
	// operator: trigger, pause, resume, cancel; not create, edit, delete.
	e.post(operator, "/jobs/"+id+"/pause", nil).status(http.StatusOK)
	e.post(operator, "/jobs/"+id+"/resume", nil).status(http.StatusOK)
	fire := e.post(operator, "/jobs/"+id+"/trigger", nil).status(http.StatusCreated).obj()
	run := fire["run_ids"].([]any)[0].(string)
	e.post(operator, "/runs/"+run+"/cancel", nil).status(http.StatusOK)
	e.post(operator, "/jobs", job()).apiErr(http.StatusForbidden, "forbidden", "")
	e.put(operator, "/jobs/"+id, job()).apiErr(http.StatusForbidden, "forbidden", "")
	e.del(operator, "/jobs/"+id).apiErr(http.StatusForbidden, "forbidden", "")
	e.del(operator, "/runs/"+run).apiErr(http.StatusForbidden, "forbidden", "")
	e.get(operator, "/users").apiErr(http.StatusForbidden, "forbidden", "")
	e.get(operator, "/audit").apiErr(http.StatusForbidden, "forbidden", "")
	// admin: everything.
	e.del(admin, "/runs/"+run).status(http.StatusNoContent)
	e.del(admin, "/jobs/"+id).status(http.StatusNoContent)
}

func TestDeniedAttemptsAreAudited(t *testing.T) {
	e := newEnv(t)
	id := e.createJob()
	e.post(viewer, "/jobs/"+id+"/trigger", nil).status(http.StatusForbidden)
	e.post(anon, "/jobs/"+id+"/pause", nil).status(http.StatusUnauthorized)
	e.get(viewer, "/users").status(http.StatusForbidden)
	e.get(worker, "/jobs").status(http.StatusForbidden)
	e.send(req{method: http.MethodGet, path: "/jobs", header: map[string]string{"Authorization": "Bearer wrong"}}).status(http.StatusUnauthorized)

	denied := e.audit(ports.AuditFilter{Result: domain.AuditDenied})
	var got []string
	for _, d := range denied {
		require.NotEmpty(t, d.Detail)
		actor := d.Actor
		if strings.HasPrefix(actor, "token:") {
			actor = "token:<id>"
		}
		got = append(got, d.Action+" by "+actor)
	}
	require.ElementsMatch(t, []string{
		"job.trigger by " + viewer, "job.pause by anonymous", "user.list by " + viewer,
		"job.list by token:<id>", "job.list by anonymous",
	}, got)
	trig := e.audit(ports.AuditFilter{Action: "job.trigger"})[0]
	require.Equal(t, "job/"+id, trig.Target)

	// A read without any credential is refused but not written down: it
	// tried nobody's identity, and must not turn into a store write.
	before := len(e.audit(ports.AuditFilter{}))
	e.get(anon, "/jobs").status(http.StatusUnauthorized)
	require.Len(t, e.audit(ports.AuditFilter{}), before)
}

func TestStateChangesAreAudited(t *testing.T) {
	e := newEnv(t)
	id := e.createJob()
	e.clk.Advance(time.Millisecond) // audit entries sort by time
	e.post(operator, "/jobs/"+id+"/pause", nil).status(http.StatusOK)
	e.clk.Advance(time.Millisecond)
	e.put(admin, "/jobs/"+id, job(func(m map[string]any) { m["schedule"] = "bad" })).status(http.StatusBadRequest)
	e.clk.Advance(time.Millisecond)
	e.del(admin, "/jobs/"+id).status(http.StatusNoContent)
	e.get(admin, "/jobs").status(http.StatusOK) // reads are not audited

	entries := e.audit(ports.AuditFilter{Action: "job."})
	var got []string
	for _, x := range entries {
		got = append(got, x.Action+" "+x.Actor+" "+x.Target+" "+string(x.Result))
	}
	require.Equal(t, []string{
		"job.delete admin job/" + id + " ok",
		"job.update admin job/" + id + " error",
		"job.pause olivia job/" + id + " ok",
		"job.create admin job/" + id + " ok",
	}, got)
	require.Equal(t, "tests", func() string {
		tok, err := e.auth.GetToken(e.ctx, entries[0].TokenID)
		require.NoError(t, err)
		return tok.Name
	}(), "the entry names the token used")
}

func TestDevModeActsAsAdminDev(t *testing.T) {
	e := newEnv(t, dev)
	me := e.get(anon, "/auth/me").status(http.StatusOK).obj()
	require.Equal(t, "dev", me["user"])
	require.Equal(t, "admin", me["role"])
	require.Equal(t, "dev", me["via"])
	id := e.createJobAs(anon)
	e.get(anon, "/users").status(http.StatusOK)
	entry := e.audit(ports.AuditFilter{Action: domain.AuditJobCreate})[0]
	require.Equal(t, "dev", entry.Actor)
	require.Equal(t, "job/"+id, entry.Target)
	// Dev mode has no credentials, so every browser request is checked for
	// its origin.
	e.send(req{method: http.MethodPost, path: "/jobs/" + id + "/pause",
		header: map[string]string{"Sec-Fetch-Site": "cross-site"}}).apiErr(http.StatusForbidden, "cross_origin", "")
}

func (e *env) createJobAs(who string) string {
	e.t.Helper()
	return e.post(who, "/jobs", job()).status(http.StatusCreated).obj()["id"].(string)
}
