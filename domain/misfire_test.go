package domain_test

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pink-scheduler/pink/domain"
)

// m0 is a whole second: the every-second schedules fire at it.
var m0 = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)

func everySecond(t *testing.T) *domain.Schedule {
	t.Helper()
	s, err := domain.ParseSchedule("* * * * * *", "")
	require.NoError(t, err)
	return s
}

// secs returns the Unix seconds of m0+from .. m0+to, inclusive.
func secs(from, to int) []int64 {
	out := []int64{}
	for i := from; i <= to; i++ {
		out = append(out, m0.Unix()+int64(i))
	}
	return out
}

func unix(ts []time.Time) []int64 {
	out := []int64{}
	for _, t := range ts {
		out = append(out, t.Unix())
	}
	return out
}

func misfire(p domain.MisfirePolicy, window time.Duration) domain.Misfire {
	return domain.Misfire{Policy: p, Window: domain.Duration(window)}
}

// totalCovered counts the nominal times a plan accounts for.
func totalCovered(cu domain.CatchUp) int {
	n := len(cu.Fire) + len(cu.Skip)
	if cu.Summary != nil {
		n += cu.Summary.Count
	}
	return n
}

func TestPlanCatchUpNothingMissed(t *testing.T) {
	s := everySecond(t)
	for _, tt := range []struct {
		name       string
		since, now time.Time
	}{
		{"since equals now", m0, m0},
		{"no whole second in between", m0.Add(100 * time.Millisecond), m0.Add(900 * time.Millisecond)},
		{"since after now", m0.Add(time.Minute), m0},
	} {
		for _, p := range []domain.MisfirePolicy{domain.MisfireSkip, domain.MisfireFireOnce, domain.MisfireFireAll} {
			cu := domain.PlanCatchUp(s, tt.since, tt.now, misfire(p, time.Minute))
			assert.Empty(t, cu.Fire, "%s %s", tt.name, p)
			assert.Empty(t, cu.Skip, "%s %s", tt.name, p)
			assert.Nil(t, cu.Summary, "%s %s", tt.name, p)
		}
	}
}

func TestPlanCatchUpBounds(t *testing.T) {
	s := everySecond(t)
	// (since, now]: since itself was handled, now is due.
	cu := domain.PlanCatchUp(s, m0, m0.Add(3*time.Second), misfire(domain.MisfireFireAll, time.Minute))
	assert.Equal(t, secs(1, 3), unix(cu.Fire))
	cu = domain.PlanCatchUp(s, m0.Add(-time.Millisecond), m0, misfire(domain.MisfireFireAll, time.Minute))
	assert.Equal(t, secs(0, 0), unix(cu.Fire))
}

func TestPlanCatchUpPolicies(t *testing.T) {
	s := everySecond(t)
	since, now := m0, m0.Add(10*time.Second) // missed m0+1s .. m0+10s
	tests := []struct {
		name     string
		m        domain.Misfire
		fire     []int64
		skip     []int64
		skipNone bool
	}{
		{"fire_all within window", misfire(domain.MisfireFireAll, time.Minute), secs(1, 10), nil, true},
		{"fire_once within window", misfire(domain.MisfireFireOnce, time.Minute), secs(10, 10), secs(1, 9), false},
		{"skip within window", misfire(domain.MisfireSkip, time.Minute), nil, secs(1, 10), false},

		// Window 5s: the edge is now-5s = m0+5s, which is inside; m0+1..4 are too old.
		{"fire_all partly old", misfire(domain.MisfireFireAll, 5*time.Second), secs(5, 10), secs(1, 4), false},
		{"fire_once partly old", misfire(domain.MisfireFireOnce, 5*time.Second), secs(10, 10), secs(1, 9), false},
		{"skip partly old", misfire(domain.MisfireSkip, 5*time.Second), nil, secs(1, 10), false},

		// Window 0: only a fire due exactly now runs.
		{"fire_all window 0", misfire(domain.MisfireFireAll, 0), secs(10, 10), secs(1, 9), false},
		{"fire_once window 0", misfire(domain.MisfireFireOnce, 0), secs(10, 10), secs(1, 9), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cu := domain.PlanCatchUp(s, since, now, tt.m)
			if tt.fire == nil {
				assert.Empty(t, cu.Fire)
			} else {
				assert.Equal(t, tt.fire, unix(cu.Fire), "fired, oldest first")
			}
			if tt.skip == nil {
				assert.Empty(t, cu.Skip)
			} else {
				assert.Equal(t, tt.skip, unix(cu.Skip), "skipped, oldest first")
			}
			assert.Nil(t, cu.Summary)
			assert.Equal(t, 10, totalCovered(cu))
		})
	}
}

