package console_test

import (
	"encoding/json"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pink-scheduler/pink/adapters/http/console"
	"github.com/pink-scheduler/pink/domain"
	"github.com/pink-scheduler/pink/ports"
)

// fullJobForm is a job form with every field set.
func fullJobForm() url.Values {
	return url.Values{
		"group": {"g"}, "id": {"billing-export"}, "name": {"Billing export"}, "description": {"Sends the CSV"},
		"schedule": {"0 15 3 * * 1-5"}, "timezone": {"America/New_York"}, "handler": {"echo"},
		"params": {"{\n  \"to\": \"ops@example.com\"\n}"}, "paused": {"1"},
		"misfire_policy": {"fire_once"}, "misfire_window": {"10m"}, "overlap": {"replace"},
		"retry_max_attempts": {"5"}, "retry_backoff": {"2s"}, "retry_max_backoff": {"30s"},
		"timeout": {"90s"}, "route": {"hash"}, "route_key": {"tenant-1"}, "shards": {"3"},
		"selector": {"zone=a\n\n# comment\ndisk = ssd\n"}, "labels": {"team=billing"},
	}
}

func TestJobFormCreatesAJobWithEveryField(t *testing.T) {
	e := newEnv(t)
	c := e.admin()
	resp := c.post("/jobs/new", fullJobForm())
	require.Equal(t, http.StatusSeeOther, resp.status, resp.body)
	require.Equal(t, "/jobs/billing-export", resp.header.Get("Location"))
	require.Contains(t, c.follow(resp).body, "Job created.")

	j, err := e.jobs.GetJob(e.ctx, "billing-export")
	require.NoError(t, err)
	require.Equal(t, "g", j.Group)
	require.Equal(t, "Billing export", j.Name)
	require.Equal(t, "Sends the CSV", j.Description)
	require.Equal(t, "0 15 3 * * 1-5", j.Schedule)
	require.Equal(t, "America/New_York", j.Timezone)
	require.Equal(t, "echo", j.Handler)
	require.JSONEq(t, `{"to":"ops@example.com"}`, string(j.Params))
	require.Equal(t, domain.JobPaused, j.State)
	require.Equal(t, domain.Misfire{Policy: domain.MisfireFireOnce, Window: domain.Duration(10 * time.Minute)}, j.Misfire)
	require.Equal(t, domain.OverlapReplace, j.Overlap)
	require.Equal(t, domain.Retry{MaxAttempts: 5, Backoff: domain.Duration(2 * time.Second), MaxBackoff: domain.Duration(30 * time.Second)}, j.Retry)
	require.Equal(t, domain.Duration(90*time.Second), j.Timeout)
	require.Equal(t, domain.RouteHash, j.Route)
	require.Equal(t, "tenant-1", j.RouteKey)
	require.Equal(t, 3, j.Shards)
	require.Equal(t, map[string]string{"zone": "a", "disk": "ssd"}, j.Selector)
	require.Equal(t, map[string]string{"team": "billing"}, j.Labels)

	hist := e.auditFor("job/billing-export")
	require.Len(t, hist, 1)
	require.Equal(t, domain.AuditJobCreate, hist[0].Action)
	require.Equal(t, "admin", hist[0].Actor)

	// The edit form shows every value back.
	form := c.get("/jobs/billing-export/edit").body
	for _, want := range []string{`value="0 15 3 * * 1-5"`, `value="America/New_York"`, `value="10m0s"`, `value="5"`,
		`value="1m30s"`, `value="tenant-1"`, `value="3"`, "disk=ssd\nzone=a\n", "team=billing\n", `id="f-paused" name="paused" type="checkbox" value="1" checked`,
		`<option value="fire_once" selected>`, `<option value="replace" selected>`, `<option value="hash" selected>`} {
		require.Contains(t, form, want)
	}
}

