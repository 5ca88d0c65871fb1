package domain

import (
	"errors"
	"strings"
	"testing"
	"time"
	_ "time/tzdata" // the DST tests must not depend on the host's zoneinfo
)

// mustSchedule parses or fails the test.
func mustSchedule(t testing.TB, expr, tz string) *Schedule {
	t.Helper()
	s, err := ParseSchedule(expr, tz)
	if err != nil {
		t.Fatalf("ParseSchedule(%q, %q): %v", expr, tz, err)
	}
	return s
}

// mustTime parses an RFC3339 time or fails the test.
func mustTime(t testing.TB, s string) time.Time {
	t.Helper()
	tm, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatal(err)
	}
	return tm
}

// checkNextN compares s.NextN(after, len(want)) with want (RFC3339).
func checkNextN(t *testing.T, s *Schedule, after string, want ...string) {
	t.Helper()
	got := s.NextN(mustTime(t, after), len(want))
	if len(got) != len(want) {
		t.Fatalf("%q in %s after %s: got %d times %v, want %v", s.Expr(), s.Location(), after, len(got), got, want)
	}
	for i, w := range want {
		if !got[i].Equal(mustTime(t, w)) {
			t.Errorf("%q in %s after %s: fire %d = %s, want %s",
				s.Expr(), s.Location(), after, i, got[i].Format(time.RFC3339), w)
		}
		if got[i].Location() != s.Location() {
			t.Errorf("fire %d in %s, want %s", i, got[i].Location(), s.Location())
		}
	}
}

