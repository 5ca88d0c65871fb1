package console_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/pink-scheduler/pink/adapters/http/console"
	"github.com/pink-scheduler/pink/domain"
	"github.com/pink-scheduler/pink/ports"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// pagePaths are every page of the console, for env's fixtures (job j1,
// run runID).
func pagePaths(runID string) map[string]string {
	return map[string]string{
		"/":                                  "Runs in the last 24 hours",
		"/jobs":                              "Nightly report",
		"/jobs/new":                          "New job",
		"/jobs/j1":                           "Edit history",
		"/jobs/j1/edit":                      "Save changes",
		"/groups":                            "the test group",
		"/workers":                           "host-1",
		"/nodes":                             "node-1",
		"/pending":                           "Nightly report",
		"/runs":                              "Nightly report",
		"/runs/" + runID:                     "Output",
		"/audit":                             "user.login",
		"/users":                             "operator",
		"/tokens":                            "API tokens",
		"/jobs?q=nightly":                    "Nightly report",
		"/runs?state=pending&group=g&job=j1": "Nightly report",
	}
}

func TestEveryPageRendersForAdmin(t *testing.T) {
	e := newEnv(t)
	e.lead()
	e.worker()
	run := e.trigger()
	c := e.admin()
	for path, want := range pagePaths(run.ID) {
		resp := c.get(path)
		require.Equal(t, http.StatusOK, resp.status, "%s: %s", path, resp.body)
		require.Contains(t, resp.body, want, path)
		require.Equal(t, "text/html; charset=utf-8", resp.header.Get("Content-Type"), path)
		require.Contains(t, resp.body, `href="/console/static/console.css"`, path)
		require.Contains(t, resp.body, `>admin <span class="role">admin</span>`, path)
		require.NotContains(t, resp.body, "DEV MODE", path)
	}
}

func TestDashboardShowsLeaderWorkersJobsAndChart(t *testing.T) {
	e := newEnv(t)
	e.lead()
	e.worker()
	e.trigger()
	_, err := e.jobs.PauseJob(e.ctx, "j1")
	require.NoError(t, err)
	body := e.admin().get("/").body
	require.Contains(t, body, `<span class="card-value mono">node-1</span>`)
	require.Regexp(t, `Workers online</span>\s*<span class="card-value">1</span>`, body)
	require.Regexp(t, `Jobs active</span>\s*<span class="card-value">0</span>`, body)
	require.Regexp(t, `Jobs paused</span>\s*<span class="card-value">1</span>`, body)
	require.Contains(t, body, `<svg viewBox="0 0 720 190" role="img"`)
	require.Contains(t, body, "1 pending")
	require.Contains(t, body, "No failed runs.")
}

func TestEmptyStatesTellWhatToDo(t *testing.T) {
	e := newEnv(t)
	_, err := e.jobs.DeleteJob(e.ctx, "j1")
	require.NoError(t, err)
	c := e.admin()
	require.Contains(t, c.get("/jobs").body, `No jobs yet — <a href="/jobs/new">create one</a>`)
	require.Contains(t, c.get("/runs").body, "No runs yet")
	require.Contains(t, c.get("/pending").body, "Nothing is waiting")
	require.Contains(t, c.get("/workers").body, "pink-worker --group g")
	require.NoError(t, e.jobs.DeleteGroup(e.ctx, "g"))
	require.Contains(t, c.get("/").body, "Get started")
	require.Contains(t, c.get("/groups").body, "No groups yet")
	require.Contains(t, c.get("/jobs/new").body, "create a group</a> first")
}

// writeForms are the state-changing routes, with a valid form each.
func writeForms(runID string) map[string]url.Values {
	return map[string]url.Values{
		"/jobs/new":                  {"group": {"g"}, "name": {"x"}, "schedule": {"@daily"}, "handler": {"echo"}},
		"/jobs/j1/edit":              {"group": {"g"}, "name": {"x"}, "schedule": {"@daily"}, "handler": {"echo"}},
		"/jobs/j1/pause":             {},
		"/jobs/j1/resume":            {},
		"/jobs/j1/trigger":           {},
		"/jobs/j1/delete":            {},
		"/groups":                    {"name": {"g2"}},
		"/groups/g/delete":           {},
		"/runs/" + runID + "/cancel": {},
		"/runs/" + runID + "/delete": {},
		"/fires/" + strings.TrimSuffix(runID, "~0") + "/cancel": {},
		"/users":                   {"name": {"bob"}, "role": {"viewer"}, "password": {"bob-password-123"}},
		"/users/operator/role":     {"role": {"admin"}},
		"/users/operator/disable":  {},
		"/users/operator/enable":   {},
		"/users/operator/password": {"password": {"another-password-1"}},
		"/users/operator/delete":   {},
		"/tokens":                  {"kind": {"api"}, "owner": {"viewer"}, "name": {"ci"}},
		"/tokens/nope/revoke":      {},
	}
}

