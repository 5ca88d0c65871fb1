package console

import (
	"maps"
	"net/http"
	"slices"
	"strings"

	"github.com/pink-scheduler/pink/app/query"
	"github.com/pink-scheduler/pink/domain"
	"github.com/pink-scheduler/pink/ports"
)

type workerGroup struct {
	Group   string
	Workers []workerRow
}

type workerRow struct {
	domain.Worker
	Running []runRow
}

type workersData struct {
	Group   string
	Groups  []string
	ByGroup []workerGroup
	// Idle lists the groups without a live worker.
	Idle  []string
	Total int
}

// workersPage lists the live workers by group, with their handlers,
// labels and running runs.
func (c *console) workersPage(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	d := workersData{Group: r.URL.Query().Get("group")}
	if domain.ValidateName("group", d.Group) != nil {
		d.Group = ""
	}
	groups, err := c.allGroups(ctx)
	if err != nil {
		c.serverError(w, r, err)
		return
	}
	d.Groups = groupNames(groups)
	workers, err := c.allWorkers(ctx, d.Group)
	if err != nil {
		c.serverError(w, r, err)
		return
	}
	var runs []domain.Run
	for _, wv := range workers {
		runs = append(runs, wv.Running...)
	}
	names, err := c.jobNames(ctx, runs)
	if err != nil {
		c.serverError(w, r, err)
		return
	}
	now := c.d.Clock.Now()
	by := map[string][]workerRow{}
	for _, wv := range workers {
		by[wv.Worker.Group] = append(by[wv.Worker.Group], workerRow{Worker: wv.Worker, Running: runRows(wv.Running, names, now)})
	}
	d.Total = len(workers)
	for _, g := range slices.Sorted(maps.Keys(by)) {
		d.ByGroup = append(d.ByGroup, workerGroup{Group: g, Workers: by[g]})
	}
	for _, g := range d.Groups {
		if _, ok := by[g]; !ok && (d.Group == "" || d.Group == g) {
			d.Idle = append(d.Idle, g)
		}
	}
	c.render(w, r, http.StatusOK, "workers", "Workers", "workers", d)
}

type nodesData struct {
	LeaderID string
	Nodes    []query.NodeView
}

// nodesPage lists the scheduler nodes and which one leads.
func (c *console) nodesPage(w http.ResponseWriter, r *http.Request) {
	page, err := c.d.Query.Nodes(r.Context(), ports.PageRequest{Limit: ports.MaxPageLimit})
	if err != nil {
		c.serverError(w, r, err)
		return
	}
	slices.SortFunc(page.Items, func(a, b query.NodeView) int { return strings.Compare(a.Node.ID, b.Node.ID) })
	c.render(w, r, http.StatusOK, "nodes", "Nodes", "nodes", nodesData{LeaderID: page.LeaderID, Nodes: page.Items})
}
