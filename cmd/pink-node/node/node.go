package node

import (
	"log/slog"

	"go.uber.org/fx"
	"go.uber.org/fx/fxevent"

	"github.com/pink-scheduler/pink/adapters/clock"
	"github.com/pink-scheduler/pink/adapters/etcd"
	pinkhttp "github.com/pink-scheduler/pink/adapters/http"
	"github.com/pink-scheduler/pink/ports"
)

// Options returns the node's fx graph for cfg (an fx.Error if cfg is
// invalid). The graph provides, among others, *clientv3.Client,
// *etcd.Store and every storage port, ports.Elector,
// *scheduler.Scheduler and *pinkhttp.Server; fx.Populate them to look
// inside a running node.
func Options(cfg Config) fx.Option {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return fx.Error(err)
	}
	return fx.Options(
		fx.Supply(cfg),
		fx.Provide(
			func() ports.Clock { return clock.System{} },
			func(clk ports.Clock) etcd.Options {
				return etcd.Options{Prefix: cfg.Prefix, Logger: cfg.Logger.With("node", cfg.NodeID), Clock: clk}
			},
			newGoroutines,
			newEtcdClient,
			newElector,
			newScheduler,
			newRegistration,
			newHealth,
			newAuth,
			newLimiter,
			newJobs,
			newAPI,
			newConsole,
			newGateway,
			newWorkerAPI,
			newHTTP,
		),
		etcd.Module,
		pinkhttp.Module,
		// These invokes append the lifecycle hooks, in start order; fx
		// stops in reverse. The goroutines hook comes first, so it stops
		// last; then the etcd client's (appended when the client is built,
		// for the registration). The scheduler comes last so that it stops
		// first: it resigns before anything else goes away.
		fx.Invoke(func(*goroutines) {}),
		onlyIf(!cfg.APIOnly, fx.Invoke(func(r *registration, lc fx.Lifecycle) { lc.Append(fx.StartStopHook(r.start, r.stop)) })),
		fx.Invoke(runAuth),
		fx.Invoke(func(*pinkhttp.Server) {}),
		fx.Invoke(closeGateway),
		onlyIf(!cfg.APIOnly, fx.Invoke(runScheduler)),
	)
}

// onlyIf returns o when cond holds, else nothing.
func onlyIf(cond bool, o fx.Option) fx.Option {
	if cond {
		return o
	}
	return fx.Options()
}

// New returns the node's fx app, its own log (fx's events) going to the
// config's logger at debug level. Extra options are added to the graph
// (fx.Populate, for tests). Check app.Err(), then Start, Wait and Stop.
func New(cfg Config, extra ...fx.Option) *fx.App {
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	opts := []fx.Option{
		Options(cfg),
		fx.WithLogger(func() fxevent.Logger {
			l := &fxevent.SlogLogger{Logger: log.With("component", "fx")}
			// Errors too: the caller logs the error Start or Stop returns,
			// once.
			l.UseLogLevel(slog.LevelDebug)
			l.UseErrorLevel(slog.LevelDebug)
			return l
		}),
		fx.StartTimeout(DefaultStartLimit),
		fx.StopTimeout(DefaultStopLimit),
	}
	return fx.New(append(opts, extra...)...)
}