func TestParseScheduleErrors(t *testing.T) {
	tests := []struct {
		name, expr, tz, field, reason string
	}{
		{"empty", "", "", "schedule", "empty expression"},
		{"blank", "  \t ", "", "schedule", "empty expression"},
		{"too long", "0 0 * * " + strings.Repeat("1,", 200) + "1", "", "schedule", "longer than 256 bytes"},
		{"4 fields", "* * * *", "", "schedule", "expected 5 fields"},
		{"7 fields", "0 0 0 * * * 2026", "", "schedule", "got 7"},
		{"minute out of range", "61 * * * *", "", "schedule", "minute 61 out of range 0-59"},
		{"second out of range", "60 * * * * *", "", "schedule", "second 60 out of range 0-59"},
		{"hour out of range", "0 24 * * *", "", "schedule", "hour 24 out of range 0-23"},
		{"dom 0", "0 0 0 * *", "", "schedule", "day-of-month 0 out of range 1-31"},
		{"dom 32", "0 0 32 * *", "", "schedule", "day-of-month 32 out of range 1-31"},
		{"month 13", "0 0 * 13 *", "", "schedule", "month 13 out of range 1-12"},
		{"dow 8", "0 0 * * 8", "", "schedule", "day-of-week 8 out of range 0-7"},
		{"huge number", "0 99999999999999999999 * * *", "", "schedule", "hour 99999999999999999999 out of range"},
		{"step 0", "*/0 * * * *", "", "schedule", "minute: step 0"},
		{"negative step", "*/-5 * * * *", "", "schedule", "minute: negative step -5"},
		{"step too large", "*/60 * * * *", "", "schedule", "minute: step 60 larger than range 0-59"},
		{"range step too large", "0 0-23/24 * * *", "", "schedule", "hour: step 24 larger"},
		{"missing step", "*/ * * * *", "", "schedule", "minute: missing step"},
		{"bad step", "*/x * * * *", "", "schedule", `minute: invalid step "x"`},
		{"double step", "*/2/3 * * * *", "", "schedule", `minute: invalid step "2/3"`},
		{"reversed range", "0 5-1 * * *", "", "schedule", "hour: range 5-1 is reversed"},
		{"reversed names", "0 0 * * FRI-MON", "", "schedule", "day-of-week: range FRI-MON is reversed"},
		{"open range", "0 5- * * *", "", "schedule", `hour: invalid range "5-"`},
		{"negative value", "-1 * * * *", "", "schedule", `minute: invalid range "-1"`},
		{"empty list item", "0,,5 * * * *", "", "schedule", "minute: empty list item"},
		{"letters", "a * * * *", "", "schedule", `minute: invalid value "a"`},
		{"month name in dow", "0 0 * * JAN", "", "schedule", `day-of-week: invalid value "JAN"`},
		{"day name in month", "0 0 * MON *", "", "schedule", `month: invalid value "MON"`},
		{"question mark in hour", "0 ? * * *", "", "schedule", `hour: invalid value "?"`},
		{"feb 30", "0 0 30 2 *", "", "schedule", "never fires"},
		{"apr 31", "0 0 31 4 *", "", "schedule", "never fires"},
		{"30W in feb", "0 0 30W 2 *", "", "schedule", "never fires"},
		{"5th monday in feb via OR still fires", "0 0 30 2 MON#5", "", "", ""},
		{"bare W", "0 0 W * *", "", "schedule", "W needs a day"},
		{"L-3", "0 0 L-3 * *", "", "schedule", `"L-3" not supported`},
		{"bare L in dow", "0 0 * * L", "", "schedule", "L needs a day"},
		{"#6", "0 0 * * 1#6", "", "schedule", "must be 1-5"},
		{"#0", "0 0 * * 1#0", "", "schedule", "must be 1-5"},
		{"bad # day", "0 0 * * 9#1", "", "schedule", "day-of-week 9 out of range 0-7"},
		{"unknown macro", "@fortnightly", "", "schedule", `unknown macro "@fortnightly"`},
		{"macro with args", "@daily 5", "", "schedule", "@daily takes no arguments"},
		{"every without arg", "@every", "", "schedule", "@every takes one duration"},
		{"every bad", "@every soon", "", "schedule", `@every: invalid duration "soon"`},
		{"every too short", "@every 500ms", "", "schedule", "out of range"},
		{"every zero", "@every 0s", "", "schedule", "out of range"},
		{"every negative", "@every -5m", "", "schedule", "out of range"},
		{"every too long", "@every 8785h", "", "schedule", "out of range"},
		{"every fraction", "@every 1500ms", "", "schedule", "not a whole number of seconds"},
		{"at without arg", "@at", "", "schedule", "@at takes one RFC3339 time"},
		{"at bad", "@at tomorrow", "", "schedule", `@at: invalid RFC3339 time "tomorrow"`},
		{"at without offset", "@at 2026-05-01T09:00:00", "", "schedule", "invalid RFC3339"},
		{"unknown zone", "0 0 * * *", "Mars/Olympus_Mons", "timezone", "unknown time zone"},
		{"Local zone", "0 0 * * *", "Local", "timezone", "depends on the host"},
		{"long zone", "0 0 * * *", strings.Repeat("A", 65), "timezone", "longer than 64 bytes"},
		{"path zone", "0 0 * * *", "../../etc/passwd", "timezone", "unknown time zone"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := ParseSchedule(tt.expr, tt.tz)
			if tt.field == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("ParseSchedule(%q, %q) = %v, want error", tt.expr, tt.tz, s)
			}
			if !errors.Is(err, ErrInvalidSchedule) || !errors.Is(err, ErrInvalid) {
				t.Errorf("errors.Is(%v, ErrInvalidSchedule / ErrInvalid) is false", err)
			}
			var se *ScheduleError
			if !errors.As(err, &se) {
				t.Fatalf("error %T is not a *ScheduleError", err)
			}
			if se.Field != tt.field {
				t.Errorf("Field = %q, want %q", se.Field, tt.field)
			}
			if !strings.Contains(se.Reason, tt.reason) {
				t.Errorf("Reason = %q, want it to contain %q", se.Reason, tt.reason)
			}
			if FieldOf(err) != tt.field {
				t.Errorf("FieldOf = %q, want %q", FieldOf(err), tt.field)
			}
		})
	}
}

