package api_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/pink-scheduler/pink/domain"
	"github.com/pink-scheduler/pink/ports"
)

func TestUsers(t *testing.T) {
	e := newEnv(t)
	u := e.post(admin, "/users", map[string]any{"name": "alice", "role": "viewer", "password": "alice's long passphrase"}).
		status(http.StatusCreated).obj()
	require.Equal(t, []string{"created_at", "disabled", "name", "role", "updated_at"}, keys(u), "never the hash")
	e.post(admin, "/users", map[string]any{"name": "alice", "role": "viewer", "password": "alice's long passphrase"}).
		apiErr(http.StatusConflict, "already_exists", "")
	e.post(admin, "/users", map[string]any{"name": "bob", "role": "root", "password": "bob's long passphrase"}).
		apiErr(http.StatusBadRequest, "invalid", "role")
	e.post(admin, "/users", map[string]any{"name": "bob", "role": "viewer", "password": "short"}).
		apiErr(http.StatusBadRequest, "invalid", "password")
	e.post(admin, "/users", map[string]any{"name": "system", "role": "viewer", "password": "bob's long passphrase"}).
		apiErr(http.StatusBadRequest, "invalid", "name")
	require.NotContains(t, e.audit(ports.AuditFilter{Action: domain.AuditUserCreate})[0].Detail, "passphrase")

	var names []string
	for _, it := range e.get(admin, "/users").status(http.StatusOK).items() {
		names = append(names, it["name"].(string))
		require.NotContains(t, it, "password_hash")
	}
	require.Equal(t, []string{admin, "alice", operator, viewer}, names)
	require.Equal(t, "alice", e.get(admin, "/users/alice").status(http.StatusOK).obj()["name"])
	e.get(admin, "/users/nobody").apiErr(http.StatusNotFound, "not_found", "")

	require.Equal(t, "operator", e.put(admin, "/users/alice/role", map[string]any{"role": "operator"}).status(http.StatusOK).obj()["role"])
	e.put(admin, "/users/alice/role", map[string]any{"role": "god"}).apiErr(http.StatusBadRequest, "invalid", "role")
	e.put(admin, "/users/nobody/role", map[string]any{"role": "viewer"}).apiErr(http.StatusNotFound, "not_found", "")
	e.put(admin, "/users/admin/role", map[string]any{"role": "viewer"}).apiErr(http.StatusConflict, "conflict", "")

	e.put(admin, "/users/alice/password", map[string]any{"password": "a new long passphrase"}).status(http.StatusNoContent)
	e.put(admin, "/users/alice/password", map[string]any{"password": "x"}).apiErr(http.StatusBadRequest, "invalid", "password")
	e.put(admin, "/users/nobody/password", map[string]any{"password": "a new long passphrase"}).apiErr(http.StatusNotFound, "not_found", "")
	e.login("alice", "a new long passphrase", nil).status(http.StatusOK)

	require.Equal(t, true, e.post(admin, "/users/alice/disable", nil).status(http.StatusOK).obj()["disabled"])
	e.login("alice", "a new long passphrase", nil).status(http.StatusUnauthorized)
	require.Equal(t, false, e.post(admin, "/users/alice/enable", nil).status(http.StatusOK).obj()["disabled"])
	e.post(admin, "/users/admin/disable", nil).apiErr(http.StatusConflict, "conflict", "")
	e.post(admin, "/users/nobody/enable", nil).apiErr(http.StatusNotFound, "not_found", "")

	e.del(admin, "/users/alice").status(http.StatusNoContent)
	e.del(admin, "/users/alice").apiErr(http.StatusNotFound, "not_found", "")
	e.del(admin, "/users/admin").apiErr(http.StatusConflict, "conflict", "")

	var got []string
	for _, x := range e.audit(ports.AuditFilter{Target: "user/alice"}) {
		got = append(got, x.Action+":"+string(x.Result))
	}
	require.Contains(t, got, "user.delete:ok")
	require.Contains(t, got, "user.update:ok")
}

