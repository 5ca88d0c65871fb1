package etcd

import (
	"log/slog"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/pink-scheduler/pink/ports"
)

// Options configures a Store.
type Options struct {
	// Prefix is the root of every key; default DefaultPrefix ("/pink").
	Prefix string
	// Logger receives the store's own log lines (watch restarts after a
	// compaction, for example); nil means slog.Default().
	Logger *slog.Logger
	// Clock stamps records; nil means the system clock.
	Clock ports.Clock
}

// Store implements the storage and registry ports on one etcd client:
// ports.GroupStore, ports.JobStore, ports.FireStore, ports.RunStore,
// ports.WorkerRegistry and ports.NodeRegistry. It is safe for concurrent
// use. It does not own the client: close the client after the store's
// users are done.
type Store struct {
	cli *clientv3.Client
	k   keys
	log *slog.Logger
	clk ports.Clock
	// moves are this Store's recent moves of runs off assignment keys,
	// which its WatchAssigned reads instead of the store (runs_moves.go).
	moves moveLog
}

// NewStore returns a Store on cli.
func NewStore(cli *clientv3.Client, o Options) *Store {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Clock == nil {
		o.Clock = systemClock{}
	}
	return &Store{cli: cli, k: newKeys(o.Prefix), log: o.Logger, clk: o.Clock}
}
