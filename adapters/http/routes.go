package http

import (
	"context"
	"encoding/json"
	"net/http"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"
)

// routes mounts every endpoint of the server.
//
//	GET /healthz  200 while the process is up
//	GET /readyz   200 when etcd answers and the node is registered, else
//	              503; the body (Readiness) says who leads either way
//
//	/api/v1/worker/...  the HTTP worker protocol (Deps.WorkerAPI)
//	/api/v1/...         the REST API (Deps.API)
//	/...                the web console (Deps.Console)
func (s *Server) routes() http.Handler {
	r := chi.NewRouter()
	r.Use(middleware.Recoverer, middleware.GetHead)
	r.Get("/healthz", s.handleHealthz)
	r.Get("/readyz", s.handleReadyz)
	if s.deps.WorkerAPI != nil {
		r.Mount("/api/v1/worker", s.deps.WorkerAPI)
	}
	if s.deps.API != nil {
		r.Mount("/api/v1", s.deps.API)
	}
	if s.deps.Console != nil {
		r.Mount("/", s.deps.Console)
	}
	return r
}

// handleHealthz answers that the process is up: it checks nothing else, so
// a restart is never triggered by a dependency's outage.
func (s *Server) handleHealthz(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// handleReadyz reports whether the node can do its work.
func (s *Server) handleReadyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), readyTimeout)
	defer cancel()
	rd := s.deps.Health.Ready(ctx)
	status := http.StatusOK
	if !rd.Ready {
		status = http.StatusServiceUnavailable
	}
	writeJSON(w, status, rd)
}

// writeJSON writes v as the JSON body of a response with the status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v) // the client went away: nothing to do
}
