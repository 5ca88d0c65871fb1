// Command etcdmember runs one member of an embedded etcd cluster, and
// nothing else, until SIGINT or SIGTERM: the cluster tests start three of
// them as separate processes so that a member can be killed on its own.
//
//	etcdmember --name m0 --data-dir /tmp/m0 \
//	  --listen http://127.0.0.1:2379 --peer-listen http://127.0.0.1:2380 \
//	  --initial-cluster m0=http://127.0.0.1:2380,m1=...,m2=...
//
// It prints "etcd ready" with the client URL once it serves (which needs a
// quorum of the initial cluster to be up).
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/pink-scheduler/pink/adapters/etcd"
)

func main() {
	name := flag.String("name", "m0", "member name (as in --initial-cluster)")
	dataDir := flag.String("data-dir", "./etcdmember-data", "etcd data directory")
	listen := flag.String("listen", "http://127.0.0.1:2379", "client URL")
	peer := flag.String("peer-listen", "http://127.0.0.1:2380", "peer URL")
	initial := flag.String("initial-cluster", "", "name=peerURL,... of every member; default this member alone")
	state := flag.String("cluster-state", "new", "new or existing")
	token := flag.String("cluster-token", "", "initial cluster token")
	fast := flag.Bool("fast", false, "short raft ticks (10 ms / 100 ms), for tests")
	flag.Parse()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	srv, err := etcd.StartServer(ctx, etcd.ServerConfig{
		Name: *name, DataDir: *dataDir, ClientURL: *listen, PeerURL: *peer,
		InitialCluster: *initial, ClusterState: *state, ClusterToken: *token,
		Fast: *fast, Logger: log,
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "etcdmember:", err)
		os.Exit(1)
	}
	fmt.Fprintln(os.Stderr, "etcd ready", srv.ClientURL())
	select {
	case <-ctx.Done():
	case err := <-srv.Err():
		fmt.Fprintln(os.Stderr, "etcd failed:", err)
	}
	done := make(chan struct{})
	go func() { srv.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		fmt.Fprintln(os.Stderr, "etcd did not stop within 30s")
		os.Exit(1)
	}
}
