package domain

import (
	"testing"
	"time"
)

// 2026 transitions: Europe/Berlin springs forward 02:00 CET -> 03:00 CEST on
// 2026-03-29 and falls back 03:00 CEST -> 02:00 CET on 2026-10-25;
// America/New_York springs forward 02:00 EST -> 03:00 EDT on 2026-03-08 and
// falls back 02:00 EDT -> 01:00 EST on 2026-11-01.
func TestScheduleDST(t *testing.T) {
	const (
		berlin  = "Europe/Berlin"
		newYork = "America/New_York"
	)
	tests := []struct {
		name, expr, tz, after string
		want                  []string
	}{
		// Fixed hour, spring forward: the missing time fires when the clock jumps.
		{"berlin spring 30 2", "30 2 * * *", berlin, "2026-03-28T00:00:00+01:00",
			[]string{"2026-03-28T02:30:00+01:00", "2026-03-29T03:00:00+02:00", "2026-03-30T02:30:00+02:00"}},
		{"berlin spring 0 2", "0 2 * * *", berlin, "2026-03-28T12:00:00+01:00",
			[]string{"2026-03-29T03:00:00+02:00", "2026-03-30T02:00:00+02:00"}},
		{"berlin spring 0,30 2 fires once", "0,30 2 * * *", berlin, "2026-03-28T12:00:00+01:00",
			[]string{"2026-03-29T03:00:00+02:00", "2026-03-30T02:00:00+02:00", "2026-03-30T02:30:00+02:00"}},
		{"berlin spring */15 2 fires once", "*/15 2 * * *", berlin, "2026-03-28T12:00:00+01:00",
			[]string{"2026-03-29T03:00:00+02:00", "2026-03-30T02:00:00+02:00"}},
		{"berlin spring 0 2-3 fires once at 03:00", "0 2-3 * * *", berlin, "2026-03-28T12:00:00+01:00",
			[]string{"2026-03-29T03:00:00+02:00", "2026-03-30T02:00:00+02:00"}},
		{"berlin spring after inside the gap", "30 2 * * *", berlin, "2026-03-29T00:59:59Z",
			[]string{"2026-03-29T03:00:00+02:00", "2026-03-30T02:30:00+02:00"}},
		{"berlin spring 0 30 1 unaffected", "0 30 1 * * *", berlin, "2026-03-28T12:00:00+01:00",
			[]string{"2026-03-29T01:30:00+01:00", "2026-03-30T01:30:00+02:00"}},
		// Fixed hour, fall back: the first pass only.
		{"berlin fall 30 2", "30 2 * * *", berlin, "2026-10-24T12:00:00+02:00",
			[]string{"2026-10-25T02:30:00+02:00", "2026-10-26T02:30:00+01:00"}},
		{"berlin fall 0 2", "0 2 * * *", berlin, "2026-10-24T12:00:00+02:00",
			[]string{"2026-10-25T02:00:00+02:00", "2026-10-26T02:00:00+01:00"}},
		{"berlin fall 0,30 2", "0,30 2 * * *", berlin, "2026-10-24T12:00:00+02:00",
			[]string{"2026-10-25T02:00:00+02:00", "2026-10-25T02:30:00+02:00", "2026-10-26T02:00:00+01:00"}},
		{"berlin fall */15 2 first pass", "*/15 2 * * *", berlin, "2026-10-24T12:00:00+02:00",
			[]string{"2026-10-25T02:00:00+02:00", "2026-10-25T02:15:00+02:00", "2026-10-25T02:30:00+02:00",
				"2026-10-25T02:45:00+02:00", "2026-10-26T02:00:00+01:00"}},
		{"berlin fall after in second pass", "30 2 * * *", berlin, "2026-10-25T02:10:00+01:00",
			[]string{"2026-10-26T02:30:00+01:00"}},
		// Wildcard or stepped hour: by elapsed time.
		{"berlin spring */30", "*/30 * * * *", berlin, "2026-03-29T01:00:00+01:00",
			[]string{"2026-03-29T01:30:00+01:00", "2026-03-29T03:00:00+02:00", "2026-03-29T03:30:00+02:00"}},
		{"berlin spring 0 *", "0 * * * *", berlin, "2026-03-29T00:30:00+01:00",
			[]string{"2026-03-29T01:00:00+01:00", "2026-03-29T03:00:00+02:00", "2026-03-29T04:00:00+02:00"}},
		{"berlin spring 0 */2", "0 */2 * * *", berlin, "2026-03-28T23:30:00+01:00",
			[]string{"2026-03-29T00:00:00+01:00", "2026-03-29T04:00:00+02:00"}},
		{"berlin spring every 10s", "*/10 * * * * *", berlin, "2026-03-29T01:59:45+01:00",
			[]string{"2026-03-29T01:59:50+01:00", "2026-03-29T03:00:00+02:00", "2026-03-29T03:00:10+02:00"}},
		{"berlin fall */30", "*/30 * * * *", berlin, "2026-10-25T01:45:00+02:00",
			[]string{"2026-10-25T02:00:00+02:00", "2026-10-25T02:30:00+02:00", "2026-10-25T02:00:00+01:00",
				"2026-10-25T02:30:00+01:00", "2026-10-25T03:00:00+01:00"}},
		{"berlin fall 0 *", "0 * * * *", berlin, "2026-10-25T01:30:00+02:00",
			[]string{"2026-10-25T02:00:00+02:00", "2026-10-25T02:00:00+01:00", "2026-10-25T03:00:00+01:00"}},
		{"berlin fall 0 * from second pass", "0 * * * *", berlin, "2026-10-25T02:00:00+01:00",
			[]string{"2026-10-25T03:00:00+01:00"}},
		{"berlin fall 0 * from late first pass", "0 * * * *", berlin, "2026-10-25T02:59:00+02:00",
			[]string{"2026-10-25T02:00:00+01:00", "2026-10-25T03:00:00+01:00"}},

		{"new york spring 30 2", "30 2 * * *", newYork, "2026-03-07T12:00:00-05:00",
			[]string{"2026-03-08T03:00:00-04:00", "2026-03-09T02:30:00-04:00"}},
		{"new york spring 0 2", "0 2 * * *", newYork, "2026-03-07T12:00:00-05:00",
			[]string{"2026-03-08T03:00:00-04:00", "2026-03-09T02:00:00-04:00"}},
		{"new york spring 0,30 2 fires once", "0,30 2 * * *", newYork, "2026-03-07T12:00:00-05:00",
			[]string{"2026-03-08T03:00:00-04:00", "2026-03-09T02:00:00-04:00"}},
		{"new york spring */30", "*/30 * * * *", newYork, "2026-03-08T01:00:00-05:00",
			[]string{"2026-03-08T01:30:00-05:00", "2026-03-08T03:00:00-04:00"}},
		{"new york spring 0 *", "0 * * * *", newYork, "2026-03-08T00:30:00-05:00",
			[]string{"2026-03-08T01:00:00-05:00", "2026-03-08T03:00:00-04:00"}},
		{"new york spring 0 30 1", "0 30 1 * * *", newYork, "2026-03-07T12:00:00-05:00",
			[]string{"2026-03-08T01:30:00-05:00", "2026-03-09T01:30:00-04:00"}},
		{"new york fall 30 2 not repeated", "30 2 * * *", newYork, "2026-10-31T12:00:00-04:00",
			[]string{"2026-11-01T02:30:00-05:00", "2026-11-02T02:30:00-05:00"}},
		{"new york fall 0 2", "0 2 * * *", newYork, "2026-10-31T12:00:00-04:00",
			[]string{"2026-11-01T02:00:00-05:00", "2026-11-02T02:00:00-05:00"}},
		{"new york fall 0,30 2", "0,30 2 * * *", newYork, "2026-10-31T12:00:00-04:00",
			[]string{"2026-11-01T02:00:00-05:00", "2026-11-01T02:30:00-05:00", "2026-11-02T02:00:00-05:00"}},
		{"new york fall 0 30 1 first pass", "0 30 1 * * *", newYork, "2026-10-31T12:00:00-04:00",
			[]string{"2026-11-01T01:30:00-04:00", "2026-11-02T01:30:00-05:00"}},
		{"new york fall 0 30 1 from second pass", "0 30 1 * * *", newYork, "2026-11-01T01:10:00-05:00",
			[]string{"2026-11-02T01:30:00-05:00"}},
		{"new york fall 0 30 1 from first pass", "0 30 1 * * *", newYork, "2026-11-01T01:10:00-04:00",
			[]string{"2026-11-01T01:30:00-04:00", "2026-11-02T01:30:00-05:00"}},
		{"new york fall */30", "*/30 * * * *", newYork, "2026-11-01T00:45:00-04:00",
			[]string{"2026-11-01T01:00:00-04:00", "2026-11-01T01:30:00-04:00", "2026-11-01T01:00:00-05:00",
				"2026-11-01T01:30:00-05:00", "2026-11-01T02:00:00-05:00"}},
		{"new york fall 0 *", "0 * * * *", newYork, "2026-11-01T00:30:00-04:00",
			[]string{"2026-11-01T01:00:00-04:00", "2026-11-01T01:00:00-05:00", "2026-11-01T02:00:00-05:00"}},
		{"new york fall 30 * (wildcard hour)", "30 * * * *", newYork, "2026-11-01T00:45:00-04:00",
			[]string{"2026-11-01T01:30:00-04:00", "2026-11-01T01:30:00-05:00", "2026-11-01T02:30:00-05:00"}},

		// Midnight that does not exist (America/Sao_Paulo sprang forward at
		// 00:00 until 2019): a daily midnight job fires at 01:00.
		{"sao paulo midnight gap", "0 0 * * *", "America/Sao_Paulo", "2018-11-03T12:00:00-03:00",
			[]string{"2018-11-04T01:00:00-02:00", "2018-11-05T00:00:00-02:00"}},
		// A whole skipped day (Pacific/Apia, 2011-12-30): the fixed-hour fire
		// moves to the end of the gap, wildcard fires resume after it.
		{"apia skipped day fixed", "0 9 * * *", "Pacific/Apia", "2011-12-29T12:00:00-10:00",
			[]string{"2011-12-31T00:00:00+14:00", "2011-12-31T09:00:00+14:00"}},
		{"apia skipped day hourly", "0 * * * *", "Pacific/Apia", "2011-12-29T22:30:00-10:00",
			[]string{"2011-12-29T23:00:00-10:00", "2011-12-31T00:00:00+14:00", "2011-12-31T01:00:00+14:00"}},
		// The last day of a leap year beyond the zoneinfo transition list,
		// where time.ZoneBounds ends a period before the instant asked
		// about (golang/go#81583).
		{"berlin leap year end hourly", "0 * * * *", berlin, "2104-12-31T22:30:00+01:00",
			[]string{"2104-12-31T23:00:00+01:00", "2105-01-01T00:00:00+01:00", "2105-01-01T01:00:00+01:00"}},
		{"berlin leap year end rare", "0 * * 2 0#5", berlin, "2099-12-31T23:59:59Z",
			[]string{"2128-02-29T00:00:00+01:00", "2128-02-29T01:00:00+01:00"}},
		{"sydney leap year end fixed", "30 0 * * *", "Australia/Sydney", "2040-12-30T12:00:00+11:00",
			[]string{"2040-12-31T00:30:00+11:00", "2041-01-01T00:30:00+11:00"}},
		// A 30-minute shift (Australia/Lord_Howe, 2026-10-04 02:00 -> 02:30).
		{"lord howe spring 15 2", "15 2 * * *", "Australia/Lord_Howe", "2026-10-03T12:00:00+10:30",
			[]string{"2026-10-04T02:30:00+11:00", "2026-10-05T02:15:00+11:00"}},
		{"lord howe spring */20", "*/20 * * * *", "Australia/Lord_Howe", "2026-10-04T01:50:00+10:30",
			[]string{"2026-10-04T02:40:00+11:00", "2026-10-04T03:00:00+11:00"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkNextN(t, mustSchedule(t, tt.expr, tt.tz), tt.after, tt.want...)
		})
	}
}

