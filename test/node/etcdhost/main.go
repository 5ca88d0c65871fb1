// Command etcdhost runs an embedded single-member etcd, and nothing else,
// until SIGINT or SIGTERM: an etcd that no pink-node hosts, for cluster
// tests and for trying a Pink cluster by hand without installing etcd.
//
//	go run ./test/node/etcdhost --data-dir /tmp/etcd --listen http://127.0.0.1:2379
//
// It prints "etcd ready" with the client URL once it serves.
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
	dataDir := flag.String("data-dir", "./etcdhost-data", "etcd data directory")
	listen := flag.String("listen", "http://127.0.0.1:2379", "client URL (port 0 picks one)")
	peer := flag.String("peer-listen", "http://127.0.0.1:2380", "peer URL (port 0 picks one)")
	fast := flag.Bool("fast", false, "short raft ticks (10 ms / 100 ms), for tests")
	flag.Parse()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	srv, err := etcd.StartServer(ctx, etcd.ServerConfig{
		Name: "etcdhost", DataDir: *dataDir, ClientURL: *listen, PeerURL: *peer, Fast: *fast, Logger: log,
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "etcdhost:", err)
		os.Exit(1)
	}
	log.Info("etcd ready", "client_url", srv.ClientURL(), "peer_url", srv.PeerURL(), "data_dir", *dataDir)
	select {
	case <-ctx.Done():
		log.Info("etcd stopping")
	case err := <-srv.Err():
		log.Error("etcd failed", "err", err)
	}
	done := make(chan struct{})
	go func() { srv.Close(); close(done) }()
	select {
	case <-done:
		log.Info("etcd stopped")
	case <-time.After(30 * time.Second):
		log.Error("etcd did not stop within 30s")
		os.Exit(1)
	}
}
