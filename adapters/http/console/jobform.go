package console

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/pink-scheduler/pink/app/jobs"
	"github.com/pink-scheduler/pink/domain"
)

// maxFormBytes bounds a form post: a job's params are the biggest field.
const maxFormBytes = domain.DefaultMaxParams + 32<<10

// jobForm is the job form's fields, as text, with their errors.
type jobForm struct {
	Edit                                            bool
	ID, Group, Name, Description                    string
	Schedule, Timezone, Handler, Params             string
	Paused                                          bool
	MisfirePolicy, MisfireWindow, Overlap           string
	MaxAttempts, Backoff, MaxBackoff, Timeout       string
	Route, RouteKey, Shards, Selector, Labels       string
	Errors                                          map[string]string
	Error                                           string
	Groups, Handlers, Zones                         []string
	MisfirePolicies, OverlapPolicies, RouteChoices  []string
	DefaultTimeout, DefaultWindow, DefaultBackoffTx string
}

// Err returns the error of a field ("" if none), for the template.
func (f *jobForm) Err(field string) string { return f.Errors[field] }

// Invalid reports whether a field has an error.
func (f *jobForm) Invalid(field string) bool { return f.Errors[field] != "" }

func (f *jobForm) setErr(field, msg string) {
	if f.Errors == nil {
		f.Errors = map[string]string{}
	}
	if _, ok := f.Errors[field]; !ok {
		f.Errors[field] = msg
	}
}

// commonZones are offered in the time zone field's suggestions; any IANA
// name is accepted.
var commonZones = []string{
	"UTC", "Europe/London", "Europe/Dublin", "Europe/Lisbon", "Europe/Paris", "Europe/Berlin",
	"Europe/Madrid", "Europe/Rome", "Europe/Amsterdam", "Europe/Zurich", "Europe/Stockholm",
	"Europe/Warsaw", "Europe/Athens", "Europe/Helsinki", "Europe/Istanbul", "Europe/Moscow",
	"America/New_York", "America/Chicago", "America/Denver", "America/Los_Angeles",
	"America/Toronto", "America/Mexico_City", "America/Sao_Paulo", "America/Buenos_Aires",
	"Africa/Cairo", "Africa/Johannesburg", "Africa/Lagos", "Asia/Dubai", "Asia/Kolkata",
	"Asia/Singapore", "Asia/Shanghai", "Asia/Hong_Kong", "Asia/Tokyo", "Asia/Seoul",
	"Australia/Sydney", "Australia/Perth", "Pacific/Auckland",
}

// formFromJob fills the form with a job's values.
func formFromJob(j domain.Job) *jobForm {
	return &jobForm{
		ID: j.ID, Group: j.Group, Name: j.Name, Description: j.Description,
		Schedule: j.Schedule, Timezone: j.Timezone, Handler: j.Handler, Params: fmtParams(j.Params),
		Paused: j.State == domain.JobPaused, MisfirePolicy: string(j.Misfire.Policy),
		MisfireWindow: durText(j.Misfire.Window), Overlap: string(j.Overlap),
		MaxAttempts: intText(j.Retry.MaxAttempts), Backoff: durText(j.Retry.Backoff),
		MaxBackoff: durText(j.Retry.MaxBackoff), Timeout: durText(j.Timeout),
		Route: string(j.Route), RouteKey: j.RouteKey, Shards: intText(j.Shards),
		Selector: labelText(j.Selector), Labels: labelText(j.Labels),
	}
}

// newJobForm is the form of a new job: the defaults, shown.
func newJobForm(group string) *jobForm {
	j := domain.Job{Group: group}
	j.Normalize()
	f := formFromJob(j)
	f.Timezone = ""
	return f
}

func durText(d domain.Duration) string {
	if d == 0 {
		return ""
	}
	return d.String()
}

func intText(n int) string {
	if n == 0 {
		return ""
	}
	return strconv.Itoa(n)
}

func labelText(m map[string]string) string {
	var b strings.Builder
	for _, k := range slices.Sorted(maps.Keys(m)) {
		fmt.Fprintf(&b, "%s=%s\n", k, m[k])
	}
	return b.String()
}