func TestScheduleErrorMessage(t *testing.T) {
	_, err := ParseSchedule("61 * * * *", "")
	want := `pink: invalid schedule "61 * * * *": minute 61 out of range 0-59`
	if err == nil || err.Error() != want {
		t.Fatalf("got %v, want %s", err, want)
	}
	_, err = ParseSchedule("@daily", "Nowhere/Special")
	want = `pink: invalid timezone "Nowhere/Special": unknown time zone`
	if err == nil || err.Error() != want {
		t.Fatalf("got %v, want %s", err, want)
	}
	wrapped := errors.Join(errors.New("create job"), err)
	if !errors.Is(wrapped, ErrInvalidSchedule) {
		t.Fatal("wrapped ScheduleError does not match ErrInvalidSchedule")
	}
}

func TestScheduleAccessors(t *testing.T) {
	s := mustSchedule(t, "  30 2 * * *\t", "")
	if s.Expr() != "30 2 * * *" {
		t.Errorf("Expr = %q", s.Expr())
	}
	if s.Location() != time.UTC {
		t.Errorf("Location = %v, want UTC", s.Location())
	}
	if s.IsOneShot() {
		t.Error("cron schedule reports IsOneShot")
	}
	b := mustSchedule(t, "@at 2026-05-01T09:00:00Z", "Europe/Berlin")
	if !b.IsOneShot() || b.Location().String() != "Europe/Berlin" {
		t.Errorf("IsOneShot = %v, Location = %v", b.IsOneShot(), b.Location())
	}
	if mustSchedule(t, "@every 1h", "").IsOneShot() {
		t.Error("@every reports IsOneShot")
	}
}

func TestScheduleFiveVersusSixFields(t *testing.T) {
	// 5 fields are minute-first with second 0, never seconds-first.
	checkNextN(t, mustSchedule(t, "5 * * * *", ""), "2026-01-01T00:00:00Z",
		"2026-01-01T00:05:00Z", "2026-01-01T01:05:00Z")
	checkNextN(t, mustSchedule(t, "*/15 * * * *", ""), "2026-01-01T00:00:00Z",
		"2026-01-01T00:15:00Z", "2026-01-01T00:30:00Z")
	// 6 fields are second-first.
	checkNextN(t, mustSchedule(t, "5 * * * * *", ""), "2026-01-01T00:00:00Z",
		"2026-01-01T00:00:05Z", "2026-01-01T00:01:05Z")
	checkNextN(t, mustSchedule(t, "*/10 * * * * *", ""), "2026-01-01T00:00:00Z",
		"2026-01-01T00:00:10Z", "2026-01-01T00:00:20Z")
	checkNextN(t, mustSchedule(t, "0 30 1 * * *", ""), "2026-01-01T00:00:00Z",
		"2026-01-01T01:30:00Z", "2026-01-02T01:30:00Z")
}

func TestScheduleMacros(t *testing.T) {
	after := "2026-05-13T10:20:30Z" // a Wednesday
	tests := map[string][]string{
		"@yearly":   {"2027-01-01T00:00:00Z", "2028-01-01T00:00:00Z"},
		"@annually": {"2027-01-01T00:00:00Z"},
		"@monthly":  {"2026-06-01T00:00:00Z", "2026-07-01T00:00:00Z"},
		"@weekly":   {"2026-05-17T00:00:00Z", "2026-05-24T00:00:00Z"},
		"@daily":    {"2026-05-14T00:00:00Z", "2026-05-15T00:00:00Z"},
		"@midnight": {"2026-05-14T00:00:00Z"},
		"@hourly":   {"2026-05-13T11:00:00Z", "2026-05-13T12:00:00Z"},
		"@DAILY":    {"2026-05-14T00:00:00Z"},
	}
	for expr, want := range tests {
		t.Run(expr, func(t *testing.T) {
			checkNextN(t, mustSchedule(t, expr, ""), after, want...)
		})
	}
}

