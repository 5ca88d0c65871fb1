package console

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/pink-scheduler/pink/domain"
	"github.com/pink-scheduler/pink/ports"
)

// jobsPerPage is the length of a page of the jobs list.
const jobsPerPage = 50

type jobRow struct {
	domain.Job
	// Next is the next fire time (zero for a paused job or one that will
	// not fire again).
	Next time.Time
	// Last is the job's newest run, if it has one.
	Last *domain.Run
}

type jobsData struct {
	Q, Group, State string
	Groups          []string
	Rows            []jobRow
	Total           int
	// Filtered is true when a search or filter is on (the empty state
	// then says so rather than "create one").
	Filtered  bool
	Truncated bool
	Page      int
	PrevURL   string
	NextURL   string
}

// jobsPage lists jobs: search by name, ID or handler; filter by group and
// state; each with its next fire time and last result.
func (c *console) jobsPage(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	q := r.URL.Query()
	d := jobsData{Q: strings.TrimSpace(q.Get("q")), Group: q.Get("group"), State: q.Get("state")}
	d.Filtered = d.Q != "" || d.Group != "" || d.State != ""
	groups, err := c.allGroups(ctx)
	if err != nil {
		c.serverError(w, r, err)
		return
	}
	d.Groups = groupNames(groups)
	f := ports.JobFilter{Group: d.Group}
	switch domain.JobState(d.State) {
	case domain.JobActive, domain.JobPaused:
		f.State = domain.JobState(d.State)
	default:
		d.State = ""
	}
	if d.Group != "" && domain.ValidateName("group", d.Group) != nil {
		d.Group, f.Group = "", ""
	}
	all, truncated, err := c.allJobs(ctx, f)
	if err != nil {
		c.serverError(w, r, err)
		return
	}
	d.Truncated = truncated
	var matched []domain.Job
	needle := strings.ToLower(d.Q)
	for _, j := range all {
		if needle == "" || strings.Contains(strings.ToLower(j.Name), needle) ||
			strings.Contains(j.ID, needle) || strings.Contains(strings.ToLower(j.Handler), needle) ||
			strings.Contains(strings.ToLower(j.Description), needle) {
			matched = append(matched, j)
		}
	}
	d.Total = len(matched)
	d.Page, _ = strconv.Atoi(q.Get("page"))
	pages := max((len(matched)+jobsPerPage-1)/jobsPerPage, 1)
	d.Page = min(max(d.Page, 1), pages)
	start := (d.Page - 1) * jobsPerPage
	end := min(start+jobsPerPage, len(matched))
	if d.Page > 1 {
		d.PrevURL = withParam(r, "page", strconv.Itoa(d.Page-1))
	}
	if d.Page < pages {
		d.NextURL = withParam(r, "page", strconv.Itoa(d.Page+1))
	}
	now := c.d.Clock.Now()
	for _, j := range matched[start:end] {
		row := jobRow{Job: j, Next: nextFire(j, now)}
		last, err := c.d.Query.ListRuns(ctx, ports.RunFilter{JobID: j.ID, PageRequest: ports.PageRequest{Limit: 1}})
		if err != nil {
			c.serverError(w, r, err)
			return
		}
		if len(last.Items) > 0 {
			row.Last = &last.Items[0]
		}
		d.Rows = append(d.Rows, row)
	}
	c.render(w, r, http.StatusOK, "jobs", "Jobs", "jobs", d)
}

// nextFire is a job's next fire time after now, in its zone, or zero.
func nextFire(j domain.Job, now time.Time) time.Time {
	if j.State == domain.JobPaused {
		return time.Time{}
	}
	s, err := domain.ParseSchedule(j.Schedule, j.Timezone)
	if err != nil {
		return time.Time{}
	}
	after := now
	if j.PlanFrom.After(after) {
		after = j.PlanFrom
	}
	t, ok := s.Next(after)
	if !ok {
		return time.Time{}
	}
	return t.In(s.Location())
}

// planLength is how many fire times the job page lists.
const planLength = 10

type jobDetailData struct {
	Job     domain.Job
	Plan    []time.Time
	PlanErr string
	Runs    []runRow
	Fires   []domain.Fire
	History []domain.AuditEntry
	Params  string
}

