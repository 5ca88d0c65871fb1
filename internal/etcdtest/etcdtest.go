// Package etcdtest starts an embedded etcd for tests and lists the
// goroutines etcd's libraries leave behind, for goleak.
//
// The tests of package adapters/etcd itself cannot use it: this package
// imports adapters/etcd, an import cycle for that package's in-package
// tests.
package etcdtest

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/pink-scheduler/pink/adapters/etcd"
)

// startTimeout bounds the start of the server.
const startTimeout = time.Minute

// StartServer starts a single-member embedded etcd in a new temporary
// directory named after dirPattern (as os.MkdirTemp), on loopback ports the
// system picks, tuned for tests (Fast, UnsafeNoFsync). cleanup stops it
// and removes the directory.
func StartServer(dirPattern string) (srv *etcd.Server, cleanup func(), err error) {
	dir, err := os.MkdirTemp("", dirPattern)
	if err != nil {
		return nil, nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	srv, err = etcd.StartServer(ctx, etcd.ServerConfig{
		DataDir: dir, ClientURL: "http://127.0.0.1:0", PeerURL: "http://127.0.0.1:0",
		Fast: true, UnsafeNoFsync: true,
	})
	cancel()
	if err != nil {
		return nil, nil, err
	}
	return srv, func() {
		srv.Close()
		_ = os.RemoveAll(dir)
	}, nil
}

// GoleakOptions ignores the goroutines etcd's own libraries leave behind
// after Close (they are not ours to stop).
func GoleakOptions() []goleak.Option {
	return []goleak.Option{
		goleak.IgnoreTopFunction("go.opencensus.io/stats/view.(*worker).start"),
		goleak.IgnoreAnyFunction("google.golang.org/grpc/internal/grpcsync.(*CallbackSerializer).run"),
		goleak.IgnoreAnyFunction("go.etcd.io/etcd/pkg/v3/schedule.(*fifo).run"),
		goleak.IgnoreAnyFunction("go.etcd.io/etcd/server/v3/storage/backend.(*backend).run"),
	}
}

// Main is a TestMain for a package whose tests share one server: it starts
// the server (see StartServer) into *srv, runs the tests, stops the server
// and, if the tests passed, fails the run on leaked goroutines (see
// GoleakOptions). It returns the exit code for os.Exit.
func Main(m *testing.M, dirPattern string, srv **etcd.Server) int {
	s, cleanup, err := StartServer(dirPattern)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	*srv = s
	code := m.Run()
	cleanup()
	if code == 0 {
		if err := goleak.Find(GoleakOptions()...); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	return code
}
