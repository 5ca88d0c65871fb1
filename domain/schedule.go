package domain

import (
	"errors"
	"fmt"
	"time"
)

// ErrInvalidSchedule is matched (errors.Is) by every *ScheduleError.
//
// TODO(lead): move to errors.go.
var ErrInvalidSchedule = errors.New("pink: invalid schedule")

// MaxScheduleLen bounds a schedule expression, in bytes.
const MaxScheduleLen = 256

// MaxTimezoneLen bounds a time zone name, in bytes.
const MaxTimezoneLen = 64

// ScheduleError reports an invalid schedule or time zone. errors.Is(err,
// ErrInvalidSchedule) and errors.Is(err, ErrInvalid) are true for every
// ScheduleError.
type ScheduleError struct {
	Field  string // "schedule" or "timezone"
	Expr   string // the rejected expression or time zone name
	Reason string // what is wrong, for a human
}

// Error implements error, e.g.
// `pink: invalid schedule "61 * * * *": minute 61 out of range 0-59`.
func (e *ScheduleError) Error() string {
	return fmt.Sprintf("pink: invalid %s %q: %s", e.Field, e.Expr, e.Reason)
}

// Is reports whether target is ErrInvalidSchedule or ErrInvalid.
func (e *ScheduleError) Is(target error) bool {
	return target == ErrInvalidSchedule || target == ErrInvalid
}

// scheduleKind tells the three families of schedule apart.
type scheduleKind uint8

const (
	kindCron  scheduleKind = iota // fields or a macro such as @daily
	kindEvery                     // @every <duration>
	kindAt                        // @at <RFC3339>
)

// Schedule is a parsed, validated, immutable schedule, safe for concurrent
// use. Parse once, call Next many times.
//
// A cron schedule is evaluated on the wall clock of its Location. Across
// daylight-saving transitions it follows Vixie cron's rule (see
// docs/adr/0005-schedules-and-dst.md): a job whose hour field is fixed (a
// number, range or list) fires at the first instant the clock shows its
// time or later, so once in a repeated hour and at the end of a skipped
// one; a job whose hour field is * or stepped fires whenever the clock
// shows a matching time, so twice in a repeated hour and never in a skipped
// one.
type Schedule struct {
	expr string
	loc  *time.Location
	kind scheduleKind

	// kindCron
	cron cronSpec

	// kindEvery: the period in whole seconds; fires at instants that are
	// multiples of it since the Unix epoch.
	every int64

	// kindAt
	at time.Time
}

// ParseSchedule parses and validates expr, evaluated in timezone (an IANA
// name such as "Europe/Berlin"; "" means UTC). Accepted forms:
//
//   - 5 fields "minute hour day-of-month month day-of-week" (second 0);
//   - 6 fields "second minute hour day-of-month month day-of-week";
//   - @yearly (@annually), @monthly, @weekly, @daily (@midnight), @hourly;
//   - "@every <duration>", a Go duration of whole seconds between 1s and
//     366 days, firing at multiples of the duration since the Unix epoch;
//   - "@at <RFC3339 time>", firing once.
//
// A field is *, a number, a range a-b, a list a,b, or a step */n, a-b/n or
// a/n. Months take JAN-DEC and days of week SUN-SAT (any case); day of week
// 7 is Sunday. Day of month also takes L (last day), LW (last weekday) and
// nW (weekday nearest day n); day of week takes nL (last such day of the
// month) and n#k (k-th such day); either also takes ? for *. When both day
// fields are restricted (neither starts with *) a day matches if either
// does.
//
// It returns a *ScheduleError for an invalid expression (Field "schedule"),
// including one that can never fire such as "0 0 30 2 *", and for an
// unknown time zone (Field "timezone").
func ParseSchedule(expr, timezone string) (*Schedule, error) {
	s, reason := parseScheduleExpr(expr)
	if reason != "" {
		return nil, &ScheduleError{Field: "schedule", Expr: expr, Reason: reason}
	}
	loc, err := loadScheduleLocation(timezone)
	if err != nil {
		return nil, err
	}
	s.loc = loc
	return s, nil
}

// loadScheduleLocation resolves an IANA zone name; "" means UTC.
func loadScheduleLocation(name string) (*time.Location, error) {
	bad := func(reason string) error {
		return &ScheduleError{Field: "timezone", Expr: name, Reason: reason}
	}
	switch {
	case name == "":
		return time.UTC, nil
	case len(name) > MaxTimezoneLen:
		return nil, bad(fmt.Sprintf("longer than %d bytes", MaxTimezoneLen))
	case name == "Local":
		return nil, bad("Local depends on the host; use an IANA name such as Europe/Berlin")
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, bad("unknown time zone")
	}
	return loc, nil
}

// Expr returns the expression given to ParseSchedule, without surrounding
// white space.
func (s *Schedule) Expr() string { return s.expr }

// Location returns the time zone the schedule is evaluated in; times
// returned by Next are in it.
func (s *Schedule) Location() *time.Location { return s.loc }

// IsOneShot reports whether the schedule fires at most once (@at).
func (s *Schedule) IsOneShot() bool { return s.kind == kindAt }

// Range of instants Next works on, in Unix seconds (about ±35 million
// years): it keeps the calendar arithmetic far from int64 overflow.
const (
	minScheduleUnix = -1 << 50
	maxScheduleUnix = 1 << 50
)

// Next returns the first fire time strictly after after, in the schedule's
// Location. It returns false if the schedule never fires again: an @at time
// not after after, or a time beyond the supported range. It does not
// allocate, and always terminates.
func (s *Schedule) Next(after time.Time) (time.Time, bool) {
	switch s.kind {
	case kindAt:
		if s.at.After(after) {
			return s.at.In(s.loc), true
		}
		return time.Time{}, false
	}
	a := after.Unix() // floor: fires are whole seconds, so t > after iff t > a
	if a >= maxScheduleUnix {
		return time.Time{}, false
	}
	a = max(a, minScheduleUnix)
	var t int64
	var ok bool
	switch {
	case s.kind == kindEvery:
		t, ok = (calFloorDiv(a, s.every)+1)*s.every, true
	case s.cron.fixed:
		t, ok = s.cron.nextFixed(s.loc, a)
	default:
		t, ok = s.cron.nextElapsed(s.loc, a)
	}
	if !ok || t > maxScheduleUnix {
		return time.Time{}, false
	}
	return time.Unix(t, 0).In(s.loc), true
}

// NextN returns up to n fire times after after, in increasing order; fewer
// when the schedule stops firing. It returns nil when n <= 0.
func (s *Schedule) NextN(after time.Time, n int) []time.Time {
	if n <= 0 {
		return nil
	}
	out := make([]time.Time, 0, min(n, 1024))
	for len(out) < n {
		t, ok := s.Next(after)
		if !ok {
			break
		}
		out = append(out, t)
		after = t
	}
	return out
}