// TestScheduleDSTWholeYear walks a year of fires and checks monotonicity,
// one fire per local day for a fixed-hour job, and one fire per hour of
// elapsed time for an hourly job.
func TestScheduleDSTWholeYear(t *testing.T) {
	for _, tz := range []string{"Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "UTC"} {
		t.Run(tz, func(t *testing.T) {
			loc, err := time.LoadLocation(tz)
			if err != nil {
				t.Fatal(err)
			}
			start := time.Date(2026, 1, 1, 0, 0, 0, 0, loc)
			end := start.AddDate(1, 0, 0)

			fires := mustSchedule(t, "30 2 * * *", tz).NextN(start, 400)
			days := map[string]int{}
			prev := start
			for _, f := range fires {
				if !f.After(prev) {
					t.Fatalf("not strictly increasing: %s after %s", f, prev)
				}
				prev = f
				if f.Before(end) {
					days[f.Format(time.DateOnly)]++
				}
			}
			for d := start; d.Before(end); d = d.AddDate(0, 0, 1) {
				if n := days[d.Format(time.DateOnly)]; n != 1 {
					t.Errorf("%s: %d fires of 30 2 * * *, want 1", d.Format(time.DateOnly), n)
				}
			}
			if len(days) != 365 {
				t.Errorf("%d days with fires, want 365", len(days))
			}

			hourly := mustSchedule(t, "0 * * * *", tz)
			if tz == "Australia/Lord_Howe" { // half-hour shifts: not every hour of elapsed time is :00
				return
			}
			prev = start
			n := 0
			for {
				f, ok := hourly.Next(prev)
				if !ok || !f.Before(end) {
					break
				}
				if d := f.Sub(prev); n > 0 && d != time.Hour {
					t.Fatalf("hourly fires %s apart at %s", d, f)
				}
				prev = f
				n++
			}
			if n != 365*24-1 { // the first fire is start + 1h
				t.Errorf("%d hourly fires in 2026, want %d", n, 365*24-1)
			}
		})
	}
}

