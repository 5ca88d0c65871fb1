package domain

import (
	"fmt"
	"strings"
	"time"
)

// Bounds of @every.
const (
	minEvery = time.Second
	maxEvery = 366 * 24 * time.Hour
)

// cronMacros maps the predefined schedules to 5-field expressions.
var cronMacros = map[string]string{
	"@yearly":   "0 0 1 1 *",
	"@annually": "0 0 1 1 *",
	"@monthly":  "0 0 1 * *",
	"@weekly":   "0 0 * * 0",
	"@daily":    "0 0 * * *",
	"@midnight": "0 0 * * *",
	"@hourly":   "0 * * * *",
}

// cronField describes one field of a cron expression.
type cronField struct {
	name     string
	min, max int      // accepted values; day of week accepts 7 for Sunday
	wildMax  int      // the top of * (6 for day of week, else max)
	names    []string // names of min, min+1, ... (months, days of week)
}

var (
	fieldSecond = cronField{name: "second", min: 0, max: 59, wildMax: 59}
	fieldMinute = cronField{name: "minute", min: 0, max: 59, wildMax: 59}
	fieldHour   = cronField{name: "hour", min: 0, max: 23, wildMax: 23}
	fieldDOM    = cronField{name: "day-of-month", min: 1, max: 31, wildMax: 31}
	fieldMonth  = cronField{name: "month", min: 1, max: 12, wildMax: 12, names: []string{
		"JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"}}
	fieldDOW = cronField{name: "day-of-week", min: 0, max: 7, wildMax: 6, names: []string{
		"SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"}}
)

// parseScheduleExpr parses an expression; on failure it returns a reason.
func parseScheduleExpr(raw string) (*Schedule, string) {
	if len(raw) > MaxScheduleLen {
		return nil, fmt.Sprintf("longer than %d bytes", MaxScheduleLen)
	}
	expr := strings.TrimSpace(raw)
	if expr == "" {
		return nil, "empty expression"
	}
	s := &Schedule{expr: expr, kind: kindCron}
	fields := strings.Fields(expr)
	if strings.HasPrefix(fields[0], "@") {
		macro := strings.ToLower(fields[0])
		switch macro {
		case "@every":
			return s, s.parseEvery(fields[1:])
		case "@at":
			return s, s.parseAt(fields[1:])
		}
		m, ok := cronMacros[macro]
		if !ok {
			return nil, fmt.Sprintf("unknown macro %q", fields[0])
		}
		if len(fields) != 1 {
			return nil, fmt.Sprintf("%s takes no arguments", macro)
		}
		fields = strings.Fields(m)
	}
	switch len(fields) {
	case 5:
		fields = append([]string{"0"}, fields...)
	case 6:
	default:
		return nil, fmt.Sprintf("expected 5 fields (minute hour day-of-month month day-of-week) "+
			"or 6 (second first), got %d", len(fields))
	}
	if reason := s.cron.parse(fields); reason != "" {
		return nil, reason
	}
	return s, ""
}

// parseEvery parses the argument of @every.
func (s *Schedule) parseEvery(args []string) string {
	if len(args) != 1 {
		return "@every takes one duration, e.g. @every 5m"
	}
	d, err := time.ParseDuration(args[0])
	switch {
	case err != nil:
		return fmt.Sprintf("@every: invalid duration %q", args[0])
	case d < minEvery || d > maxEvery:
		return fmt.Sprintf("@every: duration %s out of range 1s-%s", d, maxEvery)
	case d%time.Second != 0:
		return fmt.Sprintf("@every: duration %s is not a whole number of seconds", d)
	}
	s.kind, s.every = kindEvery, int64(d/time.Second)
	return ""
}

// parseAt parses the argument of @at.
func (s *Schedule) parseAt(args []string) string {
	if len(args) != 1 {
		return "@at takes one RFC3339 time, e.g. @at 2026-05-01T09:00:00Z"
	}
	t, err := time.Parse(time.RFC3339, args[0])
	if err != nil {
		return fmt.Sprintf("@at: invalid RFC3339 time %q", args[0])
	}
	s.kind, s.at = kindAt, t
	return ""
}