// operateRoutes are those an operator may use.
var operateRoutes = map[string]bool{"/jobs/j1/pause": true, "/jobs/j1/resume": true, "/jobs/j1/trigger": true}

func TestViewerSeesNoWriteButtonsAndEveryPostIsForbidden(t *testing.T) {
	e := newEnv(t)
	e.lead()
	e.worker()
	run := e.trigger()
	c := e.viewer()
	for _, path := range []string{"/jobs", "/jobs/j1", "/groups", "/runs/" + run.ID, "/pending", "/"} {
		body := c.get(path).body
		for _, button := range []string{">Pause<", ">Resume<", ">Trigger", ">Edit<", ">Delete<", ">New job<", "Create group", "Cancel run", ">Cancel<", `action="/users`, `href="/audit"`} {
			require.NotContains(t, body, button, "%s shows %s to a viewer", path, button)
		}
	}
	for _, path := range []string{"/jobs/new", "/jobs/j1/edit", "/audit", "/users", "/tokens"} {
		resp := c.get(path)
		require.Equal(t, http.StatusForbidden, resp.status, path)
		require.Contains(t, resp.body, "Your role (viewer) does not allow this.", path)
	}
	for path, form := range writeForms(run.ID) {
		resp := c.post(path, form)
		require.Equal(t, http.StatusForbidden, resp.status, path)
		require.Contains(t, resp.body, "Not allowed", path)
	}
	j, err := e.jobs.GetJob(e.ctx, "j1")
	require.NoError(t, err)
	require.Equal(t, e.job.Version, j.Version, "nothing changed")
	denied, err := e.auth.ListAudit(e.ctx, ports.AuditFilter{Actor: "viewer", Result: domain.AuditDenied})
	require.NoError(t, err)
	require.Len(t, denied.Items, len(writeForms(run.ID)), "every refused change is audited")
	got := map[string]bool{}
	for _, a := range denied.Items {
		got[a.Action+" "+a.Target] = true
	}
	for _, want := range []string{"job.pause job/j1", "job.create ", "group.delete group/g", "run.cancel run/" + run.ID,
		"user.update user/operator", "token.revoke token/nope"} {
		require.True(t, got[want], "denied %q is audited like the API does: %v", want, got)
	}
}

func TestOperatorOperatesButDoesNotWrite(t *testing.T) {
	e := newEnv(t)
	run := e.trigger()
	c := e.operator()
	body := c.get("/jobs").body
	require.Contains(t, body, ">Pause<")
	require.Contains(t, body, ">Trigger<")
	require.NotContains(t, body, ">New job<")
	detail := c.get("/jobs/j1").body
	require.NotContains(t, detail, ">Edit<")
	require.Contains(t, c.get("/runs/"+run.ID).body, "Cancel run")
	for path, form := range writeForms(run.ID) {
		if operateRoutes[path] || strings.HasSuffix(path, "/cancel") {
			continue
		}
		require.Equal(t, http.StatusForbidden, c.post(path, form).status, path)
	}
	for path := range operateRoutes {
		resp := c.post(path, url.Values{})
		require.Equal(t, http.StatusSeeOther, resp.status, "%s: %s", path, resp.body)
	}
	require.Equal(t, http.StatusSeeOther, c.post("/runs/"+run.ID+"/cancel", url.Values{}).status)
}