func TestJobFormShowsFieldErrorsAndKeepsTheInput(t *testing.T) {
	e := newEnv(t)
	c := e.admin()
	for name, tc := range map[string]struct {
		set   map[string]string
		field string
		msg   string
	}{
		"bad cron":        {map[string]string{"schedule": "61 * * * *"}, "schedule", "minute 61 out of range 0-59"},
		"cron never":      {map[string]string{"schedule": "0 0 30 2 *"}, "schedule", ""},
		"unknown zone":    {map[string]string{"timezone": "Mars/Olympus"}, "timezone", ""},
		"bad duration":    {map[string]string{"timeout": "5 minutes"}, "timeout", `"5 minutes" is not a duration`},
		"timeout too big": {map[string]string{"timeout": "800h"}, "timeout", "must be between 1s"},
		"bad params":      {map[string]string{"params": `{"a":`}, "params", "must be valid JSON"},
		"bad number":      {map[string]string{"shards": "three"}, "shards", `"three" is not a whole number`},
		"too many tries":  {map[string]string{"retry_max_attempts": "99"}, "retry.max_attempts", "must be between 1 and 20"},
		"unknown group":   {map[string]string{"group": "nope"}, "group", "this group does not exist"},
		"taken id":        {map[string]string{"id": "j1"}, "id", "a job with this ID exists already"},
		"bad id":          {map[string]string{"id": "Bad ID"}, "id", "must match"},
		"no name":         {map[string]string{"name": ""}, "name", "must not be empty"},
		"no handler":      {map[string]string{"handler": ""}, "handler", "must not be empty"},
		"bad selector":    {map[string]string{"selector": "zone"}, "selector", "line 1: write one key=value per line"},
		"broadcast shard": {map[string]string{"route": "broadcast", "shards": "2"}, "shards", "cannot be sharded"},
		"bad policy":      {map[string]string{"misfire_policy": "sometimes"}, "misfire.policy", "must be one of"},
	} {
		t.Run(name, func(t *testing.T) {
			form := fullJobForm()
			form.Set("id", "")
			for k, v := range tc.set {
				form.Set(k, v)
			}
			resp := c.post("/jobs/new", form)
			require.Equal(t, http.StatusUnprocessableEntity, resp.status)
			id := "err-" + strings.NewReplacer(".", "-", "_", "-").Replace(tc.field)
			require.Contains(t, resp.body, `<p class="field-error" id="`+id+`">`, resp.body)
			require.Contains(t, resp.body, `aria-describedby="`+id, "the input points at its error")
			require.Contains(t, resp.body, html.EscapeString(tc.msg))
			require.Contains(t, resp.body, "The job was not saved")
			if v, ok := tc.set["schedule"]; ok {
				require.Contains(t, resp.body, `value="`+html.EscapeString(v)+`"`, "the input is kept")
			}
			page, err := e.mem.ListJobs(e.ctx, ports.JobFilter{})
			require.NoError(t, err)
			require.Len(t, page.Items, 1, "nothing was created")
		})
	}
}

