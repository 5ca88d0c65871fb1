package console

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/pink-scheduler/pink/domain"
	"github.com/pink-scheduler/pink/ports"
)

type groupRow struct {
	domain.Group
	Jobs    int
	Workers int
}

type groupsData struct {
	Rows []groupRow
	// The create form, shown again with its error.
	Name, Description string
	Errors            map[string]string
}

// groupsPage lists the groups with their jobs and workers, and the form
// to create one.
func (c *console) groupsPage(w http.ResponseWriter, r *http.Request) {
	c.renderGroups(w, r, http.StatusOK, &groupsData{})
}

func (c *console) renderGroups(w http.ResponseWriter, r *http.Request, status int, d *groupsData) {
	ctx := r.Context()
	groups, err := c.allGroups(ctx)
	if err != nil {
		c.serverError(w, r, err)
		return
	}
	jobs, _, err := c.allJobs(ctx, ports.JobFilter{})
	if err != nil {
		c.serverError(w, r, err)
		return
	}
	workers, err := c.allWorkers(ctx, "")
	if err != nil {
		c.serverError(w, r, err)
		return
	}
	jobCount, workerCount := map[string]int{}, map[string]int{}
	for _, j := range jobs {
		jobCount[j.Group]++
	}
	for _, wv := range workers {
		workerCount[wv.Worker.Group]++
	}
	for _, g := range groups {
		d.Rows = append(d.Rows, groupRow{Group: g, Jobs: jobCount[g.Name], Workers: workerCount[g.Name]})
	}
	c.render(w, r, status, "groups", "Groups", "groups", d)
}

// groupCreate creates a group from the form.
func (c *console) groupCreate(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	if err := r.ParseForm(); err != nil {
		c.renderError(w, r, http.StatusBadRequest, "Bad request", "The form could not be read.")
		return
	}
	d := &groupsData{Name: strings.TrimSpace(r.PostForm.Get("name")), Description: strings.TrimSpace(r.PostForm.Get("description"))}
	g, err := c.d.Jobs.CreateGroup(r.Context(), domain.Group{Name: d.Name, Description: d.Description})
	if err != nil {
		field := domain.FieldOf(err)
		switch {
		case field != "":
			d.Errors = map[string]string{field: fieldReason(err)}
		case errors.Is(err, domain.ErrAlreadyExists):
			d.Errors = map[string]string{"name": "a group with this name exists already"}
		default:
			c.serverError(w, r, err)
			return
		}
		c.renderGroups(w, r, http.StatusUnprocessableEntity, d)
		return
	}
	c.audit(r, domain.AuditGroupCreate, "group/"+g.Name, g.Description, domain.AuditOK)
	redirect(w, r, "/groups", fmt.Sprintf("Group %s created. Next: create a job in it, and start a worker with --group %s.", g.Name, g.Name))
}

// groupDelete deletes an empty group.
func (c *console) groupDelete(w http.ResponseWriter, r *http.Request) {
	name := urlParam(r, "name")
	err := c.d.Jobs.DeleteGroup(r.Context(), name)
	switch {
	case errors.Is(err, domain.ErrConflict):
		c.audit(r, domain.AuditGroupDelete, "group/"+name, "refused: the group has jobs", domain.AuditError)
		redirectError(w, r, "/groups", fmt.Sprintf("Group %s still has jobs: delete or move them first.", name))
		return
	case err != nil:
		c.audit(r, domain.AuditGroupDelete, "group/"+name, err.Error(), domain.AuditError)
		c.actionFailed(w, r, "/groups", err)
		return
	}
	c.audit(r, domain.AuditGroupDelete, "group/"+name, "", domain.AuditOK)
	redirect(w, r, "/groups", fmt.Sprintf("Group %s deleted.", name))
}
