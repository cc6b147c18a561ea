package schedule

import (
	"fmt"
	"strings"
	"time"
)

// Civil is a wall-clock date and time with no zone ("Monday 09:00"), counted
// in seconds since 1970-01-01 00:00 on that wall clock. Adding days to it is
// plain arithmetic; only Resolve, with a zone, turns it into an instant.
type Civil int64

const (
	secPerMin  = 60
	secPerHour = 3600
	secPerDay  = 86400
)

// CivilOf builds a wall-clock date-time.
func CivilOf(year int, month time.Month, day, hour, minute int) Civil {
	return Civil(time.Date(year, month, day, hour, minute, 0, 0, time.UTC).Unix())
}

// civilLayout is how config files write a local date-time; seconds are
// optional (civilLayoutSec).
const (
	civilLayout    = "2006-01-02T15:04"
	civilLayoutSec = "2006-01-02T15:04:05"
)

// ParseCivil reads "2026-11-30T09:00" or "2026-11-30T09:00:30" (a space
// instead of T is accepted).
func ParseCivil(s string) (Civil, error) {
	v := strings.Replace(strings.TrimSpace(s), " ", "T", 1)
	t, err := time.Parse(civilLayout, v)
	if err != nil {
		t, err = time.Parse(civilLayoutSec, v)
	}
	// time.Parse takes a fraction after the seconds unasked; a Civil would
	// drop it silently.
	if err != nil || t.Nanosecond() != 0 {
		return 0, fmt.Errorf("%q is not a local date and time like 2026-11-30T09:00", s)
	}
	return Civil(t.Unix()), nil
}

// String writes the layout ParseCivil reads.
func (c Civil) String() string {
	t := time.Unix(int64(c), 0).UTC()
	if t.Second() != 0 {
		return t.Format(civilLayoutSec)
	}
	return t.Format(civilLayout)
}

// AddDays is c n calendar days later (earlier if n < 0), at the same
// wall-clock time.
func (c Civil) AddDays(n int) Civil { return c + Civil(n)*secPerDay }

// DaysSince is the number of whole days from d to c, rounded down.
func (c Civil) DaysSince(d Civil) int { return int(floorDiv(int64(c-d), secPerDay)) }

// CivilAt is the wall-clock reading of t in loc.
func CivilAt(t time.Time, loc *time.Location) Civil {
	return Civil(civilSec(t.Unix(), &zone{loc: loc}))
}

// Resolve is the instant the wall clock in loc shows c. A reading that
// happens twice (clocks going back) is its first occurrence; one that never
// happens (clocks going forward) is moved forward by the gap, so 02:30 on a
// night the clocks jump from 02:00 to 03:00 is 03:30.
func (c Civil) Resolve(loc *time.Location) time.Time {
	return time.Unix(resolve(int64(c), &zone{loc: loc}), 0).In(loc)
}

// zone answers "what is the UTC offset at u" from a table of the zone's
// periods, built once per schedule, which is several times quicker than
// asking time.Location each time (the answer is needed for every boundary
// computed). Outside the table it asks loc.
type zone struct {
	loc        *time.Location
	starts     []int64 // period starts, ascending; starts[0] is tableFrom
	offs       []int64
	tableUntil int64
}

// The table covers 1990 to 2099 (Unix seconds of 1 January 1990 and
// 2100, UTC); schedules live well inside those years.
const (
	tableFrom  = 631152000
	tableUntil = 4102444800
)

func newZone(loc *time.Location) *zone {
	z := &zone{loc: loc, tableUntil: tableUntil}
	for u := int64(tableFrom); u < tableUntil; {
		t := time.Unix(u, 0).In(loc)
		_, off := t.Zone()
		_, end := t.ZoneBounds()
		if !end.IsZero() && end.Unix() <= u {
			// Where a zone's listed transitions give way to its rule,
			// ZoneBounds can report a period that has already ended; the
			// table stops there and loc answers beyond.
			z.tableUntil = u
			break
		}
		z.starts = append(z.starts, u)
		z.offs = append(z.offs, int64(off))
		if end.IsZero() {
			break // no change ever again
		}
		u = end.Unix()
	}
	return z
}

func (z *zone) offset(u int64) int64 {
	if n := len(z.starts); n > 0 && u >= z.starts[0] && u < z.tableUntil {
		// The last period starting at or before u.
		lo, hi := 0, n
		for hi-lo > 1 {
			m := int(uint(lo+hi) >> 1)
			if z.starts[m] <= u {
				lo = m
			} else {
				hi = m
			}
		}
		return z.offs[lo]
	}
	_, off := time.Unix(u, 0).In(z.loc).Zone()
	return int64(off)
}

func civilSec(u int64, z *zone) int64 { return u + z.offset(u) }

// resolve is Civil.Resolve in Unix seconds. The offsets in force a day
// either side of c cover every zone's transitions, which are never less
// than days apart.
func resolve(c int64, z *zone) int64 {
	o1 := z.offset(c - secPerDay)
	o2 := z.offset(c + secPerDay)
	t1, t2 := c-o1, c-o2
	if o1 == o2 {
		return t1
	}
	v1 := z.offset(t1) == o1
	v2 := z.offset(t2) == o2
	switch {
	case v1 && v2:
		return min(t1, t2)
	case v2:
		return t2
	default:
		// Valid, or in a gap: the offset from before the jump lands after it.
		return t1
	}
}

// Clock is a time of day in minutes after midnight, 0 to 1440 (24:00).
type Clock int

// ParseClock reads "09:00"; "24:00" is the end of the day.
func ParseClock(s string) (Clock, error) {
	var h, m int
	if n, err := fmt.Sscanf(strings.TrimSpace(s), "%d:%d", &h, &m); err != nil || n != 2 || len(strings.TrimSpace(s)) != 5 ||
		h < 0 || h > 24 || m < 0 || m > 59 || h == 24 && m != 0 {
		return 0, fmt.Errorf("%q is not a time of day like 09:00 (00:00 to 24:00)", s)
	}
	return Clock(h*60 + m), nil
}

func (c Clock) String() string { return fmt.Sprintf("%02d:%02d", int(c)/60, int(c)%60) }

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

// weekday of the civil day number d (day 0 was a Thursday).
func weekday(d int64) time.Weekday {
	return time.Weekday((d%7 + 7 + 4) % 7)
}

// ParseInstant reads a moment written either with its offset
// ("2026-12-02T09:00:00-05:00", RFC 3339) or as a local date-time in loc
// ("2026-12-02T09:00", see Civil.Resolve).
func ParseInstant(s string, loc *time.Location) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, strings.TrimSpace(s)); err == nil {
		return t.In(loc), nil
	}
	c, err := ParseCivil(s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is not a date and time like 2026-12-02T09:00 (local) or 2026-12-02T09:00:00-05:00", s)
	}
	return c.Resolve(loc), nil
}
