package etcd

import (
	"context"
	"fmt"
	"os"
	"sync/atomic"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/goleak"
	"go.uber.org/zap"
)

// testServer is one embedded etcd shared by the package's tests; each test
// isolates itself under its own key prefix (see testPrefix).
var testServer *Server

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "pink-etcd-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	testServer, err = StartServer(ctx, ServerConfig{
		DataDir: dir, ClientURL: "http://127.0.0.1:0", PeerURL: "http://127.0.0.1:0",
		Fast: true, UnsafeNoFsync: true,
	})
	cancel()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	testServer.Close()
	_ = os.RemoveAll(dir)
	if code == 0 {
		if err := goleak.Find(goleakOptions()...); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.Exit(code)
}

// goleakOptions ignores the goroutines etcd's own libraries leave behind
// after Close (they are not ours to stop).
func goleakOptions() []goleak.Option {
	opts := []goleak.Option{
		goleak.IgnoreTopFunction("go.opencensus.io/stats/view.(*worker).start"),
		goleak.IgnoreAnyFunction("google.golang.org/grpc/internal/grpcsync.(*CallbackSerializer).run"),
		goleak.IgnoreAnyFunction("go.etcd.io/etcd/pkg/v3/schedule.(*fifo).run"),
		goleak.IgnoreAnyFunction("go.etcd.io/etcd/server/v3/storage/backend.(*backend).run"),
	}
	if clusterStarted.Load() {
		// Members of one cluster in one process leave a few peer HTTP
		// connections between them open after Close: etcd's peer server
		// (behind cmux) waits in finishRequest for a client connection of
		// an etcd-internal transport that is never closed. This package
		// makes no HTTP connections of its own, so ignoring them hides
		// nothing of ours; runs without the cluster test keep the check.
		opts = append(opts,
			goleak.IgnoreAnyFunction("net/http.(*persistConn).readLoop"),
			goleak.IgnoreAnyFunction("net/http.(*persistConn).writeLoop"),
			goleak.IgnoreAnyFunction("net/http.(*connReader).backgroundRead"),
			goleak.IgnoreAnyFunction("net/http.(*conn).serve"),
		)
	}
	return opts
}

// clusterStarted records that a multi-member cluster ran (see
// goleakOptions).
var clusterStarted atomic.Bool

var prefixSeq atomic.Int64

// testPrefix returns a key prefix no other test uses.
func testPrefix(t *testing.T) string {
	return fmt.Sprintf("/pinktest/%d", prefixSeq.Add(1))
}

// testClient returns a gRPC client to the shared test server, closed at the
// end of the test. Use it where a test needs a client separate from the
// in-process one (to revoke a lease behind a session's back, say).
func testClient(t *testing.T) *clientv3.Client {
	t.Helper()
	cli, err := clientv3.New(clientv3.Config{
		Endpoints: []string{testServer.ClientURL()}, DialTimeout: 5 * time.Second,
		Logger: zap.NewNop(),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cli.Close() })
	return cli
}
