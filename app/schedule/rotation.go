package schedule

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Unit is what a shift length counts.
type Unit byte

// Shift length units.
const (
	Hours Unit = 'h'
	Days  Unit = 'd'
	Weeks Unit = 'w'
)

// Length is a shift length on the wall clock: a weekly shift that starts on
// Monday 09:00 ends on the next Monday 09:00 whatever the clocks did in
// between, so it lasts 167 or 169 hours across a daylight-saving change.
type Length struct {
	N    int
	Unit Unit
}

// MaxLength bounds a shift so that arithmetic on far-away dates stays exact.
const MaxLength = 520 * 7 * secPerDay // ten years

// ParseLength reads "12h", "1d", "2w".
func ParseLength(s string) (Length, error) {
	s = strings.TrimSpace(s)
	bad := fmt.Errorf("%q is not a shift length like 12h, 1d or 1w", s)
	if len(s) < 2 {
		return Length{}, bad
	}
	n, err := strconv.Atoi(s[:len(s)-1])
	if err != nil || n < 0 {
		return Length{}, bad
	}
	l := Length{N: n, Unit: Unit(s[len(s)-1])}
	switch l.Unit {
	case Hours, Days, Weeks:
	default:
		return Length{}, bad
	}
	if l.N == 0 {
		return Length{}, fmt.Errorf("%q is a zero-length shift", s)
	}
	if l.seconds() > MaxLength {
		return Length{}, fmt.Errorf("%q is longer than ten years", s)
	}
	return l, nil
}

func (l Length) String() string { return strconv.Itoa(l.N) + string(l.Unit) }

// seconds on the wall clock.
func (l Length) seconds() int64 {
	switch l.Unit {
	case Hours:
		return int64(l.N) * secPerHour
	case Days:
		return int64(l.N) * secPerDay
	case Weeks:
		return int64(l.N) * 7 * secPerDay
	}
	return 0
}

// Window limits a rotation to part of the day, on some days: From to To
// starting on each day in Days. To at or before From runs past midnight into
// the next day (21:00 to 09:00).
type Window struct {
	Days     [7]bool // by time.Weekday
	From, To Clock
}

// ParseDays reads day names ("mon", "Tuesday", "weekdays", "weekends",
// "all") into Window.Days.
func ParseDays(names []string) ([7]bool, error) {
	var d [7]bool
	var bad []string
	for _, n := range names {
		switch strings.ToLower(strings.TrimSpace(n)) {
		case "weekdays":
			for w := time.Monday; w <= time.Friday; w++ {
				d[w] = true
			}
		case "weekends":
			d[time.Saturday], d[time.Sunday] = true, true
		case "all", "daily":
			d = [7]bool{true, true, true, true, true, true, true}
		default:
			w, ok := dayName(n)
			if !ok {
				bad = append(bad, strconv.Quote(n))
				continue
			}
			d[w] = true
		}
	}
	if len(bad) > 0 {
		return d, fmt.Errorf("%s: not a day (mon, tue, ..., weekdays, weekends)", strings.Join(bad, ", "))
	}
	return d, nil
}

func dayName(s string) (time.Weekday, bool) {
	s = strings.ToLower(strings.TrimSpace(s))
	if len(s) < 3 {
		return 0, false
	}
	for w := time.Sunday; w <= time.Saturday; w++ {
		full := strings.ToLower(w.String())
		if strings.HasPrefix(full, s) {
			return w, true
		}
	}
	return 0, false
}

// Rotation hands the pager round Members in order, one Shift each, from
// Start (local time), optionally only inside Window.
type Rotation struct {
	Name    string
	Members []string
	Start   Civil
	Shift   Length
	Window  *Window
}

// span is the window's length in wall-clock seconds.
func (w *Window) span() int64 {
	s := int64(w.To-w.From) * secPerMin
	if s <= 0 {
		s += secPerDay
	}
	return s
}

