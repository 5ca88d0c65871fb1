package console

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/pink-scheduler/pink/app/query"
	"github.com/pink-scheduler/pink/domain"
	"github.com/pink-scheduler/pink/ports"
)

// runsPerPage is the length of a page of the runs list.
const runsPerPage = 50

type runsData struct {
	JobID, Group, State string
	Groups              []string
	States              []domain.RunState
	Rows                []runRow
	NextURL             string
	Filtered            bool
	Error               string
}

// runsPage lists runs, newest first, filtered by job, group and state.
func (c *console) runsPage(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	q := r.URL.Query()
	d := runsData{JobID: strings.TrimSpace(q.Get("job")), Group: q.Get("group"), State: q.Get("state"), States: domain.AllRunStates}
	d.Filtered = d.JobID != "" || d.Group != "" || d.State != ""
	groups, err := c.allGroups(ctx)
	if err != nil {
		c.serverError(w, r, err)
		return
	}
	d.Groups = groupNames(groups)
	f := ports.RunFilter{JobID: d.JobID, Group: d.Group,
		PageRequest: ports.PageRequest{Limit: limitParam(r, runsPerPage), Cursor: q.Get("cursor")}}
	if d.State != "" {
		f.States = []domain.RunState{domain.RunState(d.State)}
	}
	page, err := c.d.Query.ListRuns(ctx, f)
	if err != nil {
		if msg, ok := userMessage(err); ok && errors.Is(err, domain.ErrInvalid) {
			d.Error = msg
			c.render(w, r, http.StatusBadRequest, "runs", "Runs", "runs", d)
			return
		}
		c.serverError(w, r, err)
		return
	}
	if d.Rows, err = c.rowsOf(ctx, page.Items); err != nil {
		c.serverError(w, r, err)
		return
	}
	if page.NextCursor != "" {
		d.NextURL = withParam(r, "cursor", page.NextCursor)
	}
	c.render(w, r, http.StatusOK, "runs", "Runs", "runs", d)
}

type pendingData struct {
	Fires   []pendingFire
	NextURL string
}

type pendingFire struct {
	query.PendingFire
	JobName string
}

// pendingPage lists the fires whose runs wait for a worker, with buttons
// to cancel them.
func (c *console) pendingPage(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	page, err := c.d.Query.PendingFires(ctx, "", ports.PageRequest{Limit: runsPerPage, Cursor: r.URL.Query().Get("cursor")})
	if err != nil {
		if msg, ok := userMessage(err); ok && errors.Is(err, domain.ErrInvalid) {
			c.renderError(w, r, http.StatusBadRequest, "Bad request", msg)
			return
		}
		c.serverError(w, r, err)
		return
	}
	var runs []domain.Run
	for _, pf := range page.Items {
		runs = append(runs, pf.Pending...)
	}
	names, err := c.jobNames(ctx, runs)
	if err != nil {
		c.serverError(w, r, err)
		return
	}
	d := pendingData{}
	for _, pf := range page.Items {
		name := names[pf.Fire.JobID]
		if name == "" {
			name = pf.Fire.JobID
		}
		d.Fires = append(d.Fires, pendingFire{PendingFire: pf, JobName: name})
	}
	if page.NextCursor != "" {
		d.NextURL = withParam(r, "cursor", page.NextCursor)
	}
	c.render(w, r, http.StatusOK, "pending", "Pending", "pending", d)
}

// loadRun reads the run named by the {id} URL parameter.
func (c *console) loadRun(w http.ResponseWriter, r *http.Request) (domain.Run, bool) {
	id := urlParam(r, "id")
	run, err := c.d.Query.GetRun(r.Context(), id)
	switch {
	case errors.Is(err, domain.ErrNotFound):
		c.renderError(w, r, http.StatusNotFound, "Run not found", "There is no run "+id+". Finished runs are deleted after a while (retention).")
		return run, false
	case err != nil:
		c.serverError(w, r, err)
		return run, false
	}
	return run, true
}

type runDetailData struct {
	Run      domain.Run
	JobName  string
	Duration string
	Params   string
}

// runDetail shows a run with its output; the page's script follows a
// running run live through runJSON.
func (c *console) runDetail(w http.ResponseWriter, r *http.Request) {
	run, ok := c.loadRun(w, r)
	if !ok {
		return
	}
	names, err := c.jobNames(r.Context(), []domain.Run{run})
	if err != nil {
		c.serverError(w, r, err)
		return
	}
	d := runDetailData{Run: run, JobName: names[run.JobID], Duration: runDuration(run, c.d.Clock.Now()), Params: fmtParams(run.Params)}
	if d.JobName == "" {
		d.JobName = run.JobID
	}
	c.render(w, r, http.StatusOK, "rundetail", "Run "+shortID(run.ID), "runs", d)
}

