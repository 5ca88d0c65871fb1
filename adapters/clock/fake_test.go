package clock_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pink-scheduler/pink/adapters/clock"
)

var t0 = time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)

func fired(t *testing.T, c <-chan time.Time) (time.Time, bool) {
	t.Helper()
	select {
	case v := <-c:
		return v, true
	default:
		return time.Time{}, false
	}
}

func TestFakeTimersFireInOrderWhenTheClockReachesThem(t *testing.T) {
	f := clock.NewFake(t0)
	a := f.NewTimer(2 * time.Second)
	b := f.NewTimer(time.Second)
	require.Equal(t, 2, f.Timers())

	f.Advance(999 * time.Millisecond)
	_, ok := fired(t, b.C())
	require.False(t, ok, "not yet")

	f.Advance(time.Millisecond)
	at, ok := fired(t, b.C())
	require.True(t, ok)
	require.Equal(t, t0.Add(time.Second), at)
	_, ok = fired(t, a.C())
	require.False(t, ok)

	f.Advance(5 * time.Second)
	at, ok = fired(t, a.C())
	require.True(t, ok)
	require.Equal(t, t0.Add(2*time.Second), at, "a timer reports its own deadline")
	require.Equal(t, t0.Add(6*time.Second), f.Now())
	require.Zero(t, f.Timers())
}

func TestFakeTimerStopAndReset(t *testing.T) {
	f := clock.NewFake(t0)
	tm := f.NewTimer(time.Second)
	require.True(t, tm.Stop())
	require.False(t, tm.Stop(), "already stopped")
	f.Advance(2 * time.Second)
	_, ok := fired(t, tm.C())
	require.False(t, ok)

	require.False(t, tm.Reset(time.Second))
	f.Advance(time.Second)
	_, ok = fired(t, tm.C())
	require.True(t, ok)

	// Reset drops a value the caller did not read.
	f.Advance(time.Second)
	tm.Reset(time.Second)
	f.Advance(time.Second)
	tm.Reset(10 * time.Second)
	_, ok = fired(t, tm.C())
	require.False(t, ok, "stale value dropped by Reset")
}

func TestSystemClock(t *testing.T) {
	var c clock.System
	before := time.Now()
	require.False(t, c.Now().Before(before))
	tm := c.NewTimer(time.Millisecond)
	<-tm.C()
	require.False(t, tm.Stop())
}
