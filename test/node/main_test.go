package node_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/fx"
	"go.uber.org/zap"

	"github.com/pink-scheduler/pink/adapters/etcd"
	pinkhttp "github.com/pink-scheduler/pink/adapters/http"
	"github.com/pink-scheduler/pink/app/scheduler"
	pinknode "github.com/pink-scheduler/pink/cmd/pink-node/node"
	"github.com/pink-scheduler/pink/internal/etcdtest"
	"github.com/pink-scheduler/pink/ports"
)

// etcdServer is the one etcd every node of every test talks to, over gRPC
// (each node has its own client, like a separate process). Tests keep
// apart under their own key prefix.
var etcdServer *etcd.Server

// leaseTTL is the nodes' lease TTL: the shortest allowed, so forced
// handovers stay quick.
const leaseTTL = 2 * time.Second

func TestMain(m *testing.M) {
	os.Exit(etcdtest.Main(m, "pink-node-multi-", &etcdServer))
}

var prefixSeq atomic.Int64

// testPrefix returns a key prefix no other test uses.
func testPrefix() string { return fmt.Sprintf("/multinode/%d", prefixSeq.Add(1)) }

// logBuffer collects a component's log, safe for concurrent use.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// newLog returns a logger into a buffer that is printed if the test fails.
func newLog(t *testing.T, name string) (*slog.Logger, *logBuffer) {
	b := &logBuffer{}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("log of %s:\n%s", name, b)
		}
	})
	return slog.New(slog.NewTextHandler(b, &slog.HandlerOptions{Level: slog.LevelDebug})), b
}

// member is one running node.
type member struct {
	id      string
	app     *fx.App
	sched   *scheduler.Scheduler
	http    *pinkhttp.Server
	elector ports.Elector
	log     *logBuffer
	stopped bool
}

// startMember starts a node as pink-node would with --etcd.
func startMember(t *testing.T, prefix, id string) *member {
	t.Helper()
	log, buf := newLog(t, id)
	m := &member{id: id, log: buf}
	cfg := pinknode.Config{
		NodeID: id, Prefix: prefix, LeaseTTL: leaseTTL, HTTPAddr: "127.0.0.1:0",
		Etcd: etcd.ClientConfig{Endpoints: []string{etcdServer.ClientURL()}}, Logger: log,
	}
	m.app = pinknode.New(cfg, fx.Populate(&m.sched, &m.http, &m.elector))
	require.NoError(t, m.app.Err())
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	require.NoError(t, m.app.Start(ctx))
	t.Cleanup(func() { m.stop(t) })
	return m
}

// stop stops the node gracefully (what SIGTERM does).
func (m *member) stop(t *testing.T) {
	t.Helper()
	if m.stopped {
		return
	}
	m.stopped = true
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	require.NoError(t, m.app.Stop(ctx), "stop %s", m.id)
	http.DefaultClient.CloseIdleConnections()
}

// leading returns the live members whose scheduler leads.
func leading(ms []*member) []*member {
	var out []*member
	for _, m := range ms {
		if !m.stopped && m.sched.Status().Leader {
			out = append(out, m)
		}
	}
	return out
}

// waitLeader waits until exactly one live member leads, every live
// member's elector names it, and it is not one of not; it returns it.
func waitLeader(t *testing.T, ms []*member, within time.Duration, not ...*member) *member {
	t.Helper()
	var leader *member
	require.Eventually(t, func() bool {
		l := leading(ms)
		if len(l) != 1 {
			return false
		}
		for _, n := range not {
			if l[0] == n {
				return false
			}
		}
		for _, m := range ms {
			if m.stopped {
				continue
			}
			info, err := m.elector.Leader(context.Background())
			if err != nil || info.NodeID != l[0].id {
				return false
			}
		}
		leader = l[0]
		return true
	}, within, 5*time.Millisecond, "exactly one leader")
	return leader
}

// readyz fetches a member's /readyz.
func readyz(t *testing.T, m *member) (int, pinkhttp.Readiness) {
	t.Helper()
	resp, err := http.Get("http://" + m.http.Addr() + "/readyz")
	require.NoError(t, err)
	defer resp.Body.Close()
	var rd pinkhttp.Readiness
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&rd))
	return resp.StatusCode, rd
}

// newClient returns a gRPC client of the test etcd, closed at the end of
// the test: for the worker, the job service and the test's own checks.
func newClient(t *testing.T) *clientv3.Client {
	t.Helper()
	cli, err := clientv3.New(clientv3.Config{
		Endpoints: []string{etcdServer.ClientURL()}, DialTimeout: 5 * time.Second, Logger: zap.NewNop(),
	})
	require.NoError(t, err)
	t.Cleanup(func() { _ = cli.Close() })
	return cli
}
