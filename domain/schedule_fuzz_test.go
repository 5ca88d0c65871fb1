package domain

import (
	"errors"
	"testing"
	"time"
)

// fuzzZones are the time zones FuzzParseSchedule picks from.
var fuzzZones = []string{"", "UTC", "Europe/Berlin", "America/New_York", "Australia/Lord_Howe",
	"Pacific/Apia", "Asia/Kathmandu", "America/Sao_Paulo", "Nowhere/Zone"}

// FuzzParseSchedule checks that parsing never panics or hangs, that every
// error is a *ScheduleError, and that a parsed schedule's Next is strictly
// after its input, increasing and deterministic.
func FuzzParseSchedule(f *testing.F) {
	for _, seed := range []string{
		"* * * * *", "*/15 * * * *", "0 0 * * *", "30 2 * * *", "0,30 2 * * *", "0 30 1 * * *",
		"*/10 * * * * *", "0 0 1 1 *", "0 0 29 2 *", "0 0 30 2 *", "0 0 L * *", "0 0 LW * *",
		"0 0 15W * *", "0 0 * * 5L", "0 0 * * FRI#2", "0 0 ? * MON-FRI", "0 9-17/2 * JAN-MAR,DEC *",
		"5/20 0 13 * 5", "@daily", "@hourly", "@every 90m", "@every 1s", "@at 2026-05-01T09:00:00Z",
		"61 * * * *", "*/0 * * * *", "5-1 * * * *", "@every -1s", "0 0 * 2 0#5", "0 * * 2 0#5", "",
	} {
		f.Add(seed, uint8(2))
	}
	starts := []time.Time{
		time.Time{},
		time.Date(2026, 3, 29, 0, 59, 30, 0, time.UTC),
		time.Date(2026, 10, 25, 0, 30, 0, 500, time.UTC),
		time.Date(2026, 11, 1, 5, 59, 59, 0, time.UTC),
		time.Date(2099, 12, 31, 23, 59, 59, 999, time.UTC),
	}
	f.Fuzz(func(t *testing.T, expr string, zone uint8) {
		tz := fuzzZones[int(zone)%len(fuzzZones)]
		s, err := ParseSchedule(expr, tz)
		if err != nil {
			var se *ScheduleError
			if !errors.As(err, &se) || !errors.Is(err, ErrInvalidSchedule) || se.Reason == "" {
				t.Fatalf("ParseSchedule(%q, %q): bad error %#v", expr, tz, err)
			}
			return
		}
		again, err := ParseSchedule(s.Expr(), tz)
		if err != nil {
			t.Fatalf("Expr() %q does not parse again: %v", s.Expr(), err)
		}
		for _, start := range starts {
			after := start
			for range 4 {
				next, ok := s.Next(after)
				next2, ok2 := again.Next(after)
				if ok != ok2 || !next.Equal(next2) {
					t.Fatalf("%q: Next(%s) not deterministic: %s %v, %s %v", expr, after, next, ok, next2, ok2)
				}
				if !ok {
					if !s.IsOneShot() {
						t.Fatalf("%q in %q: Next(%s) never fires", expr, tz, after)
					}
					break
				}
				if !next.After(after) {
					t.Fatalf("%q in %q: Next(%s) = %s, not after", expr, tz, after, next)
				}
				after = next
			}
		}
	})
}
