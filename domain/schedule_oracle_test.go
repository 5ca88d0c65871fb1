package domain

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/adhocore/gronx"
)

// matchesWall reports whether the civil time w (seconds, see cronSpec)
// matches c, using the time package for the calendar.
func (c *cronSpec) matchesWall(w int64) bool {
	u := time.Unix(w, 0).UTC()
	first := time.Date(u.Year(), u.Month(), 1, 0, 0, 0, 0, time.UTC)
	dim := first.AddDate(0, 1, -1).Day()
	return c.secs&(1<<uint(u.Second())) != 0 &&
		c.mins&(1<<uint(u.Minute())) != 0 &&
		c.hours&(1<<uint(u.Hour())) != 0 &&
		c.months&(1<<uint(u.Month())) != 0 &&
		c.days[first.Weekday()][dim-28]&(1<<uint(u.Day())) != 0
}

// simulateCron plays a cron daemon that wakes every step from `from` to
// `to`: a wildcard-hour job runs when the clock reading matches; a
// fixed-hour job runs when the clock has passed a matching reading it had
// not passed before. It is slow and obviously right, so Next is checked
// against it.
func simulateCron(s *Schedule, from, to time.Time, step time.Duration) []time.Time {
	c := &s.cron
	wall := func(t time.Time) int64 {
		_, off := t.In(s.loc).Zone()
		return t.Unix() + int64(off)
	}
	var out []time.Time
	highest := wall(from) // the highest reading so far
	for t := from.Add(step); !t.After(to); t = t.Add(step) {
		w := wall(t)
		if !c.fixed {
			if c.matchesWall(w) {
				out = append(out, t)
			}
			continue
		}
		for x := highest + int64(step/time.Second); x <= w; x += int64(step / time.Second) {
			if c.matchesWall(x) {
				out = append(out, t)
				break
			}
		}
		highest = max(highest, w)
	}
	return out
}

// TestScheduleMatchesSimulatedCron compares Next with simulateCron around
// every offset change of a year, and around the new year, in zones with
// unusual transitions.
func TestScheduleMatchesSimulatedCron(t *testing.T) {
	zones := []struct{ tz, from string }{
		{"Europe/Berlin", "2026-01-01T00:00:00Z"},
		{"America/New_York", "2026-01-01T00:00:00Z"},
		{"Australia/Lord_Howe", "2026-01-01T00:00:00Z"}, // 30-minute DST
		{"America/St_Johns", "2026-01-01T00:00:00Z"},    // -03:30
		{"Europe/Dublin", "2026-01-01T00:00:00Z"},       // "negative" DST in winter
		{"America/Sao_Paulo", "2018-01-01T00:00:00Z"},   // DST starting at midnight
		{"Pacific/Apia", "2011-06-01T00:00:00Z"},        // a skipped day
		{"Asia/Kathmandu", "2026-01-01T00:00:00Z"},      // +05:45, no DST
		{"Europe/Berlin", "2104-06-01T00:00:00Z"},       // rule-derived periods, leap year
		{"Australia/Sydney", "2040-06-01T00:00:00Z"},    // the same, southern hemisphere
	}
	exprs := []string{"30 2 * * *", "0,30 2 * * *", "*/15 2 * * *", "*/30 * * * *", "0 * * * *",
		"0 0 * * *", "45 1-3 * * *", "0 */2 * * *", "0 30 1 * * *", "59 23 L * *", "10 0,1 * * SUN",
		"*/20 * * * * *"}
	for _, z := range zones {
		from := mustTime(t, z.from)
		windows := transitionWindows(t, z.tz, from, from.AddDate(1, 0, 0))
		for _, expr := range exprs {
			s := mustSchedule(t, expr, z.tz)
			step := time.Minute
			if strings.Count(expr, " ") == 5 {
				step = time.Second
			}
			for _, w := range windows {
				if step == time.Second { // keep it quick: six hours around the change
					mid := w[0].Add(w[1].Sub(w[0]) / 2)
					w = [2]time.Time{mid.Add(-3 * time.Hour), mid.Add(3 * time.Hour)}
				}
				compareWithSimulation(t, s, w[0], w[1], step)
			}
		}
	}
}

