package etcd

import (
	"go.uber.org/fx"

	"github.com/pink-scheduler/pink/ports"
)

// Module provides a *Store made by NewStore from the *clientv3.Client and
// the Options in the graph, and binds it to every storage and registry
// port. The store does not own the client: whoever provides the client
// closes it on stop, after the store's users have stopped (provide the
// client from a constructor that appends its lifecycle hook, and fx's
// reverse stop order does the rest). Electors need a node ID and a TTL:
// make them with NewElector.
var Module = fx.Module("etcd",
	fx.Provide(fx.Annotate(NewStore,
		fx.As(fx.Self()),
		fx.As(new(ports.GroupStore)),
		fx.As(new(ports.JobStore)),
		fx.As(new(ports.FireStore)),
		fx.As(new(ports.RunStore)),
		fx.As(new(ports.WorkerRegistry)),
		fx.As(new(ports.NodeRegistry)),
	)),
)