func TestUnauthenticatedGoesToLogin(t *testing.T) {
	e := newEnv(t)
	c := e.client()
	resp := c.get("/jobs?group=g")
	require.Equal(t, http.StatusSeeOther, resp.status)
	require.Equal(t, "/login?next=%2Fjobs%3Fgroup%3Dg", resp.header.Get("Location"))
	resp = c.get("/")
	require.Equal(t, "/login", resp.header.Get("Location"))
	resp = c.post("/jobs/j1/pause", url.Values{})
	require.Equal(t, http.StatusSeeOther, resp.status)
	require.Equal(t, "/login", resp.header.Get("Location"))
	resp = c.get("/console/preview?expr=@daily")
	require.Equal(t, http.StatusUnauthorized, resp.status)
	require.JSONEq(t, `{"error":{"code":"unauthenticated","message":"log in first"}}`, resp.body)
	// A bogus cookie is no better, and is cleared.
	u, _ := url.Parse(e.srv.URL)
	c.c.Jar.SetCookies(u, []*http.Cookie{{Name: console.SessionCookie, Value: "pink_session_nope"}})
	resp = c.get("/jobs")
	require.Equal(t, http.StatusSeeOther, resp.status)
	require.Contains(t, resp.header.Get("Set-Cookie"), console.SessionCookie+"=;")
	// The login page itself needs no session.
	resp = c.get("/login?next=/jobs")
	require.Equal(t, http.StatusOK, resp.status)
	require.Contains(t, resp.body, `name="next" value="/jobs"`)
	j, err := e.jobs.GetJob(e.ctx, "j1")
	require.NoError(t, err)
	require.Equal(t, domain.JobActive, j.State)
}

func TestLoginSetsASafeCookieAndLogoutEndsTheSession(t *testing.T) {
	e := newEnv(t)
	c := e.client()
	resp := c.post("/login", url.Values{"username": {"admin"}, "password": {adminPassword}, "next": {"/jobs?group=g"}})
	require.Equal(t, http.StatusSeeOther, resp.status)
	require.Equal(t, "/jobs?group=g", resp.header.Get("Location"))
	ck := resp.header.Get("Set-Cookie")
	require.Regexp(t, `^pink_session=pink_session_[a-z2-7]{52}; Path=/; Max-Age=43200; HttpOnly; SameSite=Lax$`, ck, "not Secure over plain HTTP")
	secret := strings.TrimPrefix(strings.SplitN(ck, ";", 2)[0], "pink_session=")
	p, err := e.auth.Authenticate(e.ctx, secret)
	require.NoError(t, err)
	require.Equal(t, "admin", p.User)
	require.Equal(t, http.StatusOK, c.get("/jobs").status)

	resp = c.post("/logout", url.Values{})
	require.Equal(t, http.StatusSeeOther, resp.status)
	require.Equal(t, "/login?out=1", resp.header.Get("Location"))
	require.Contains(t, c.follow(resp).body, "You have been logged out.")
	_, err = e.auth.Authenticate(e.ctx, secret)
	require.ErrorIs(t, err, domain.ErrUnauthenticated, "the session is revoked, not just forgotten")
	require.Equal(t, http.StatusSeeOther, c.get("/jobs").status)
	actions := []string{}
	for _, a := range e.auditFor("user/admin") {
		actions = append(actions, a.Action)
	}
	require.ElementsMatch(t, []string{"user.logout", "user.login", "user.create"}, actions, "entries of one millisecond have no order")
}

func TestLoginRefusesOpenRedirects(t *testing.T) {
	e := newEnv(t)
	for _, next := range []string{"//evil.example/x", "https://evil.example/", "/\\evil.example", "javascript:alert(1)", ""} {
		resp := e.client().post("/login", url.Values{"username": {"admin"}, "password": {adminPassword}, "next": {next}})
		require.Equal(t, "/", resp.header.Get("Location"), next)
	}
}

func TestLoginIsRateLimitedPerUserAndAddress(t *testing.T) {
	e := newEnv(t)
	c := e.client()
	for range 3 {
		resp := c.post("/login", url.Values{"username": {"admin"}, "password": {"wrong-password-xx"}})
		require.Equal(t, http.StatusUnauthorized, resp.status)
		require.Contains(t, resp.body, "Wrong user name or password.")
	}
	resp := c.post("/login", url.Values{"username": {"admin"}, "password": {adminPassword}})
	require.Equal(t, http.StatusTooManyRequests, resp.status, "even the right password waits")
	require.Contains(t, resp.body, "Too many failed attempts. Try again in 1m0s.")
	require.Equal(t, "60", resp.header.Get("Retry-After"))
	require.Empty(t, resp.header.Values("Set-Cookie"))
	resp = c.post("/login", url.Values{"username": {"viewer"}, "password": {viewerPassword}})
	require.Equal(t, http.StatusTooManyRequests, resp.status, "the address is locked too")
	denied := e.auditFor("user/admin")
	require.Equal(t, domain.AuditDenied, denied[0].Result)
	require.Equal(t, "anonymous", denied[0].Actor)
}

