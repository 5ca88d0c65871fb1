package query_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/pink-scheduler/pink/adapters/clock"
	"github.com/pink-scheduler/pink/adapters/memory"
	"github.com/pink-scheduler/pink/app/query"
	"github.com/pink-scheduler/pink/domain"
	"github.com/pink-scheduler/pink/ports"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var t0 = time.Date(2026, 11, 26, 16, 43, 0, 0, time.UTC)

type env struct {
	mem *memory.Backend
	clk *clock.Fake
	svc *query.Service
	ctx context.Context
	n   int
}

func newEnv(t *testing.T, change ...func(*query.Config)) *env {
	t.Helper()
	clk := clock.NewFake(t0)
	mem := memory.New(clk)
	t.Cleanup(mem.Close)
	cfg := query.Config{Runs: mem, Fires: mem, Workers: mem, Nodes: mem, Leader: mem.NewElector("n1", 10*time.Second), Clock: clk}
	for _, c := range change {
		c(&cfg)
	}
	svc, err := query.New(cfg)
	require.NoError(t, err)
	return &env{mem: mem, clk: clk, svc: svc, ctx: t.Context()}
}

// fire writes a manual fire of job at at with shards pending runs.
func (e *env) fire(t *testing.T, job, group string, at time.Time, shards int) domain.Fire {
	t.Helper()
	e.n++
	j := domain.Job{ID: job, Group: group, Handler: "h", Shards: shards, Route: domain.RouteRoundRobin,
		Retry: domain.Retry{MaxAttempts: 1}, Timeout: domain.Duration(time.Minute)}
	f := domain.Fire{ID: domain.ManualFireID(job, at, fmt.Sprintf("n%d", e.n)), JobID: job, Group: group,
		Nominal: at, Kind: domain.FireManual, Status: domain.FireDispatched, CreatedAt: at}
	w := ports.FireWrite{Fire: f}
	for i := range shards {
		r := domain.NewRun(&j, &f, i, at)
		w.Runs = append(w.Runs, r)
		w.Fire.RunIDs = append(w.Fire.RunIDs, r.ID)
	}
	require.NoError(t, e.mem.CreateManualFire(e.ctx, w))
	return w.Fire
}

// move takes run id to state st (through assigned and running on worker).
func (e *env) move(t *testing.T, id, worker string, st domain.RunState) {
	t.Helper()
	now := e.clk.Now()
	_, err := e.mem.UpdateRun(e.ctx, id, func(r *domain.Run) error {
		if st == domain.RunCancelled {
			return r.Cancel("test", now)
		}
		if err := r.Assign(worker, now); err != nil || st == domain.RunAssigned {
			return err
		}
		if err := r.Start(worker, r.Attempt, now); err != nil || st == domain.RunRunning {
			return err
		}
		return r.Finish(domain.Report{RunID: id, WorkerID: worker, Attempt: r.Attempt, State: st}, 0, now)
	})
	require.NoError(t, err)
}

func TestNewChecksConfig(t *testing.T) {
	_, err := query.New(query.Config{})
	require.ErrorContains(t, err, "required")
}

func TestListRunsChecksTheFilter(t *testing.T) {
	e := newEnv(t)
	for _, tc := range []struct {
		f     ports.RunFilter
		field string
	}{
		{ports.RunFilter{States: []domain.RunState{"done"}}, "state"},
		{ports.RunFilter{JobID: "Bad/ID"}, "job_id"},
		{ports.RunFilter{Group: "UPPER"}, "group"},
		{ports.RunFilter{WorkerID: "a b"}, "worker_id"},
		{ports.RunFilter{From: t0, To: t0}, "to"},
	} {
		_, err := e.svc.ListRuns(e.ctx, tc.f)
		require.ErrorIs(t, err, domain.ErrInvalid, "%+v", tc.f)
		require.Equal(t, tc.field, domain.FieldOf(err))
	}
	f := e.fire(t, "j", "g", t0, 2)
	page, err := e.svc.ListRuns(e.ctx, ports.RunFilter{JobID: "j"})
	require.NoError(t, err)
	require.Len(t, page.Items, 2)
	r, err := e.svc.GetRun(e.ctx, f.RunIDs[0])
	require.NoError(t, err)
	require.Equal(t, f.ID, r.FireID)
	_, err = e.svc.GetRun(e.ctx, "nope")
	require.ErrorIs(t, err, domain.ErrNotFound)
}

func TestListFiresChecksStatus(t *testing.T) {
	e := newEnv(t)
	e.fire(t, "j", "g", t0, 1)
	_, err := e.svc.ListFires(e.ctx, ports.FireFilter{Status: "pending"})
	require.Equal(t, "status", domain.FieldOf(err))
	page, err := e.svc.ListFires(e.ctx, ports.FireFilter{Status: domain.FireDispatched})
	require.NoError(t, err)
	require.Len(t, page.Items, 1)
}

