package domain

import (
	"fmt"
	"strings"
)

// cronDays holds the parsed day-of-month and day-of-week fields, before
// they are folded into a table of day masks.
type cronDays struct {
	dom        uint64 // days of month, bits 1-31
	domLast    bool   // L: the last day of the month
	domLastWD  bool   // LW: the last weekday (Mon-Fri) of the month
	domNearest uint64 // nW: the weekday nearest day n, bits 1-31
	domStar    bool   // the field starts with * (or is ?)

	dow     uint64   // days of week, bits 0-6 (0 = Sunday)
	dowLast uint8    // nL: the last such weekday of the month, bits 0-6
	dowNth  [7]uint8 // n#k: the k-th such weekday of the month, bit k (1-5)
	dowStar bool     // the field starts with * (or is ?)
}

// parseDOM parses the day-of-month field.
func (d *cronDays) parseDOM(text string) string {
	d.domStar = text == "?" || strings.HasPrefix(text, "*")
	if text == "?" {
		d.dom = (1<<32 - 1) &^ 1
		return ""
	}
	for item := range strings.SplitSeq(text, ",") {
		u := strings.ToUpper(item)
		switch {
		case u == "L":
			d.domLast = true
		case u == "LW":
			d.domLastWD = true
		case u == "W":
			return "day-of-month: W needs a day, e.g. 15W"
		case strings.HasPrefix(u, "L"):
			return fmt.Sprintf("day-of-month: %q not supported (only L and LW)", item)
		case strings.HasSuffix(u, "W"):
			n, reason := parseCronValue(fieldDOM, u[:len(u)-1])
			if reason != "" {
				return reason
			}
			d.domNearest |= 1 << uint(n)
		default:
			bits, reason := parseCronBits(fieldDOM, item)
			if reason != "" {
				return reason
			}
			d.dom |= bits
		}
	}
	return ""
}

// parseDOW parses the day-of-week field.
func (d *cronDays) parseDOW(text string) string {
	d.dowStar = text == "?" || strings.HasPrefix(text, "*")
	if text == "?" {
		d.dow = 1<<7 - 1
		return ""
	}
	for item := range strings.SplitSeq(text, ",") {
		u := strings.ToUpper(item)
		switch {
		case u == "L":
			return "day-of-week: L needs a day, e.g. 5L for the last Friday"
		case strings.Contains(u, "#"):
			day, nth, _ := strings.Cut(u, "#")
			v, reason := parseCronValue(fieldDOW, day)
			if reason != "" {
				return reason
			}
			k, ok := parseCronDigits(nth)
			if !ok || k < 1 || k > 5 {
				return fmt.Sprintf("day-of-week: %q: the number after # must be 1-5", item)
			}
			d.dowNth[v%7] |= 1 << uint(k)
		case len(u) > 1 && strings.HasSuffix(u, "L"):
			v, reason := parseCronValue(fieldDOW, u[:len(u)-1])
			if reason != "" {
				return reason
			}
			d.dowLast |= 1 << uint(v%7)
		default:
			bits, reason := parseCronBits(fieldDOW, item)
			if reason != "" {
				return reason
			}
			d.dow |= bits
		}
	}
	return ""
}

// table folds both day fields into masks of matching days, indexed by the
// weekday of the month's first day and the month's length minus 28.
func (d *cronDays) table() (t [7][4]uint32) {
	for w1 := range 7 {
		for dim := 28; dim <= 31; dim++ {
			var mask uint32
			for day := 1; day <= dim; day++ {
				if d.matches(day, dim, w1) {
					mask |= 1 << uint(day)
				}
			}
			t[w1][dim-28] = mask
		}
	}
	return t
}

// matches reports whether day of a month of dim days whose first day is
// weekday w1 matches. Vixie's rule: when either day field starts with *
// both must match, otherwise either may.
func (d *cronDays) matches(day, dim, w1 int) bool {
	wd := (w1 + day - 1) % 7
	domOK := d.dom&(1<<uint(day)) != 0 ||
		d.domLast && day == dim ||
		d.domLastWD && day == calLastWeekday(dim, w1) ||
		d.nearestMatch(day, dim, w1)
	dowOK := d.dow&(1<<uint(wd)) != 0 ||
		d.dowNth[wd]&(1<<uint((day-1)/7+1)) != 0 ||
		d.dowLast&(1<<uint(wd)) != 0 && day+7 > dim
	if d.domStar || d.dowStar {
		return domOK && dowOK
	}
	return domOK || dowOK
}

// nearestMatch reports whether day is the weekday nearest one of the nW
// days, without leaving the month. A day n the month lacks matches nothing.
func (d *cronDays) nearestMatch(day, dim, w1 int) bool {
	if d.domNearest == 0 {
		return false
	}
	for n := 1; n <= dim; n++ {
		if d.domNearest&(1<<uint(n)) == 0 {
			continue
		}
		target := n
		switch (w1 + n - 1) % 7 {
		case 6: // Saturday: the Friday before, or Monday the 3rd
			target = n - 1
			if n == 1 {
				target = 3
			}
		case 0: // Sunday: the Monday after, or the Friday before the end
			target = n + 1
			if n == dim {
				target = n - 2
			}
		}
		if target == day {
			return true
		}
	}
	return false
}

// calLastWeekday returns the last Monday-Friday of a month of dim days
// whose first day is weekday w1.
func calLastWeekday(dim, w1 int) int {
	switch (w1 + dim - 1) % 7 {
	case 6:
		return dim - 1
	case 0:
		return dim - 2
	}
	return dim
}
