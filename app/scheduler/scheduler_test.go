package scheduler_test

import (
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pink-scheduler/pink/domain"
)

func TestFiresOnTimeAndRunsOnAWorker(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t)
		e.startWorker("w1", succeed)
		e.startScheduler("n1")
		e.job("tick", "* * * * * *")

		time.Sleep(5 * time.Second)
		synctest.Wait()

		fires := e.fires("tick")
		require.Equal(t, []string{"00:00:01", "00:00:02", "00:00:03", "00:00:04", "00:00:05"}, nominals(fires))
		requireOneFirePerNominal(t, fires)
		runs := e.runs("tick")
		require.Len(t, runs, 5)
		for i, r := range runs {
			assert.Equal(t, domain.RunSucceeded, r.State, r.ID)
			assert.Equal(t, fires[i].ID, r.FireID)
			assert.Equal(t, "w1", r.WorkerID)
			assert.Equal(t, `{"k":1}`, string(r.Params))
			assert.Equal(t, "done by w1", r.Output)
			// Virtual time makes lateness exact: dispatched at the nominal
			// time, never before.
			assert.True(t, r.AssignedAt.Equal(r.ScheduledAt), "run %s assigned at %s for %s", r.ID, r.AssignedAt, r.ScheduledAt)
		}
	})
}

func TestFiveFieldCronIsMinuteFirst(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t)
		e.startWorker("w1", succeed)
		e.startScheduler("n1")
		e.job("minutely", "*/2 * * * *") // every two minutes, not every two seconds

		time.Sleep(5*time.Minute + time.Second)
		synctest.Wait()
		require.Equal(t, []string{"00:02:00", "00:04:00"}, nominals(e.fires("minutely")))
	})
}

func TestNoWorkerKeepsRunPendingUntilOneRegisters(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t)
		e.startScheduler("n1")
		e.job("once", "@every 10s")

		time.Sleep(10 * time.Second)
		synctest.Wait()
		runs := e.runs("once")
		require.Len(t, runs, 1)
		require.Equal(t, domain.RunPending, runs[0].State, "kept, not dropped")

		e.startWorker("w1", succeed)
		synctest.Wait()
		runs = e.runs("once")
		require.Equal(t, domain.RunSucceeded, runs[0].State)
		require.Equal(t, "w1", runs[0].WorkerID)
		require.Equal(t, 500*time.Millisecond, runs[0].AssignedAt.Sub(runs[0].ScheduledAt))
	})
}

func TestPendingRunPastMisfireWindowIsSkippedVisibly(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t)
		e.startScheduler("n1")
		e.job("lonely", "@every 1h", func(j *domain.Job) {
			j.Misfire = domain.Misfire{Policy: domain.MisfireFireAll, Window: domain.Duration(20 * time.Second)}
		})
		time.Sleep(time.Hour + time.Second)
		synctest.Wait()
		require.Equal(t, domain.RunPending, e.runs("lonely")[0].State)

		time.Sleep(20 * time.Second) // past the window, still no worker
		e.startWorker("w1", succeed) // arrives too late for that fire
		synctest.Wait()
		r := e.runs("lonely")[0]
		require.Equal(t, domain.RunSkipped, r.State)
		require.Contains(t, r.Error, "misfire window")
	})
}

func TestPauseStopsFiresAndResumeDoesNotCatchUp(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t)
		e.startWorker("w1", succeed)
		e.startScheduler("n1")
		e.job("p", "* * * * * *")

		time.Sleep(2 * time.Second)
		_, err := e.svc.PauseJob(e.ctx, "p")
		require.NoError(t, err)
		time.Sleep(5 * time.Second) // paused: 00:00:03 .. 00:00:07 do not fire
		_, err = e.svc.ResumeJob(e.ctx, "p")
		require.NoError(t, err)
		time.Sleep(2 * time.Second)
		synctest.Wait()

		require.Equal(t, []string{"00:00:01", "00:00:02", "00:00:08", "00:00:09"}, nominals(e.fires("p")))
	})
}