func TestJobEditReplacesTheJobAndRecordsTheChange(t *testing.T) {
	e := newEnv(t)
	c := e.admin()
	form := fullJobForm()
	form.Set("group", "other") // ignored: a job stays in its group
	form.Set("name", "Renamed")
	form.Set("schedule", "@hourly")
	form.Del("paused")
	resp := c.post("/jobs/j1/edit", form)
	require.Equal(t, http.StatusSeeOther, resp.status, resp.body)
	require.Equal(t, "/jobs/j1", resp.header.Get("Location"))
	j, err := e.jobs.GetJob(e.ctx, "j1")
	require.NoError(t, err)
	require.Equal(t, "Renamed", j.Name)
	require.Equal(t, "@hourly", j.Schedule)
	require.Equal(t, "g", j.Group)
	require.Equal(t, domain.JobActive, j.State)

	hist := e.auditFor("job/j1")
	require.Len(t, hist, 1)
	require.Equal(t, domain.AuditJobUpdate, hist[0].Action)
	require.Contains(t, hist[0].Detail, `schedule: "0 30 2 * * *" → "@hourly"`)
	require.Contains(t, hist[0].Detail, `name: "Nightly report" → "Renamed"`)
	detail := c.follow(resp).body
	require.Contains(t, detail, "Job saved.")
	require.Contains(t, detail, "job.update")
	require.Contains(t, detail, html.EscapeString(`schedule: "0 30 2 * * *" → "@hourly"`), "the edit history shows it")

	form.Set("schedule", "nonsense")
	resp = c.post("/jobs/j1/edit", form)
	require.Equal(t, http.StatusUnprocessableEntity, resp.status)
	require.Contains(t, resp.body, `id="err-schedule"`)
	j2, err := e.jobs.GetJob(e.ctx, "j1")
	require.NoError(t, err)
	require.Equal(t, j.Version, j2.Version, "an invalid edit changes nothing")
}

func TestJobButtons(t *testing.T) {
	e := newEnv(t)
	c := e.operator()

	resp := c.post("/jobs/j1/pause", url.Values{"back": {"/jobs"}})
	require.Equal(t, "/jobs", resp.header.Get("Location"))
	require.Contains(t, c.follow(resp).body, "Nightly report paused.")
	j, _ := e.jobs.GetJob(e.ctx, "j1")
	require.Equal(t, domain.JobPaused, j.State)
	require.Contains(t, c.get("/jobs/j1").body, `id="resume-job"`)

	resp = c.post("/jobs/j1/resume", url.Values{"back": {"https://evil.example/"}})
	require.Equal(t, "/", resp.header.Get("Location"), "back must stay on the site")
	j, _ = e.jobs.GetJob(e.ctx, "j1")
	require.Equal(t, domain.JobActive, j.State)

	resp = c.post("/jobs/j1/trigger", url.Values{})
	require.Equal(t, "/jobs/j1", resp.header.Get("Location"))
	require.Contains(t, c.follow(resp).body, "Triggered: 1 run created.")
	resp = c.post("/jobs/j1/trigger", url.Values{"params": {`{"msg":"override"}`}})
	require.Equal(t, http.StatusSeeOther, resp.status)
	runs, err := e.mem.ListRuns(e.ctx, ports.RunFilter{JobID: "j1"})
	require.NoError(t, err)
	require.Len(t, runs.Items, 2)
	require.True(t, runs.Items[0].Manual)
	require.JSONEq(t, `{"msg":"override"}`, string(runs.Items[0].Params))
	resp = c.post("/jobs/j1/trigger", url.Values{"params": {`{nope`}})
	require.Contains(t, c.follow(resp).body, "params: must be valid JSON")

	actions := map[string]string{}
	for _, a := range e.auditFor("job/j1") {
		actions[a.Action] = a.Actor
	}
	require.Equal(t, map[string]string{"job.pause": "operator", "job.resume": "operator", "job.trigger": "operator"}, actions)

	resp = c.post("/jobs/nope/pause", url.Values{})
	require.Contains(t, c.follow(resp).body, "It no longer exists")

	admin := e.admin()
	resp = admin.post("/jobs/j1/delete", url.Values{})
	require.Equal(t, "/jobs", resp.header.Get("Location"))
	require.Contains(t, admin.follow(resp).body, "Job Nightly report deleted.")
	_, err = e.jobs.GetJob(e.ctx, "j1")
	require.ErrorIs(t, err, domain.ErrNotFound)
}