// covers reports whether the window is open at instant u.
func (w *Window) covers(u int64, z *zone) bool {
	d := floorDiv(civilSec(u, z), secPerDay)
	// A window that opens on day d-1 may still be open (past midnight).
	for day := d - 1; day <= d; day++ {
		if !w.Days[weekday(day)] {
			continue
		}
		open := day*secPerDay + int64(w.From)*secPerMin
		if resolve(open, z) <= u && u < resolve(open+w.span(), z) {
			return true
		}
	}
	return false
}

// nextEdge is the first opening or closing of the window after u, or 0.
func (w *Window) nextEdge(u int64, z *zone) int64 {
	d := floorDiv(civilSec(u, z), secPerDay)
	for day := d - 1; day <= d+8; day++ {
		if !w.Days[weekday(day)] {
			continue
		}
		open := day*secPerDay + int64(w.From)*secPerMin
		if t := resolve(open, z); t > u {
			return t
		}
		if t := resolve(open+w.span(), z); t > u {
			return t
		}
	}
	return 0
}

// boundary is the instant shift k starts.
func (r *Rotation) boundary(k int64, z *zone) int64 {
	return resolve(int64(r.Start)+k*r.Shift.seconds(), z)
}

// shift is the index of the shift running at u, or -1 before Start.
func (r *Rotation) shift(u int64, z *zone) int64 {
	if u < r.boundary(0, z) {
		return -1
	}
	k := floorDiv(civilSec(u, z)-int64(r.Start), r.Shift.seconds())
	if k < 0 {
		k = 0
	}
	// The wall clock reading of u can be off by the DST jump; the
	// boundaries themselves decide.
	for k > 0 && r.boundary(k, z) > u {
		k--
	}
	for r.boundary(k+1, z) <= u {
		k++
	}
	return k
}

// member is who holds shift k.
func (r *Rotation) member(k int64) string {
	return r.Members[k%int64(len(r.Members))]
}

// at is who the rotation names at u, if anyone.
func (r *Rotation) at(u int64, z *zone) (string, int64, bool) {
	if len(r.Members) == 0 || r.Shift.seconds() <= 0 {
		return "", 0, false
	}
	if r.Window != nil && !r.Window.covers(u, z) {
		return "", 0, false
	}
	k := r.shift(u, z)
	if k < 0 {
		return "", 0, false
	}
	return r.member(k), k, true
}

// nextBoundary is the first instant after u at which the rotation's answer
// may change, or 0.
func (r *Rotation) nextBoundary(u int64, z *zone) int64 {
	if len(r.Members) == 0 || r.Shift.seconds() <= 0 {
		return 0
	}
	next := r.boundary(r.shift(u, z)+1, z)
	if r.Window != nil {
		if e := r.Window.nextEdge(u, z); e != 0 && e < next {
			next = e
		}
	}
	return next
}

// prevBoundary is the last instant at or before u at which the rotation's
// answer may change, or 0.
func (r *Rotation) prevBoundary(u int64, z *zone) int64 {
	if len(r.Members) == 0 || r.Shift.seconds() <= 0 {
		return 0
	}
	k := r.shift(u, z)
	if k < 0 {
		// Its window's edges before its start change nothing.
		return 0
	}
	prev := r.boundary(k, z)
	if r.Window != nil {
		prev = max(prev, r.Window.prevEdge(u, z))
	}
	return prev
}

// prevEdge is the last opening or closing of the window at or before u, or
// 0. A window closes before the next day's opening (it spans a day at
// most), so walking the days back, the first edge not after u is the last.
func (w *Window) prevEdge(u int64, z *zone) int64 {
	d := floorDiv(civilSec(u, z), secPerDay)
	for day := d + 1; day >= d-8; day-- {
		if !w.Days[weekday(day)] {
			continue
		}
		open := day*secPerDay + int64(w.From)*secPerMin
		if t := resolve(open+w.span(), z); t <= u {
			return t
		}
		if t := resolve(open, z); t <= u {
			return t
		}
	}
	return 0
}
