package node_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/fx"

	"github.com/pink-scheduler/pink/adapters/etcd"
	pinkhttp "github.com/pink-scheduler/pink/adapters/http"
	"github.com/pink-scheduler/pink/app/scheduler"
	"github.com/pink-scheduler/pink/cmd/pink-node/node"
	"github.com/pink-scheduler/pink/domain"
	"github.com/pink-scheduler/pink/internal/etcdtest"
)

// shared is an etcd for the tests of external mode.
var shared *etcd.Server

func TestMain(m *testing.M) {
	os.Exit(etcdtest.Main(m, "pink-node-test-", &shared))
}

// logBuffer collects log lines, safe for concurrent use.
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

func testLogger(t *testing.T) (*slog.Logger, *logBuffer) {
	b := &logBuffer{}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("node log:\n%s", b)
		}
	})
	return slog.New(slog.NewTextHandler(b, &slog.HandlerOptions{Level: slog.LevelDebug})), b
}

var prefixSeq int

func testPrefix() string {
	prefixSeq++
	return fmt.Sprintf("/nodetest/%d", prefixSeq)
}

// running is a started node and what the tests look at inside it.
type running struct {
	app   *fx.App
	sched *scheduler.Scheduler
	http  *pinkhttp.Server
	store *etcd.Store
	cli   *clientv3.Client
}

func start(t *testing.T, cfg node.Config) *running {
	t.Helper()
	var r running
	r.app = node.New(cfg, fx.Populate(&r.sched, &r.http, &r.store, &r.cli))
	require.NoError(t, r.app.Err())
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	require.NoError(t, r.app.Start(ctx))
	return &r
}

func (r *running) stop(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	require.NoError(t, r.app.Stop(ctx))
}

func readyz(t *testing.T, addr string) (int, pinkhttp.Readiness) {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/readyz")
	require.NoError(t, err)
	defer resp.Body.Close()
	var rd pinkhttp.Readiness
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&rd))
	return resp.StatusCode, rd
}

func externalConfig(t *testing.T, id string) node.Config {
	log, _ := testLogger(t)
	return node.Config{
		NodeID: id, Prefix: testPrefix(), LeaseTTL: 2 * time.Second, HTTPAddr: "127.0.0.1:0",
		Etcd: etcd.ClientConfig{Endpoints: []string{shared.ClientURL()}}, Logger: log,
	}
}

// TestEmbeddedNode runs the single-binary default: an embedded etcd, the
// node registered and leading, health endpoints up, then a clean stop in
// the right order.
func TestEmbeddedNode(t *testing.T) {
	log, logs := testLogger(t)
	cfg := node.Config{
		NodeID: "solo", LeaseTTL: 2 * time.Second, HTTPAddr: "127.0.0.1:0", Dev: true,
		Embedded: node.EmbeddedConfig{
			DataDir: t.TempDir(), ClientURL: "http://127.0.0.1:0", PeerURL: "http://127.0.0.1:0",
			Fast: true, UnsafeNoFsync: true,
		},
		Logger: log,
	}
	r := start(t, cfg)
	require.Eventually(t, func() bool { return r.sched.Status().Leader }, 10*time.Second, 10*time.Millisecond,
		"a lone node leads")
	code, rd := readyz(t, r.http.Addr())
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, pinkhttp.Readiness{Ready: true, NodeID: "solo", Leader: true, LeaderID: "solo", Etcd: "ok", Registered: true}, rd)
	nodes, err := r.store.ListNodes(context.Background())
	require.NoError(t, err)
	require.Len(t, nodes, 1)
	require.Equal(t, "solo", nodes[0].ID)
	require.Equal(t, "127.0.0.1:0", nodes[0].Address)
	require.Contains(t, logs.String(), `msg="embedded etcd ready"`)

	r.stop(t)
	http.DefaultClient.CloseIdleConnections()
	require.Error(t, r.cli.Ctx().Err(), "the client is closed on stop")
	// Stop runs in reverse start order: the scheduler resigns first, the
	// etcd server goes last.
	requireInOrder(t, logs.String(),
		`msg="embedded etcd ready"`, `msg="node registered"`, `msg="http server listening"`, `msg="became leader"`,
		`msg=resigned`, `msg="stopped leading: shutting down"`, `msg="http server stopped"`,
		`msg="node deregistered"`, `msg="embedded etcd stopped"`)
}