func TestRunCancelAndDelete(t *testing.T) {
	e := newEnv(t)
	run := e.trigger()
	c := e.admin()
	page := c.get("/runs/" + run.ID).body
	require.Contains(t, page, `data-follow="/console/runs/`+run.ID+`"`, "an active run is followed live")

	resp := c.post("/runs/"+run.ID+"/delete", url.Values{})
	require.Contains(t, c.follow(resp).body, "The run is still active: cancel it first.")

	resp = c.post("/runs/"+run.ID+"/cancel", url.Values{})
	require.Equal(t, "/runs/"+run.ID, resp.header.Get("Location"))
	page = c.follow(resp).body
	require.Contains(t, page, "Run cancelled.")
	require.NotContains(t, page, "data-follow", "a finished run is not followed")
	got, err := e.mem.GetRun(e.ctx, run.ID)
	require.NoError(t, err)
	require.Equal(t, domain.RunCancelled, got.State)
	require.Equal(t, "cancelled by admin in the console", got.Error)

	resp = c.post("/runs/"+run.ID+"/cancel", url.Values{})
	require.Contains(t, c.follow(resp).body, "It has already finished.")

	resp = c.post("/runs/"+run.ID+"/delete", url.Values{})
	require.Equal(t, "/runs?job=j1", resp.header.Get("Location"))
	_, err = e.mem.GetRun(e.ctx, run.ID)
	require.ErrorIs(t, err, domain.ErrNotFound)
	acts := []string{}
	for _, a := range e.auditFor("run/" + run.ID) {
		acts = append(acts, string(a.Result)+" "+a.Action)
	}
	require.ElementsMatch(t, []string{"error run.delete", "ok run.cancel", "error run.cancel", "ok run.delete"}, acts)
}

func TestPendingFireCancel(t *testing.T) {
	e := newEnv(t)
	run := e.trigger()
	c := e.operator()
	require.Contains(t, c.get("/pending").body, `action="/fires/`+run.FireID+`/cancel"`)
	resp := c.post("/fires/"+run.FireID+"/cancel", url.Values{"back": {"/pending"}})
	require.Equal(t, "/pending", resp.header.Get("Location"))
	page := c.follow(resp).body
	require.Contains(t, page, "1 run cancelled.")
	require.Contains(t, page, "Nothing is waiting")
	got, err := e.mem.GetRun(e.ctx, run.ID)
	require.NoError(t, err)
	require.Equal(t, domain.RunCancelled, got.State)
}

func TestRunJSON(t *testing.T) {
	e := newEnv(t)
	e.worker()
	run := e.trigger()
	now := time.Now().UTC()
	_, err := e.mem.UpdateRun(e.ctx, run.ID, func(r *domain.Run) error {
		if err := r.Assign("w1", now); err != nil {
			return err
		}
		if err := r.Start("w1", 1, now); err != nil {
			return err
		}
		return r.AppendOutput("w1", 1, "line 1\n<b>not html</b>\n", 1<<10)
	})
	require.NoError(t, err)
	resp := e.viewer().get("/console/runs/" + run.ID)
	require.Equal(t, http.StatusOK, resp.status)
	require.Equal(t, "application/json; charset=utf-8", resp.header.Get("Content-Type"))
	var v struct {
		ID, State, StateLabel, WorkerID, Output, Started, Duration string
		Terminal                                                   bool
		Attempt, MaxAttempts                                       int
	}
	require.NoError(t, json.Unmarshal([]byte(strings.NewReplacer(`"state_label"`, `"statelabel"`, `"worker_id"`, `"workerid"`, `"max_attempts"`, `"maxattempts"`).Replace(resp.body)), &v))
	require.Equal(t, run.ID, v.ID)
	require.Equal(t, "running", v.State)
	require.Equal(t, "w1", v.WorkerID)
	require.False(t, v.Terminal)
	require.Equal(t, "line 1\n<b>not html</b>\n", v.Output, "the script sets it as text")
	require.NotEmpty(t, v.Started)
	require.NotEmpty(t, v.Duration)
	require.Equal(t, 3, v.MaxAttempts)
	// The page escapes the same output.
	require.Contains(t, e.admin().get("/runs/"+run.ID).body, "&lt;b&gt;not html&lt;/b&gt;")
}

