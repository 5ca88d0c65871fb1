package domain

import "math/bits"

// cronSpec is a parsed cron expression. Times here are "civil seconds":
// a wall-clock date and time counted as seconds since 1970-01-01 00:00 as
// if the zone were UTC.
type cronSpec struct {
	secs, mins, hours uint64 // bits 0-59, 0-59, 0-23
	months            uint16 // bits 1-12
	// days[w][n-28] has bit d set when day d matches in a month of n days
	// whose first day is weekday w (0 = Sunday).
	days [7][4]uint32
	// fixed: the hour field names fixed hours (no * and no step), so the
	// job keeps wall-clock time across DST transitions; see schedule_dst.go.
	fixed bool
}

// searchYears bounds the calendar search. The Gregorian calendar repeats
// every 400 years, and canFire checks every month shape, so a valid
// schedule always matches within it.
const searchYears = 401

// wallResult is the outcome of nextWall.
type wallResult uint8

const (
	wallFound  wallResult = iota
	wallBeyond            // nothing up to the limit
	wallNever             // nothing in searchYears
)

// canFire reports whether some date matches: some selected month, of some
// length it can have, starting on some weekday. Over 400 years every month
// starts on every weekday in every length it has.
func (c *cronSpec) canFire() bool {
	for m := 1; m <= 12; m++ {
		if c.months&(1<<uint(m)) == 0 {
			continue
		}
		for n := calDaysIn(2000, m); n >= calDaysIn(2001, m); n-- { // 29 and 28 for February
			for w := range 7 {
				if c.days[w][n-28] != 0 {
					return true
				}
			}
		}
	}
	return false
}

// nextWall returns the first matching civil time at or after lw. It stops
// with wallBeyond once it passes the month holding limit, and with
// wallNever after searchYears.
func (c *cronSpec) nextWall(lw, limit int64) (int64, wallResult) {
	days := calFloorDiv(lw, 86400)
	sod := int(lw - days*86400)
	y, m, d := calCivil(days)
	h, mi, s := sod/3600, sod/60%60, sod%60
	lastYear := y + searchYears
	for y <= lastYear {
		if c.months&(1<<uint(m)) != 0 {
			first := calDays(y, m, 1)
			if first*86400 > limit {
				return 0, wallBeyond
			}
			n := calDaysIn(y, m)
			mask := c.days[calWeekday(first)][n-28] >> uint(d) << uint(d)
			for mask != 0 {
				day := bits.TrailingZeros32(mask)
				if day != d {
					h, mi, s = 0, 0, 0
				}
				if hh, mm, ss, ok := c.nextTOD(h, mi, s); ok {
					return (first+int64(day-1))*86400 + int64(hh*3600+mm*60+ss), wallFound
				}
				mask &^= 1 << uint(day)
				d, h, mi, s = day+1, 0, 0, 0
			}
		}
		m, d, h, mi, s = m+1, 1, 0, 0, 0
		if m > 12 {
			m, y = 1, y+1
		}
	}
	return 0, wallNever
}

// nextTOD returns the first matching time of day at or after h:m:s.
func (c *cronSpec) nextTOD(h, m, s int) (hh, mm, ss int, ok bool) {
	if hh = firstBit(c.hours, h); hh < 0 {
		return 0, 0, 0, false
	}
	if hh > h {
		m, s = 0, 0
	}
	if mm = firstBit(c.mins, m); mm < 0 {
		if hh = firstBit(c.hours, hh+1); hh < 0 {
			return 0, 0, 0, false
		}
		return hh, firstBit(c.mins, 0), firstBit(c.secs, 0), true
	}
	if mm > m {
		s = 0
	}
	if ss = firstBit(c.secs, s); ss < 0 {
		if mm = firstBit(c.mins, mm+1); mm < 0 {
			if hh = firstBit(c.hours, hh+1); hh < 0 {
				return 0, 0, 0, false
			}
			mm = firstBit(c.mins, 0)
		}
		ss = firstBit(c.secs, 0)
	}
	return hh, mm, ss, true
}

// firstBit returns the lowest set bit of set at or above from, or -1.
func firstBit(set uint64, from int) int {
	if from >= 64 {
		return -1
	}
	set = set >> uint(from) << uint(from)
	if set == 0 {
		return -1
	}
	return bits.TrailingZeros64(set)
}

// calFloorDiv divides rounding towards minus infinity (b > 0).
func calFloorDiv(a, b int64) int64 {
	q := a / b
	if a%b < 0 {
		q--
	}
	return q
}

// calDays returns the days since 1970-01-01 of a proleptic Gregorian date
// (Howard Hinnant's days_from_civil).
func calDays(y, m, d int) int64 {
	if m <= 2 {
		y--
	}
	era := int64(calFloorDiv(int64(y), 400))
	yoe := int64(y) - era*400
	mp := int64((m + 9) % 12)
	doy := (153*mp+2)/5 + int64(d) - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return era*146097 + doe - 719468
}

// calCivil is the inverse of calDays (Hinnant's civil_from_days).
func calCivil(days int64) (y, m, d int) {
	z := days + 719468
	era := calFloorDiv(z, 146097)
	doe := z - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	d = int(doy - (153*mp+2)/5 + 1)
	m = int((mp+2)%12) + 1
	y = int(yoe + era*400)
	if m <= 2 {
		y++
	}
	return y, m, d
}

// calWeekday returns the weekday (0 = Sunday) of a day since 1970-01-01,
// a Thursday.
func calWeekday(days int64) int {
	return int((days%7 + 11) % 7)
}

// calDaysIn returns the length of month m of year y.
func calDaysIn(y, m int) int {
	switch m {
	case 2:
		if y%4 == 0 && (y%100 != 0 || y%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}
