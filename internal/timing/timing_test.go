package timing_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pink-scheduler/pink/adapters/clock"
	"github.com/pink-scheduler/pink/internal/timing"
)

func TestBackoffDoublesWithJitterUpToTheCap(t *testing.T) {
	var b timing.Backoff
	base := timing.MinBackoff
	for i := 0; i < 8; i++ {
		want := min(base, timing.MaxBackoff)
		d := b.Next()
		require.GreaterOrEqual(t, d, want-want/5, "try %d", i)
		require.LessOrEqual(t, d, want+want/5, "try %d", i)
		base *= 2
	}
	b.Reset()
	require.LessOrEqual(t, b.Next(), timing.MinBackoff+timing.MinBackoff/5)
}

func TestAlarmIsIgnoredWhileDisarmed(t *testing.T) {
	c := clock.NewFake(time.Unix(0, 0))
	var a timing.Alarm
	require.Nil(t, a.C())
	a.Set(c, time.Second)
	require.NotNil(t, a.C())
	c.Advance(time.Second)
	<-a.C()
	a.Fired()
	require.Nil(t, a.C())
	a.Set(c, time.Second)
	a.Stop()
	require.Nil(t, a.C())
	c.Advance(2 * time.Second)
	a.Set(c, time.Second)
	select {
	case <-a.C():
		t.Fatal("a stopped alarm's old value leaked into the new one")
	default:
	}
}
