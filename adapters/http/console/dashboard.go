package console

import (
	"net/http"
	"time"

	"github.com/pink-scheduler/pink/app/query"
	"github.com/pink-scheduler/pink/domain"
	"github.com/pink-scheduler/pink/ports"
)

// recentFailures is how many failed runs the dashboard lists.
const recentFailures = 8

type dashboardData struct {
	LeaderID      string
	Nodes         []query.NodeView
	Workers       int
	Groups        int
	JobsActive    int
	JobsPaused    int
	JobsTruncated bool
	Chart         chart
	Stats         query.Stats
	Failures      []runRow
	Running       int
}

// dashboard shows the state of the cluster at a glance.
func (c *console) dashboard(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	var d dashboardData
	nodes, err := c.d.Query.Nodes(ctx, ports.PageRequest{Limit: ports.MaxPageLimit})
	if err != nil {
		c.serverError(w, r, err)
		return
	}
	d.LeaderID, d.Nodes = nodes.LeaderID, nodes.Items
	workers, err := c.allWorkers(ctx, "")
	if err != nil {
		c.serverError(w, r, err)
		return
	}
	d.Workers = len(workers)
	for _, wv := range workers {
		d.Running += len(wv.Running)
	}
	groups, err := c.allGroups(ctx)
	if err != nil {
		c.serverError(w, r, err)
		return
	}
	d.Groups = len(groups)
	jobs, truncated, err := c.allJobs(ctx, ports.JobFilter{})
	if err != nil {
		c.serverError(w, r, err)
		return
	}
	d.JobsTruncated = truncated
	for _, j := range jobs {
		if j.State == domain.JobPaused {
			d.JobsPaused++
		} else {
			d.JobsActive++
		}
	}
	d.Stats, err = c.d.Query.Stats(ctx, time.UTC)
	if err != nil {
		c.serverError(w, r, err)
		return
	}
	d.Chart = hourlyChart(d.Stats.Hourly)
	failed, err := c.d.Query.ListRuns(ctx, ports.RunFilter{
		States:      []domain.RunState{domain.RunFailed, domain.RunTimedOut, domain.RunLost},
		PageRequest: ports.PageRequest{Limit: recentFailures},
	})
	if err != nil {
		c.serverError(w, r, err)
		return
	}
	if d.Failures, err = c.rowsOf(ctx, failed.Items); err != nil {
		c.serverError(w, r, err)
		return
	}
	c.render(w, r, http.StatusOK, "dashboard", "Dashboard", "dashboard", d)
}