func TestCrossOriginPostsAreRefused(t *testing.T) {
	e := newEnv(t)
	c := e.admin()
	for _, h := range [][]string{
		{"Sec-Fetch-Site", "cross-site"},
		{"Origin", "http://evil.example"},
	} {
		resp := c.post("/groups", url.Values{"name": {"evil"}}, h...)
		require.Equal(t, http.StatusForbidden, resp.status, h)
		require.Contains(t, resp.body, "Cross-origin request refused", h)
		resp = c.post("/jobs/j1/pause", url.Values{}, h...)
		require.Equal(t, http.StatusForbidden, resp.status, h)
	}
	_, err := e.mem.GetGroup(e.ctx, "evil")
	require.ErrorIs(t, err, domain.ErrNotFound)
	j, err := e.jobs.GetJob(e.ctx, "j1")
	require.NoError(t, err)
	require.Equal(t, domain.JobActive, j.State)
	// The same post from the console's own origin goes through.
	resp := c.post("/groups", url.Values{"name": {"good"}}, "Sec-Fetch-Site", "same-origin", "Origin", e.srv.URL)
	require.Equal(t, http.StatusSeeOther, resp.status, resp.body)
	// And a login form posted from another site is refused too.
	resp = e.client().post("/login", url.Values{"username": {"admin"}, "password": {adminPassword}}, "Sec-Fetch-Site", "cross-site")
	require.Equal(t, http.StatusForbidden, resp.status)
}

func TestNoStateChangeOnGet(t *testing.T) {
	e := newEnv(t)
	run := e.trigger()
	c := e.admin()
	for path := range writeForms(run.ID) {
		if path == "/jobs/new" || path == "/jobs/j1/edit" || path == "/groups" || path == "/users" || path == "/tokens" {
			continue // pages of their own
		}
		resp := c.get(path)
		require.Contains(t, []int{http.StatusMethodNotAllowed, http.StatusNotFound}, resp.status, path)
	}
	j, err := e.jobs.GetJob(e.ctx, "j1")
	require.NoError(t, err)
	require.Equal(t, e.job.Version, j.Version)
}

func TestSecurityHeaders(t *testing.T) {
	e := newEnv(t)
	c := e.admin()
	for _, path := range []string{"/", "/login", "/jobs", "/nope", "/console/static/console.js", "/console/preview?expr=@daily"} {
		resp := c.get(path)
		require.Equal(t, console.ContentSecurityPolicy, resp.header.Get("Content-Security-Policy"), path)
		require.Equal(t, "nosniff", resp.header.Get("X-Content-Type-Options"), path)
		require.Equal(t, "same-origin", resp.header.Get("Referrer-Policy"), path)
	}
	require.Equal(t, "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
		console.ContentSecurityPolicy)
}

// inlineCode finds what the CSP would block: inline scripts, inline
// styles, event handler attributes and javascript: URLs.
var inlineCode = regexp.MustCompile(`(?i)<script(?:\s[^>]*)?>[^<]|<script>|<style|\sstyle=|\son[a-z]+=|javascript:`)

func TestPagesHaveNoInlineScriptOrStyle(t *testing.T) {
	e := newEnv(t)
	e.lead()
	e.worker()
	run := e.trigger()
	c := e.admin()
	paths := pagePaths(run.ID)
	paths["/login"] = ""
	for path := range paths {
		body := c.get(path).body
		require.NotRegexp(t, inlineCode, body, path)
	}
}

func TestStaticAssets(t *testing.T) {
	e := newEnv(t)
	c := e.client() // no session needed
	for path, ctype := range map[string]string{
		"/console/static/console.css": "text/css; charset=utf-8",
		"/console/static/console.js":  "text/javascript; charset=utf-8",
		"/console/static/pink.svg":    "image/svg+xml",
	} {
		resp := c.get(path)
		require.Equal(t, http.StatusOK, resp.status, path)
		require.Equal(t, ctype, resp.header.Get("Content-Type"), path)
		require.NotEmpty(t, resp.header.Get("ETag"), path)
	}
	require.Equal(t, http.StatusNotFound, c.get("/console/static/").status, "no listing")
	require.Equal(t, http.StatusNotFound, c.get("/console/static/nope.js").status)
}