// transitionWindows returns [from, to) spans of four days around each
// offset change of tz in [from, to), and around each new year.
func transitionWindows(t *testing.T, tz string, from, to time.Time) [][2]time.Time {
	loc, err := time.LoadLocation(tz)
	if err != nil {
		t.Fatal(err)
	}
	around := func(at time.Time) [2]time.Time {
		return [2]time.Time{at.Add(-48 * time.Hour), at.Add(48 * time.Hour)}
	}
	var out [][2]time.Time
	_, prev := from.In(loc).Zone()
	for at := from; at.Before(to); at = at.Add(time.Hour) {
		if _, off := at.In(loc).Zone(); off != prev {
			out = append(out, around(at))
			prev = off
		}
		if at.UTC().YearDay() == 1 && at.UTC().Hour() == 0 {
			out = append(out, around(at))
		}
	}
	return out
}

// compareWithSimulation checks the fires of s in (from, to].
func compareWithSimulation(t *testing.T, s *Schedule, from, to time.Time, step time.Duration) {
	t.Helper()
	want := simulateCron(s, from, to, step)
	var got []time.Time
	for after := from; ; {
		next, ok := s.Next(after)
		if !ok || next.After(to) {
			break
		}
		got = append(got, next)
		after = next
	}
	where := fmt.Sprintf("%q in %s, (%s, %s]", s.Expr(), s.Location(), from.Format(time.RFC3339), to.Format(time.RFC3339))
	if len(got) != len(want) {
		t.Errorf("%s: %d fires, simulation %d", where, len(got), len(want))
	}
	for i := range min(len(got), len(want)) {
		if !got[i].Equal(want[i]) {
			t.Errorf("%s: fire %d = %s, simulation %s", where, i,
				got[i].Format(time.RFC3339), want[i].Format(time.RFC3339))
			return
		}
	}
}

// randomCronField returns a random valid-looking field of f.
func randomCronField(r *rand.Rand, f cronField) string {
	span := f.wildMax - f.min + 1
	val := func() int { return f.min + r.IntN(span) }
	var items []string
	for range 1 + r.IntN(3) {
		switch r.IntN(6) {
		case 0:
			return "*"
		case 1:
			items = append(items, fmt.Sprintf("*/%d", 1+r.IntN(span-1)))
		case 2:
			a, b := val(), val()
			items = append(items, fmt.Sprintf("%d-%d", min(a, b), max(a, b)))
		case 3:
			a, b := val(), val()
			items = append(items, fmt.Sprintf("%d-%d/%d", min(a, b), max(a, b), 1+r.IntN(span-1)))
		default:
			items = append(items, fmt.Sprint(val()))
		}
	}
	return strings.Join(items, ",")
}

// TestScheduleMatchesGronx is a differential test against the project's
// cron library, in UTC where it has no DST issues. gronx reads both day
// fields the same way (OR unless one starts with *).
func TestScheduleMatchesGronx(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	n := 2000
	if testing.Short() {
		n = 200
	}
	checked := 0
	for range n {
		fields := []string{
			randomCronField(r, fieldMinute), randomCronField(r, fieldHour), randomCronField(r, fieldDOM),
			randomCronField(r, fieldMonth), randomCronField(r, fieldDOW),
		}
		if r.IntN(3) == 0 {
			fields = append([]string{randomCronField(r, fieldSecond)}, fields...)
		}
		expr := strings.Join(fields, " ")
		s, err := ParseSchedule(expr, "")
		if err != nil {
			if gronx.IsValid(expr) && !strings.Contains(err.Error(), "never fires") {
				t.Errorf("ParseSchedule(%q): %v; gronx accepts it", expr, err)
			}
			continue
		}
		after := time.Unix(1_700_000_000+r.Int64N(400_000_000), 0).UTC()
		for range 5 {
			want, gerr := gronx.NextTickAfter(expr, after, false)
			if gerr != nil {
				break // gronx gives up on sparse schedules
			}
			got, ok := s.Next(after)
			if !ok || !got.Equal(want) {
				t.Errorf("%q after %s: Next = %s, gronx %s", expr, after, got, want)
				break
			}
			checked++
			after = got
		}
	}
	if checked < n {
		t.Errorf("only %d comparisons", checked)
	}
}
