package auth_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pink-scheduler/pink/adapters/clock"
	"github.com/pink-scheduler/pink/app/auth"
)

func newLimiter(t *testing.T) (*auth.LoginLimiter, *clock.Fake) {
	t.Helper()
	clk := clock.NewFake(t0)
	return auth.NewLoginLimiter(clk, auth.LimiterConfig{}), clk
}

func requireAllowed(t *testing.T, l *auth.LoginLimiter, user, addr string) {
	t.Helper()
	ok, wait := l.Allow(user, addr)
	require.True(t, ok, "%s from %s should be allowed", user, addr)
	require.Zero(t, wait)
}

func requireLocked(t *testing.T, l *auth.LoginLimiter, user, addr string, want time.Duration) {
	t.Helper()
	ok, wait := l.Allow(user, addr)
	require.False(t, ok, "%s from %s should be locked", user, addr)
	require.Equal(t, want, wait)
}

func TestLimiterLocksAfterFiveFailuresAMinute(t *testing.T) {
	l, clk := newLimiter(t)
	for range 4 {
		l.Failure("alice", "192.0.2.1")
		clk.Advance(time.Second)
		requireAllowed(t, l, "alice", "192.0.2.1")
	}
	l.Failure("alice", "192.0.2.1") // the 5th within a minute
	requireLocked(t, l, "alice", "192.0.2.1", 30*time.Second)
	clk.Advance(10 * time.Second)
	requireLocked(t, l, "alice", "192.0.2.1", 20*time.Second)
	clk.Advance(20 * time.Second)
	requireAllowed(t, l, "alice", "192.0.2.1")

	l.Failure("alice", "192.0.2.1") // the window is still full: locked again, twice as long
	requireLocked(t, l, "alice", "192.0.2.1", time.Minute)
	clk.Advance(time.Minute) // the window is empty now, the streak goes on
	for range 4 {
		l.Failure("alice", "192.0.2.1")
		requireAllowed(t, l, "alice", "192.0.2.1")
	}
	l.Failure("alice", "192.0.2.1")
	requireLocked(t, l, "alice", "192.0.2.1", 2*time.Minute)
}

func TestLimiterFailuresOutsideTheWindowDoNotCount(t *testing.T) {
	l, clk := newLimiter(t)
	for range 20 {
		l.Failure("alice", "192.0.2.1")
		clk.Advance(15 * time.Second) // 4 a minute
		requireAllowed(t, l, "alice", "192.0.2.1")
	}
}

func TestLimiterBackoffDoublesUpToTheCapAndStreaksEnd(t *testing.T) {
	l, clk := newLimiter(t)
	var lockouts []time.Duration
	for len(lockouts) < 7 {
		for {
			l.Failure("u", "")
			if ok, _ := l.Allow("u", ""); !ok {
				break
			}
		}
		_, wait := l.Allow("u", "")
		lockouts = append(lockouts, wait)
		clk.Advance(wait)
	}
	require.Equal(t, []time.Duration{30 * time.Second, time.Minute, 2 * time.Minute, 4 * time.Minute,
		8 * time.Minute, 15 * time.Minute, 15 * time.Minute}, lockouts)

	for range 5 { // at the cap: five guesses per 15 minutes
		l.Failure("u", "")
	}
	requireLocked(t, l, "u", "", 15*time.Minute)
	clk.Advance(30 * time.Minute) // unlocked, then quiet for MaxBackoff: the streak is over
	for range 4 {
		l.Failure("u", "")
		requireAllowed(t, l, "u", "")
	}
	l.Failure("u", "")
	requireLocked(t, l, "u", "", 30*time.Second)
}

func TestLimiterCountsPerUserAndPerAddress(t *testing.T) {
	l, _ := newLimiter(t)
	for i := range 5 { // one user from many addresses
		l.Failure("alice", fmt.Sprintf("192.0.2.%d", i))
	}
	requireLocked(t, l, "alice", "198.51.100.9", 30*time.Second)
	requireAllowed(t, l, "bob", "192.0.2.1")

	for i := range 5 { // one address trying many users
		l.Failure(fmt.Sprintf("user%d", i), "203.0.113.5")
	}
	requireLocked(t, l, "carol", "203.0.113.5", 30*time.Second)
	requireAllowed(t, l, "carol", "203.0.113.6")
}

func TestLimiterSuccessClearsTheUserOnly(t *testing.T) {
	l, _ := newLimiter(t)
	for range 4 {
		l.Failure("alice", "192.0.2.1")
	}
	l.Success("alice", "192.0.2.1")
	l.Failure("alice", "192.0.2.2")
	requireAllowed(t, l, "alice", "192.0.2.2")
	l.Failure("mallory", "192.0.2.1") // the address's 5th failure
	requireLocked(t, l, "bob", "192.0.2.1", 30*time.Second)
}

func TestLimiterBoundsItsMemory(t *testing.T) {
	clk := clock.NewFake(t0)
	l := auth.NewLoginLimiter(clk, auth.LimiterConfig{MaxKeys: 10})
	for i := range 100 {
		l.Failure("", fmt.Sprintf("198.51.100.%d", i))
		require.LessOrEqual(t, l.Len(), 10)
	}
	clk.Advance(time.Hour)
	l.Failure("", "192.0.2.1")
	require.Equal(t, 1, l.Len(), "idle keys are forgotten first")
	long := string(make([]byte, 10_000))
	l.Failure(long, long)
	require.Equal(t, 3, l.Len())
}

func TestLimiterIsSafeForConcurrentUse(t *testing.T) {
	l, clk := newLimiter(t)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			for j := range 100 {
				user := fmt.Sprintf("u%d", j%3)
				if ok, _ := l.Allow(user, "192.0.2.1"); ok {
					l.Failure(user, fmt.Sprintf("192.0.2.%d", i))
				}
				if j%10 == 0 {
					l.Success(user, "")
					clk.Advance(time.Second)
				}
			}
		})
	}
	wg.Wait()
	require.Positive(t, l.Len())
}