// formFromRequest reads the posted form.
func formFromRequest(r *http.Request) *jobForm {
	v := r.PostForm
	get := func(k string) string { return strings.TrimSpace(v.Get(k)) }
	return &jobForm{
		ID: get("id"), Group: get("group"), Name: get("name"), Description: get("description"),
		Schedule: get("schedule"), Timezone: get("timezone"), Handler: get("handler"),
		Params: get("params"), Paused: v.Get("paused") != "", MisfirePolicy: get("misfire_policy"),
		MisfireWindow: get("misfire_window"), Overlap: get("overlap"),
		MaxAttempts: get("retry_max_attempts"), Backoff: get("retry_backoff"),
		MaxBackoff: get("retry_max_backoff"), Timeout: get("timeout"), Route: get("route"),
		RouteKey: get("route_key"), Shards: get("shards"), Selector: v.Get("selector"), Labels: v.Get("labels"),
	}
}

// job turns the form into a job, recording the errors of fields that do
// not even parse (a duration, a number, JSON, a label line). The domain
// validates the rest.
func (f *jobForm) job() domain.Job {
	j := domain.Job{
		ID: f.ID, Group: f.Group, Name: f.Name, Description: f.Description,
		Schedule: f.Schedule, Timezone: f.Timezone, Handler: f.Handler,
		State: domain.JobActive, Misfire: domain.Misfire{Policy: domain.MisfirePolicy(f.MisfirePolicy)},
		Overlap: domain.OverlapPolicy(f.Overlap), Route: domain.RouteStrategy(f.Route), RouteKey: f.RouteKey,
	}
	if f.Paused {
		j.State = domain.JobPaused
	}
	if f.Params != "" {
		if !json.Valid([]byte(f.Params)) {
			f.setErr("params", "must be valid JSON, for example {\"key\": \"value\"}")
		} else {
			var buf bytes.Buffer
			_ = json.Compact(&buf, []byte(f.Params))
			j.Params = buf.Bytes()
		}
	}
	dur := func(field, s string) domain.Duration {
		if s == "" {
			return 0
		}
		d, err := time.ParseDuration(s)
		if err != nil {
			f.setErr(field, fmt.Sprintf("%q is not a duration: write it like 30s, 5m or 1h30m", s))
		}
		return domain.Duration(d)
	}
	num := func(field, s string) int {
		if s == "" {
			return 0
		}
		n, err := strconv.Atoi(s)
		if err != nil {
			f.setErr(field, fmt.Sprintf("%q is not a whole number", s))
		}
		return n
	}
	j.Misfire.Window = dur("misfire.window", f.MisfireWindow)
	j.Retry.MaxAttempts = num("retry.max_attempts", f.MaxAttempts)
	j.Retry.Backoff = dur("retry.backoff", f.Backoff)
	j.Retry.MaxBackoff = dur("retry.max_backoff", f.MaxBackoff)
	j.Timeout = dur("timeout", f.Timeout)
	j.Shards = num("shards", f.Shards)
	j.Selector = f.labels("selector", f.Selector)
	j.Labels = f.labels("labels", f.Labels)
	return j
}

// labels parses "key=value" lines.
func (f *jobForm) labels(field, text string) map[string]string {
	var m map[string]string
	for i, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok || strings.TrimSpace(k) == "" {
			f.setErr(field, fmt.Sprintf("line %d: write one key=value per line", i+1))
			continue
		}
		if m == nil {
			m = map[string]string{}
		}
		m[strings.TrimSpace(k)] = strings.TrimSpace(v)
	}
	return m
}

// fail records a use case's error on the form: a field's error next to the
// field, anything else at the top. It reports false for an error that is
// not the user's (the caller shows a 500).
func (f *jobForm) fail(err error) bool {
	field := domain.FieldOf(err)
	switch {
	case field != "":
		if errors.Is(err, domain.ErrNotFound) && field == "group" {
			f.setErr(field, "this group does not exist (any more): create it first")
			return true
		}
		f.setErr(field, fieldReason(err))
		if !formFields[field] {
			f.Error = fmt.Sprintf("%s: %s", field, fieldReason(err))
		}
		return true
	case errors.Is(err, domain.ErrAlreadyExists):
		f.setErr("id", "a job with this ID exists already: choose another or leave it empty")
		return true
	}
	msg, ok := userMessage(err)
	f.Error = msg
	return ok
}