func TestScheduleFieldSyntax(t *testing.T) {
	after := "2026-01-01T00:00:00Z" // a Thursday
	tests := []struct {
		expr string
		want []string
	}{
		{"0 9-11 * * *", []string{"2026-01-01T09:00:00Z", "2026-01-01T10:00:00Z", "2026-01-01T11:00:00Z", "2026-01-02T09:00:00Z"}},
		{"0 9,13,17 * * *", []string{"2026-01-01T09:00:00Z", "2026-01-01T13:00:00Z", "2026-01-01T17:00:00Z"}},
		{"0 8-18/5 * * *", []string{"2026-01-01T08:00:00Z", "2026-01-01T13:00:00Z", "2026-01-01T18:00:00Z", "2026-01-02T08:00:00Z"}},
		{"0 20/2 * * *", []string{"2026-01-01T20:00:00Z", "2026-01-01T22:00:00Z", "2026-01-02T20:00:00Z"}},
		{"5/20 0 * * *", []string{"2026-01-01T00:05:00Z", "2026-01-01T00:25:00Z", "2026-01-01T00:45:00Z", "2026-01-02T00:05:00Z"}},
		{"0 0 1 jan,Jul *", []string{"2026-07-01T00:00:00Z", "2027-01-01T00:00:00Z"}},
		{"0 0 1 FEB-APR/2 *", []string{"2026-02-01T00:00:00Z", "2026-04-01T00:00:00Z", "2027-02-01T00:00:00Z"}},
		{"0 0 * * mon-wed", []string{"2026-01-05T00:00:00Z", "2026-01-06T00:00:00Z", "2026-01-07T00:00:00Z", "2026-01-12T00:00:00Z"}},
		{"0 0 * * 7", []string{"2026-01-04T00:00:00Z", "2026-01-11T00:00:00Z"}},
		{"0 0 * * 0", []string{"2026-01-04T00:00:00Z", "2026-01-11T00:00:00Z"}},
		{"0 0 * * 5-7", []string{"2026-01-02T00:00:00Z", "2026-01-03T00:00:00Z", "2026-01-04T00:00:00Z", "2026-01-09T00:00:00Z"}},
		{"0 0 * * */3", []string{"2026-01-03T00:00:00Z", "2026-01-04T00:00:00Z", "2026-01-07T00:00:00Z", "2026-01-10T00:00:00Z"}},
		{"0 0 29 2 *", []string{"2028-02-29T00:00:00Z", "2032-02-29T00:00:00Z"}},
		{"0 0 31 * *", []string{"2026-01-31T00:00:00Z", "2026-03-31T00:00:00Z", "2026-05-31T00:00:00Z"}},
		{"0 0 L * *", []string{"2026-01-31T00:00:00Z", "2026-02-28T00:00:00Z", "2026-03-31T00:00:00Z", "2026-04-30T00:00:00Z"}},
		{"0 0 LW * *", []string{"2026-01-30T00:00:00Z", "2026-02-27T00:00:00Z", "2026-03-31T00:00:00Z", "2026-04-30T00:00:00Z", "2026-05-29T00:00:00Z"}},
		// 1W: Sat 2026-08-01 -> Mon 3rd; 15W: Sun 2026-02-15 -> Mon 16th; 31W: Sun 2026-05-31 -> Fri 29th.
		{"0 0 1W 8 *", []string{"2026-08-03T00:00:00Z"}},
		{"0 0 15W 2 *", []string{"2026-02-16T00:00:00Z"}},
		{"0 0 31W 5 *", []string{"2026-05-29T00:00:00Z"}},
		{"0 0 * * FRI#2", []string{"2026-01-09T00:00:00Z", "2026-02-13T00:00:00Z"}},
		{"0 0 * * 1#5", []string{"2026-03-30T00:00:00Z", "2026-06-29T00:00:00Z"}},
		{"0 0 * * 5L", []string{"2026-01-30T00:00:00Z", "2026-02-27T00:00:00Z", "2026-03-27T00:00:00Z"}},
		{"0 0 ? * SUN", []string{"2026-01-04T00:00:00Z"}},
		{"30 15 10 * * ?", []string{"2026-01-01T10:15:30Z", "2026-01-02T10:15:30Z"}},
		{"0 0 0 1 1 *", []string{"2027-01-01T00:00:00Z"}},
	}
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			checkNextN(t, mustSchedule(t, tt.expr, ""), after, tt.want...)
		})
	}
}

