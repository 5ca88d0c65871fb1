package domain

import (
	"math"
	"time"
)

// Daylight-saving time and other offset changes.
//
// A cron schedule matches civil (wall-clock) times. Mapping them to
// instants follows Vixie cron, by the kind of hour field:
//
//   - Fixed hour (numbers, ranges, lists: "30 2 * * *", "*/15 2 * * *"):
//     each matching civil time W fires at the first instant at which the
//     zone's clock shows W or later. A time that repeats (fall back) fires
//     once, in its first pass; a time that is skipped (spring forward)
//     fires at the end of the gap, and several skipped times fire once.
//   - Wildcard or stepped hour ("0 * * * *", "*/30 * * * *", "0 */2 * * *"):
//     the job fires at every instant whose clock reading matches, so twice
//     in a repeated hour and never in a skipped one.
//
// See docs/adr/0005-schedules-and-dst.md.

// maxZonePeriods bounds the zone periods (spans of constant offset) the
// elapsed-time search walks: two transitions a year for searchYears, and
// room for zones that changed more often.
const maxZonePeriods = 4 * searchYears

// zoneLookAround is more than any UTC offset, so the instant a civil time
// maps to is never before that civil time minus zoneLookAround.
const zoneLookAround = 16 * 3600

// zoneSpan returns the UTC offset in force at Unix second t and the span
// [start, end) of that offset, unbounded ends as math.MinInt64/MaxInt64.
func zoneSpan(loc *time.Location, t int64) (off, start, end int64) {
	tt := time.Unix(t, 0).In(loc)
	_, o := tt.Zone()
	s, e := tt.ZoneBounds()
	start, end = math.MinInt64, math.MaxInt64
	if !s.IsZero() {
		start = s.Unix()
	}
	if !e.IsZero() {
		end = e.Unix()
	}
	if end <= t {
		// Past a zone's last listed transition Go derives periods from its
		// TZ rule and, in leap years, ends the last one of the year a day
		// early, before t (golang/go#81583). The real boundary there is the
		// start of the next UTC year; the next UTC midnight is safe.
		end = (calFloorDiv(t, 86400) + 1) * 86400
	}
	return int64(o), start, end
}

// nextElapsed returns the first instant after Unix second a whose clock
// reading matches. It walks zone periods: inside one the clock is the
// instant plus a constant offset.
func (c *cronSpec) nextElapsed(loc *time.Location, a int64) (int64, bool) {
	t := a + 1 // earliest candidate
	for range maxZonePeriods {
		off, _, end := zoneSpan(loc, t)
		limit := int64(math.MaxInt64)
		if end != math.MaxInt64 {
			limit = end - 1 + off
		}
		w, res := c.nextWall(t+off, limit)
		switch {
		case res == wallNever:
			return 0, false
		case res == wallFound && w-off < end:
			return w - off, true
		case end == math.MaxInt64:
			return 0, false
		}
		t = end
	}
	return 0, false
}

// nextFixed returns the first fire after Unix second a of a fixed-hour
// schedule: the earliest matching civil time W whose instant (see
// firstReach) is after a. firstReach is monotonic, so W is the first match
// above the highest clock reading seen up to a, which is the current
// reading except in the second pass of a repeated hour.
func (c *cronSpec) nextFixed(loc *time.Location, a int64) (int64, bool) {
	off, start, end := zoneSpan(loc, a)
	lw := a + off + 1
	if start != math.MinInt64 && a-start < 2*zoneLookAround {
		if prev, _, _ := zoneSpan(loc, start-1); prev > off {
			lw = max(lw, start+prev) // the clock read up to start+prev before falling back
		}
	}
	for range 64 { // one round, bar zones with back-to-back transitions
		w, res := c.nextWall(lw, math.MaxInt64)
		if res != wallFound {
			return 0, false
		}
		// Fast path: w is shown in a's zone period, and lw is above every
		// earlier reading, so this is its first reach.
		t := w - off
		if t < start || t >= end {
			t = firstReach(loc, w)
		}
		if t > a {
			return t, true
		}
		lw = w + 1
	}
	return 0, false
}

// firstReach returns the first instant at which the clock of loc shows
// civil time w or later: the instant of w, its first pass if it repeats,
// or the end of the gap if it is skipped.
func firstReach(loc *time.Location, w int64) int64 {
	x := w - zoneLookAround
	for range 16 {
		off, start, end := zoneSpan(loc, x)
		t := w - off
		if t < start { // the clock jumped over w at start
			return start
		}
		if t < end {
			return t
		}
		x = end
	}
	return w // unreachable with real zone data
}
