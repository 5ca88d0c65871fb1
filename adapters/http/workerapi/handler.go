package workerapi

import (
	"context"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/pink-scheduler/pink/app/auth"
	"github.com/pink-scheduler/pink/app/gateway"
	"github.com/pink-scheduler/pink/domain"
)

// DefaultMaxBodyBytes bounds a request body unless Deps.MaxBodyBytes says
// otherwise.
const DefaultMaxBodyBytes = 1 << 20

// Gateway is what the handlers need of the worker sessions; a
// *gateway.Gateway is one.
type Gateway interface {
	Register(ctx context.Context, w domain.Worker, ttl time.Duration) (gateway.Session, error)
	Heartbeat(ctx context.Context, group, workerID string) ([]gateway.Cancelled, error)
	Poll(ctx context.Context, group, workerID string, wait time.Duration) (gateway.PollResult, error)
	Start(ctx context.Context, group, workerID, runID string, attempt int) (domain.Run, error)
	Output(ctx context.Context, group, workerID, runID string, attempt int, chunk string) error
	Finish(ctx context.Context, group, workerID string, rep domain.Report) (gateway.FinishResult, error)
	Deregister(ctx context.Context, group, workerID string) error
}

var _ Gateway = (*gateway.Gateway)(nil)

// Authenticator checks worker tokens; an *auth.Service is one.
type Authenticator interface {
	// Authenticate returns who a secret stands for, or an error wrapping
	// domain.ErrUnauthenticated.
	Authenticate(ctx context.Context, secret string) (auth.Principal, error)
	// AuthorizeWorker returns nil if p is a worker token of group, and an
	// error wrapping domain.ErrForbidden otherwise.
	AuthorizeWorker(p auth.Principal, group string) error
}

// Auditor records what workers do in the audit log; an *auth.Service is
// one.
type Auditor interface {
	Audit(ctx context.Context, p auth.Principal, action, target, detail string, result domain.AuditResult) error
}

var (
	_ Authenticator = (*auth.Service)(nil)
	_ Auditor       = (*auth.Service)(nil)
)

// Audit actions of the worker API.
const (
	AuditWorkerRegister   = "worker.register"
	AuditWorkerDeregister = "worker.deregister"
	// AuditWorkerDenied records a worker token used for another group, or
	// another kind of token used on the worker API.
	AuditWorkerDenied = "worker.denied"
)

// Deps are what the handlers need. Gateway and Auth are required.
type Deps struct {
	Gateway Gateway
	Auth    Authenticator
	// Audit, if set, records registrations, deregistrations and refused
	// (403) requests. Unauthenticated requests are not recorded: that
	// would let anyone make the store write.
	Audit Auditor
	// Logger receives the API's log; nil means slog.Default().
	Logger *slog.Logger
	// MaxBodyBytes bounds request bodies; 0 means DefaultMaxBodyBytes.
	MaxBodyBytes int64
}

// api holds the handlers.
type api struct {
	gw      Gateway
	auth    Authenticator
	audit   Auditor
	log     *slog.Logger
	maxBody int64
}

// Handler returns the worker API, to be mounted at /api/v1/worker (with
// chi's Mount; it routes on the rest of the path). It panics if
// d.Gateway or d.Auth is nil.
//
//	POST   /register
//	POST   /workers/{id}/heartbeat
//	GET    /workers/{id}/runs?wait=<duration>
//	POST   /workers/{id}/runs/{run_id}/start
//	POST   /workers/{id}/runs/{run_id}/output
//	POST   /workers/{id}/runs/{run_id}/result
//	DELETE /workers/{id}
func Handler(d Deps) http.Handler {
	if d.Gateway == nil || d.Auth == nil {
		panic("workerapi: Deps.Gateway and Deps.Auth are required")
	}
	if d.Logger == nil {
		d.Logger = slog.Default()
	}
	if d.MaxBodyBytes <= 0 {
		d.MaxBodyBytes = DefaultMaxBodyBytes
	}
	a := &api{gw: d.Gateway, auth: d.Auth, audit: d.Audit, log: d.Logger, maxBody: d.MaxBodyBytes}
	r := chi.NewRouter()
	r.Use(a.authenticate)
	r.Post("/register", a.register)
	r.Post("/workers/{worker_id}/heartbeat", a.heartbeat)
	r.Get("/workers/{worker_id}/runs", a.poll)
	r.Post("/workers/{worker_id}/runs/{run_id}/start", a.start)
	r.Post("/workers/{worker_id}/runs/{run_id}/output", a.output)
	r.Post("/workers/{worker_id}/runs/{run_id}/result", a.result)
	r.Delete("/workers/{worker_id}", a.deregister)
	r.NotFound(func(w http.ResponseWriter, _ *http.Request) {
		writeError(w, http.StatusNotFound, "not_found", "no such endpoint of the worker API", "")
	})
	r.MethodNotAllowed(func(w http.ResponseWriter, _ *http.Request) {
		writeError(w, http.StatusMethodNotAllowed, "method_not_allowed", "method not allowed on this endpoint", "")
	})
	return r
}

// principalKey keys the request's principal in its context.
type principalKey struct{}

// principal returns the principal authenticate put in the request.
func principal(r *http.Request) auth.Principal {
	p, _ := r.Context().Value(principalKey{}).(auth.Principal)
	return p
}

// authenticate admits requests with a valid worker token ("Authorization:
// Bearer pink_worker_..."); other tokens get 403, none or a bad one 401.
func (a *api) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		scheme, secret, ok := strings.Cut(r.Header.Get("Authorization"), " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(secret) == "" {
			a.unauthenticated(w, r, "missing bearer token: send \"Authorization: Bearer pink_worker_...\"")
			return
		}
		p, err := a.auth.Authenticate(r.Context(), strings.TrimSpace(secret))
		if err != nil {
			if errorsIsUnauthenticated(err) {
				a.unauthenticated(w, r, "invalid worker token")
				return
			}
			a.fail(w, r, err)
			return
		}
		// A worker token of its own group is a worker token.
		if err := a.auth.AuthorizeWorker(p, p.Group); err != nil {
			a.denied(r.Context(), p, r.Method+" "+r.URL.Path, err)
			a.fail(w, r, err)
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), principalKey{}, p)))
	})
}

func (a *api) unauthenticated(w http.ResponseWriter, r *http.Request, msg string) {
	a.log.Debug("worker api: request refused", "method", r.Method, "path", r.URL.Path, "status", http.StatusUnauthorized,
		"reason", msg)
	w.Header().Set("WWW-Authenticate", `Bearer realm="pink-worker"`)
	writeError(w, http.StatusUnauthorized, "unauthenticated", msg, "")
}

// denied records a refused request in the audit log (best effort).
func (a *api) denied(ctx context.Context, p auth.Principal, target string, err error) {
	a.record(ctx, p, AuditWorkerDenied, target, err.Error(), domain.AuditDenied)
}

// record appends an audit entry if there is an auditor; a failure is
// logged, not returned: the request's outcome stands.
func (a *api) record(ctx context.Context, p auth.Principal, action, target, detail string, result domain.AuditResult) {
	if a.audit == nil {
		return
	}
	if err := a.audit.Audit(context.WithoutCancel(ctx), p, action, target, detail, result); err != nil {
		a.log.Warn("worker api: audit failed", "action", action, "target", target, "err", err)
	}
}
