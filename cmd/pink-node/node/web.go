package node

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"time"

	"go.uber.org/fx"

	"github.com/pink-scheduler/pink/adapters/etcd"
	pinkhttp "github.com/pink-scheduler/pink/adapters/http"
	"github.com/pink-scheduler/pink/adapters/http/api"
	"github.com/pink-scheduler/pink/adapters/http/console"
	"github.com/pink-scheduler/pink/adapters/http/workerapi"
	"github.com/pink-scheduler/pink/app/auth"
	"github.com/pink-scheduler/pink/app/gateway"
	"github.com/pink-scheduler/pink/app/jobs"
	"github.com/pink-scheduler/pink/app/query"
	"github.com/pink-scheduler/pink/ports"
)

// authMaintenanceInterval is how often expired sessions and old audit
// entries are pruned.
const authMaintenanceInterval = 10 * time.Minute

// newAuth makes the authentication service on the etcd store.
func newAuth(store *etcd.Store, clk ports.Clock) (*auth.Service, error) {
	return auth.New(auth.Config{Users: store, Tokens: store, Audit: store, Groups: store, Clock: clk})
}

// newLimiter makes the login limiter the API and the console share.
func newLimiter(clk ports.Clock) *auth.LoginLimiter {
	return auth.NewLoginLimiter(clk, auth.LimiterConfig{})
}

// newJobs makes the job management service.
func newJobs(store *etcd.Store, clk ports.Clock) (*jobs.Service, error) {
	return jobs.New(jobs.Config{Groups: store, Jobs: store, Fires: store, Workers: store, Clock: clk})
}

// webDeps are what the API and console handlers are built from.
type webDeps struct {
	fx.In
	Cfg     Config
	Store   *etcd.Store
	Clock   ports.Clock
	Elector ports.Elector
	Auth    *auth.Service
	Jobs    *jobs.Service
	Limiter *auth.LoginLimiter
}

// apiHandler is the REST API's handler, named for the graph.
type apiHandler struct{ http.Handler }

func newAPI(d webDeps) (apiHandler, error) {
	h, err := api.New(api.Deps{
		Jobs: d.Jobs, Auth: d.Auth,
		Groups: d.Store, JobStore: d.Store, Runs: d.Store, Fires: d.Store, Workers: d.Store, Nodes: d.Store,
		Leader: d.Elector, Limiter: d.Limiter, Clock: d.Clock, Dev: d.Cfg.Dev,
		Logger: d.Cfg.Logger.With("node", d.Cfg.NodeID, "component", "api"),
	})
	return apiHandler{h}, err
}

// authRunner bootstraps the first admin and prunes sessions and the audit
// log in the background.
type authRunner struct {
	cfg    Config
	auth   *auth.Service
	g      *goroutines
	cancel context.CancelFunc
}

func (r *authRunner) start(ctx context.Context) error {
	created, password, err := r.auth.Bootstrap(ctx, os.Getenv("PINK_ADMIN_PASSWORD"))
	if err != nil {
		return fmt.Errorf("create the first admin: %w", err)
	}
	if created {
		if os.Getenv("PINK_ADMIN_PASSWORD") != "" {
			r.cfg.Logger.Warn("created the first user, admin, with the password from PINK_ADMIN_PASSWORD")
		} else {
			r.cfg.Logger.Warn("created the first user: log in as admin with this password, shown only once, and change it",
				"user", "admin", "password", password)
		}
	}
	mctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	r.g.Go(func() { _ = r.auth.RunMaintenance(mctx, authMaintenanceInterval) })
	return nil
}

func (r *authRunner) stop(context.Context) error {
	if r.cancel != nil {
		r.cancel()
	}
	return nil
}

func runAuth(cfg Config, a *auth.Service, g *goroutines, lc fx.Lifecycle) {
	r := &authRunner{cfg: cfg, auth: a, g: g}
	lc.Append(fx.StartStopHook(r.start, r.stop))
}

// consoleHandler is the web console's handler, named for the graph.
type consoleHandler struct{ http.Handler }

func newConsole(d webDeps) (consoleHandler, error) {
	q, err := query.New(query.Config{Runs: d.Store, Fires: d.Store, Workers: d.Store, Nodes: d.Store,
		Leader: d.Elector, Clock: d.Clock})
	if err != nil {
		return consoleHandler{}, err
	}
	h, err := console.New(console.Deps{
		Auth: d.Auth, Limiter: d.Limiter, Jobs: d.Jobs, Query: q,
		Groups: d.Store, JobStore: d.Store, Runs: d.Store, Clock: d.Clock, Dev: d.Cfg.Dev,
		Logger: d.Cfg.Logger.With("node", d.Cfg.NodeID, "component", "console"),
	})
	return consoleHandler{h}, err
}

// newGateway makes the HTTP workers' gateway.
func newGateway(cfg Config, store *etcd.Store, clk ports.Clock) (*gateway.Gateway, error) {
	return gateway.New(gateway.Config{Registry: store, Runs: store, Clock: clk,
		Logger: cfg.Logger.With("node", cfg.NodeID, "component", "gateway")})
}

// workerAPIHandler is the HTTP worker protocol's handler, named for the
// graph.
type workerAPIHandler struct{ http.Handler }

func newWorkerAPI(cfg Config, gw *gateway.Gateway, a *auth.Service) workerAPIHandler {
	return workerAPIHandler{workerapi.Handler(workerapi.Deps{Gateway: gw, Auth: a, Audit: a,
		Logger: cfg.Logger.With("node", cfg.NodeID, "component", "workerapi")})}
}

// closeGateway ends the HTTP workers' sessions before the HTTP server
// stops (so long polls return at once) and before the etcd client closes
// (the sessions' leases are revoked through it).
func closeGateway(_ *pinkhttp.Server, gw *gateway.Gateway, lc fx.Lifecycle) {
	lc.Append(fx.StopHook(gw.Close))
}