func requireInOrder(t *testing.T, s string, parts ...string) {
	t.Helper()
	at := 0
	for _, p := range parts {
		i := strings.Index(s[at:], p)
		require.GreaterOrEqual(t, i, 0, "%q after position %d in:\n%s", p, at, s)
		at += i + len(p)
	}
}

// TestEmbeddedPortInUse: a second embedded etcd on a taken port fails to
// start with the reason and a hint, and leaves nothing running.
func TestEmbeddedPortInUse(t *testing.T) {
	log, _ := testLogger(t)
	cfg := node.Config{
		NodeID: "second", HTTPAddr: "127.0.0.1:0",
		Embedded: node.EmbeddedConfig{
			DataDir: t.TempDir(), ClientURL: shared.ClientURL(), PeerURL: "http://127.0.0.1:0", Fast: true,
		},
		Logger: log,
	}
	app := node.New(cfg)
	require.NoError(t, app.Err())
	err := app.Start(context.Background())
	require.ErrorContains(t, err, "start embedded etcd")
	require.ErrorContains(t, err, "join it with --etcd")
}

// TestExternalUnreachable: a node fails fast, with a clear message, when
// its external etcd does not answer.
func TestExternalUnreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())

	cfg := externalConfig(t, "lonely")
	cfg.Etcd.Endpoints = []string{"http://" + addr}
	cfg.EtcdCheck = 300 * time.Millisecond
	app := node.New(cfg)
	require.NoError(t, app.Err())
	begin := time.Now()
	err = app.Start(context.Background())
	require.ErrorContains(t, err, "etcd at http://"+addr+" did not answer within 300ms")
	require.ErrorIs(t, err, domain.ErrUnavailable)
	require.Less(t, time.Since(begin), 5*time.Second)
}

// TestExternalNode: a node on an external etcd, and a second node with the
// same ID refused once the first one's registration is clearly alive.
func TestExternalNode(t *testing.T) {
	cfg := externalConfig(t, "ext-1")
	r := start(t, cfg)
	defer r.stop(t)
	require.Eventually(t, func() bool { return r.sched.Status().Leader }, 10*time.Second, 10*time.Millisecond)

	dup := cfg
	dup.Logger, _ = testLogger(t)
	app := node.New(dup)
	require.NoError(t, app.Err())
	begin := time.Now()
	err := app.Start(context.Background())
	require.ErrorContains(t, err, `node ID "ext-1" is used by another live node`)
	require.ErrorIs(t, err, domain.ErrAlreadyExists)
	require.GreaterOrEqual(t, time.Since(begin), cfg.LeaseTTL, "it waited for a stale registration to expire first")
	http.DefaultClient.CloseIdleConnections()
}

// TestRegistrationRecovers: a node whose registration lease is revoked
// behind its back registers again.
func TestRegistrationRecovers(t *testing.T) {
	cfg := externalConfig(t, "phoenix")
	var logs *logBuffer
	cfg.Logger, logs = testLogger(t)
	r := start(t, cfg)
	defer r.stop(t)
	ctx := context.Background()
	key := cfg.Prefix + "/node/instances/phoenix"
	resp, err := r.cli.Get(ctx, key)
	require.NoError(t, err)
	require.Len(t, resp.Kvs, 1)
	lease := clientv3.LeaseID(resp.Kvs[0].Lease)
	_, err = r.cli.Revoke(ctx, lease)
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		resp, err := r.cli.Get(ctx, key)
		return err == nil && len(resp.Kvs) == 1 && clientv3.LeaseID(resp.Kvs[0].Lease) != lease
	}, 10*time.Second, 10*time.Millisecond, "registered again under a new lease")
	require.Eventually(t, func() bool {
		code, rd := readyz(t, r.http.Addr())
		return code == http.StatusOK && rd.Registered
	}, 10*time.Second, 10*time.Millisecond, "ready again")
	require.Contains(t, logs.String(), `msg="node registration lost; registering again"`)
	require.Contains(t, logs.String(), `msg="node registered again"`)
	http.DefaultClient.CloseIdleConnections()
}