func TestScheduleDayOfMonthOrDayOfWeek(t *testing.T) {
	after := "2026-01-01T00:00:00Z" // a Thursday
	tests := []struct {
		expr string
		want []string
	}{
		// Both restricted: the 13th OR any Friday.
		{"0 0 13 * 5", []string{"2026-01-02T00:00:00Z", "2026-01-09T00:00:00Z", "2026-01-13T00:00:00Z", "2026-01-16T00:00:00Z"}},
		// Day of month *: day of week alone decides.
		{"0 0 * * 5", []string{"2026-01-02T00:00:00Z", "2026-01-09T00:00:00Z"}},
		// Day of week *: day of month alone decides.
		{"0 0 13 * *", []string{"2026-01-13T00:00:00Z", "2026-02-13T00:00:00Z"}},
		// A field starting with * is unrestricted (Vixie): odd days AND Mondays.
		{"0 0 */2 * 1", []string{"2026-01-05T00:00:00Z", "2026-01-19T00:00:00Z", "2026-02-09T00:00:00Z"}},
		// The 1st-7th OR Mondays.
		{"0 0 1-7 * MON", []string{"2026-01-02T00:00:00Z", "2026-01-03T00:00:00Z", "2026-01-04T00:00:00Z",
			"2026-01-05T00:00:00Z", "2026-01-06T00:00:00Z", "2026-01-07T00:00:00Z", "2026-01-12T00:00:00Z", "2026-01-19T00:00:00Z"}},
		// Feb 30 never exists, but OR Sundays in February does.
		{"0 0 30 2 0", []string{"2026-02-01T00:00:00Z", "2026-02-08T00:00:00Z"}},
	}
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			checkNextN(t, mustSchedule(t, tt.expr, ""), after, tt.want...)
		})
	}
}

func TestScheduleEvery(t *testing.T) {
	// Aligned to the Unix epoch, whatever after is and whatever the zone.
	s := mustSchedule(t, "@every 1h", "Asia/Kolkata") // +05:30
	checkNextN(t, s, "2026-01-01T10:20:30.5Z",
		"2026-01-01T11:00:00Z", "2026-01-01T12:00:00Z")
	checkNextN(t, s, "2026-01-01T11:00:00Z", "2026-01-01T12:00:00Z")
	checkNextN(t, s, "2026-01-01T10:59:59.999999999Z", "2026-01-01T11:00:00Z")

	checkNextN(t, mustSchedule(t, "@every 7s", ""), "1970-01-01T00:00:00Z",
		"1970-01-01T00:00:07Z", "1970-01-01T00:00:14Z")
	// Before the epoch the grid continues: multiples of 7s below zero.
	checkNextN(t, mustSchedule(t, "@every 7s", ""), "1969-12-31T23:59:50Z",
		"1969-12-31T23:59:53Z", "1970-01-01T00:00:00Z")
	checkNextN(t, mustSchedule(t, "@every 90m", ""), "2026-01-01T00:00:00Z",
		"2026-01-01T01:30:00Z", "2026-01-01T03:00:00Z")
	s = mustSchedule(t, "@every 24h", "America/New_York")
	for _, got := range s.NextN(mustTime(t, "2026-03-01T00:00:00Z"), 20) {
		if got.UTC().Hour() != 0 || got.Unix()%86400 != 0 {
			t.Errorf("@every 24h fired at %s, not a multiple of 24h since the epoch", got)
		}
	}
	// Unaffected by DST: exactly one day apart across the spring-forward day.
	if got := s.NextN(mustTime(t, "2026-03-07T00:00:00Z"), 2); got[1].Sub(got[0]) != 24*time.Hour {
		t.Errorf("@every 24h fires %v apart", got[1].Sub(got[0]))
	}
}