// TestScheduleNextStrictlyIncreasingAcrossTransitions checks Next from
// every minute of both 2026 transition days: the result is after the
// input, and never earlier than the result for an earlier input.
func TestScheduleNextStrictlyIncreasingAcrossTransitions(t *testing.T) {
	exprs := []string{"30 2 * * *", "0,30 2 * * *", "*/15 2 * * *", "*/30 * * * *", "0 * * * *",
		"0 30 1 * * *", "0 1-3 * * *", "*/7 * * * * *", "15,45 1,2 * * *"}
	days := map[string][]string{
		"Europe/Berlin":    {"2026-03-29T00:00:00+01:00", "2026-10-25T00:00:00+02:00"},
		"America/New_York": {"2026-03-08T00:00:00-05:00", "2026-11-01T00:00:00-04:00"},
	}
	for tz, starts := range days {
		for _, expr := range exprs {
			s := mustSchedule(t, expr, tz)
			for _, st := range starts {
				from := mustTime(t, st)
				var last time.Time
				for i := range 6 * 60 * 6 {
					after := from.Add(time.Duration(i) * 10 * time.Second)
					got, ok := s.Next(after)
					if !ok || !got.After(after) {
						t.Fatalf("%q %s: Next(%s) = %s, %v", expr, tz, after, got, ok)
					}
					if got.Before(last) {
						t.Fatalf("%q %s: Next(%s) = %s, before Next of an earlier time %s", expr, tz, after, got, last)
					}
					last = got
				}
			}
		}
	}
}
