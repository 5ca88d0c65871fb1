// Package e2e runs Pink as a user does: the real binaries as separate
// processes, talking over loopback. TestMain builds them once.
package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/pink-scheduler/pink/internal/proctest"
)

// adminPassword is the first admin's password of every node started here.
const adminPassword = "correct horse battery staple"

// runner starts the binaries built for this run (TestMain).
var runner *proctest.Runner

func TestMain(m *testing.M) {
	dir, err := proctest.Build("", "../../cmd/pink-node", "../../cmd/pink-worker", "../../cmd/pink-api")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	runner = &proctest.Runner{Dir: dir, Grace: 15 * time.Second,
		Env: []string{"PINK_LOG_LEVEL=debug", "PINK_ADMIN_PASSWORD=" + adminPassword}}
	code := m.Run()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

// proc is a running binary (internal/proctest).
type proc = proctest.Proc

// freePort returns a loopback port that was free a moment ago.
func freePort(t *testing.T) int { return proctest.FreePort(t) }

// start runs a binary built for this run until the end of the test
// (SIGTERM, then SIGKILL after 15 s), printing its output if the test
// failed.
func start(t *testing.T, name string, args ...string) *proc {
	t.Helper()
	return runner.Start(t, name, args...)
}

// node is a pink-node process with its embedded etcd.
type node struct {
	*proc
	httpAddr string
	etcdURL  string
	cli      *clientv3.Client
}

// startNode starts a pink-node with an embedded etcd on free ports, in dev
// mode, and waits until it is ready and leads.
func startNode(t *testing.T, extra ...string) *node {
	t.Helper()
	n := &node{
		httpAddr: fmt.Sprintf("127.0.0.1:%d", freePort(t)),
		etcdURL:  fmt.Sprintf("http://127.0.0.1:%d", freePort(t)),
	}
	if len(extra) == 0 {
		extra = []string{"--dev"}
	}
	args := append([]string{"--data-dir", t.TempDir(), "--http", n.httpAddr,
		"--etcd-listen", n.etcdURL, "--etcd-peer-listen", fmt.Sprintf("http://127.0.0.1:%d", freePort(t)),
		"--lease-ttl", "2s"}, extra...)
	n.proc = start(t, "pink-node", args...)
	require.Eventually(t, func() bool {
		var rd struct{ Ready, Leader bool }
		return getJSON(n.httpAddr, "/readyz", &rd) == nil && rd.Ready && rd.Leader
	}, 60*time.Second, 50*time.Millisecond, "pink-node ready and leading")
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{n.etcdURL}, DialTimeout: 5 * time.Second})
	require.NoError(t, err)
	t.Cleanup(func() { _ = cli.Close() })
	n.cli = cli
	return n
}

// getJSON GETs a path of addr and decodes the JSON body.
func getJSON(addr, path string, v any) error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
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

// logLine returns the first line of out containing every word, or "".
func logLine(out string, words ...string) string {
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
next:
	for sc.Scan() {
		for _, w := range words {
			if !strings.Contains(sc.Text(), w) {
				continue next
			}
		}
		return sc.Text()
	}
	return ""
}
