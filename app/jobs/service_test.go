package jobs_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/pink-scheduler/pink/adapters/clock"
	"github.com/pink-scheduler/pink/adapters/memory"
	"github.com/pink-scheduler/pink/app/jobs"
	"github.com/pink-scheduler/pink/domain"
	"github.com/pink-scheduler/pink/ports"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var t0 = time.Date(2026, 11, 26, 16, 43, 0, 0, time.UTC)

func newService(t *testing.T) (*jobs.Service, *memory.Backend, *clock.Fake) {
	t.Helper()
	clk := clock.NewFake(t0)
	mem := memory.New(clk)
	t.Cleanup(mem.Close)
	n := 0
	svc, err := jobs.New(jobs.Config{Groups: mem, Jobs: mem, Clock: clk, NewID: func() string {
		n++
		return "job" + string(rune('0'+n))
	}})
	require.NoError(t, err)
	_, err = svc.CreateGroup(context.Background(), domain.Group{Name: "g"})
	require.NoError(t, err)
	return svc, mem, clk
}

func TestCreateJobFillsDefaultsAndPlansFromNow(t *testing.T) {
	svc, _, _ := newService(t)
	j, err := svc.CreateJob(context.Background(), domain.Job{Group: "g", Name: "n", Schedule: "@hourly", Handler: "h"})
	require.NoError(t, err)
	require.Equal(t, "job1", j.ID)
	require.Equal(t, domain.JobActive, j.State)
	require.Equal(t, domain.DefaultOverlap, j.Overlap)
	require.Equal(t, t0, j.PlanFrom)
	require.Equal(t, t0, j.CreatedAt)
	require.NotZero(t, j.Version)
}

func TestCreateJobRejectsBadInputAndWritesNothing(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name  string
		job   domain.Job
		field string
	}{
		{"bad cron", domain.Job{Group: "g", Name: "n", Schedule: "61 * * * *", Handler: "h"}, "schedule"},
		{"unknown zone", domain.Job{Group: "g", Name: "n", Schedule: "@daily", Timezone: "Mars/Olympus", Handler: "h"}, "timezone"},
		{"unknown group", domain.Job{Group: "nope", Name: "n", Schedule: "@daily", Handler: "h"}, "group"},
		{"bad params", domain.Job{Group: "g", Name: "n", Schedule: "@daily", Handler: "h", Params: []byte(`{"a":`)}, "params"},
		{"no handler", domain.Job{Group: "g", Name: "n", Schedule: "@daily"}, "handler"},
		{"bad id", domain.Job{ID: "Bad/ID", Group: "g", Name: "n", Schedule: "@daily", Handler: "h"}, "id"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			svc, mem, _ := newService(t)
			_, err := svc.CreateJob(ctx, tc.job)
			require.Error(t, err)
			require.Equal(t, tc.field, domain.FieldOf(err), err.Error())
			page, err := mem.ListJobs(ctx, ports0())
			require.NoError(t, err)
			require.Empty(t, page.Items, "nothing written")
		})
	}
}

func TestUnknownGroupIsNotFoundToo(t *testing.T) {
	svc, _, _ := newService(t)
	_, err := svc.CreateJob(context.Background(), domain.Job{Group: "nope", Name: "n", Schedule: "@daily", Handler: "h"})
	require.True(t, errors.Is(err, domain.ErrNotFound), err)
}

func TestPauseResumeMovePlanFrom(t *testing.T) {
	ctx := context.Background()
	svc, _, clk := newService(t)
	j, err := svc.CreateJob(ctx, domain.Job{Group: "g", Name: "n", Schedule: "@hourly", Handler: "h"})
	require.NoError(t, err)

	clk.Advance(time.Minute)
	p, err := svc.PauseJob(ctx, j.ID)
	require.NoError(t, err)
	require.Equal(t, domain.JobPaused, p.State)
	again, err := svc.PauseJob(ctx, j.ID)
	require.NoError(t, err)
	require.Equal(t, p.Version, again.Version, "pausing a paused job changes nothing")

	clk.Advance(time.Hour)
	r, err := svc.ResumeJob(ctx, j.ID)
	require.NoError(t, err)
	require.Equal(t, domain.JobActive, r.State)
	require.Equal(t, t0.Add(61*time.Minute), r.PlanFrom, "fires missed while paused are not caught up")
}

func TestReplaceJobKeepsIdentityAndReplansOnScheduleChange(t *testing.T) {
	ctx := context.Background()
	svc, _, clk := newService(t)
	j, err := svc.CreateJob(ctx, domain.Job{Group: "g", Name: "n", Schedule: "@hourly", Handler: "h"})
	require.NoError(t, err)
	clk.Advance(time.Minute)

	same := j
	same.Name = "renamed"
	r, err := svc.ReplaceJob(ctx, j.ID, same)
	require.NoError(t, err)
	require.Equal(t, "renamed", r.Name)
	require.Equal(t, t0, r.PlanFrom, "a rename does not replan")
	require.Equal(t, t0, r.CreatedAt)

	same.Schedule = "@daily"
	r, err = svc.ReplaceJob(ctx, j.ID, same)
	require.NoError(t, err)
	require.Equal(t, t0.Add(time.Minute), r.PlanFrom)

	moved := r
	moved.Group = "other"
	_, err = svc.ReplaceJob(ctx, j.ID, moved)
	require.Equal(t, "group", domain.FieldOf(err))

	other := r
	other.ID = "different"
	_, err = svc.ReplaceJob(ctx, j.ID, other)
	require.Equal(t, "id", domain.FieldOf(err))
}

func TestPlanAndPreview(t *testing.T) {
	ctx := context.Background()
	svc, _, _ := newService(t)
	j, err := svc.CreateJob(ctx, domain.Job{Group: "g", Name: "n", Schedule: "30 2 * * *", Timezone: "Europe/Berlin", Handler: "h"})
	require.NoError(t, err)
	plan, err := svc.Plan(ctx, j.ID, 3)
	require.NoError(t, err)
	require.Len(t, plan, 3)
	require.Equal(t, "2026-11-27T02:30:00+01:00", plan[0].Format(time.RFC3339), "in the job's zone")

	_, err = jobs.Preview("30 2 * * *", "", t0, 0)
	require.Equal(t, "count", domain.FieldOf(err))
	_, err = jobs.Preview("30 2 * * *", "", t0, jobs.MaxPlanCount+1)
	require.Equal(t, "count", domain.FieldOf(err))
	_, err = jobs.Preview("0 0 30 2 *", "", t0, 5)
	require.Equal(t, "schedule", domain.FieldOf(err), "Feb 30 never fires")
}

func TestDeleteGroupWithJobsIsRefused(t *testing.T) {
	ctx := context.Background()
	svc, _, _ := newService(t)
	_, err := svc.CreateJob(ctx, domain.Job{Group: "g", Name: "n", Schedule: "@hourly", Handler: "h"})
	require.NoError(t, err)
	require.ErrorIs(t, svc.DeleteGroup(ctx, "g"), domain.ErrConflict)
}

func ports0() ports.JobFilter { return ports.JobFilter{} }