func TestDevModeNeedsNoLoginAndSaysSo(t *testing.T) {
	e := newEnv(t, withDev)
	c := e.client()
	resp := c.get("/jobs")
	require.Equal(t, http.StatusOK, resp.status)
	require.Contains(t, resp.body, "DEV MODE")
	require.Contains(t, resp.body, `>dev <span class="role">admin</span>`)
	resp = c.post("/jobs/j1/pause", url.Values{})
	require.Equal(t, http.StatusSeeOther, resp.status)
	require.Equal(t, "dev", e.auditFor("job/j1")[0].Actor)
}

func TestNewRequiresEveryDependency(t *testing.T) {
	_, err := console.New(console.Deps{})
	require.ErrorContains(t, err, "are required")
	require.Panics(t, func() { console.Handler(console.Deps{}) })
}

func TestPreviewJSON(t *testing.T) {
	e := newEnv(t)
	c := e.viewer() // a read
	resp := c.get("/console/preview?expr=" + url.QueryEscape("30 2 * * *") + "&tz=Europe/Berlin")
	require.Equal(t, http.StatusOK, resp.status, resp.body)
	var ok struct {
		Next, Display []string
		Zone          string
	}
	require.NoError(t, json.Unmarshal([]byte(resp.body), &ok))
	require.Len(t, ok.Next, 5)
	require.Regexp(t, `^\d{4}-\d\d-\d\dT02:30:00\+0[12]:00$`, ok.Next[0], "in the zone, with its offset")
	require.Regexp(t, `^\w{3} \d{4}-\d\d-\d\d 02:30:00 CES?T$`, ok.Display[0])
	require.Equal(t, "Europe/Berlin", ok.Zone)

	for q, field := range map[string]string{
		"expr=" + url.QueryEscape("61 * * * *"):      "schedule",
		"expr=" + url.QueryEscape("* * * * * * * *"): "schedule",
		"expr=@daily&tz=Mars/Olympus":                "timezone",
		"expr=":                                      "schedule",
		"expr=@daily&count=0":                        "count",
	} {
		resp := c.get("/console/preview?" + q)
		require.Equal(t, http.StatusBadRequest, resp.status, q)
		var bad struct {
			Error struct{ Code, Field, Message string }
		}
		require.NoError(t, json.Unmarshal([]byte(resp.body), &bad), q)
		require.Equal(t, field, bad.Error.Field, q)
		require.NotEmpty(t, bad.Error.Message, q)
	}
}

func TestNotFoundPages(t *testing.T) {
	e := newEnv(t)
	c := e.admin()
	for _, path := range []string{"/jobs/nope", "/jobs/nope/edit", "/runs/nope", "/nope"} {
		resp := c.get(path)
		require.Equal(t, http.StatusNotFound, resp.status, path)
		require.Contains(t, resp.body, "not found", path)
	}
	resp := c.get("/console/runs/nope")
	require.Equal(t, http.StatusNotFound, resp.status)
	require.JSONEq(t, `{"error":{"code":"not_found","message":"no such run"}}`, resp.body)
}

var (
	formControl = regexp.MustCompile(`<(input|select|textarea)\b[^>]*>`)
	attrID      = regexp.MustCompile(`\sid="([^"]+)"`)
)

// TestEveryInputHasALabel checks the forms of every page: each visible
// control has a <label for> (or an aria-label), so screen readers name it.
func TestEveryInputHasALabel(t *testing.T) {
	e := newEnv(t)
	e.lead()
	e.worker()
	run := e.trigger()
	c := e.admin()
	paths := pagePaths(run.ID)
	paths["/login"] = ""
	checked := 0
	for path := range paths {
		body := c.get(path).body
		for _, tag := range formControl.FindAllString(body, -1) {
			if strings.Contains(tag, `type="hidden"`) || strings.Contains(tag, "aria-label=") {
				continue
			}
			m := attrID.FindStringSubmatch(tag)
			require.NotNil(t, m, "%s: %s has no id", path, tag)
			require.Contains(t, body, `<label for="`+m[1]+`"`, "%s: %s has no label", path, tag)
			checked++
		}
	}
	require.Greater(t, checked, 40)
}
