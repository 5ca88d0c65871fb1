package api

import (
	"errors"
	"fmt"

	"github.com/pink-scheduler/pink/app/jobs"
	"github.com/pink-scheduler/pink/domain"
	"github.com/pink-scheduler/pink/ports"
)

// maxPlan bounds count on the plan and preview routes.
const maxPlan = 100

func (a *api) handleListJobs(c *call) (any, error) {
	p, err := c.page()
	if err != nil {
		return nil, err
	}
	f := ports.JobFilter{PageRequest: p}
	if f.Group, err = c.nameParam("group"); err != nil {
		return nil, err
	}
	if c.query("paused") != "" {
		paused, err := c.boolParam("paused", false)
		if err != nil {
			return nil, err
		}
		f.State = domain.JobActive
		if paused {
			f.State = domain.JobPaused
		}
	}
	page, err := a.d.JobStore.ListJobs(c.r.Context(), f)
	if err != nil {
		return nil, err
	}
	return newList(mapItems(page.Items, toJobOut), page.NextCursor), nil
}

func (a *api) handleCreateJob(c *call) (any, error) {
	var in jobInput
	if err := c.decodeBody(&in, false); err != nil {
		return nil, err
	}
	if in.Version != 0 {
		return nil, &domain.ValidationError{Field: "version", Reason: "must not be set on create"}
	}
	j, err := in.toJob()
	if err != nil {
		return nil, err
	}
	c.detail = fmt.Sprintf("group %s, schedule %q, handler %q", j.Group, j.Schedule, j.Handler)
	j, err = a.jobs.CreateJob(c.r.Context(), j)
	if err != nil {
		return nil, err
	}
	c.target = "job/" + j.ID
	c.w.Header().Set("Location", "jobs/"+j.ID)
	return toJobOut(j), nil
}

func (a *api) handleGetJob(c *call) (any, error) {
	j, err := a.jobs.GetJob(c.r.Context(), c.urlParam("id"))
	if err != nil {
		return nil, err
	}
	return toJobOut(j), nil
}

// handleReplaceJob replaces the definition: the body is a whole job, as
// for create; absent fields take their defaults.
func (a *api) handleReplaceJob(c *call) (any, error) {
	id := c.urlParam("id")
	var in jobInput
	if err := c.decodeBody(&in, false); err != nil {
		return nil, err
	}
	if in.ID != "" && in.ID != id {
		return nil, &domain.ValidationError{Field: "id", Reason: fmt.Sprintf("cannot change from %q to %q", id, in.ID)}
	}
	next, err := in.toJob()
	if err != nil {
		return nil, err
	}
	next.ID = id
	j, err := a.jobs.UpdateJob(c.r.Context(), id, func(cur *domain.Job) error {
		if in.Version != 0 && cur.Version != in.Version {
			return fmt.Errorf("job %s is at version %d, not %d (changed meanwhile: read it again): %w",
				id, cur.Version, in.Version, domain.ErrConflict)
		}
		if next.Group != cur.Group {
			return &domain.ValidationError{Field: "group", Reason: fmt.Sprintf("cannot move a job from group %q to %q", cur.Group, next.Group)}
		}
		keep := *cur
		*cur = next.Clone()
		cur.CreatedAt, cur.UpdatedAt, cur.PlanFrom, cur.Version = keep.CreatedAt, keep.UpdatedAt, keep.PlanFrom, keep.Version
		return nil
	})
	if err != nil {
		return nil, err
	}
	return toJobOut(j), nil
}

func (a *api) handleDeleteJob(c *call) (any, error) {
	_, err := a.jobs.DeleteJob(c.r.Context(), c.urlParam("id"))
	return nil, err
}

func (a *api) handlePauseJob(c *call) (any, error) {
	j, err := a.jobs.PauseJob(c.r.Context(), c.urlParam("id"))
	if err != nil {
		return nil, err
	}
	return toJobOut(j), nil
}

func (a *api) handleResumeJob(c *call) (any, error) {
	j, err := a.jobs.ResumeJob(c.r.Context(), c.urlParam("id"))
	if err != nil {
		return nil, err
	}
	return toJobOut(j), nil
}

func (a *api) handleTriggerJob(c *call) (any, error) {
	var in triggerInput
	if err := c.decodeBody(&in, true); err != nil {
		return nil, err
	}
	params := inParams(in.Params)
	if params != nil {
		c.detail = "params overridden"
	}
	f, err := a.jobs.TriggerJob(c.r.Context(), c.urlParam("id"), params, c.p.Actor())
	if err != nil {
		return nil, err
	}
	c.detail = joinDetail(c.detail, "fire "+f.ID)
	c.w.Header().Set("Location", "../../fires/"+f.ID)
	return toFireOut(f), nil
}

func (a *api) handlePlan(c *call) (any, error) {
	n, err := c.intParam("count", 10, 1, maxPlan)
	if err != nil {
		return nil, err
	}
	j, err := a.jobs.GetJob(c.r.Context(), c.urlParam("id"))
	if err != nil {
		return nil, err
	}
	times, err := a.jobs.Plan(c.r.Context(), j.ID, n)
	if err != nil {
		return nil, err
	}
	return toPlan(times, j.Timezone), nil
}

// handlePreview validates a schedule; its errors name the query
// parameters (expr, tz), not the job's fields.
func (a *api) handlePreview(c *call) (any, error) {
	expr, tz := c.query("expr"), c.query("tz")
	if expr == "" {
		return nil, invalidParam("expr", "is required")
	}
	n, err := c.intParam("count", 10, 1, maxPlan)
	if err != nil {
		return nil, err
	}
	after, err := c.timeParam("after")
	if err != nil {
		return nil, err
	}
	if after.IsZero() {
		after = a.d.Clock.Now()
	}
	times, err := jobs.Preview(expr, tz, after, n)
	if err != nil {
		var se *domain.ScheduleError
		if errors.As(err, &se) {
			field := "expr"
			if se.Field == "timezone" {
				field = "tz"
			}
			return nil, &domain.ValidationError{Field: field, Reason: se.Reason}
		}
		return nil, err
	}
	return toPlan(times, tz), nil
}

func joinDetail(a, b string) string {
	if a == "" {
		return b
	}
	return a + "; " + b
}