func TestGroupsPage(t *testing.T) {
	e := newEnv(t)
	c := e.admin()
	resp := c.post("/groups", url.Values{"name": {"billing"}, "description": {"Invoices"}})
	require.Equal(t, "/groups", resp.header.Get("Location"))
	page := c.follow(resp).body
	require.Contains(t, page, "Group billing created.")
	require.Contains(t, page, "Invoices")

	for name, want := range map[string]string{"Bad Name": "must match", "billing": "a group with this name exists already", "": "must not be empty"} {
		resp = c.post("/groups", url.Values{"name": {name}})
		require.Equal(t, http.StatusUnprocessableEntity, resp.status, name)
		require.Contains(t, resp.body, `id="err-g-name"`, name)
		require.Contains(t, resp.body, html.EscapeString(want), name)
	}

	resp = c.post("/groups/g/delete", url.Values{})
	require.Contains(t, c.follow(resp).body, "Group g still has jobs: delete or move them first.")
	_, err := e.mem.GetGroup(e.ctx, "g")
	require.NoError(t, err)
	resp = c.post("/groups/billing/delete", url.Values{})
	require.Contains(t, c.follow(resp).body, "Group billing deleted.")
	_, err = e.mem.GetGroup(e.ctx, "billing")
	require.ErrorIs(t, err, domain.ErrNotFound)
	require.Equal(t, domain.AuditGroupDelete, e.auditFor("group/billing")[0].Action)
}

func TestUsersPage(t *testing.T) {
	e := newEnv(t)
	c := e.admin()
	resp := c.post("/users", url.Values{"name": {"carol"}, "role": {"operator"}, "password": {"carol-password-1"}})
	require.Contains(t, c.follow(resp).body, "User carol created with role operator.")
	resp = c.post("/users", url.Values{"name": {"dave"}, "role": {"viewer"}, "password": {"short"}})
	require.Equal(t, http.StatusUnprocessableEntity, resp.status)
	require.Contains(t, resp.body, "must be at least 12 characters")
	require.NotContains(t, resp.body, "short", "a password is never shown back")
	require.NotContains(t, c.get("/users").body, "argon2id", "hashes never leave the server")

	require.Contains(t, c.follow(c.post("/users/carol/role", url.Values{"role": {"viewer"}})).body, "User carol is now viewer.")
	u, _ := e.auth.GetUser(e.ctx, "carol")
	require.Equal(t, domain.RoleViewer, u.Role)

	carol := e.login("carol", "carol-password-1")
	require.Contains(t, c.follow(c.post("/users/carol/disable", url.Values{})).body, "disabled")
	require.Equal(t, http.StatusSeeOther, carol.get("/jobs").status, "disabling ends the sessions")
	resp = e.client().post("/login", url.Values{"username": {"carol"}, "password": {"carol-password-1"}})
	require.Equal(t, http.StatusUnauthorized, resp.status)
	c.post("/users/carol/enable", url.Values{})
	c.post("/users/carol/password", url.Values{"password": {"new-carol-password"}})
	e.login("carol", "new-carol-password")
	require.Contains(t, c.follow(c.post("/users/carol/delete", url.Values{})).body, "User carol deleted")

	// The last admin stays.
	require.Contains(t, c.follow(c.post("/users/admin/role", url.Values{"role": {"viewer"}})).body, "Pink must keep at least one active admin")
	require.Contains(t, c.follow(c.post("/users/admin/delete", url.Values{})).body, "Pink must keep at least one active admin")
	u, _ = e.auth.GetUser(e.ctx, "admin")
	require.Equal(t, domain.RoleAdmin, u.Role)
}

