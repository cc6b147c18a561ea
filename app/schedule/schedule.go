package schedule

import (
	"sort"
	"time"
)

// Override puts Member on call from From until To, whatever the rotations
// say.
type Override struct {
	Member   string
	From, To time.Time
}

// Kind says why someone is on call.
type Kind uint8

// Why someone is on call, in order of precedence.
const (
	ByFallback Kind = iota // nothing else covers the moment: the config's oncall_user
	ByRotation
	ByOverride
)

func (k Kind) String() string {
	switch k {
	case ByOverride:
		return "override"
	case ByRotation:
		return "rotation"
	}
	return "fallback"
}

// Source names what put someone on call: an override or a rotation (by
// index), or the fallback.
type Source struct {
	Kind  Kind
	Index int // into Overrides or Rotations
	// Shift is the rotation's shift number (0 is the first after Start).
	Shift int64
}

// Schedule is a team's rotations and overrides in one zone. Build it with
// New; it is read-only afterwards and safe for concurrent use.
type Schedule struct {
	loc       *time.Location
	z         *zone
	rotations []Rotation
	overrides []Override // by From
	from, to  []int64    // overrides' bounds in Unix seconds, for search
	fallback  string
}

// New builds a schedule. Overrides may come in any order; ones that overlap
// (which config validation refuses) are decided by the latest start.
// fallback is who is on call when nothing covers a moment ("" for nobody).
func New(loc *time.Location, rotations []Rotation, overrides []Override, fallback string) *Schedule {
	if loc == nil {
		loc = time.UTC
	}
	s := &Schedule{loc: loc, z: newZone(loc), rotations: append([]Rotation(nil), rotations...), fallback: fallback}
	s.overrides = make([]Override, 0, len(overrides))
	for _, o := range overrides {
		if o.To.After(o.From) {
			s.overrides = append(s.overrides, o)
		}
	}
	sort.SliceStable(s.overrides, func(i, j int) bool { return s.overrides[i].From.Before(s.overrides[j].From) })
	s.from = make([]int64, len(s.overrides))
	s.to = make([]int64, len(s.overrides))
	for i, o := range s.overrides {
		s.from[i], s.to[i] = o.From.Unix(), o.To.Unix()
	}
	return s
}

// Location is the schedule's zone.
func (s *Schedule) Location() *time.Location { return s.loc }

// Rotations and Overrides are the schedule's parts (overrides sorted by
// start); shared, do not modify.
func (s *Schedule) Rotations() []Rotation { return s.rotations }

// Overrides: see Rotations.
func (s *Schedule) Overrides() []Override { return s.overrides }

// Fallback is who is on call when nothing else covers a moment.
func (s *Schedule) Fallback() string { return s.fallback }

// Who is on call at t, and why. "" means nobody (no fallback).
func (s *Schedule) Who(t time.Time) (string, Source) {
	return s.who(t.Unix())
}

func (s *Schedule) who(u int64) (string, Source) {
	// The last override starting at or before u.
	i := sort.Search(len(s.from), func(i int) bool { return s.from[i] > u }) - 1
	if i >= 0 && u < s.to[i] {
		return s.overrides[i].Member, Source{Kind: ByOverride, Index: i}
	}
	for ri := range s.rotations {
		if m, k, ok := s.rotations[ri].at(u, s.z); ok {
			return m, Source{Kind: ByRotation, Index: ri, Shift: k}
		}
	}
	return s.fallback, Source{Kind: ByFallback}
}

// NextBoundary is the first instant after t at which who is on call may
// change (a shift or window edge, an override's start or end), and false
// when nothing ever changes again.
func (s *Schedule) NextBoundary(t time.Time) (time.Time, bool) {
	b := s.nextBoundary(t.Unix())
	if b == 0 {
		return time.Time{}, false
	}
	return time.Unix(b, 0).In(s.loc), true
}

func (s *Schedule) nextBoundary(u int64) int64 {
	var next int64
	take := func(b int64) {
		if b > u && (next == 0 || b < next) {
			next = b
		}
	}
	// Starts are sorted; ends are too when overrides do not overlap, and
	// for overlapping ones a scan of the few that contain u is enough.
	if i := sort.Search(len(s.from), func(i int) bool { return s.from[i] > u }); i < len(s.from) {
		take(s.from[i])
	}
	if i := sort.Search(len(s.to), func(i int) bool { return s.to[i] > u }); i < len(s.to) {
		take(s.to[i])
		for j := i; j < len(s.from) && s.from[j] <= u; j++ {
			take(s.to[j])
		}
	}
	for ri := range s.rotations {
		take(s.rotations[ri].nextBoundary(u, s.z))
	}
	return next
}

