package workerapi

import (
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/pink-scheduler/pink/app/gateway"
	"github.com/pink-scheduler/pink/domain"
)

// maxTTLSeconds keeps a requested TTL from overflowing a time.Duration;
// the gateway refuses anything above gateway.MaxTTL anyway.
const maxTTLSeconds = 3600

// register opens a session: POST /register.
func (a *api) register(w http.ResponseWriter, r *http.Request) {
	p := principal(r)
	var req registerRequest
	if !a.readBody(w, r, &req, false) {
		return
	}
	group := req.Group
	if group == "" {
		group = p.Group
	}
	if err := a.auth.AuthorizeWorker(p, group); err != nil {
		a.denied(r.Context(), p, "group/"+group, err)
		a.fail(w, r, err)
		return
	}
	ttl := time.Duration(min(max(req.TTLSeconds, -1), maxTTLSeconds)) * time.Second
	s, err := a.gw.Register(r.Context(), domain.Worker{
		ID: req.ID, Group: group, Hostname: req.Hostname, Labels: req.Labels,
		Handlers: req.Handlers, Capacity: req.Capacity, Version: req.Version,
	}, ttl)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	a.record(r.Context(), p, AuditWorkerRegister, "worker/"+s.WorkerID,
		fmt.Sprintf("group %s, hostname %q, handlers %v", group, req.Hostname, req.Handlers), domain.AuditOK)
	writeJSON(w, http.StatusCreated, registerResponse{
		WorkerID: s.WorkerID, Group: s.Group, TTLSeconds: int(s.TTL / time.Second),
		HeartbeatSeconds: s.HeartbeatEvery.Seconds(), MaxWaitSeconds: int(gateway.MaxWait / time.Second),
	})
}

// heartbeat keeps the session alive: POST /workers/{id}/heartbeat.
func (a *api) heartbeat(w http.ResponseWriter, r *http.Request) {
	id, ok := a.param(w, r, "worker_id")
	if !ok || !a.readBody(w, r, &struct{}{}, true) {
		return
	}
	cs, err := a.gw.Heartbeat(r.Context(), principal(r).Group, id)
	if err != nil {
		a.refuse(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, heartbeatResponse{Cancelled: cancelledOf(cs)})
}

// poll long-polls for runs: GET /workers/{id}/runs?wait=20s.
func (a *api) poll(w http.ResponseWriter, r *http.Request) {
	id, ok := a.param(w, r, "worker_id")
	if !ok {
		return
	}
	wait, err := parseWait(r.URL.Query().Get("wait"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	res, err := a.gw.Poll(r.Context(), principal(r).Group, id, wait)
	if err != nil {
		a.refuse(w, r, err)
		return
	}
	runs := make([]runJSON, 0, len(res.Runs))
	for i := range res.Runs {
		runs = append(runs, runOf(&res.Runs[i]))
	}
	writeJSON(w, http.StatusOK, pollResponse{Runs: runs, Cancelled: cancelledOf(res.Cancelled)})
}

// parseWait reads a poll's wait: a Go duration ("20s", "1m") or a number
// of seconds ("20", "2.5"); empty means 0.
func parseWait(s string) (time.Duration, error) {
	if s == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		f, ferr := strconv.ParseFloat(s, 64)
		if ferr != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return 0, &domain.ValidationError{Field: "wait", Reason: fmt.Sprintf("%q is not a duration such as \"20s\" or a number of seconds", s)}
		}
		d = time.Duration(max(min(f, 1e6), -1) * float64(time.Second))
	}
	if d < 0 || d > gateway.MaxWait {
		return 0, &domain.ValidationError{Field: "wait", Reason: fmt.Sprintf("must be between 0 and %s, got %s", gateway.MaxWait, s)}
	}
	return d, nil
}

// start marks an attempt running: POST /workers/{id}/runs/{run_id}/start.
func (a *api) start(w http.ResponseWriter, r *http.Request) {
	id, runID, ok := a.runParams(w, r)
	var req startRequest
	if !ok || !a.readBody(w, r, &req, false) {
		return
	}
	run, err := a.gw.Start(r.Context(), principal(r).Group, id, runID, req.Attempt)
	if err != nil {
		a.refuse(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, startResponse{ID: run.ID, Attempt: run.Attempt, State: string(run.State),
		StartedAt: run.StartedAt.UTC(), Deadline: run.Deadline().UTC()})
}

// output appends output: POST /workers/{id}/runs/{run_id}/output.
func (a *api) output(w http.ResponseWriter, r *http.Request) {
	id, runID, ok := a.runParams(w, r)
	var req outputRequest
	if !ok || !a.readBody(w, r, &req, false) {
		return
	}
	if err := a.gw.Output(r.Context(), principal(r).Group, id, runID, req.Attempt, req.Chunk); err != nil {
		a.refuse(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// result reports an attempt's result: POST /workers/{id}/runs/{run_id}/result.
func (a *api) result(w http.ResponseWriter, r *http.Request) {
	id, runID, ok := a.runParams(w, r)
	var req resultRequest
	if !ok || !a.readBody(w, r, &req, false) {
		return
	}
	res, err := a.gw.Finish(r.Context(), principal(r).Group, id, domain.Report{
		RunID: runID, Attempt: req.Attempt, State: domain.RunState(req.State), Error: req.Error, Output: req.Output,
		Permanent: req.Permanent,
	})
	if err != nil {
		a.refuse(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, resultResponse{ID: runID, Attempt: req.Attempt,
		RunState: string(res.Run.State), Duplicate: res.Duplicate})
}

// deregister ends the session: DELETE /workers/{id}.
func (a *api) deregister(w http.ResponseWriter, r *http.Request) {
	id, ok := a.param(w, r, "worker_id")
	if !ok {
		return
	}
	p := principal(r)
	if err := a.gw.Deregister(r.Context(), p.Group, id); err != nil {
		a.refuse(w, r, err)
		return
	}
	a.record(r.Context(), p, AuditWorkerDeregister, "worker/"+id, "group "+p.Group, domain.AuditOK)
	w.WriteHeader(http.StatusNoContent)
}

// refuse answers a failed gateway call, recording a 403 in the audit log.
func (a *api) refuse(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, domain.ErrForbidden) {
		a.denied(r.Context(), principal(r), r.Method+" "+r.URL.Path, err)
	}
	a.fail(w, r, err)
}

// param returns a URL parameter, unescaped. chi routes on the escaped
// path when the request has one (r.URL.RawPath, set when the client
// escaped something that needed no escaping, such as "~" as "%7E"), so
// its parameters come back escaped then, and unescaped otherwise.
func (a *api) param(w http.ResponseWriter, r *http.Request, name string) (string, bool) {
	v := chi.URLParam(r, name)
	var err error
	if r.URL.RawPath != "" {
		v, err = url.PathUnescape(v)
	}
	if err != nil || v == "" {
		a.fail(w, r, &domain.ValidationError{Field: name, Reason: "must be a non-empty, validly escaped path segment"})
		return "", false
	}
	return v, true
}

func (a *api) runParams(w http.ResponseWriter, r *http.Request) (workerID, runID string, ok bool) {
	if workerID, ok = a.param(w, r, "worker_id"); !ok {
		return "", "", false
	}
	runID, ok = a.param(w, r, "run_id")
	return workerID, runID, ok
}