// parse fills c from six fields: second minute hour dom month dow.
func (c *cronSpec) parse(f []string) string {
	var reason string
	if c.secs, reason = parseCronBits(fieldSecond, f[0]); reason != "" {
		return reason
	}
	if c.mins, reason = parseCronBits(fieldMinute, f[1]); reason != "" {
		return reason
	}
	if c.hours, reason = parseCronBits(fieldHour, f[2]); reason != "" {
		return reason
	}
	months, reason := parseCronBits(fieldMonth, f[4])
	if reason != "" {
		return reason
	}
	c.months = uint16(months)
	var dd cronDays
	if reason = dd.parseDOM(f[3]); reason != "" {
		return reason
	}
	if reason = dd.parseDOW(f[5]); reason != "" {
		return reason
	}
	c.fixed = !strings.ContainsAny(f[2], "*/")
	c.days = dd.table()
	if !c.canFire() {
		return fmt.Sprintf("never fires: no date matches day-of-month %q in month %q", f[3], f[4])
	}
	return ""
}

// parseCronBits parses a plain field (no L, W or #) into a bitset.
func parseCronBits(f cronField, text string) (uint64, string) {
	var bits uint64
	for item := range strings.SplitSeq(text, ",") {
		lo, hi, step, reason := parseCronItem(f, item)
		if reason != "" {
			return 0, reason
		}
		for v := lo; v <= hi; v += step {
			bits |= 1 << uint(v%(f.wildMax+1)) // day of week 7 is 0
		}
	}
	return bits, ""
}

// parseCronItem parses *, n, a-b, each optionally followed by /step.
func parseCronItem(f cronField, item string) (lo, hi, step int, reason string) {
	if item == "" {
		return 0, 0, 0, fmt.Sprintf("%s: empty list item", f.name)
	}
	rng, stepText, hasStep := strings.Cut(item, "/")
	step = 1
	if hasStep {
		if step, reason = parseCronStep(f, stepText); reason != "" {
			return 0, 0, 0, reason
		}
	}
	switch a, b, isRange := strings.Cut(rng, "-"); {
	case rng == "*":
		lo, hi = f.min, f.wildMax
	case isRange:
		if a == "" || b == "" {
			return 0, 0, 0, fmt.Sprintf("%s: invalid range %q", f.name, rng)
		}
		if lo, reason = parseCronValue(f, a); reason != "" {
			return 0, 0, 0, reason
		}
		if hi, reason = parseCronValue(f, b); reason != "" {
			return 0, 0, 0, reason
		}
		if lo > hi {
			return 0, 0, 0, fmt.Sprintf("%s: range %s is reversed", f.name, rng)
		}
	default:
		if lo, reason = parseCronValue(f, a); reason != "" {
			return 0, 0, 0, reason
		}
		hi = lo
		if hasStep { // a/n means a-max/n
			hi = max(lo, f.wildMax)
		}
	}
	return lo, hi, step, ""
}

// parseCronStep parses the n of */n.
func parseCronStep(f cronField, text string) (int, string) {
	span := f.wildMax - f.min
	switch {
	case text == "":
		return 0, fmt.Sprintf("%s: missing step after /", f.name)
	case strings.HasPrefix(text, "-"):
		return 0, fmt.Sprintf("%s: negative step %s", f.name, text)
	}
	n, ok := parseCronDigits(text)
	switch {
	case !ok:
		return 0, fmt.Sprintf("%s: invalid step %q", f.name, text)
	case n == 0:
		return 0, fmt.Sprintf("%s: step 0 (must be at least 1)", f.name)
	case n > span:
		return 0, fmt.Sprintf("%s: step %s larger than range %d-%d allows (at most %d)",
			f.name, text, f.min, f.wildMax, span)
	}
	return n, ""
}

// parseCronValue parses a number or, for months and days of week, a name.
func parseCronValue(f cronField, text string) (int, string) {
	for i, name := range f.names {
		if strings.EqualFold(text, name) {
			return f.min + i, ""
		}
	}
	if text == "" {
		return 0, fmt.Sprintf("%s: missing value", f.name)
	}
	if !isCronDigits(text) {
		return 0, fmt.Sprintf("%s: invalid value %q", f.name, text)
	}
	n, ok := parseCronDigits(text)
	if !ok || n < f.min || n > f.max {
		return 0, fmt.Sprintf("%s %s out of range %d-%d", f.name, text, f.min, f.max)
	}
	return n, ""
}

// parseCronDigits parses 1 to 3 ASCII digits.
func parseCronDigits(text string) (int, bool) {
	if text == "" || len(text) > 3 || !isCronDigits(text) {
		return 0, false
	}
	n := 0
	for i := 0; i < len(text); i++ {
		n = n*10 + int(text[i]-'0')
	}
	return n, true
}

// isCronDigits reports whether text is all ASCII digits.
func isCronDigits(text string) bool {
	for i := 0; i < len(text); i++ {
		if text[i] < '0' || text[i] > '9' {
			return false
		}
	}
	return true
}