// formFields are the fields the form shows an error next to.
var formFields = map[string]bool{
	"id": true, "group": true, "name": true, "description": true, "schedule": true,
	"timezone": true, "handler": true, "params": true, "misfire.policy": true,
	"misfire.window": true, "overlap": true, "retry.max_attempts": true, "retry.backoff": true,
	"retry.max_backoff": true, "timeout": true, "route": true, "route_key": true, "shards": true,
	"selector": true, "labels": true,
}

// fillChoices adds what the form's selects and suggestions offer.
func (c *console) fillChoices(r *http.Request, f *jobForm) error {
	groups, err := c.allGroups(r.Context())
	if err != nil {
		return err
	}
	for _, g := range groups {
		f.Groups = append(f.Groups, g.Name)
	}
	workers, err := c.allWorkers(r.Context(), "")
	if err != nil {
		return err
	}
	seen := map[string]bool{}
	for _, w := range workers {
		for _, h := range w.Worker.Handlers {
			if !seen[h] {
				seen[h] = true
				f.Handlers = append(f.Handlers, h)
			}
		}
	}
	slices.Sort(f.Handlers)
	f.Zones = commonZones
	f.MisfirePolicies = []string{string(domain.MisfireSkip), string(domain.MisfireFireOnce), string(domain.MisfireFireAll)}
	f.OverlapPolicies = []string{string(domain.OverlapAllow), string(domain.OverlapForbid), string(domain.OverlapReplace)}
	f.RouteChoices = []string{string(domain.RouteRoundRobin), string(domain.RouteRandom), string(domain.RouteLeastBusy),
		string(domain.RouteHash), string(domain.RouteBroadcast)}
	f.DefaultTimeout, f.DefaultWindow = domain.DefaultTimeout.String(), domain.DefaultMisfireWindow.String()
	f.DefaultBackoffTx = domain.DefaultBackoff.String()
	return nil
}

func (c *console) renderJobForm(w http.ResponseWriter, r *http.Request, status int, f *jobForm) {
	if err := c.fillChoices(r, f); err != nil {
		c.serverError(w, r, err)
		return
	}
	title := "New job"
	if f.Edit {
		title = "Edit " + f.Name
	}
	c.render(w, r, status, "jobform", title, "jobs", f)
}

// jobNewForm shows an empty job form.
func (c *console) jobNewForm(w http.ResponseWriter, r *http.Request) {
	c.renderJobForm(w, r, http.StatusOK, newJobForm(r.URL.Query().Get("group")))
}

// jobCreate creates a job from the form, or shows the form again with the
// errors.
func (c *console) jobCreate(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		c.renderError(w, r, http.StatusRequestEntityTooLarge, "Form too large", "The form could not be read: "+err.Error())
		return
	}
	f := formFromRequest(r)
	j := f.job()
	if len(f.Errors) == 0 {
		created, err := c.d.Jobs.CreateJob(r.Context(), j)
		if err == nil {
			c.audit(r, domain.AuditJobCreate, "job/"+created.ID,
				fmt.Sprintf("created %q in group %s, schedule %q", created.Name, created.Group, created.Schedule), domain.AuditOK)
			redirect(w, r, "/jobs/"+created.ID, "Job created.")
			return
		}
		if !f.fail(err) {
			c.serverError(w, r, err)
			return
		}
	}
	c.renderJobForm(w, r, http.StatusUnprocessableEntity, f)
}

// jobEditForm shows a job's form.
func (c *console) jobEditForm(w http.ResponseWriter, r *http.Request) {
	j, ok := c.loadJob(w, r)
	if !ok {
		return
	}
	f := formFromJob(j)
	f.Edit = true
	c.renderJobForm(w, r, http.StatusOK, f)
}

