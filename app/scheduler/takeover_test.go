package scheduler_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pink-scheduler/pink/app/scheduler"
	"github.com/pink-scheduler/pink/domain"
	"github.com/pink-scheduler/pink/ports"
)

// recordingElector remembers the leaderships it hands out, so a test can
// kill one behind the scheduler's back.
type recordingElector struct {
	ports.Elector
	mu    sync.Mutex
	terms []ports.Leadership
	won   chan struct{}
}

func (r *recordingElector) Campaign(ctx context.Context) (ports.Leadership, error) {
	l, err := r.Elector.Campaign(ctx)
	if err == nil {
		r.mu.Lock()
		r.terms = append(r.terms, l)
		r.mu.Unlock()
	}
	return l, err
}

func (r *recordingElector) current() ports.Leadership {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.terms) == 0 {
		return nil
	}
	return r.terms[len(r.terms)-1]
}

func recording(el **recordingElector) func(*scheduler.Config) {
	return func(c *scheduler.Config) {
		*el = &recordingElector{Elector: c.Elector}
		c.Elector = *el
	}
}

func TestTakeoverAppliesMisfirePolicy(t *testing.T) {
	for _, tc := range []struct {
		name           string
		misfire        domain.Misfire
		fired, skipped []string // nominal times recorded during the outage 00:00:03..00:00:32
	}{
		{"fire_all within window", domain.Misfire{Policy: domain.MisfireFireAll, Window: domain.Duration(time.Minute)}, span(3, 32), nil},
		{"fire_all, window shorter than the outage", domain.Misfire{Policy: domain.MisfireFireAll, Window: domain.Duration(10 * time.Second)}, span(23, 32), span(3, 22)},
		{"fire_once", domain.Misfire{Policy: domain.MisfireFireOnce, Window: domain.Duration(time.Minute)}, span(32, 32), span(3, 31)},
		{"skip", domain.Misfire{Policy: domain.MisfireSkip, Window: domain.Duration(time.Minute)}, nil, span(3, 32)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				e := newEnv(t)
				e.startWorker("w1", succeed)
				n1 := e.startScheduler("n1")
				e.job("j", "* * * * * *", func(j *domain.Job) {
					j.Misfire = tc.misfire
					j.Overlap = domain.OverlapAllow
				})
				time.Sleep(2 * time.Second) // fires 00:00:01, 00:00:02
				n1.stop()                   // no leader from 00:00:02.5
				time.Sleep(30 * time.Second)
				e.startScheduler("n2") // takes over at 00:00:32.5
				synctest.Wait()

				fires := e.fires("j")
				requireOneFirePerNominal(t, fires)
				var fired, skipped []string
				for _, f := range fires[2:] {
					if f.Status == domain.FireDispatched {
						fired = append(fired, f.Nominal.Format("15:04:05"))
					} else {
						require.Contains(t, f.Reason, domain.SkipMisfire)
						skipped = append(skipped, f.Nominal.Format("15:04:05"))
					}
				}
				require.Equal(t, tc.fired, fired)
				require.Equal(t, tc.skipped, skipped)
				require.Equal(t, len(tc.fired)+2, states(e.runs("j"))[domain.RunSucceeded])

				time.Sleep(time.Second) // and then on time again
				synctest.Wait()
				require.Equal(t, "00:00:33", e.fires("j")[len(e.fires("j"))-1].Nominal.Format("15:04:05"))
				if len(tc.skipped) > 0 {
					require.NotEmpty(t, e.notifier.Alerts(), "skipped fires raise an alert")
				}
			})
		})
	}
}

// span returns "00:00:a" .. "00:00:b".
func span(a, b int) []string {
	var out []string
	for s := a; s <= b; s++ {
		out = append(out, time.Date(2000, 1, 1, 0, 0, s, 0, time.UTC).Format("15:04:05"))
	}
	return out
}

func TestLongOutageIsSummarisedNotFlooded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t)
		keepAll := func(c *scheduler.Config) { c.Retention.PerJob = 1000 }
		n1 := e.startScheduler("n1", keepAll)
		e.job("j", "* * * * * *", func(j *domain.Job) { j.Misfire.Policy = domain.MisfireSkip })
		n1.stop()
		time.Sleep(2 * time.Hour)
		e.startScheduler("n2", keepAll)
		synctest.Wait()

		fires := e.fires("j")
		require.Equal(t, domain.MaxSkipRecords+1, len(fires), "one record per missed fire up to the bound, then one summary")
		total := 0
		var summary *domain.SkipSummary
		for _, f := range fires {
			require.Equal(t, domain.FireSkipped, f.Status)
			if f.Summary != nil {
				summary = f.Summary
				total += f.Summary.Count
			} else {
				total++
			}
		}
		require.NotNil(t, summary)
		require.Equal(t, 2*3600, total, "every missed second is accounted for")
		require.Equal(t, "02:00:00", summary.Last.UTC().Format("15:04:05"))
	})
}