func TestEditScheduleTakesEffectWithoutRestart(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t)
		e.startWorker("w1", succeed)
		e.startScheduler("n1")
		e.job("edit", "*/10 * * * * *")

		time.Sleep(25 * time.Second)
		_, err := e.svc.UpdateJob(e.ctx, "edit", func(j *domain.Job) error {
			j.Schedule = "*/3 * * * * *"
			j.Handler = "h2"
			return nil
		})
		require.NoError(t, err)
		time.Sleep(10 * time.Second)
		synctest.Wait()

		require.Equal(t, []string{"00:00:10", "00:00:20", "00:00:27", "00:00:30", "00:00:33"}, nominals(e.fires("edit")))
		runs := e.runs("edit")
		require.Equal(t, "h", runs[1].Handler)
		require.Equal(t, "h2", runs[2].Handler, "runs after the edit use the new definition")
	})
}

func TestDeleteJobRemovesPendingRunsAndStopsFiring(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t)
		e.startScheduler("n1")
		e.job("doomed", "* * * * * *", func(j *domain.Job) { j.Overlap = domain.OverlapAllow })
		time.Sleep(3 * time.Second)
		synctest.Wait()
		require.Len(t, e.runs("doomed"), 3)

		_, err := e.svc.DeleteJob(e.ctx, "doomed")
		require.NoError(t, err)
		synctest.Wait()
		require.Empty(t, e.runs("doomed"), "pending runs of a deleted job are removed")
		time.Sleep(3 * time.Second)
		synctest.Wait()
		require.Len(t, e.fires("doomed"), 3, "no fire after the delete")
	})
}

func TestOverlapPolicies(t *testing.T) {
	hang := func(domain.Run) (time.Duration, domain.RunState, string) { return -1, "", "" }
	for _, tc := range []struct {
		overlap              domain.OverlapPolicy
		fired, skipped       int
		active, cancelled    int
		wantSkipReasonPrefix string
	}{
		{domain.OverlapAllow, 4, 0, 4, 0, ""},
		{domain.OverlapForbid, 1, 3, 1, 0, domain.SkipOverlap},
		{domain.OverlapReplace, 4, 0, 1, 3, ""},
	} {
		t.Run(string(tc.overlap), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				e := newEnv(t)
				e.startWorker("w1", hang)
				e.startScheduler("n1")
				e.job("slow", "* * * * * *", func(j *domain.Job) { j.Overlap = tc.overlap })
				time.Sleep(4 * time.Second)
				synctest.Wait()

				fires := e.fires("slow")
				require.Len(t, fires, 4)
				st := statuses(fires)
				require.Equal(t, tc.fired, st[domain.FireDispatched])
				require.Equal(t, tc.skipped, st[domain.FireSkipped])
				for _, f := range fires {
					if f.Status == domain.FireSkipped {
						require.True(t, hasReason(f, tc.wantSkipReasonPrefix), f.Reason)
					}
				}
				rs := states(e.runs("slow"))
				require.Equal(t, tc.active, rs[domain.RunRunning])
				require.Equal(t, tc.cancelled, rs[domain.RunCancelled])
			})
		})
	}
}

func TestFailedRunIsRetriedWithBackoffOnAnotherWorker(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t)
		flaky := func(r domain.Run) (time.Duration, domain.RunState, string) {
			if r.Attempt < 3 {
				return 100 * time.Millisecond, domain.RunFailed, "boom"
			}
			return 0, domain.RunSucceeded, ""
		}
		e.startWorker("w1", flaky)
		e.startWorker("w2", flaky)
		e.startScheduler("n1")
		e.job("flaky", "@every 1h", func(j *domain.Job) {
			j.Retry = domain.Retry{MaxAttempts: 3, Backoff: domain.Duration(2 * time.Second), MaxBackoff: domain.Duration(time.Minute)}
		})
		time.Sleep(time.Hour + 30*time.Second)
		synctest.Wait()

		runs := e.runs("flaky")
		require.Len(t, runs, 1)
		r := runs[0]
		require.Equal(t, domain.RunSucceeded, r.State)
		require.Equal(t, 3, r.Attempt)
		require.Len(t, r.Attempts, 2)
		require.NotEqual(t, r.Attempts[0].WorkerID, r.Attempts[1].WorkerID, "a retry goes to another worker where possible")
		require.Equal(t, "boom", r.Attempts[0].Error)
		// The second retry waited at least the doubled backoff (4 s).
		require.GreaterOrEqual(t, r.AssignedAt.Sub(r.Attempts[1].FinishedAt), 4*time.Second)
		require.Less(t, r.AssignedAt.Sub(r.Attempts[1].FinishedAt), 5*time.Second)
	})
}