// jobUpdate replaces a job's definition from the form.
func (c *console) jobUpdate(w http.ResponseWriter, r *http.Request) {
	cur, ok := c.loadJob(w, r)
	if !ok {
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		c.renderError(w, r, http.StatusRequestEntityTooLarge, "Form too large", "The form could not be read: "+err.Error())
		return
	}
	f := formFromRequest(r)
	f.Edit, f.ID, f.Group = true, cur.ID, cur.Group
	j := f.job()
	if len(f.Errors) == 0 {
		updated, err := c.d.Jobs.ReplaceJob(r.Context(), cur.ID, j)
		if err == nil {
			c.audit(r, domain.AuditJobUpdate, "job/"+cur.ID, jobDiff(cur, updated), domain.AuditOK)
			redirect(w, r, "/jobs/"+cur.ID, "Job saved.")
			return
		}
		if !f.fail(err) {
			c.serverError(w, r, err)
			return
		}
	}
	c.renderJobForm(w, r, http.StatusUnprocessableEntity, f)
}

// jobDiff describes what an edit changed, for the audit log.
func jobDiff(a, b domain.Job) string {
	var parts []string
	add := func(name string, x, y any) {
		xs, ys := fmt.Sprint(x), fmt.Sprint(y)
		if xs != ys {
			parts = append(parts, fmt.Sprintf("%s: %q → %q", name, xs, ys))
		}
	}
	add("name", a.Name, b.Name)
	add("description", a.Description, b.Description)
	add("schedule", a.Schedule, b.Schedule)
	add("timezone", a.Timezone, b.Timezone)
	add("handler", a.Handler, b.Handler)
	add("params", string(a.Params), string(b.Params))
	add("state", a.State, b.State)
	add("misfire", a.Misfire, b.Misfire)
	add("overlap", a.Overlap, b.Overlap)
	add("retry", a.Retry, b.Retry)
	add("timeout", a.Timeout, b.Timeout)
	add("route", a.Route, b.Route)
	add("route_key", a.RouteKey, b.RouteKey)
	add("shards", a.Shards, b.Shards)
	add("selector", fmtLabels(a.Selector), fmtLabels(b.Selector))
	add("labels", fmtLabels(a.Labels), fmtLabels(b.Labels))
	if len(parts) == 0 {
		return "saved without changes"
	}
	return strings.Join(parts, "; ")
}

// previewCount is how many fire times the form's preview lists.
const previewCount = 5

type previewResponse struct {
	// Next are the fire times in RFC 3339 with the zone's offset.
	Next []string `json:"next"`
	// Display are the same times for people, in the zone.
	Display []string `json:"display"`
	Zone    string   `json:"zone"`
}

// previewJSON validates a schedule and lists its next fire times: the job
// form's live preview.
func (c *console) previewJSON(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	count := previewCount
	if s := q.Get("count"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 50 {
			writeJSON(w, http.StatusBadRequest, jsonError{Error: jsonErrorBody{Code: "invalid", Field: "count", Message: "count must be between 1 and 50"}})
			return
		}
		count = n
	}
	expr, tz := strings.TrimSpace(q.Get("expr")), strings.TrimSpace(q.Get("tz"))
	if expr == "" {
		writeJSON(w, http.StatusBadRequest, jsonError{Error: jsonErrorBody{Code: "invalid", Field: "schedule", Message: "enter a schedule"}})
		return
	}
	times, err := jobs.Preview(expr, tz, c.d.Clock.Now(), count)
	if err != nil {
		writeJSON(w, http.StatusBadRequest, jsonError{Error: jsonErrorBody{Code: "invalid", Field: domain.FieldOf(err), Message: fieldReason(err)}})
		return
	}
	out := previewResponse{Next: []string{}, Display: []string{}, Zone: tz}
	if out.Zone == "" {
		out.Zone = "UTC"
	}
	for _, t := range times {
		out.Next = append(out.Next, t.Format(time.RFC3339))
		out.Display = append(out.Display, t.Format("Mon 2006-01-02 15:04:05 MST"))
	}
	writeJSON(w, http.StatusOK, out)
}