func TestPendingFiresPagesEachFireOnce(t *testing.T) {
	e := newEnv(t)
	var want []string // newest first
	for i := range 25 {
		at := t0.Add(time.Duration(i) * time.Minute)
		f := e.fire(t, fmt.Sprintf("job%d", i%3), "g", at, 3)
		switch i % 5 {
		case 0: // every run taken: not pending
			for _, id := range f.RunIDs {
				e.move(t, id, "w1", domain.RunRunning)
			}
		case 1: // one run taken, two still pending
			e.move(t, f.RunIDs[0], "w1", domain.RunAssigned)
			want = append([]string{f.ID}, want...)
		default:
			want = append([]string{f.ID}, want...)
		}
	}
	// Two fires in the same millisecond: both listed, once.
	same := t0.Add(time.Hour)
	a, b := e.fire(t, "job0", "g", same, 1), e.fire(t, "job1", "g", same, 1)
	if a.ID > b.ID {
		a, b = b, a
	}
	want = append([]string{b.ID, a.ID}, want...)

	var got []string
	cursor := ""
	for pages := 0; ; pages++ {
		require.Less(t, pages, 10)
		page, err := e.svc.PendingFires(e.ctx, "", ports.PageRequest{Limit: 4, Cursor: cursor})
		require.NoError(t, err)
		require.LessOrEqual(t, len(page.Items), 4)
		for _, pf := range page.Items {
			got = append(got, pf.Fire.ID)
			require.NotEmpty(t, pf.Pending)
			for _, r := range pf.Pending {
				require.Equal(t, domain.RunPending, r.State)
				require.Equal(t, pf.Fire.ID, r.FireID)
			}
			require.Equal(t, domain.FireManual, pf.Fire.Kind, "the record was read")
		}
		if page.NextCursor == "" {
			break
		}
		cursor = page.NextCursor
	}
	require.Equal(t, want, got)

	page, err := e.svc.PendingFires(e.ctx, "job2", ports.PageRequest{})
	require.NoError(t, err)
	for _, pf := range page.Items {
		require.Equal(t, "job2", pf.Fire.JobID)
		require.Contains(t, []int{2, 3}, len(pf.Pending), "every pending run of the fire")
	}
	require.NotEmpty(t, page.Items)

	_, err = e.svc.PendingFires(e.ctx, "", ports.PageRequest{Cursor: "garbage"})
	require.Equal(t, "cursor", domain.FieldOf(err))
	_, err = e.svc.PendingFires(e.ctx, "Bad", ports.PageRequest{})
	require.Equal(t, "job_id", domain.FieldOf(err))
}

func TestWorkersShowTheirRunningRuns(t *testing.T) {
	for _, scan := range []int{1, query.DefaultActiveScan} {
		t.Run(fmt.Sprint("scan ", scan), func(t *testing.T) {
			e := newEnv(t, func(c *query.Config) { c.ActiveScan = scan })
			for _, w := range []domain.Worker{
				{ID: "w1", Group: "g", Handlers: []string{"h"}, Labels: map[string]string{"zone": "a"}, Capacity: 2},
				{ID: "w2", Group: "g", Capacity: 2},
				{ID: "w3", Group: "other", Capacity: 2},
			} {
				l, err := e.mem.RegisterWorker(e.ctx, w, 10*time.Second)
				require.NoError(t, err)
				t.Cleanup(func() { _ = l.Close(context.Background()) })
			}
			f := e.fire(t, "j", "g", t0, 3)
			e.move(t, f.RunIDs[0], "w1", domain.RunRunning)
			e.move(t, f.RunIDs[1], "w1", domain.RunAssigned)
			e.move(t, f.RunIDs[2], "w2", domain.RunSucceeded)
			page, err := e.svc.Workers(e.ctx, "g", ports.PageRequest{})
			require.NoError(t, err)
			require.Len(t, page.Items, 2)
			require.Equal(t, "w1", page.Items[0].Worker.ID)
			require.Equal(t, []string{"h"}, page.Items[0].Worker.Handlers)
			require.Len(t, page.Items[0].Running, 2)
			require.Empty(t, page.Items[1].Running, "a finished run is not running")

			page, err = e.svc.Workers(e.ctx, "", ports.PageRequest{Limit: 2})
			require.NoError(t, err)
			require.Len(t, page.Items, 2)
			require.NotEmpty(t, page.NextCursor)
			next, err := e.svc.Workers(e.ctx, "", ports.PageRequest{Limit: 2, Cursor: page.NextCursor})
			require.NoError(t, err)
			require.Len(t, next.Items, 1)
			require.Equal(t, "w3", next.Items[0].Worker.ID)
			require.Empty(t, next.NextCursor)

			_, err = e.svc.Workers(e.ctx, "", ports.PageRequest{Cursor: "x"})
			require.Equal(t, "cursor", domain.FieldOf(err))
		})
	}
}