func TestTokensPage(t *testing.T) {
	e := newEnv(t)
	c := e.admin()
	resp := c.post("/tokens", url.Values{"kind": {"api"}, "owner": {"viewer"}, "name": {"ci deploy"}, "ttl": {"720h"}})
	require.Equal(t, http.StatusOK, resp.status, resp.body)
	require.Equal(t, "no-store", resp.header.Get("Cache-Control"))
	secret := regexpSecret.FindString(resp.body)
	require.NotEmpty(t, secret, "the secret is shown once")
	p, err := e.auth.Authenticate(e.ctx, secret)
	require.NoError(t, err)
	require.Equal(t, "viewer", p.User)
	list := c.get("/tokens").body
	require.Contains(t, list, "ci deploy")
	require.NotContains(t, list, secret, "and never again")

	resp = c.post("/tokens", url.Values{"kind": {"worker"}, "owner": {"g"}, "name": {"host-7"}})
	require.Equal(t, http.StatusOK, resp.status)
	require.Regexp(t, `pink_worker_[a-z2-7]{52}`, resp.body)

	for form, want := range map[string]url.Values{
		"this user":         {"kind": {"api"}, "owner": {"nobody"}, "name": {"x"}},
		"write a duration":  {"kind": {"api"}, "owner": {"viewer"}, "name": {"x"}, "ttl": {"soon"}},
		"does not exist":    {"kind": {"worker"}, "owner": {"nope"}, "name": {"x"}},
		"must not be empty": {"kind": {"api"}, "owner": {"viewer"}, "name": {""}},
	} {
		resp := c.post("/tokens", want)
		require.Equal(t, http.StatusUnprocessableEntity, resp.status, form)
		require.Contains(t, resp.body, "The token was not created", form)
	}

	tokens, err := e.auth.ListTokens(e.ctx, ports.TokenFilter{Kind: domain.TokenAPI})
	require.NoError(t, err)
	require.Len(t, tokens.Items, 1)
	resp = c.post("/tokens/"+tokens.Items[0].ID+"/revoke", url.Values{})
	require.Contains(t, c.follow(resp).body, "Token revoked")
	_, err = e.auth.Authenticate(e.ctx, secret)
	require.ErrorIs(t, err, domain.ErrUnauthenticated)
}

func TestUserInputIsEscaped(t *testing.T) {
	e := newEnv(t)
	_, err := e.jobs.CreateJob(e.ctx, domain.Job{ID: "xss", Group: "g", Name: `<script>alert(1)</script>`,
		Description: `"><img src=x onerror=alert(1)>`, Schedule: "@daily", Handler: "echo"})
	require.NoError(t, err)
	c := e.admin()
	for _, path := range []string{"/jobs", "/jobs/xss", "/jobs/xss/edit"} {
		body := c.get(path).body
		require.NotContains(t, body, "<script>alert(1)</script>", path)
		require.NotContains(t, body, "<img src=x", path)
		require.Contains(t, body, "&lt;script&gt;alert(1)&lt;/script&gt;", path)
	}
}

func TestFlashShowsOnce(t *testing.T) {
	e := newEnv(t)
	c := e.admin()
	resp := c.post("/jobs/j1/pause", url.Values{})
	require.Contains(t, c.follow(resp).body, "Nightly report paused.")
	require.NotContains(t, c.get("/jobs/j1").body, "Nightly report paused.")
}

func TestTrustedOriginsAndSecureCookies(t *testing.T) {
	e := newEnv(t, func(d *console.Deps) {
		d.TrustedOrigins = []string{"https://pink.example.com"}
		d.SecureCookies = true
	})
	c := e.client()
	resp := c.post("/login", url.Values{"username": {"admin"}, "password": {adminPassword}},
		"Origin", "https://pink.example.com", "Sec-Fetch-Site", "cross-site")
	require.Equal(t, http.StatusSeeOther, resp.status, "a trusted origin may post")
	require.Contains(t, resp.header.Get("Set-Cookie"), "; Secure")
	_, err := console.New(console.Deps{})
	require.Error(t, err)
}

var regexpSecret = regexp.MustCompile(`pink_api_[a-z2-7]{52}`)
