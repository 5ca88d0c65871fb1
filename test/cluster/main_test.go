package cluster

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/pink-scheduler/pink/internal/proctest"
)

// full runs the whole matrix: every scenario with several seeds.
var full = flag.Bool("full", false, "run the full cluster fault matrix (make test-cluster)")

// runner starts the binaries built for this run; nil when skipped.
var runner *proctest.Runner

// enabled reports whether the cluster tests run at all.
func enabled() bool { return *full || os.Getenv("PINK_CLUSTER") == "1" }

func TestMain(m *testing.M) {
	flag.Parse()
	if !enabled() {
		os.Exit(m.Run()) // every test skips itself
	}
	// PINK_BUILD_TAGS builds deliberately broken binaries, to show that the
	// checks catch what they claim: PINK_BUILD_TAGS=pink_nofence disables
	// fencing in the etcd adapter (adapters/etcd/nofence.go).
	dir, err := proctest.Build(os.Getenv("PINK_BUILD_TAGS"),
		"../../cmd/pink-node", "../../cmd/pink-worker", "./etcdmember", "./sdkworker")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	runner = &proctest.Runner{Dir: dir, Grace: 10 * time.Second,
		Env: []string{"PINK_LOG_LEVEL=debug", "PINK_ADMIN_PASSWORD=correct horse battery staple"},
		// A failing scenario's logs are long: printed when asked for.
		ShowOutput: func(t *testing.T) bool {
			logs := os.Getenv("PINK_CLUSTER_LOGS")
			return (t.Failed() && logs == "1") || logs == "all"
		}}
	code := m.Run()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

// skipUnlessEnabled skips t unless the cluster tests were asked for.
func skipUnlessEnabled(t *testing.T) {
	t.Helper()
	if !enabled() {
		t.Skip("cluster tests: run make test-cluster")
	}
}

// freePort returns a loopback port that was free a moment ago.
func freePort(t *testing.T) int { return proctest.FreePort(t) }

// proc is a running binary (internal/proctest).
type proc = proctest.Proc

// start runs a binary built for this run (or an absolute path) until the
// end of the test (SIGCONT, SIGTERM, then SIGKILL after 10 s).
func start(t *testing.T, name string, args ...string) *proc {
	t.Helper()
	return runner.Start(t, name, args...)
}

// startEnv is start with variables added to the environment.
func startEnv(t *testing.T, env []string, name string, args ...string) *proc {
	t.Helper()
	return runner.StartEnv(t, env, name, args...)
}

// getJSON GETs a path of addr and decodes the JSON body.
func getJSON(addr, path string, timeout time.Duration, v any) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+path, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}
