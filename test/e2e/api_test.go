package e2e

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// call sends a JSON request and returns the status and decoded body.
func call(t *testing.T, c *http.Client, method, url string, body any) (int, map[string]any) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		require.NoError(t, err)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, url, rd)
	require.NoError(t, err)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	var out map[string]any
	if len(raw) > 0 && strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		require.NoError(t, json.Unmarshal(raw, &out), string(raw))
	}
	return resp.StatusCode, out
}

// TestAPIAndConsoleOnARealNode drives a pink-node process through its REST
// API and console: closed by default, open after login.
func TestAPIAndConsoleOnARealNode(t *testing.T) {
	n := startNode(t, "--node-id", "secure-node") // not dev: login required
	base := "http://" + n.httpAddr
	anon := &http.Client{Timeout: 10 * time.Second}

	status, body := call(t, anon, http.MethodGet, base+"/api/v1/jobs", nil)
	require.Equal(t, http.StatusUnauthorized, status, body)
	resp, err := anon.Get(base + "/")
	require.NoError(t, err)
	resp.Body.Close()
	require.Contains(t, resp.Request.URL.Path, "/login", "the console sends strangers to the login page")

	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	c := &http.Client{Timeout: 10 * time.Second, Jar: jar}
	status, body = call(t, c, http.MethodPost, base+"/api/v1/auth/login", map[string]any{"username": "admin", "password": "wrong password!!"})
	require.Equal(t, http.StatusUnauthorized, status, body)
	status, body = call(t, c, http.MethodPost, base+"/api/v1/auth/login", map[string]any{"username": "admin", "password": adminPassword})
	require.Equal(t, http.StatusOK, status, body)

	// A cookie-authenticated write must come from the same origin.
	req, _ := http.NewRequest(http.MethodPost, base+"/api/v1/groups", strings.NewReader(`{"name":"api-e2e"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Origin", "https://evil.example")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	resp, err = c.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusForbidden, resp.StatusCode, "cross-origin write refused")

	status, body = call(t, c, http.MethodPost, base+"/api/v1/groups", map[string]any{"name": "api-e2e", "description": "from the e2e test"})
	require.Equal(t, http.StatusCreated, status, body)
	status, body = call(t, c, http.MethodPost, base+"/api/v1/jobs", map[string]any{"group": "api-e2e", "name": "bad", "schedule": "61 * * * *", "handler": "shell"})
	require.Equal(t, http.StatusBadRequest, status, body)
	require.Equal(t, "schedule", body["error"].(map[string]any)["field"])

	status, body = call(t, c, http.MethodPost, base+"/api/v1/jobs", map[string]any{
		"group": "api-e2e", "name": "nightly", "schedule": "0 30 2 * * *", "timezone": "Europe/Berlin",
		"handler": "shell", "params": map[string]any{"command": []string{"true"}},
		"misfire": map[string]any{"policy": "fire_once", "window": "10m"}, "overlap": "forbid",
		"retry": map[string]any{"max_attempts": 3, "backoff": "1s"}, "timeout": "30s", "route": "round_robin", "shards": 1,
	})
	require.Equal(t, http.StatusCreated, status, body)
	id := body["id"].(string)
	status, body = call(t, c, http.MethodGet, base+"/api/v1/jobs/"+id+"/plan?count=3", nil)
	require.Equal(t, http.StatusOK, status, body)
	next := body["next"].([]any)
	require.Len(t, next, 3)
	require.Regexp(t, `T0[23]:[03]0:00\+0[12]:00$`, next[0], "02:30 in Berlin, with the zone's offset")

	status, body = call(t, c, http.MethodGet, base+"/api/v1/nodes", nil)
	require.Equal(t, http.StatusOK, status, body)
	items := body["items"].([]any)
	require.Len(t, items, 1)
	require.Equal(t, true, items[0].(map[string]any)["leader"])

	resp, err = c.Get(base + "/jobs")
	require.NoError(t, err)
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Contains(t, string(page), "nightly", "the console lists the job created through the API")
}

// TestStatelessAPIServer: pink-api serves the same data as the node it
// shares etcd with, behind the same login, and schedules nothing itself.
func TestStatelessAPIServer(t *testing.T) {
	n := startNode(t, "--node-id", "the-scheduler")
	addr := "127.0.0.1:" + itoa(freePort(t))
	start(t, "pink-api", "--etcd", n.etcdURL, "--http", addr)
	base := "http://" + addr
	require.Eventually(t, func() bool {
		var rd struct{ Ready bool }
		return getJSON(addr, "/readyz", &rd) == nil && rd.Ready
	}, 30*time.Second, 50*time.Millisecond, "pink-api ready")

	anon := &http.Client{Timeout: 10 * time.Second}
	status, _ := call(t, anon, http.MethodGet, base+"/api/v1/nodes", nil)
	require.Equal(t, http.StatusUnauthorized, status, "closed by default")

	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	c := &http.Client{Timeout: 10 * time.Second, Jar: jar}
	status, body := call(t, c, http.MethodPost, base+"/api/v1/auth/login", map[string]any{"username": "admin", "password": adminPassword})
	require.Equal(t, http.StatusOK, status, body)
	status, body = call(t, c, http.MethodGet, base+"/api/v1/nodes", nil)
	require.Equal(t, http.StatusOK, status, body)
	items := body["items"].([]any)
	require.Len(t, items, 1, "pink-api is not a scheduler node")
	require.Equal(t, "the-scheduler", items[0].(map[string]any)["id"])
	require.Equal(t, true, items[0].(map[string]any)["leader"])
}

func itoa(n int) string { return strconv.Itoa(n) }
