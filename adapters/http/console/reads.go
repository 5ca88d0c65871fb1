package console

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/pink-scheduler/pink/app/query"
	"github.com/pink-scheduler/pink/domain"
	"github.com/pink-scheduler/pink/ports"
)

// Bounds of the console's own listings (those app/query does not offer):
// the console reads at most this many groups or jobs for one page.
const (
	maxGroupsScan = 10 * ports.MaxPageLimit
	maxJobsScan   = 10 * ports.MaxPageLimit
	// maxWorkersScan bounds the workers one page lists.
	maxWorkersScan = ports.MaxPageLimit
)

// allGroups lists the groups by name, up to maxGroupsScan.
func (c *console) allGroups(ctx context.Context) ([]domain.Group, error) {
	var out []domain.Group
	p := ports.PageRequest{Limit: ports.MaxPageLimit}
	for {
		page, err := c.d.Groups.ListGroups(ctx, p)
		if err != nil {
			return nil, err
		}
		out = append(out, page.Items...)
		if page.NextCursor == "" || len(out) >= maxGroupsScan {
			return out, nil
		}
		p.Cursor = page.NextCursor
	}
}

// allJobs lists the jobs f selects (its PageRequest is ignored), by group
// then ID, up to maxJobsScan; truncated reports whether there were more.
func (c *console) allJobs(ctx context.Context, f ports.JobFilter) (jobs []domain.Job, truncated bool, err error) {
	f.PageRequest = ports.PageRequest{Limit: ports.MaxPageLimit}
	for {
		page, err := c.d.JobStore.ListJobs(ctx, f)
		if err != nil {
			return nil, false, err
		}
		jobs = append(jobs, page.Items...)
		if page.NextCursor == "" {
			return jobs, false, nil
		}
		if len(jobs) >= maxJobsScan {
			return jobs, true, nil
		}
		f.Cursor = page.NextCursor
	}
}

// allWorkers lists the live workers (of a group, or all) with their
// running runs, up to maxWorkersScan.
func (c *console) allWorkers(ctx context.Context, group string) ([]query.WorkerView, error) {
	page, err := c.d.Query.Workers(ctx, group, ports.PageRequest{Limit: maxWorkersScan})
	return page.Items, err
}

// jobNames returns the names of the jobs of runs (a deleted job has
// none); it reads each job once.
func (c *console) jobNames(ctx context.Context, runs []domain.Run) (map[string]string, error) {
	names := map[string]string{}
	for _, r := range runs {
		if _, ok := names[r.JobID]; ok {
			continue
		}
		j, err := c.d.JobStore.GetJob(ctx, r.JobID)
		switch {
		case err == nil:
			names[r.JobID] = j.Name
		case errors.Is(err, domain.ErrNotFound):
			names[r.JobID] = ""
		default:
			return nil, err
		}
	}
	return names, nil
}

// runRow is a run as a table row shows it.
type runRow struct {
	domain.Run
	JobName  string
	Duration string
}

func runRows(runs []domain.Run, names map[string]string, now time.Time) []runRow {
	rows := make([]runRow, len(runs))
	for i, r := range runs {
		name := names[r.JobID]
		if name == "" {
			name = r.JobID
		}
		rows[i] = runRow{Run: r, JobName: name, Duration: runDuration(r, now)}
	}
	return rows
}

// rowsOf reads the names of the runs' jobs and makes their rows.
func (c *console) rowsOf(ctx context.Context, runs []domain.Run) ([]runRow, error) {
	names, err := c.jobNames(ctx, runs)
	if err != nil {
		return nil, err
	}
	return runRows(runs, names, c.d.Clock.Now()), nil
}

// loadJob reads the job named by the {id} URL parameter, answering 404
// (or an error page) itself when it cannot.
func (c *console) loadJob(w http.ResponseWriter, r *http.Request) (domain.Job, bool) {
	id := urlParam(r, "id")
	j, err := c.d.Jobs.GetJob(r.Context(), id)
	switch {
	case errors.Is(err, domain.ErrNotFound):
		c.renderError(w, r, http.StatusNotFound, "Job not found", "There is no job "+strconv.Quote(id)+". It may have been deleted.")
		return j, false
	case err != nil:
		c.serverError(w, r, err)
		return j, false
	}
	return j, true
}

// urlParam returns a chi URL parameter, unescaped (chi leaves escapes in).
func urlParam(r *http.Request, name string) string {
	v := chi.URLParam(r, name)
	if u, err := url.PathUnescape(v); err == nil {
		return u
	}
	return v
}

// limitParam reads the "limit" query parameter, bounded.
func limitParam(r *http.Request, def int) int {
	n, err := strconv.Atoi(r.URL.Query().Get("limit"))
	if err != nil || n <= 0 {
		return def
	}
	return min(n, 500)
}

// withParam returns the request's URL with one query parameter replaced
// (for pager links).
func withParam(r *http.Request, key, value string) string {
	q := r.URL.Query()
	q.Set(key, value)
	u := url.URL{Path: r.URL.Path, RawQuery: q.Encode()}
	return u.String()
}

// groupNames returns the names of groups.
func groupNames(gs []domain.Group) []string {
	out := make([]string, len(gs))
	for i, g := range gs {
		out[i] = g.Name
	}
	slices.Sort(out)
	return out
}