// Shift is a stretch of time with one person on call. End is zero when
// nothing changes before the horizon the shift was computed to.
type Shift struct {
	Member     string
	Start, End time.Time
	Source     Source
}

// maxSteps bounds the boundaries examined for one answer: a schedule whose
// edges change nothing (a window under a long override) cannot spin.
const maxSteps = 10000

// Shifts lists who is on call from t on: the shift running at t (starting
// at t) and those after it, up to n shifts or until the horizon until,
// whichever comes first. Consecutive stretches of the same person merge.
func (s *Schedule) Shifts(t time.Time, n int, until time.Time) []Shift {
	return s.shifts(t.Unix(), n, until.Unix(), nil)
}

// ShiftsOf lists member's shifts from t (the one running at t clipped to
// start at t), up to n of them or until the horizon.
func (s *Schedule) ShiftsOf(member string, t time.Time, n int, until time.Time) []Shift {
	var out []Shift
	u, end := t.Unix(), until.Unix()
	for len(out) < n && u < end {
		// Batches end where the person changes, so none of member's shifts
		// is cut in two.
		batch := s.shifts(u, 16, end, nil)
		for _, sh := range batch {
			if sh.Member == member && len(out) < n {
				out = append(out, sh)
			}
		}
		last := batch[len(batch)-1]
		if last.End.IsZero() {
			break
		}
		u = last.End.Unix()
	}
	return out
}

func (s *Schedule) shifts(u int64, n int, until int64, out []Shift) []Shift {
	if n <= 0 || u >= until {
		return out
	}
	m, src := s.who(u)
	start := u
	for step := 0; step < maxSteps; step++ {
		b := s.nextBoundary(u)
		if b == 0 || b >= until {
			break
		}
		u = b
		nm, nsrc := s.who(u)
		if nm == m {
			continue
		}
		out = append(out, Shift{Member: m, Start: s.at(start), End: s.at(u), Source: src})
		if len(out) == n {
			return out
		}
		m, src, start = nm, nsrc, u
	}
	return append(out, Shift{Member: m, Start: s.at(start), Source: src})
}

func (s *Schedule) at(u int64) time.Time { return time.Unix(u, 0).In(s.loc) }

// Current is the shift running at t: who, since when (looking back at most
// lookback) and until when (looking ahead at most horizon), and who comes
// next ("" with a zero End when nothing changes within horizon).
func (s *Schedule) Current(t time.Time, horizon time.Duration) (cur Shift, next string) {
	sh := s.shifts(t.Unix(), 2, t.Add(horizon).Unix(), make([]Shift, 0, 2))
	cur = sh[0]
	if len(sh) > 1 {
		next = sh[1].Member
	}
	return cur, next
}

// ShiftStart is when the shift running at t began: the last change of who
// is on call at or before t, however long ago (Shifts from a moment inside
// a shift can only say it runs since that moment). ok is false when nobody
// else was ever on call before, or when the change lies more than maxSteps
// boundaries back.
func (s *Schedule) ShiftStart(t time.Time) (time.Time, bool) {
	u := t.Unix()
	m, _ := s.who(u)
	for step := 0; step < maxSteps; step++ {
		b := s.prevBoundary(u)
		if b == 0 {
			break
		}
		if pm, _ := s.who(b - 1); pm != m {
			return s.at(b), true
		}
		u = b - 1
	}
	return time.Time{}, false
}

// prevBoundary is the last instant at or before u at which who is on call
// may change, or 0: who answers the same for every instant from it to u.
func (s *Schedule) prevBoundary(u int64) int64 {
	var prev int64
	take := func(b int64) {
		if b != 0 && b <= u && b > prev {
			prev = b
		}
	}
	// who reads the last override starting at or before u alone, so only
	// its start and, when it is over by u, its end matter.
	if i := sort.Search(len(s.from), func(i int) bool { return s.from[i] > u }) - 1; i >= 0 {
		take(s.from[i])
		take(s.to[i])
	}
	for ri := range s.rotations {
		take(s.rotations[ri].prevBoundary(u, s.z))
	}
	return prev
}