// TestPlanCatchUpOlderThanWindow: an hourly job down for three hours with
// a one-minute window fires nothing, whatever the policy, and says so.
func TestPlanCatchUpOlderThanWindow(t *testing.T) {
	s, err := domain.ParseSchedule("@hourly", "Europe/Berlin")
	require.NoError(t, err)
	since := m0.Add(-3*time.Hour - 30*time.Minute)
	now := m0.Add(30 * time.Minute)
	for _, p := range []domain.MisfirePolicy{domain.MisfireSkip, domain.MisfireFireOnce, domain.MisfireFireAll} {
		cu := domain.PlanCatchUp(s, since, now, misfire(p, time.Minute))
		assert.Empty(t, cu.Fire, p)
		assert.Equal(t, []int64{m0.Unix() - 3*3600, m0.Unix() - 2*3600, m0.Unix() - 3600, m0.Unix()}, unix(cu.Skip), p)
		assert.Nil(t, cu.Summary, p)
	}
	// With a window that reaches back far enough, the newest fires.
	cu := domain.PlanCatchUp(s, since, now, misfire(domain.MisfireFireOnce, time.Hour))
	assert.Equal(t, []int64{m0.Unix()}, unix(cu.Fire))
	assert.Len(t, cu.Skip, 3)
}

func TestPlanCatchUpOneShot(t *testing.T) {
	at := m0.Add(-10 * time.Second)
	s, err := domain.ParseSchedule("@at "+at.Format(time.RFC3339), "")
	require.NoError(t, err)
	cu := domain.PlanCatchUp(s, m0.Add(-time.Hour), m0, misfire(domain.MisfireFireAll, time.Minute))
	assert.Equal(t, []int64{at.Unix()}, unix(cu.Fire))
	assert.Empty(t, cu.Skip)
	cu = domain.PlanCatchUp(s, m0.Add(-time.Hour), m0, misfire(domain.MisfireFireAll, 5*time.Second))
	assert.Empty(t, cu.Fire)
	assert.Equal(t, []int64{at.Unix()}, unix(cu.Skip))
	cu = domain.PlanCatchUp(s, at, m0, misfire(domain.MisfireFireAll, time.Minute))
	assert.Empty(t, cu.Fire, "already handled")
	assert.Empty(t, cu.Skip)
}

func TestPlanCatchUpMaxCatchUpFires(t *testing.T) {
	s := everySecond(t)
	const missed = 250
	now := m0.Add(missed * time.Second)
	cu := domain.PlanCatchUp(s, m0, now, misfire(domain.MisfireFireAll, time.Hour))

	require.Len(t, cu.Fire, domain.MaxCatchUpFires)
	assert.Equal(t, secs(missed-domain.MaxCatchUpFires+1, missed), unix(cu.Fire), "the newest fires, oldest first")
	// The older 150 are skipped: 100 individually, 50 in the summary.
	assert.Equal(t, secs(1, domain.MaxSkipRecords), unix(cu.Skip))
	require.NotNil(t, cu.Summary)
	assert.Equal(t, missed-domain.MaxCatchUpFires-domain.MaxSkipRecords, cu.Summary.Count)
	assert.Equal(t, m0.Unix()+domain.MaxSkipRecords+1, cu.Summary.First.Unix())
	assert.Equal(t, m0.Unix()+missed-domain.MaxCatchUpFires, cu.Summary.Last.Unix())
	assert.Equal(t, missed, totalCovered(cu))
}

