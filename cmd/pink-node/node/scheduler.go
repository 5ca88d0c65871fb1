package node

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/fx"

	"github.com/pink-scheduler/pink/adapters/etcd"
	"github.com/pink-scheduler/pink/app/scheduler"
	"github.com/pink-scheduler/pink/ports"
)

// newElector makes the node's etcd elector, campaigning as its ID with a
// session of the lease TTL.
func newElector(cfg Config, cli *clientv3.Client) ports.Elector {
	// The elector adds the node ID to its log lines itself.
	return etcd.NewElector(cli, etcd.ElectorOptions{
		Prefix: cfg.Prefix, NodeID: cfg.NodeID, TTL: cfg.LeaseTTL, Logger: cfg.Logger,
	})
}

// schedulerPorts are the ports the scheduler runs on.
type schedulerPorts struct {
	fx.In
	Jobs    ports.JobStore
	Fires   ports.FireStore
	Runs    ports.RunStore
	Workers ports.WorkerRegistry
	Elector ports.Elector
	Clock   ports.Clock
}

func newScheduler(cfg Config, p schedulerPorts) (*scheduler.Scheduler, error) {
	return scheduler.New(scheduler.Config{
		Jobs: p.Jobs, Fires: p.Fires, Runs: p.Runs, Workers: p.Workers,
		Elector: p.Elector, Clock: p.Clock,
		Retention: cfg.History, PruneInterval: cfg.PruneInterval,
		Logger: cfg.Logger.With("node", cfg.NodeID),
	})
}

// schedulerStopWait bounds the wait for the scheduler on stop. It stops
// within milliseconds normally, and within its 5 s resign timeout if etcd
// is slow; but a campaign waiting on an unreachable etcd only returns once
// the etcd client closes (concurrency.Election cleans up with the client's
// context), which happens after this hook.
const schedulerStopWait = 10 * time.Second

// schedulerRunner owns the goroutine that runs the scheduler: OnStart
// starts it and returns, OnStop cancels it and waits, and the scheduler
// resigns on cancel so a follower takes over at once. If it has not
// returned after schedulerStopWait, stop lets the rest of the node stop
// (closing the etcd client ends it) and the goroutines hook, stopped
// last, waits for it.
type schedulerRunner struct {
	s   *scheduler.Scheduler
	g   *goroutines
	sd  fx.Shutdowner
	log *slog.Logger

	cancel context.CancelFunc
	done   chan struct{}
}

func (r *schedulerRunner) start(context.Context) error {
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel, r.done = cancel, make(chan struct{})
	r.g.Go(func() {
		defer close(r.done)
		err := r.s.Run(ctx)
		if ctx.Err() == nil {
			// Run returns before its context ends only on a failure it
			// cannot retry: a node that does not schedule must not look
			// healthy.
			r.log.Error("scheduler stopped unexpectedly; stopping the node", "err", err)
			_ = r.sd.Shutdown(fx.ExitCode(1))
		}
	})
	return nil
}

func (r *schedulerRunner) stop(ctx context.Context) error {
	r.cancel()
	t := time.NewTimer(schedulerStopWait)
	defer t.Stop()
	select {
	case <-r.done:
		return nil
	case <-t.C:
	case <-ctx.Done():
	}
	return fmt.Errorf("the scheduler did not stop within %s (is etcd unreachable?); stopping the rest of the node to end it", schedulerStopWait)
}

func runScheduler(cfg Config, s *scheduler.Scheduler, g *goroutines, lc fx.Lifecycle, sd fx.Shutdowner) {
	r := &schedulerRunner{s: s, g: g, sd: sd, log: cfg.Logger.With("node", cfg.NodeID)}
	lc.Append(fx.StartStopHook(r.start, r.stop))
}

// goroutines owns goroutines that may outlive their component's OnStop
// (see schedulerRunner). Its OnStop hook is appended before every other
// (Options invokes it first), so it runs last and waits for them, after
// the etcd client has closed.
type goroutines struct{ wg sync.WaitGroup }

func newGoroutines(lc fx.Lifecycle) *goroutines {
	g := &goroutines{}
	lc.Append(fx.StopHook(g.wait))
	return g
}

// Go runs f in a goroutine that stop waits for.
func (g *goroutines) Go(f func()) { g.wg.Go(f) }

func (g *goroutines) wait(ctx context.Context) error {
	done := make(chan struct{})
	go func() { g.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("goroutines still running at the stop deadline: %w", ctx.Err())
	}
}
