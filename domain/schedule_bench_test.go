package domain

import (
	"testing"
	"time"
)

// BenchmarkScheduleNext measures Next on parsed schedules, walking forward
// from fire to fire so that transitions are crossed.
func BenchmarkScheduleNext(b *testing.B) {
	cases := []struct {
		name, expr, tz string
		year           int
	}{
		{"every-minute-UTC", "* * * * *", "", 2026},
		{"every-15min-Berlin", "*/15 * * * *", "Europe/Berlin", 2026},
		{"daily-0230-Berlin", "30 2 * * *", "Europe/Berlin", 2026},
		{"daily-0230-NewYork", "30 2 * * *", "America/New_York", 2026},
		{"every-10s-6field-UTC", "*/10 * * * * *", "", 2026},
		{"weekdays-9to17-Berlin", "0 9-17 * * MON-FRI", "Europe/Berlin", 2026},
		{"last-friday-UTC", "0 0 * * 5L", "", 2026},
		{"leap-day-UTC", "0 0 29 2 *", "", 2026},
		{"at-every-90m", "@every 90m", "Europe/Berlin", 2026},
		// Beyond the transitions listed in zoneinfo files, Go computes
		// them from the zone's rule on every lookup.
		{"daily-0230-Berlin-2090", "30 2 * * *", "Europe/Berlin", 2090},
		{"every-15min-Berlin-2090", "*/15 * * * *", "Europe/Berlin", 2090},
	}
	for _, c := range cases {
		s, err := ParseSchedule(c.expr, c.tz)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(c.name, func(b *testing.B) {
			start := time.Date(c.year, 1, 1, 0, 0, 0, 0, time.UTC)
			stop := start.AddDate(3, 0, 0) // stay in years people schedule for
			after := start
			b.ReportAllocs()
			for b.Loop() {
				next, ok := s.Next(after)
				if !ok || next.After(stop) {
					next = start
				}
				after = next
			}
		})
	}
}

// BenchmarkParseSchedule measures parsing, which callers do once per job.
func BenchmarkParseSchedule(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseSchedule("*/15 9-17 * JAN-MAR,DEC MON-FRI", "Europe/Berlin"); err != nil {
			b.Fatal(err)
		}
	}
}