func TestPlanCatchUpSkipSummary(t *testing.T) {
	s := everySecond(t)
	const missed = 1000
	now := m0.Add(missed * time.Second)
	for _, m := range []domain.Misfire{
		misfire(domain.MisfireSkip, time.Hour),
		misfire(domain.MisfireFireAll, 0),
		misfire(domain.MisfireFireOnce, time.Hour),
	} {
		cu := domain.PlanCatchUp(s, m0, now, m)
		firing := len(cu.Fire)
		assert.Equal(t, secs(1, domain.MaxSkipRecords), unix(cu.Skip), m.Policy)
		require.NotNil(t, cu.Summary, m.Policy)
		assert.Equal(t, missed-domain.MaxSkipRecords-firing, cu.Summary.Count, m.Policy)
		assert.Equal(t, m0.Unix()+domain.MaxSkipRecords+1, cu.Summary.First.Unix(), m.Policy)
		assert.Equal(t, m0.Unix()+int64(missed-firing), cu.Summary.Last.Unix(), m.Policy)
		assert.Equal(t, missed, totalCovered(cu), m.Policy)
	}
	// Exactly MaxSkipRecords skipped: no summary.
	cu := domain.PlanCatchUp(s, m0, m0.Add(domain.MaxSkipRecords*time.Second), misfire(domain.MisfireSkip, time.Hour))
	assert.Len(t, cu.Skip, domain.MaxSkipRecords)
	assert.Nil(t, cu.Summary)
}

// TestPlanCatchUpLongOutage: a week without a leader for a job that fires
// every second is ~600k nominal times; the plan stays small and accounts
// for every one of them.
func TestPlanCatchUpLongOutage(t *testing.T) {
	const week = 7 * 24 * time.Hour
	for _, expr := range []string{"@every 1s", "* * * * * *"} {
		s, err := domain.ParseSchedule(expr, "")
		require.NoError(t, err)
		since, now := m0.Add(-week), m0
		for _, m := range []domain.Misfire{
			misfire(domain.MisfireFireAll, time.Minute),
			misfire(domain.MisfireFireAll, domain.MaxMisfireWindow.Std()),
			misfire(domain.MisfireSkip, time.Minute),
		} {
			start := time.Now()
			cu := domain.PlanCatchUp(s, since, now, m)
			t.Logf("%q, %s window %s: %d missed times planned in %s", expr, m.Policy, m.Window, totalCovered(cu), time.Since(start))

			assert.Equal(t, int(week/time.Second), totalCovered(cu), "%q %v", expr, m)
			assert.LessOrEqual(t, len(cu.Fire), domain.MaxCatchUpFires)
			assert.Len(t, cu.Skip, domain.MaxSkipRecords)
			require.NotNil(t, cu.Summary)
			if len(cu.Fire) > 0 {
				assert.Equal(t, now.Unix(), cu.Fire[len(cu.Fire)-1].Unix(), "the newest time fires")
				assert.Equal(t, cu.Fire[0].Unix()-1, cu.Summary.Last.Unix(), "the summary ends where the fires start")
			} else {
				assert.Equal(t, now.Unix(), cu.Summary.Last.Unix())
			}
			assert.Equal(t, cu.Skip[len(cu.Skip)-1].Unix()+1, cu.Summary.First.Unix())
		}
	}
}

