package http

import (
	"go.uber.org/fx"
)

// Module provides a *Server from the Config and Deps in the graph, started
// by an OnStart hook and stopped by an OnStop hook. The hooks sit where
// the server is first needed in the graph: ask for *Server (fx.Invoke)
// after the components it must outlive on stop, and before those it must
// stop after.
var Module = fx.Module("http",
	fx.Provide(newForFx),
)

func newForFx(cfg Config, deps Deps, lc fx.Lifecycle) (*Server, error) {
	s, err := NewServer(cfg, deps)
	if err != nil {
		return nil, err
	}
	lc.Append(fx.StartStopHook(s.Start, s.Stop))
	return s, nil
}