func TestOneFirePerNominalAcrossHandovers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t)
		e.startWorker("w1", succeed)
		e.startWorker("w2", succeed)
		var el1, el2 *recordingElector
		n1 := e.startScheduler("n1", recording(&el1))
		e.startScheduler("n2", recording(&el2))
		for _, id := range []string{"a", "b", "c"} {
			e.job(id, "* * * * * *", func(j *domain.Job) { j.Overlap = domain.OverlapAllow })
		}
		time.Sleep(5 * time.Second)
		require.True(t, n1.s.Status().Leader)

		// Kill n1's leadership behind its back (a pause past the TTL).
		require.NoError(t, e.mem.KillLease(el1.current()))
		synctest.Wait()
		require.True(t, e.startSchedulerStatusLeader(el2), "n2 took over")
		time.Sleep(5 * time.Second)

		// n2 resigns (SIGTERM); n1 is campaigning again and takes over.
		require.NoError(t, el2.current().Resign(e.ctx))
		time.Sleep(5 * time.Second)
		synctest.Wait()

		for _, id := range []string{"a", "b", "c"} {
			fires := e.fires(id)
			requireOneFirePerNominal(t, fires)
			require.Equal(t, span(1, 15), nominals(fires), "no fire lost, none doubled, job %s", id)
			for _, f := range fires {
				require.Equal(t, domain.FireDispatched, f.Status)
			}
			require.Equal(t, 15, states(e.runs(id))[domain.RunSucceeded])
		}
	})
}

func (e *env) startSchedulerStatusLeader(el *recordingElector) bool { return el.current() != nil }

// fencingFires refuses to let a write through before killing the
// leadership: the leader is "paused" right in the middle of a dispatch.
type fencingFires struct {
	ports.FireStore
	once sync.Once
	kill func()
}

func (f *fencingFires) CreateFires(ctx context.Context, fence ports.Fence, b []ports.FireWrite) ([]bool, error) {
	f.once.Do(f.kill)
	return f.FireStore.CreateFires(ctx, fence, b)
}

func TestLeaderLosingItsLeaseMidDispatchWritesNothing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t)
		e.startWorker("w1", succeed)
		var el1 *recordingElector
		var ff *fencingFires
		n1 := e.startScheduler("n1", recording(&el1), func(c *scheduler.Config) {
			ff = &fencingFires{FireStore: c.Fires}
			ff.kill = func() { require.NoError(t, e.mem.KillLease(el1.current())) }
			c.Fires = ff
		})
		e.job("j", "* * * * * *")
		time.Sleep(time.Second) // 00:00:01 is due: n1 writes, but its lease dies first
		synctest.Wait()

		// The write of the dead term was refused; n1 campaigned again, won a
		// new term, caught the fire up and recorded it exactly once.
		el1.mu.Lock()
		terms := slices.Clone(el1.terms)
		el1.mu.Unlock()
		require.Len(t, terms, 2)
		fires := e.fires("j")
		require.Equal(t, []string{"00:00:01"}, nominals(fires))
		require.Equal(t, terms[1].Fence().Token, fires[0].LeaderToken, "written by the new term")
		require.Greater(t, terms[1].Fence().Token, terms[0].Fence().Token)
		require.True(t, n1.s.Status().Leader)
		require.Equal(t, domain.RunSucceeded, e.runs("j")[0].State)
	})
}