// TestPlanCatchUpBeyondScanLimit: the doc promises that Summary "also
// covers any times it could not enumerate", and the guide promises no
// silent loss: a missed time is run or recorded as skipped.
func TestPlanCatchUpBeyondScanLimit(t *testing.T) {
	if testing.Short() {
		t.Skip("scans a million times")
	}
	s, err := domain.ParseSchedule("@every 1s", "")
	require.NoError(t, err)
	const days = 200
	since := m0.Add(-days * 24 * time.Hour)
	cu := domain.PlanCatchUp(s, since, m0, misfire(domain.MisfireFireAll, time.Minute))
	require.NotNil(t, cu.Summary)
	assert.True(t, cu.Summary.Truncated, "too many to count: the summary says so")
	assert.GreaterOrEqual(t, totalCovered(cu), domain.MaxCatchUpScan, "count is a lower bound")
	assert.Equal(t, domain.MaxCatchUpScan, len(cu.Skip)+cu.Summary.Count, "every enumerated time is counted")
	assert.True(t, cu.Summary.Last.Before(m0.Add(-time.Minute)))
	assert.Len(t, cu.Fire, 61, "the times inside the window still fire")
	assert.Equal(t, m0.Add(-time.Minute), cu.Fire[0])
}

// TestPlanCatchUpPartition checks, on random small cases, that a plan
// partitions the schedule's times in (since, now] exactly, fires only
// inside the window, oldest first, and no more than the policy allows.
func TestPlanCatchUpPartition(t *testing.T) {
	rng := rand.New(rand.NewPCG(42, 43))
	schedules := []string{"* * * * * *", "*/7 * * * * *", "@every 13s", "0 * * * * *", "*/5 * * * *"}
	policies := []domain.MisfirePolicy{domain.MisfireSkip, domain.MisfireFireOnce, domain.MisfireFireAll}
	for range 300 {
		expr := schedules[rng.IntN(len(schedules))]
		s, err := domain.ParseSchedule(expr, "")
		require.NoError(t, err)
		since := m0.Add(time.Duration(rng.Int64N(int64(time.Hour))))
		now := since.Add(time.Duration(rng.Int64N(int64(2 * time.Hour))))
		m := misfire(policies[rng.IntN(len(policies))], time.Duration(rng.Int64N(int64(90*time.Minute))))

		cu := domain.PlanCatchUp(s, since, now, m)

		var all []time.Time
		for after := since; ; {
			next, ok := s.Next(after)
			if !ok || next.After(now) {
				break
			}
			all = append(all, next)
			after = next
		}
		desc := func() string { return expr + " " + string(m.Policy) + " " + m.Window.String() }
		require.Equal(t, len(all), totalCovered(cu), desc())

		edge := now.Add(-m.Window.Std())
		var inWindow int
		for _, x := range all {
			if !x.Before(edge) {
				inWindow++
			}
		}
		switch m.Policy {
		case domain.MisfireSkip:
			require.Empty(t, cu.Fire, desc())
		case domain.MisfireFireOnce:
			require.Len(t, cu.Fire, min(1, inWindow), desc())
		case domain.MisfireFireAll:
			require.Len(t, cu.Fire, min(domain.MaxCatchUpFires, inWindow), desc())
		}
		// Fires are the newest times, in order, inside the window.
		if n := len(cu.Fire); n > 0 {
			require.Equal(t, unix(all[len(all)-n:]), unix(cu.Fire), desc())
			require.False(t, cu.Fire[0].Before(edge), desc())
		}
		// Skips are the oldest times, in order; the summary follows them.
		require.Equal(t, unix(all[:len(cu.Skip)]), unix(cu.Skip), desc())
		if cu.Summary != nil {
			require.Len(t, cu.Skip, domain.MaxSkipRecords)
			first := len(cu.Skip)
			last := first + cu.Summary.Count - 1
			require.Equal(t, all[first].Unix(), cu.Summary.First.Unix(), desc())
			require.Equal(t, all[last].Unix(), cu.Summary.Last.Unix(), desc())
		}
	}
}