func TestOptionsRejectBadConfig(t *testing.T) {
	for name, cfg := range map[string]node.Config{
		"no node ID":   {},
		"bad node ID":  {NodeID: "Bad/ID"},
		"short TTL":    {NodeID: "n", LeaseTTL: time.Second},
		"long TTL":     {NodeID: "n", LeaseTTL: 2 * time.Hour},
		"fast on ext.": {NodeID: "n", Etcd: etcd.ClientConfig{Endpoints: []string{"http://127.0.0.1:2379"}}, Embedded: node.EmbeddedConfig{Fast: true}},
	} {
		err := fx.ValidateApp(node.Options(cfg))
		require.Error(t, err, name)
	}
}

func TestGenerateID(t *testing.T) {
	seen := map[string]bool{}
	for _, host := range []string{"", "vm", "Web-01.Example.COM", "-._", "höst name", strings.Repeat("x", 200), "9lives"} {
		id := node.GenerateID(host)
		require.NoError(t, domain.ValidateName("node_id", id), "%q -> %q", host, id)
		require.False(t, seen[id], "IDs differ")
		seen[id] = true
	}
	require.Regexp(t, `^web-01\.example\.com-[0-9a-f]{8}$`, node.GenerateID("Web-01.Example.COM"))
	require.Regexp(t, `^node-[0-9a-f]{8}$`, node.GenerateID(""))
	require.Regexp(t, `^h-st-name-[0-9a-f]{8}$`, node.GenerateID("höst name"))
	require.NotEqual(t, node.GenerateID("vm"), node.GenerateID("vm"))
}

// TestStopWithEtcdGone: nodes whose etcd went away still stop, in bounded
// time, and leave no goroutine behind (TestMain checks).
func TestStopWithEtcdGone(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for the scheduler stop bound")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	srv, err := etcd.StartServer(ctx, etcd.ServerConfig{
		DataDir: t.TempDir(), ClientURL: "http://127.0.0.1:0", PeerURL: "http://127.0.0.1:0", Fast: true, UnsafeNoFsync: true,
	})
	require.NoError(t, err)
	leaderCfg := externalConfig(t, "leader")
	leaderCfg.Etcd.Endpoints = []string{srv.ClientURL()}
	leader := start(t, leaderCfg)
	require.Eventually(t, func() bool { return leader.sched.Status().Leader }, 10*time.Second, 10*time.Millisecond)
	followerCfg := leaderCfg
	followerCfg.NodeID = "follower"
	followerCfg.HTTPAddr = "127.0.0.1:0"
	follower := start(t, followerCfg) // campaigning, waiting for the leader to go

	srv.Close()
	begin := time.Now()
	var wg sync.WaitGroup
	for _, r := range []*running{leader, follower} {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if err := r.app.Stop(ctx); err != nil {
				// The follower's campaign only ends when the client closes
				// (concurrency.Election cleans up with the client's context).
				assert.Equal(t, "the scheduler did not stop within 10s (is etcd unreachable?); stopping the rest of the node to end it", err.Error())
			}
		})
	}
	wg.Wait()
	require.Less(t, time.Since(begin), 20*time.Second, "stopped long before the stop timeout")
	http.DefaultClient.CloseIdleConnections()
}