func TestDSTInEngine(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t)
		e.startWorker("w1", succeed)
		// Months of virtual time pass: prune daily, not every minute, so
		// the test does not spend its time waking the leader for nothing.
		e.startScheduler("n1", func(c *scheduler.Config) { c.PruneInterval = 24 * time.Hour })
		// The bubble's clock starts on 2000-01-01. In 2000, Europe/Berlin
		// sprang forward on 26 March (02:00 -> 03:00) and fell back on
		// 29 October; America/New_York fell back on 29 October at 02:00.
		time.Sleep(time.Until(time.Date(2000, 3, 25, 12, 0, 0, 0, time.UTC)))
		e.job("berlin", "30 2 * * *", func(j *domain.Job) { j.Timezone = "Europe/Berlin" })
		time.Sleep(3 * 24 * time.Hour)
		synctest.Wait()
		berlin, _ := time.LoadLocation("Europe/Berlin")
		var got []string
		for _, f := range e.fires("berlin") {
			got = append(got, f.Nominal.In(berlin).Format("01-02 15:04 MST"))
		}
		require.Equal(t, []string{"03-26 03:00 CEST", "03-27 02:30 CEST", "03-28 02:30 CEST"}, got,
			"02:30 does not exist on 26 March: fired once, at the end of the gap")

		time.Sleep(time.Until(time.Date(2000, 10, 28, 12, 0, 0, 0, time.UTC)))
		e.job("ny", "*/30 * * * *", func(j *domain.Job) { j.Timezone = "America/New_York" })
		e.job("berlin-fall", "30 2 * * *", func(j *domain.Job) { j.Timezone = "Europe/Berlin" })
		time.Sleep(24 * time.Hour)
		synctest.Wait()
		ny, _ := time.LoadLocation("America/New_York")
		got = nil
		for _, f := range e.fires("ny") {
			local := f.Nominal.In(ny)
			if local.Day() == 29 && local.Hour() >= 0 && local.Hour() < 2 {
				got = append(got, local.Format("15:04 MST"))
			}
		}
		require.Equal(t, []string{"00:00 EDT", "00:30 EDT", "01:00 EDT", "01:30 EDT", "01:00 EST", "01:30 EST"}, got,
			"an elapsed-time schedule fires in both passes of the repeated hour")
		got = nil
		for _, f := range e.fires("berlin-fall") {
			got = append(got, f.Nominal.In(berlin).Format("01-02 15:04 MST"))
		}
		require.Equal(t, []string{"10-29 02:30 CEST"}, got, "a wall-clock job fires once, in the first pass")
		for _, id := range []string{"berlin", "ny", "berlin-fall"} {
			requireOneFirePerNominal(t, e.fires(id))
		}
	})
}

// compactingJobs fails the first jobs watch with ErrCompacted, as etcd does
// for a watcher that fell behind the compaction.
type compactingJobs struct {
	ports.JobStore
	mu    sync.Mutex
	scans int
	once  sync.Once
	fail  chan struct{} // closed to deliver the compaction
}

func (c *compactingJobs) ScanJobs(ctx context.Context, fn func(domain.Job) error) (int64, error) {
	c.mu.Lock()
	c.scans++
	c.mu.Unlock()
	return c.JobStore.ScanJobs(ctx, fn)
}

func (c *compactingJobs) WatchJobs(ctx context.Context, after int64) <-chan ports.JobEvent {
	first := false
	c.once.Do(func() { first = true })
	if !first {
		return c.JobStore.WatchJobs(ctx, after)
	}
	ch := make(chan ports.JobEvent, 1)
	go func() {
		defer close(ch)
		select {
		case <-c.fail:
			ch <- ports.JobEvent{Err: fmt.Errorf("watch jobs: %w", domain.ErrCompacted)}
		case <-ctx.Done():
		}
	}()
	return ch
}

func TestCompactedWatchRereadsStateAndKeepsLeading(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t)
		e.startWorker("w1", succeed)
		var el *recordingElector
		cj := &compactingJobs{fail: make(chan struct{})}
		n1 := e.startScheduler("n1", recording(&el), func(c *scheduler.Config) {
			cj.JobStore = c.Jobs
			c.Jobs = cj
		})
		e.job("j", "* * * * * *", func(j *domain.Job) { j.Overlap = domain.OverlapAllow })
		// The first watch is broken from the start: the job's creation is
		// not seen until the state is re-read.
		time.Sleep(2 * time.Second)
		synctest.Wait()
		require.Empty(t, e.fires("j"))

		close(cj.fail)
		synctest.Wait()
		require.Equal(t, 2, cj.scans, "the state was read again")
		time.Sleep(3 * time.Second)
		synctest.Wait()

		require.Len(t, el.terms, 1, "leadership kept")
		require.True(t, n1.s.Status().Leader)
		fires := e.fires("j")
		requireOneFirePerNominal(t, fires)
		require.Equal(t, span(1, 5), nominals(fires), "the re-read caught up the fires missed meanwhile")
	})
}