func TestNodesMarkTheLeader(t *testing.T) {
	e := newEnv(t)
	page, err := e.svc.Nodes(e.ctx, ports.PageRequest{})
	require.NoError(t, err)
	require.Empty(t, page.Items)
	require.Empty(t, page.LeaderID, "no leader yet")
	for _, id := range []string{"n2", "n1"} {
		l, err := e.mem.RegisterNode(e.ctx, domain.Node{ID: id, Address: id + ":8002"}, 10*time.Second)
		require.NoError(t, err)
		t.Cleanup(func() { _ = l.Close(context.Background()) })
	}
	lead, err := e.mem.NewElector("n1", 10*time.Second).Campaign(e.ctx)
	require.NoError(t, err)
	t.Cleanup(func() { _ = lead.Resign(context.Background()) })
	page, err = e.svc.Nodes(e.ctx, ports.PageRequest{})
	require.NoError(t, err)
	require.Equal(t, "n1", page.LeaderID)
	require.Equal(t, []query.NodeView{
		{Node: domain.Node{ID: "n1", Address: "n1:8002"}, Leader: true},
		{Node: domain.Node{ID: "n2", Address: "n2:8002"}},
	}, page.Items)

	noLeader := newEnv(t, func(c *query.Config) { c.Leader = nil })
	id, err := noLeader.svc.LeaderID(noLeader.ctx)
	require.NoError(t, err)
	require.Empty(t, id)
}

func TestStatsCountsPerStatePerHourAndDay(t *testing.T) {
	e := newEnv(t)
	now := e.clk.Now() // 16:43 UTC
	ok := e.fire(t, "j", "g", now.Add(-10*time.Minute), 2)
	e.move(t, ok.RunIDs[0], "w", domain.RunSucceeded)
	e.move(t, ok.RunIDs[1], "w", domain.RunFailed)
	e.fire(t, "j", "g", now.Add(-2*time.Hour), 1)           // pending, 14:43
	old := e.fire(t, "j", "g", now.Add(-3*24*time.Hour), 1) // three days ago
	e.move(t, old.RunIDs[0], "w", domain.RunCancelled)      // cancelled
	e.fire(t, "j", "g", now.Add(-40*24*time.Hour), 1)       // too old
	st, err := e.svc.Stats(e.ctx, nil)
	require.NoError(t, err)
	require.Len(t, st.Hourly, query.StatsHours)
	require.Len(t, st.Daily, query.StatsDays)
	require.Equal(t, time.Date(2026, 11, 26, 16, 0, 0, 0, time.UTC), st.Hourly[23].Start)
	require.Equal(t, time.Date(2026, 10, 28, 0, 0, 0, 0, time.UTC), st.Daily[0].Start)
	require.Equal(t, 1, st.Hourly[23].Counts[domain.RunSucceeded])
	require.Equal(t, 1, st.Hourly[23].Counts[domain.RunFailed])
	require.Equal(t, 2, st.Hourly[23].Total)
	require.Equal(t, 1, st.Hourly[21].Counts[domain.RunPending])
	require.Len(t, st.Hourly[0].Counts, len(domain.AllRunStates), "every state, zeros included")
	require.Equal(t, 3, st.Daily[29].Total)
	require.Equal(t, 1, st.Daily[26].Counts[domain.RunCancelled])
	require.Equal(t, 4, st.Scanned)
	require.False(t, st.Truncated)
	require.Equal(t, st.Daily[0].Start, st.CompleteFrom)

	berlin, err := time.LoadLocation("Europe/Berlin")
	require.NoError(t, err)
	st, err = e.svc.Stats(e.ctx, berlin)
	require.NoError(t, err)
	require.Equal(t, "2026-11-26T00:00:00+01:00", st.Daily[29].Start.Format(time.RFC3339))
	require.Equal(t, "2026-11-26T17:00:00+01:00", st.Hourly[23].Start.Format(time.RFC3339))

	small := newEnv(t, func(c *query.Config) { c.StatsScan = 2 })
	for i := range 3 {
		small.fire(t, "j", "g", now.Add(-time.Duration(i)*time.Hour), 1)
	}
	st, err = small.svc.Stats(small.ctx, nil)
	require.NoError(t, err)
	require.True(t, st.Truncated)
	require.Equal(t, 2, st.Scanned)
	require.Equal(t, now.Add(-time.Hour), st.CompleteFrom)
}