// runView is a run as the live output viewer polls it.
type runView struct {
	ID          string          `json:"id"`
	JobID       string          `json:"job_id"`
	State       domain.RunState `json:"state"`
	StateLabel  string          `json:"state_label"`
	Terminal    bool            `json:"terminal"`
	WorkerID    string          `json:"worker_id"`
	Attempt     int             `json:"attempt"`
	MaxAttempts int             `json:"max_attempts"`
	ScheduledAt time.Time       `json:"scheduled_at"`
	StartedAt   time.Time       `json:"started_at,omitzero"`
	FinishedAt  time.Time       `json:"finished_at,omitzero"`
	Started     string          `json:"started"`
	Finished    string          `json:"finished"`
	Duration    string          `json:"duration"`
	Output      string          `json:"output"`
	Error       string          `json:"error"`
}

// runJSON returns a run for the live output viewer.
func (c *console) runJSON(w http.ResponseWriter, r *http.Request) {
	id := urlParam(r, "id")
	run, err := c.d.Query.GetRun(r.Context(), id)
	switch {
	case errors.Is(err, domain.ErrNotFound):
		writeJSON(w, http.StatusNotFound, jsonError{Error: jsonErrorBody{Code: "not_found", Message: "no such run"}})
		return
	case err != nil:
		c.log.Error("console: get run", "id", id, "err", err)
		writeJSON(w, http.StatusServiceUnavailable, jsonError{Error: jsonErrorBody{Code: "unavailable", Message: "the store did not answer"}})
		return
	}
	writeJSON(w, http.StatusOK, runView{
		ID: run.ID, JobID: run.JobID, State: run.State, StateLabel: strings.ReplaceAll(string(run.State), "_", " "),
		Terminal: run.State.Terminal(), WorkerID: run.WorkerID, Attempt: run.Attempt, MaxAttempts: run.MaxAttempts,
		ScheduledAt: run.ScheduledAt, StartedAt: run.StartedAt, FinishedAt: run.FinishedAt,
		Started: fmtTime(run.StartedAt), Finished: fmtTime(run.FinishedAt),
		Duration: runDuration(run, c.d.Clock.Now()), Output: run.Output, Error: run.Error,
	})
}

// cancelRun cancels an active run for the request's principal. The worker
// running it sees the change and stops the handler.
func (c *console) cancelRun(r *http.Request, id string) error {
	by := principalOf(r).Actor()
	now := c.d.Clock.Now().UTC()
	_, err := c.d.Runs.UpdateRun(r.Context(), id, func(run *domain.Run) error {
		if run.State.Terminal() {
			return fmt.Errorf("run %s is already %s: %w", id, run.State, domain.ErrIllegalTransition)
		}
		return run.Cancel("cancelled by "+by+" in the console", now)
	})
	return err
}

// runCancel cancels a run.
func (c *console) runCancel(w http.ResponseWriter, r *http.Request) {
	id := urlParam(r, "id")
	back := backTo(r, "/runs/"+id)
	if err := c.cancelRun(r, id); err != nil {
		c.audit(r, domain.AuditRunCancel, "run/"+id, err.Error(), domain.AuditError)
		c.actionFailed(w, r, back, err)
		return
	}
	c.audit(r, domain.AuditRunCancel, "run/"+id, "", domain.AuditOK)
	redirect(w, r, back, "Run cancelled.")
}

// runDelete deletes a finished run.
func (c *console) runDelete(w http.ResponseWriter, r *http.Request) {
	id := urlParam(r, "id")
	run, ok := c.loadRun(w, r)
	if !ok {
		return
	}
	if err := c.d.Runs.DeleteRun(r.Context(), id); err != nil {
		c.audit(r, domain.AuditRunDelete, "run/"+id, err.Error(), domain.AuditError)
		if errors.Is(err, domain.ErrConflict) {
			redirectError(w, r, "/runs/"+id, "The run is still active: cancel it first.")
			return
		}
		c.actionFailed(w, r, "/runs/"+id, err)
		return
	}
	c.audit(r, domain.AuditRunDelete, "run/"+id, "", domain.AuditOK)
	redirect(w, r, "/runs?job="+run.JobID, "Run deleted.")
}

// fireCancel cancels every active run of a fire (a pending fire's "cancel").
// The fire record stays: it is the ledger.
func (c *console) fireCancel(w http.ResponseWriter, r *http.Request) {
	id := urlParam(r, "id")
	back := backTo(r, "/pending")
	fire, err := c.d.Query.GetFire(r.Context(), id)
	if err != nil {
		c.actionFailed(w, r, back, err)
		return
	}
	cancelled := 0
	for _, rid := range fire.RunIDs {
		err := c.cancelRun(r, rid)
		switch {
		case err == nil:
			cancelled++
			c.audit(r, domain.AuditRunCancel, "run/"+rid, "cancelled with its fire "+id, domain.AuditOK)
		case errors.Is(err, domain.ErrIllegalTransition), errors.Is(err, domain.ErrNotFound):
			// finished meanwhile: nothing to cancel
		default:
			c.audit(r, domain.AuditRunCancel, "run/"+rid, err.Error(), domain.AuditError)
			c.actionFailed(w, r, back, err)
			return
		}
	}
	redirect(w, r, back, fmt.Sprintf("%s cancelled.", plural(cancelled, "run", "runs")))
}
