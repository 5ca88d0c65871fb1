package e2e

import (
	"net/http"
	"net/http/cookiejar"
	"os/exec"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pink-scheduler/pink/domain"
)

// TestGoAndPythonWorkersOnOneNode: one pink-node, two pink-worker
// processes and the Python example worker (standard library only, over
// the HTTP worker protocol with a worker token made through the REST API).
// Each job goes to the workers that have its handler, and every run
// succeeds with its output.
func TestGoAndPythonWorkersOnOneNode(t *testing.T) {
	if _, err := exec.LookPath("python3"); err != nil {
		t.Skip("the Python worker needs python3")
	}
	n := startNode(t)
	base := "http://" + n.httpAddr
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	api := &http.Client{Timeout: 10 * time.Second, Jar: jar}

	status, body := call(t, api, http.MethodPost, base+"/api/v1/groups", map[string]any{"name": "mixed"})
	require.Equal(t, http.StatusCreated, status, body)
	status, body = call(t, api, http.MethodPost, base+"/api/v1/worker-tokens", map[string]any{"group": "mixed", "name": "python"})
	require.Equal(t, http.StatusCreated, status, body)
	secret, _ := body["secret"].(string)
	require.NotEmpty(t, secret)

	start(t, "pink-worker", "--group", "mixed", "--etcd", n.etcdURL, "--allow-shell", "--lease-ttl", "2s")
	start(t, "pink-worker", "--group", "mixed", "--etcd", n.etcdURL, "--allow-shell", "--lease-ttl", "2s")
	python, err := exec.LookPath("python3")
	require.NoError(t, err, "the Python worker needs python3")
	runner.StartEnv(t, []string{"PINK_WORKER_TOKEN=" + secret}, python,
		"../../examples/python/worker.py", "--url", base, "--group", "mixed", "--ttl", "2")

	c := newClient(t, n)
	require.Eventually(t, func() bool { return len(c.workers(t, "mixed")) == 3 }, 30*time.Second, 50*time.Millisecond,
		"two Go workers and the Python worker registered")

	status, body = call(t, api, http.MethodPost, base+"/api/v1/jobs", map[string]any{
		"group": "mixed", "name": "py", "schedule": "* * * * * *", "handler": "echo", "params": map[string]any{"hello": "python"}})
	require.Equal(t, http.StatusCreated, status, body)
	pyJob := body["id"].(string)
	status, body = call(t, api, http.MethodPost, base+"/api/v1/jobs", map[string]any{
		"group": "mixed", "name": "go", "schedule": "* * * * * *", "handler": "shell", "params": map[string]any{"command": []string{"echo", "from go"}}})
	require.Equal(t, http.StatusCreated, status, body)
	goJob := body["id"].(string)

	succeeded := func(jobID, output string) func() bool {
		return func() bool {
			n := 0
			for _, r := range c.runs(t, jobID) {
				if r.State == domain.RunSucceeded && r.Output != "" && (output == "" || r.Output == output) {
					n++
				}
			}
			return n >= 3
		}
	}
	require.Eventually(t, succeeded(goJob, "from go\n"), 30*time.Second, 100*time.Millisecond, "shell runs on the Go workers")
	require.Eventually(t, succeeded(pyJob, ""), 30*time.Second, 100*time.Millisecond, "echo runs on the Python worker")

	pyWorkers := map[string]bool{}
	for _, r := range c.runs(t, pyJob) {
		if r.State == domain.RunSucceeded {
			pyWorkers[r.WorkerID] = true
			require.Contains(t, r.Output, "python")
		}
	}
	require.Len(t, pyWorkers, 1, "only the Python worker has the echo handler")
	for _, r := range c.runs(t, goJob) {
		require.False(t, pyWorkers[r.WorkerID], "shell runs never go to the Python worker")
	}
}