func TestScheduleAt(t *testing.T) {
	s := mustSchedule(t, "@at 2026-05-01T09:00:00+02:00", "America/New_York")
	checkNextN(t, s, "2026-01-01T00:00:00Z", "2026-05-01T03:00:00-04:00")
	if _, ok := s.Next(mustTime(t, "2026-05-01T07:00:00Z")); ok {
		t.Error("@at fires at a time equal to after")
	}
	if _, ok := s.Next(mustTime(t, "2027-01-01T00:00:00Z")); ok {
		t.Error("@at in the past fires")
	}
	got, ok := s.Next(mustTime(t, "2026-05-01T06:59:59.999Z"))
	if !ok || !got.Equal(mustTime(t, "2026-05-01T07:00:00Z")) {
		t.Errorf("Next = %v, %v", got, ok)
	}
	if got := mustSchedule(t, "@at 2026-05-01T09:00:00.25Z", "").NextN(time.Time{}, 3); len(got) != 1 || got[0].Nanosecond() != 250_000_000 {
		t.Errorf("NextN = %v, want one fire with the fraction kept", got)
	}
}

func TestScheduleNextIsStrictlyAfter(t *testing.T) {
	s := mustSchedule(t, "*/5 * * * * *", "")
	after := mustTime(t, "2026-01-01T00:00:05Z")
	if got, _ := s.Next(after); !got.Equal(after.Add(5 * time.Second)) {
		t.Errorf("Next(on a fire) = %s", got)
	}
	if got, _ := s.Next(after.Add(-time.Nanosecond)); !got.Equal(after) {
		t.Errorf("Next(just before a fire) = %s", got)
	}
	if got, _ := s.Next(after.Add(time.Nanosecond)); !got.Equal(after.Add(5 * time.Second)) {
		t.Errorf("Next(just after a fire) = %s", got)
	}
}

func TestScheduleNextEdges(t *testing.T) {
	s := mustSchedule(t, "0 0 * * *", "America/New_York")
	// The zero time works (it is in year 0 in New York's LMT).
	if got, ok := s.Next(time.Time{}); !ok || got.Year() != 1 || got.Hour() != 0 {
		t.Errorf("Next(zero) = %v, %v", got, ok)
	}
	if _, ok := s.Next(time.Unix(1<<62, 0)); ok {
		t.Error("Next far beyond the supported range fires")
	}
	if s.NextN(time.Time{}, 0) != nil || s.NextN(time.Time{}, -1) != nil {
		t.Error("NextN(n <= 0) is not nil")
	}
	// Rare dates are found: 5th Sunday of February (29 Feb on a Sunday).
	got, ok := mustSchedule(t, "0 0 * 2 0#5", "Europe/Berlin").Next(mustTime(t, "2026-01-01T00:00:00Z"))
	if !ok || got.Format(time.DateOnly) != "2032-02-29" {
		t.Errorf("Next = %v, %v, want 2032-02-29", got, ok)
	}
}

func TestScheduleConcurrentUse(t *testing.T) {
	s := mustSchedule(t, "*/30 * * * *", "Europe/Berlin")
	after := mustTime(t, "2026-10-25T00:00:00Z")
	want := s.NextN(after, 50)
	done := make(chan []time.Time)
	for range 8 {
		go func() { done <- s.NextN(after, 50) }()
	}
	for range 8 {
		got := <-done
		for i := range want {
			if !got[i].Equal(want[i]) {
				t.Fatalf("concurrent NextN differs at %d", i)
			}
		}
	}
}

func TestScheduleCalendarHelpers(t *testing.T) {
	for _, d := range []int64{-800000, -719468, -1, 0, 1, 20000, 2932896} {
		y, m, dd := calCivil(d)
		if calDays(y, m, dd) != d {
			t.Errorf("calDays(calCivil(%d)) = %d", d, calDays(y, m, dd))
		}
		tm := time.Unix(d*86400, 0).UTC()
		if tm.Year() != y || int(tm.Month()) != m || tm.Day() != dd || int(tm.Weekday()) != calWeekday(d) {
			t.Errorf("calCivil(%d) = %d-%d-%d wd %d, want %s", d, y, m, dd, calWeekday(d), tm)
		}
	}
}