func TestAPITokens(t *testing.T) {
	e := newEnv(t)
	created := e.post(viewer, "/tokens", map[string]any{"name": "ci", "ttl": "720h"}).status(http.StatusCreated).obj()
	secret := created["secret"].(string)
	require.True(t, strings.HasPrefix(secret, "pink_api_"))
	require.Equal(t, viewer, created["owner"])
	require.Equal(t, "2026-12-26T16:43:00Z", created["expires_at"])
	id := created["id"].(string)

	// The secret works, once shown; it is never listed.
	e.tokens["ci"] = secret
	require.Equal(t, viewer, e.get("ci", "/auth/me").status(http.StatusOK).obj()["user"])
	mine := e.get(viewer, "/tokens").status(http.StatusOK)
	require.NotContains(t, mine.Body.String(), secret)
	require.NotContains(t, mine.Body.String(), "hash")
	require.Len(t, mine.items(), 2, "the test token and ci")

	e.post(viewer, "/tokens", map[string]any{"name": ""}).apiErr(http.StatusBadRequest, "invalid", "name")
	e.post(viewer, "/tokens", map[string]any{"name": "x", "ttl": "soon"}).apiErr(http.StatusBadRequest, "invalid", "ttl")
	e.post(viewer, "/tokens", map[string]any{"name": "x", "ttl": "-1h"}).apiErr(http.StatusBadRequest, "invalid", "ttl")
	// Others' tokens are the admins'.
	e.post(viewer, "/tokens", map[string]any{"name": "x", "owner": operator}).apiErr(http.StatusForbidden, "forbidden", "")
	e.get(viewer, "/tokens?owner="+operator).apiErr(http.StatusForbidden, "forbidden", "")
	e.get(viewer, "/tokens?all=true").apiErr(http.StatusForbidden, "forbidden", "")
	e.del(operator, "/tokens/"+id).apiErr(http.StatusForbidden, "forbidden", "")
	require.Equal(t, operator, e.post(admin, "/tokens", map[string]any{"name": "x", "owner": operator}).status(http.StatusCreated).obj()["owner"])
	e.post(admin, "/tokens", map[string]any{"name": "x", "owner": "nobody"}).apiErr(http.StatusBadRequest, "invalid", "owner")
	require.Len(t, e.get(admin, "/tokens?owner="+operator).items(), 2)
	require.Len(t, e.get(admin, "/tokens?all=true").items(), 5)
	e.get(admin, "/tokens?all=true&owner=x").apiErr(http.StatusBadRequest, "invalid", "all")
	e.get(admin, "/tokens?kind=worker").apiErr(http.StatusBadRequest, "invalid", "kind")

	// Sessions are listed and revoked the same way.
	e.login(viewer, userPW, nil).status(http.StatusOK)
	sessions := e.get(viewer, "/tokens?kind=session").items()
	require.Len(t, sessions, 1)
	e.del(viewer, "/tokens/"+sessions[0]["id"].(string)).status(http.StatusNoContent)

	e.del(viewer, "/tokens/"+id).status(http.StatusNoContent)
	e.get("ci", "/auth/me").apiErr(http.StatusUnauthorized, "unauthenticated", "")
	e.del(viewer, "/tokens/"+id).apiErr(http.StatusNotFound, "not_found", "")
	entries := e.audit(ports.AuditFilter{Action: domain.AuditTokenRevoke, Result: domain.AuditOK, Target: "token/" + id})
	require.Len(t, entries, 1)
	require.Equal(t, `api token "ci" of victor`, entries[0].Detail)
}

func TestWorkerTokens(t *testing.T) {
	e := newEnv(t)
	created := e.post(admin, "/worker-tokens", map[string]any{"group": "billing", "name": "host-2"}).status(http.StatusCreated).obj()
	require.True(t, strings.HasPrefix(created["secret"].(string), "pink_worker_"))
	require.Equal(t, "worker", created["kind"])
	require.Equal(t, "billing", created["owner"])
	e.post(admin, "/worker-tokens", map[string]any{"group": "nope", "name": "h"}).apiErr(http.StatusBadRequest, "invalid", "group")
	e.post(admin, "/worker-tokens", map[string]any{"group": "billing"}).apiErr(http.StatusBadRequest, "invalid", "name")
	require.Len(t, e.get(admin, "/worker-tokens?group=billing").status(http.StatusOK).items(), 2)
	require.Len(t, e.get(admin, "/worker-tokens").items(), 2)
	require.Empty(t, e.get(admin, "/worker-tokens?group=etl").items())

	apiTok := e.get(viewer, "/tokens").items()[0]["id"].(string)
	e.del(admin, "/worker-tokens/"+apiTok).apiErr(http.StatusNotFound, "not_found", "")
	e.del(admin, "/worker-tokens/"+created["id"].(string)).status(http.StatusNoContent)
	e.del(admin, "/worker-tokens/"+created["id"].(string)).apiErr(http.StatusNotFound, "not_found", "")
	require.Len(t, e.get(admin, "/worker-tokens").items(), 1)
}

func TestAuditLog(t *testing.T) {
	e := newEnv(t)
	id := e.createJob()
	e.clk.Advance(1e9)
	e.post(operator, "/jobs/"+id+"/trigger", nil).status(http.StatusCreated)
	e.clk.Advance(1e9)
	e.post(viewer, "/jobs/"+id+"/pause", nil).status(http.StatusForbidden)

	all := e.get(admin, "/audit").status(http.StatusOK).items()
	require.Equal(t, "job.pause", all[0]["action"], "newest first")
	require.Equal(t, "denied", all[0]["result"])
	requireKeys(t, all[0], "id", "at", "actor", "action", "target", "detail", "result", "token_id")
	only := func(q string) []map[string]any { return e.get(admin, "/audit?"+q).status(http.StatusOK).items() }
	require.Len(t, only("actor=olivia"), 1)
	require.Len(t, only("action=job."), 3)
	require.Len(t, only("action=job.trigger"), 1)
	require.Len(t, only("target=job/"+id), 3)
	require.Len(t, only("result=denied"), 1)
	require.Len(t, only("from=2026-11-26T16:43:01Z"), 2)
	require.Len(t, only("from=2026-11-26T16:43:01Z&to=2026-11-26T16:43:02Z"), 1)
	e.get(admin, "/audit?result=maybe").apiErr(http.StatusBadRequest, "invalid", "result")
	e.get(admin, "/audit?from=now").apiErr(http.StatusBadRequest, "invalid", "from")
	e.get(admin, "/audit?from=2026-11-27T00:00:00Z&to=2026-11-26T00:00:00Z").apiErr(http.StatusBadRequest, "invalid", "to")
	e.get(admin, "/audit?actor="+strings.Repeat("a", 300)).apiErr(http.StatusBadRequest, "invalid", "actor")
}
