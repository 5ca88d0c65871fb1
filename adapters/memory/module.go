package memory

import (
	"context"

	"go.uber.org/fx"

	"github.com/pink-scheduler/pink/ports"
)

// Module provides a *Backend (which needs a ports.Clock from the graph)
// and binds it to every storage and registry port. The backend is closed
// when the app stops. Electors need a node ID and a TTL: make them with
// Backend.NewElector.
var Module = fx.Options(
	fx.Provide(fx.Annotate(newForFx,
		fx.As(fx.Self()),
		fx.As(new(ports.GroupStore)),
		fx.As(new(ports.JobStore)),
		fx.As(new(ports.FireStore)),
		fx.As(new(ports.RunStore)),
		fx.As(new(ports.WorkerRegistry)),
		fx.As(new(ports.NodeRegistry)),
	)),
)

// newForFx makes the backend of Module and closes it on stop.
func newForFx(clock ports.Clock, lc fx.Lifecycle) *Backend {
	b := New(clock)
	lc.Append(fx.Hook{OnStop: func(context.Context) error {
		b.Close()
		return nil
	}})
	return b
}
