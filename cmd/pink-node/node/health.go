package node

import (
	"context"
	"errors"
	"os"

	pinkhttp "github.com/pink-scheduler/pink/adapters/http"
	"github.com/pink-scheduler/pink/app/scheduler"
	"github.com/pink-scheduler/pink/domain"
	"github.com/pink-scheduler/pink/ports"
)

// health answers /readyz for the node.
type health struct {
	id      string
	apiOnly bool
	sched   *scheduler.Scheduler
	el      ports.Elector
	reg     *registration
}

var _ pinkhttp.HealthChecker = (*health)(nil)

func newHealth(cfg Config, s *scheduler.Scheduler, el ports.Elector, reg *registration) *health {
	return &health{id: cfg.NodeID, apiOnly: cfg.APIOnly, sched: s, el: el, reg: reg}
}

// Ready implements pinkhttp.HealthChecker: etcd answers (reading the
// current leader, a linearizable read) and the node is registered.
func (h *health) Ready(ctx context.Context) pinkhttp.Readiness {
	r := pinkhttp.Readiness{
		NodeID:     h.id,
		Leader:     h.sched.Status().Leader,
		Registered: h.reg.registered(),
		Etcd:       "ok",
	}
	li, err := h.el.Leader(ctx)
	switch {
	case err == nil:
		r.LeaderID = li.NodeID
	case errors.Is(err, domain.ErrNotFound):
	default:
		r.Etcd = err.Error()
	}
	// An API-only server registers nothing: etcd answering is enough.
	r.Ready = r.Etcd == "ok" && (r.Registered || h.apiOnly)
	return r
}

func newHTTP(cfg Config, h *health, a apiHandler, c consoleHandler, w workerAPIHandler) (pinkhttp.Config, pinkhttp.Deps) {
	return pinkhttp.Config{Addr: cfg.HTTPAddr, Dev: cfg.Dev, Logger: cfg.Logger.With("node", cfg.NodeID)},
		pinkhttp.Deps{Health: h, API: a.Handler, Console: c.Handler, WorkerAPI: w.Handler}
}

func hostname() string {
	h, _ := os.Hostname() // advisory
	return h
}
