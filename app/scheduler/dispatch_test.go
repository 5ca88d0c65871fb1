package scheduler_test

import (
	"context"
	"fmt"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pink-scheduler/pink/app/scheduler"
	"github.com/pink-scheduler/pink/domain"
	"github.com/pink-scheduler/pink/ports"
)

// slowRuns makes every leader run update take d of (virtual) time, as a
// store round trip does.
type slowRuns struct {
	ports.RunStore
	d time.Duration
}

func (s *slowRuns) LeaderUpdateRun(ctx context.Context, fence ports.Fence, id string, fn func(*domain.Run) error) (domain.Run, error) {
	time.Sleep(s.d)
	return s.RunStore.LeaderUpdateRun(ctx, fence, id, fn)
}

func TestABacklogOfPendingRunsDoesNotHoldUpFires(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t)
		e.startScheduler("n1", func(c *scheduler.Config) {
			c.Runs = &slowRuns{RunStore: c.Runs, d: 10 * time.Millisecond}
		})
		const backlog = 300
		for i := range backlog {
			e.job(fmt.Sprintf("p%03d", i), "@every 10s")
		}
		e.job("tick", "* * * * * *", func(j *domain.Job) { j.Overlap = domain.OverlapAllow })
		time.Sleep(10 * time.Second) // no worker: 300 runs pending, and tick's
		synctest.Wait()
		for i := range backlog {
			require.Equal(t, domain.RunPending, e.runs(fmt.Sprintf("p%03d", i))[0].State)
		}

		// A worker comes: dispatching the backlog takes 3 s of store
		// writes, in bounded turns; tick's fires go on meanwhile.
		e.startWorker("w1", succeed, func(w *domain.Worker) { w.Capacity = 1000 })
		time.Sleep(5 * time.Second)
		synctest.Wait()
		for i := range backlog {
			runs := e.runs(fmt.Sprintf("p%03d", i))
			require.Equal(t, domain.RunSucceeded, runs[0].State, runs[0].ID)
		}
		fires := e.fires("tick")
		require.Equal(t, span(1, 15), nominals(fires))
		for _, f := range fires {
			require.LessOrEqual(t, f.CreatedAt.Sub(f.Nominal), 400*time.Millisecond,
				"fire %s recorded %s late: held up by the backlog", f.ID, f.CreatedAt.Sub(f.Nominal))
		}
	})
}

func TestPendingRunIsSkippedWhenItsMisfireWindowEnds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t)
		e.startScheduler("n1")
		e.job("lonely", "@every 1h", func(j *domain.Job) {
			j.Misfire = domain.Misfire{Policy: domain.MisfireFireAll, Window: domain.Duration(20 * time.Second)}
		})
		time.Sleep(time.Hour + 20*time.Second - 500*time.Millisecond) // 01:00:20, the window's last instant
		synctest.Wait()
		require.Equal(t, domain.RunPending, e.runs("lonely")[0].State)

		// Nothing else happens, and yet it is skipped right after.
		time.Sleep(time.Millisecond)
		synctest.Wait()
		r := e.runs("lonely")[0]
		require.Equal(t, domain.RunSkipped, r.State)
		require.Contains(t, r.Error, "misfire window")
		require.Equal(t, 20*time.Second, r.FinishedAt.Sub(r.ScheduledAt).Truncate(time.Millisecond))
	})
}

func TestMoreDueFiresThanOneTickTakesAreAllWrittenOnTime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t)
		e.startWorker("w1", succeed)
		e.startScheduler("n1", func(c *scheduler.Config) { c.BatchSize = 4 })
		const jobs = 100 // 25 batches of 4 due at once: more than a tick builds
		for i := range jobs {
			e.job(fmt.Sprintf("j%03d", i), "* * * * * *")
		}
		time.Sleep(2 * time.Second)
		synctest.Wait()
		for i := range jobs {
			fires := e.fires(fmt.Sprintf("j%03d", i))
			require.Equal(t, span(1, 2), nominals(fires))
			for _, f := range fires {
				require.True(t, f.CreatedAt.Equal(f.Nominal), "fire %s created at %s", f.ID, f.CreatedAt)
			}
			for _, r := range e.runs(fmt.Sprintf("j%03d", i)) {
				require.Equal(t, domain.RunSucceeded, r.State, r.ID)
			}
		}
	})
}
