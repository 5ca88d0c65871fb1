package scheduler_test

import (
	"encoding/json"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pink-scheduler/pink/domain"
)

func TestTriggerNowRunsAPausedJobWithOverriddenParams(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t)
		e.startWorker("w1", succeed)
		e.startScheduler("n1")
		e.job("manual", "@yearly", func(j *domain.Job) { j.State = domain.JobPaused })

		f1, err := e.svc.TriggerJob(e.ctx, "manual", json.RawMessage(`{"k":2}`), "alice")
		require.NoError(t, err)
		f2, err := e.svc.TriggerJob(e.ctx, "manual", nil, "bob")
		require.NoError(t, err)
		require.NotEqual(t, f1.ID, f2.ID, "two triggers in the same instant are two fires")
		synctest.Wait()

		fires := e.fires("manual")
		require.Len(t, fires, 2)
		for _, f := range fires {
			require.Equal(t, domain.FireManual, f.Kind)
		}
		runs := e.runs("manual")
		require.Len(t, runs, 2)
		byFire := map[string]domain.Run{}
		for _, r := range runs {
			require.Equal(t, domain.RunSucceeded, r.State)
			require.True(t, r.Manual)
			byFire[r.FireID] = r
		}
		require.JSONEq(t, `{"k":2}`, string(byFire[f1.ID].Params), "the override")
		require.JSONEq(t, `{"k":1}`, string(byFire[f2.ID].Params), "the job's own params")
		by := map[string]string{}
		for _, f := range fires {
			by[f.ID] = f.TriggeredBy
		}
		require.Equal(t, map[string]string{f1.ID: "alice", f2.ID: "bob"}, by)

		time.Sleep(time.Hour)
		synctest.Wait()
		require.Len(t, e.fires("manual"), 2, "still paused: no scheduled fire")
	})
}

func TestTriggerRejectsBadInput(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t)
		e.job("j", "@yearly")
		_, err := e.svc.TriggerJob(e.ctx, "j", json.RawMessage(`{"k":`), "alice")
		require.Equal(t, "params", domain.FieldOf(err))
		_, err = e.svc.TriggerJob(e.ctx, "missing", nil, "alice")
		require.ErrorIs(t, err, domain.ErrNotFound)
		_, err = e.svc.TriggerJob(e.ctx, "j", make(json.RawMessage, domain.DefaultMaxParams+1), "alice")
		require.Equal(t, "params", domain.FieldOf(err))
		e.job("bc", "@yearly", func(j *domain.Job) { j.Route = domain.RouteBroadcast })
		_, err = e.svc.TriggerJob(e.ctx, "bc", nil, "alice")
		require.ErrorIs(t, err, domain.ErrConflict, "a broadcast with no worker is refused, not silently empty")
		require.Empty(t, e.fires("j"))
		require.Empty(t, e.fires("bc"))
	})
}