func TestRunWithoutResultTimesOut(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t)
		e.startWorker("w1", func(domain.Run) (time.Duration, domain.RunState, string) { return -1, "", "" })
		e.startScheduler("n1")
		e.job("hung", "@every 1h", func(j *domain.Job) {
			j.Timeout = domain.Duration(10 * time.Second)
			j.Retry.MaxAttempts = 1
		})
		time.Sleep(time.Hour + 14*time.Second)
		synctest.Wait()
		require.Equal(t, domain.RunRunning, e.runs("hung")[0].State, "still within timeout + grace")

		time.Sleep(2 * time.Second)
		synctest.Wait()
		r := e.runs("hung")[0]
		require.Equal(t, domain.RunTimedOut, r.State)
		require.Contains(t, r.Error, "timeout")
	})
}

func TestDeadWorkersRunFailsOverOrIsLost(t *testing.T) {
	for _, tc := range []struct {
		name     string
		attempts int
		want     domain.RunState
	}{{"retried elsewhere", 2, domain.RunSucceeded}, {"lost without retries", 1, domain.RunLost}} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				e := newEnv(t)
				w1 := e.startWorker("w1", func(domain.Run) (time.Duration, domain.RunState, string) { return -1, "", "" })
				e.startScheduler("n1")
				e.job("j", "@every 1h", func(j *domain.Job) { j.Retry.MaxAttempts = tc.attempts })
				time.Sleep(time.Hour + time.Second)
				synctest.Wait()
				require.Equal(t, domain.RunRunning, e.runs("j")[0].State)

				e.startWorker("w2", succeed)
				e.crash(w1) // lease expires 5 s later
				time.Sleep(4 * time.Second)
				synctest.Wait()
				require.Equal(t, domain.RunRunning, e.runs("j")[0].State, "not failed over before the lease expired")
				time.Sleep(3 * time.Second)
				synctest.Wait()
				r := e.runs("j")[0]
				require.Equal(t, tc.want, r.State)
				if tc.want == domain.RunSucceeded {
					require.Equal(t, "w2", r.WorkerID)
					require.Equal(t, domain.RunLost, r.Attempts[0].State)
				} else {
					require.Contains(t, r.Error, "w1 lost")
				}
			})
		})
	}
}

func TestShardsAndBroadcast(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t)
		e.startWorker("w1", succeed)
		e.startWorker("w2", succeed)
		e.startWorker("w3", succeed, func(w *domain.Worker) { w.Labels = map[string]string{"zone": "b"} })
		e.startScheduler("n1")
		e.job("sharded", "@every 1m", func(j *domain.Job) { j.Shards = 3 })
		e.job("everyone", "@every 1m", func(j *domain.Job) { j.Route = domain.RouteBroadcast })
		e.job("zoned", "@every 1m", func(j *domain.Job) {
			j.Route = domain.RouteBroadcast
			j.Selector = map[string]string{"zone": "b"}
		})
		time.Sleep(61 * time.Second)
		synctest.Wait()

		sh := e.runs("sharded")
		require.Len(t, sh, 3)
		workers := map[string]bool{}
		for i, r := range sh {
			require.Equal(t, i, r.Shard)
			require.Equal(t, 3, r.Shards)
			require.Equal(t, domain.RunSucceeded, r.State)
			workers[r.WorkerID] = true
		}
		require.Len(t, workers, 3, "round robin spreads the shards")

		bc := e.runs("everyone")
		require.Len(t, bc, 3)
		got := map[string]bool{}
		for _, r := range bc {
			got[r.WorkerID] = true
			require.Equal(t, r.WorkerID, r.PinnedWorker)
		}
		require.Equal(t, map[string]bool{"w1": true, "w2": true, "w3": true}, got)

		zoned := e.runs("zoned")
		require.Len(t, zoned, 1)
		require.Equal(t, "w3", zoned[0].WorkerID)
	})
}

func TestHandlerAwareRouting(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t)
		e.startWorker("w-other", succeed, func(w *domain.Worker) { w.Handlers = []string{"other"} })
		e.startWorker("w-h", succeed, func(w *domain.Worker) { w.Handlers = []string{"h"} })
		e.startScheduler("n1")
		e.job("j", "* * * * * *")
		time.Sleep(3 * time.Second)
		synctest.Wait()
		for _, r := range e.runs("j") {
			require.Equal(t, "w-h", r.WorkerID, "never routed to a worker without the handler")
		}
	})
}