// jobDetail shows a job: its definition, plan, recent runs and fires, and
// its edit history from the audit log.
func (c *console) jobDetail(w http.ResponseWriter, r *http.Request) {
	j, ok := c.loadJob(w, r)
	if !ok {
		return
	}
	ctx := r.Context()
	d := jobDetailData{Job: j, Params: fmtParams(j.Params)}
	plan, err := c.d.Jobs.Plan(ctx, j.ID, planLength)
	if err != nil {
		d.PlanErr = fieldReason(err)
	}
	d.Plan = plan
	runs, err := c.d.Query.ListRuns(ctx, ports.RunFilter{JobID: j.ID, PageRequest: ports.PageRequest{Limit: 20}})
	if err != nil {
		c.serverError(w, r, err)
		return
	}
	d.Runs = runRows(runs.Items, map[string]string{j.ID: j.Name}, c.d.Clock.Now())
	fires, err := c.d.Query.ListFires(ctx, ports.FireFilter{JobID: j.ID, PageRequest: ports.PageRequest{Limit: 10}})
	if err != nil {
		c.serverError(w, r, err)
		return
	}
	d.Fires = fires.Items
	hist, err := c.d.Auth.ListAudit(ctx, ports.AuditFilter{Target: "job/" + j.ID, PageRequest: ports.PageRequest{Limit: 50}})
	if err != nil {
		c.serverError(w, r, err)
		return
	}
	d.History = hist.Items
	c.render(w, r, http.StatusOK, "jobdetail", j.Name, "jobs", d)
}

// backTo returns where a form post goes back to: its "back" field if that
// is a path on this site, else def.
func backTo(r *http.Request, def string) string {
	if b := r.PostFormValue("back"); b != "" {
		return safeNext(b)
	}
	return def
}

// jobAction runs one of the buttons of a job (pause, resume).
func (c *console) jobAction(w http.ResponseWriter, r *http.Request, action, done string,
	fn func(id string) (domain.Job, error)) {
	id := urlParam(r, "id")
	back := backTo(r, "/jobs/"+id)
	j, err := fn(id)
	if err != nil {
		c.audit(r, action, "job/"+id, err.Error(), domain.AuditError)
		c.actionFailed(w, r, back, err)
		return
	}
	c.audit(r, action, "job/"+id, "", domain.AuditOK)
	redirect(w, r, back, fmt.Sprintf("%s %s.", j.Name, done))
}

// actionFailed sends the browser back with the error, or shows a 500.
func (c *console) actionFailed(w http.ResponseWriter, r *http.Request, back string, err error) {
	msg, ok := userMessage(err)
	if !ok {
		c.serverError(w, r, err)
		return
	}
	redirectError(w, r, back, msg)
}

func (c *console) jobPause(w http.ResponseWriter, r *http.Request) {
	c.jobAction(w, r, domain.AuditJobPause, "paused", func(id string) (domain.Job, error) {
		return c.d.Jobs.PauseJob(r.Context(), id)
	})
}

func (c *console) jobResume(w http.ResponseWriter, r *http.Request) {
	c.jobAction(w, r, domain.AuditJobResume, "resumed", func(id string) (domain.Job, error) {
		return c.d.Jobs.ResumeJob(r.Context(), id)
	})
}

// jobTrigger fires a job now, with the params of the form if given.
func (c *console) jobTrigger(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	_ = r.ParseForm()
	id := urlParam(r, "id")
	back := backTo(r, "/jobs/"+id)
	var params json.RawMessage
	if p := strings.TrimSpace(r.PostForm.Get("params")); p != "" {
		if !json.Valid([]byte(p)) {
			redirectError(w, r, back, "params: must be valid JSON")
			return
		}
		params = json.RawMessage(p)
	}
	p := principalOf(r)
	fire, err := c.d.Jobs.TriggerJob(r.Context(), id, params, p.Actor())
	if err != nil {
		c.audit(r, domain.AuditJobTrigger, "job/"+id, err.Error(), domain.AuditError)
		c.actionFailed(w, r, back, err)
		return
	}
	detail := "fire " + fire.ID
	if len(params) > 0 {
		detail += " with params override"
	}
	c.audit(r, domain.AuditJobTrigger, "job/"+id, detail, domain.AuditOK)
	redirect(w, r, back, fmt.Sprintf("Triggered: %s.", plural(len(fire.RunIDs), "run", "runs")+" created"))
}

// jobDelete deletes a job.
func (c *console) jobDelete(w http.ResponseWriter, r *http.Request) {
	id := urlParam(r, "id")
	j, err := c.d.Jobs.DeleteJob(r.Context(), id)
	if err != nil {
		c.audit(r, domain.AuditJobDelete, "job/"+id, err.Error(), domain.AuditError)
		if errors.Is(err, domain.ErrNotFound) {
			redirectError(w, r, "/jobs", "That job no longer exists.")
			return
		}
		c.actionFailed(w, r, "/jobs/"+id, err)
		return
	}
	c.audit(r, domain.AuditJobDelete, "job/"+id, fmt.Sprintf("deleted %q of group %s", j.Name, j.Group), domain.AuditOK)
	redirect(w, r, "/jobs", fmt.Sprintf("Job %s deleted.", j.Name))
}
