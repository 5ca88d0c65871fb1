package browser_test

import (
	"net/url"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"
)

// TestConsoleScenario walks through the console as an operator would: log
// in as the bootstrapped admin, create a group and a job that fires every
// second, watch a run succeed with its output, pause and resume the job,
// trigger it, cancel a long run, see a bad cron expression refused (live
// and on submit), and log out.
func TestConsoleScenario(t *testing.T) {
	chromium(t)
	s := startStack(t)
	b := newBrowser(t, s.URL)

	// Every page needs a session: the browser lands on the login form.
	b.open("/")
	b.do(chromedp.WaitVisible(chromedp.ID("username")))
	require.Equal(t, "/login", b.location())
	b.screenshot("login")
	b.do(
		chromedp.SendKeys(chromedp.ID("username"), "admin"),
		chromedp.SendKeys(chromedp.ID("password"), adminPassword),
		chromedp.Click(chromedp.ID("login-submit")),
		chromedp.WaitVisible(chromedp.CSS("svg.chart-svg")),
	)
	require.Contains(t, b.text("h1"), "Dashboard")
	require.Contains(t, b.text(".callout"), "Get started", "an empty install says what to do")

	// Create the group the worker serves.
	b.open("/groups")
	b.do(
		chromedp.SendKeys(chromedp.ID("g-name"), workerGroup),
		chromedp.SendKeys(chromedp.ID("g-description"), "Jobs of the browser test"),
		chromedp.Click(chromedp.ID("create-group")),
	)
	b.waitText(".flash-ok", "Group demo created")

	// Create a job that fires every second; the form previews its fire
	// times while typing.
	b.open("/jobs/new")
	b.do(
		chromedp.SetValue(chromedp.ID("f-group"), workerGroup),
		chromedp.SendKeys(chromedp.ID("f-name"), "Echo every second"),
		chromedp.SendKeys(chromedp.ID("f-handler"), "echo"),
		chromedp.SendKeys(chromedp.ID("f-params"), `{"message": "hello"}`),
		chromedp.SendKeys(chromedp.ID("f-schedule"), "* * * * * *"),
	)
	b.waitJS(`document.querySelectorAll("#preview-list li").length === 5`)
	require.Contains(t, b.text("#preview-status"), "Next 5 fire times (UTC)")
	b.screenshot("job-form")
	b.do(chromedp.Click(chromedp.ID("save-job")), chromedp.WaitVisible(chromedp.ID("job-state")))
	jobPath := b.location()
	require.True(t, strings.HasPrefix(jobPath, "/jobs/"), jobPath)
	require.Equal(t, "active", b.text("#job-state"))
	require.Contains(t, b.text(".flash-ok"), "Job created.")

	// A run appears and succeeds, with the worker's output.
	b.reloadUntil(jobPath, `document.querySelector("#job-runs .badge-succeeded")`)
	b.screenshot("job-detail")
	jobID := strings.TrimPrefix(jobPath, "/jobs/")
	b.open("/runs?state=succeeded&job=" + url.QueryEscape(jobID))
	b.do(chromedp.WaitVisible(chromedp.CSS("#runs-list table")))
	b.do(chromedp.Click(chromedp.CSS("#runs-list tbody tr:first-child a.mono")), chromedp.WaitVisible(chromedp.ID("run-output")))
	require.Equal(t, "succeeded", b.text("#run-state"))
	out := b.text("#run-output")
	require.Contains(t, out, "hello from echo")
	require.Contains(t, out, `params: {"message":"hello"}`)
	require.Contains(t, out, "done")
	b.screenshot("run-output")

	// Pause and resume.
	b.open(jobPath)
	b.do(chromedp.Click(chromedp.ID("pause-job")), chromedp.WaitVisible(chromedp.ID("resume-job")))
	require.Equal(t, "paused", b.text("#job-state"))
	require.Contains(t, b.text(".flash-ok"), "paused")
	b.do(chromedp.Click(chromedp.ID("resume-job")), chromedp.WaitVisible(chromedp.ID("pause-job")))
	require.Equal(t, "active", b.text("#job-state"))

	// Trigger now: a manual run appears next to the scheduled ones.
	b.do(chromedp.Click(chromedp.ID("trigger-job")))
	b.waitText(".flash-ok", "Triggered: 1 run created")
	b.reloadUntil(jobPath, `document.querySelector("#job-runs .tag")`)
	require.Equal(t, "manual", b.text("#job-runs .tag"))
	// Enough of a job a second: pause it (from the jobs list this time).
	b.open("/jobs")
	b.do(chromedp.Click(chromedp.CSS(`tr[data-job="` + jobID + `"] button[aria-label^="Pause"]`)))
	b.waitText(".flash-ok", "paused")

	// A long run, followed live, then cancelled.
	b.open("/jobs/new")
	b.do(
		chromedp.SetValue(chromedp.ID("f-group"), workerGroup),
		chromedp.SendKeys(chromedp.ID("f-name"), "Sleeper"),
		chromedp.SendKeys(chromedp.ID("f-handler"), "sleep"),
		chromedp.SendKeys(chromedp.ID("f-schedule"), "0 0 1 1 *"),
		chromedp.Click(chromedp.ID("save-job")),
		chromedp.WaitVisible(chromedp.ID("trigger-job")),
	)
	sleeperPath := b.location()
	b.do(chromedp.Click(chromedp.ID("trigger-job")))
	b.waitText(".flash-ok", "Triggered")
	b.reloadUntil(sleeperPath, `document.querySelector("#job-runs .badge-running")`)
	b.do(chromedp.Click(chromedp.CSS("#job-runs tbody tr:first-child a.mono")), chromedp.WaitVisible(chromedp.ID("cancel-run")))
	require.Equal(t, "running", b.text("#run-state"))
	b.waitText("#run-output", "sleeping until cancelled") // the page follows the output live
	require.Equal(t, "Following live…", b.text("#follow-status"))
	runPath := b.location()
	b.open("/workers")
	b.do(chromedp.WaitVisible(chromedp.CSS("main table .badge-running")))
	require.Contains(t, b.text("main table"), "worker-1")
	require.Contains(t, b.text("main table"), "Sleeper", "the worker's running run")
	b.screenshot("workers")
	b.open(runPath)
	b.do(chromedp.WaitVisible(chromedp.ID("cancel-run")))
	b.do(chromedp.Click(chromedp.ID("cancel-run"))) // confirm() is answered yes
	b.waitText(".flash-ok", "Run cancelled.")
	require.Equal(t, "cancelled", b.text("#run-state"))
	require.Contains(t, b.text("#run-error"), "cancelled by admin in the console")

	// A bad cron expression: the preview says so while typing, and the
	// server refuses the form with the error next to the field.
	b.open("/jobs/new")
	b.do(
		chromedp.SendKeys(chromedp.ID("f-name"), "Broken"),
		chromedp.SendKeys(chromedp.ID("f-handler"), "echo"),
		chromedp.SendKeys(chromedp.ID("f-schedule"), "61 * * * *"),
	)
	b.waitJS(`document.getElementById("preview").dataset.state === "error"`)
	require.Contains(t, b.text("#preview-status"), "Schedule: minute 61 out of range")
	b.do(chromedp.Click(chromedp.ID("save-job")), chromedp.WaitVisible(chromedp.ID("err-schedule")))
	require.Contains(t, b.text("#err-schedule"), "minute 61 out of range")
	require.Contains(t, b.text("#form-errors"), "The job was not saved")
	require.Equal(t, "true", eval[string](b, `document.getElementById("f-schedule").getAttribute("aria-invalid")`))
	require.Equal(t, "61 * * * *", eval[string](b, `document.getElementById("f-schedule").value`), "the input is kept")

	// The pages an operator watches.
	b.open("/runs")
	b.do(chromedp.WaitVisible(chromedp.CSS("#runs-list table .badge-cancelled")))
	b.screenshot("runs")
	b.open("/jobs")
	b.do(chromedp.WaitVisible(chromedp.CSS("table.jobs")))
	b.screenshot("jobs")
	b.open("/")
	b.do(chromedp.WaitVisible(chromedp.CSS("svg.chart-svg")))
	require.Equal(t, "node-1", b.text(".card-value.mono"), "the leader")
	b.screenshot("dashboard")

	// Log out: back to the login page, and the session is gone.
	b.do(chromedp.Click(chromedp.ID("logout")), chromedp.WaitVisible(chromedp.ID("username")))
	require.Contains(t, b.text(".login-card"), "You have been logged out.")
	b.open("/jobs")
	b.do(chromedp.WaitVisible(chromedp.ID("username")))
	require.Equal(t, "/login?next=%2Fjobs", b.location())

	require.Empty(t, b.consoleErrors(), "no script error and no CSP violation on any page")
}

// TestConsoleFitsAPhone checks that the main pages fit a phone's width:
// the page itself never scrolls sideways (wide tables scroll in their
// own box) and the navigation stays reachable.
func TestConsoleFitsAPhone(t *testing.T) {
	chromium(t)
	s := startStack(t)
	s.seed(t)
	b := newBrowser(t, s.URL)
	b.do(chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile))
	b.login()
	for _, path := range []string{"/", "/jobs", "/jobs/new", "/jobs/" + seedJobID, "/runs", "/groups", "/workers", "/nodes", "/pending", "/audit", "/users", "/tokens"} {
		b.open(path)
		b.do(chromedp.WaitVisible(chromedp.CSS("main h1")))
		overflow := eval[int](b, `document.documentElement.scrollWidth - window.innerWidth`)
		require.LessOrEqual(t, overflow, 0, "%s is wider than the phone by %dpx", path, overflow)
		require.True(t, eval[bool](b, `!!document.querySelector("nav.nav a[href='/jobs']")`), path)
		if path == "/jobs/"+seedJobID {
			b.screenshotAs("job-detail-phone", 390, 844)
		}
	}
	require.Empty(t, b.consoleErrors())
}
