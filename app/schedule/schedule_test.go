package schedule

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

func mustLoc(t testing.TB, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

func mustCivil(t testing.TB, s string) Civil {
	t.Helper()
	c, err := ParseCivil(s)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func mustLength(t testing.TB, s string) Length {
	t.Helper()
	l, err := ParseLength(s)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func mustTime(t testing.TB, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestHandOversAcrossDST checks, minute by minute, that the person on call
// changes exactly at the expected instants (written by hand with their UTC
// offsets) in four zones across both of each year's transitions, and that
// NextBoundary announces the same instants.
func TestHandOversAcrossDST(t *testing.T) {
	members := []string{"alice", "bob", "carol"}
	cases := []struct {
		name, zone, start, shift string
		want                     []string // hand-overs in order, the first at or after start
	}{
		{"weekly Monday 09:00, spring", "America/New_York", "2026-03-02T09:00", "1w",
			[]string{"2026-03-02T09:00:00-05:00", "2026-03-09T09:00:00-04:00", "2026-03-16T09:00:00-04:00"}},
		{"weekly Monday 09:00, autumn", "America/New_York", "2026-10-26T09:00", "1w",
			[]string{"2026-10-26T09:00:00-04:00", "2026-11-02T09:00:00-05:00", "2026-11-09T09:00:00-05:00"}},
		{"12h 09:00/21:00, spring", "America/New_York", "2026-03-07T09:00", "12h",
			[]string{"2026-03-07T09:00:00-05:00", "2026-03-07T21:00:00-05:00", "2026-03-08T09:00:00-04:00", "2026-03-08T21:00:00-04:00"}},
		{"12h 09:00/21:00, autumn", "America/New_York", "2026-10-31T09:00", "12h",
			[]string{"2026-10-31T09:00:00-04:00", "2026-10-31T21:00:00-04:00", "2026-11-01T09:00:00-05:00", "2026-11-01T21:00:00-05:00"}},
		{"daily 02:30, inside the spring gap", "America/New_York", "2026-03-07T02:30", "1d",
			[]string{"2026-03-07T02:30:00-05:00", "2026-03-08T03:30:00-04:00", "2026-03-09T02:30:00-04:00"}},
		{"daily 01:30, inside the repeated hour", "America/New_York", "2026-10-31T01:30", "1d",
			[]string{"2026-10-31T01:30:00-04:00", "2026-11-01T01:30:00-04:00", "2026-11-02T01:30:00-05:00"}},

		{"weekly Monday 09:00, spring", "Europe/London", "2026-03-23T09:00", "1w",
			[]string{"2026-03-23T09:00:00Z", "2026-03-30T09:00:00+01:00", "2026-04-06T09:00:00+01:00"}},
		{"weekly Monday 09:00, autumn", "Europe/London", "2026-10-19T09:00", "1w",
			[]string{"2026-10-19T09:00:00+01:00", "2026-10-26T09:00:00Z", "2026-11-02T09:00:00Z"}},
		{"daily 01:30, inside the spring gap", "Europe/London", "2026-03-28T01:30", "1d",
			[]string{"2026-03-28T01:30:00Z", "2026-03-29T02:30:00+01:00", "2026-03-30T01:30:00+01:00"}},
		{"daily 01:30, inside the repeated hour", "Europe/London", "2026-10-24T01:30", "1d",
			[]string{"2026-10-24T01:30:00+01:00", "2026-10-25T01:30:00+01:00", "2026-10-26T01:30:00Z"}},
		{"8h shifts, autumn", "Europe/London", "2026-10-24T17:00", "8h",
			[]string{"2026-10-24T17:00:00+01:00", "2026-10-25T01:00:00+01:00", "2026-10-25T09:00:00Z", "2026-10-25T17:00:00Z"}},

		{"weekly Monday 09:00, autumn (April)", "Australia/Lord_Howe", "2026-03-30T09:00", "1w",
			[]string{"2026-03-30T09:00:00+11:00", "2026-04-06T09:00:00+10:30", "2026-04-13T09:00:00+10:30"}},
		{"weekly Monday 09:00, spring (October)", "Australia/Lord_Howe", "2026-09-28T09:00", "1w",
			[]string{"2026-09-28T09:00:00+10:30", "2026-10-05T09:00:00+11:00", "2026-10-12T09:00:00+11:00"}},
		{"daily 02:15, inside the 30-minute gap", "Australia/Lord_Howe", "2026-10-03T02:15", "1d",
			[]string{"2026-10-03T02:15:00+10:30", "2026-10-04T02:45:00+11:00", "2026-10-05T02:15:00+11:00"}},
		{"daily 01:45, inside the repeated half hour", "Australia/Lord_Howe", "2026-04-04T01:45", "1d",
			[]string{"2026-04-04T01:45:00+11:00", "2026-04-05T01:45:00+11:00", "2026-04-06T01:45:00+10:30"}},

		{"weekly Monday 09:00, no DST (March)", "Asia/Kolkata", "2026-03-02T09:00", "1w",
			[]string{"2026-03-02T09:00:00+05:30", "2026-03-09T09:00:00+05:30", "2026-03-16T09:00:00+05:30"}},
		{"daily 02:30, no DST (November)", "Asia/Kolkata", "2026-10-31T02:30", "1d",
			[]string{"2026-10-31T02:30:00+05:30", "2026-11-01T02:30:00+05:30", "2026-11-02T02:30:00+05:30"}},
	}
	for _, tc := range cases {
		t.Run(tc.zone+"/"+tc.name, func(t *testing.T) {
			loc := mustLoc(t, tc.zone)
			s := New(loc, []Rotation{{Name: "primary", Members: members, Start: mustCivil(t, tc.start), Shift: mustLength(t, tc.shift)}}, nil, "fallback")
			var want []time.Time
			for _, w := range tc.want {
				want = append(want, mustTime(t, w))
			}
			from, to := want[0].Add(-2*time.Hour), want[len(want)-1].Add(2*time.Hour)

			// Minute by minute: who changes, when, and to whom.
			var got []string
			prev, _ := s.Who(from)
			if prev != "fallback" {
				t.Fatalf("before the rotation starts: %q, want the fallback", prev)
			}
			for m := from.Add(time.Minute); !m.After(to); m = m.Add(time.Minute) {
				cur, _ := s.Who(m)
				if cur != prev {
					got = append(got, fmt.Sprintf("%s %s->%s", m.In(loc).Format(time.RFC3339), prev, cur))
				}
				prev = cur
			}
			var exp []string
			before := "fallback"
			for i, w := range want {
				after := members[i%len(members)]
				exp = append(exp, fmt.Sprintf("%s %s->%s", w.In(loc).Format(time.RFC3339), before, after))
				before = after
			}
			if strings.Join(got, "\n") != strings.Join(exp, "\n") {
				t.Errorf("hand-overs seen minute by minute:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(exp, "\n"))
			}
			// To the second: the outgoing person holds the pager until the
			// boundary, the incoming one from it.
			for i, w := range want {
				if who, _ := s.Who(w.Add(-time.Second)); i > 0 && who != members[(i-1)%3] {
					t.Errorf("a second before %s: %s", w, who)
				}
				if who, src := s.Who(w); who != members[i%3] || src.Kind != ByRotation || src.Shift != int64(i) {
					t.Errorf("at %s: %s %+v", w, who, src)
				}
			}
			// When each hand-over fires.
			var fires []time.Time
			for b, ok := s.NextBoundary(from); ok && !b.After(to); b, ok = s.NextBoundary(b) {
				fires = append(fires, b)
			}
			if len(fires) != len(want) {
				t.Fatalf("NextBoundary fired %v, want %v", fires, want)
			}
			for i := range fires {
				if !fires[i].Equal(want[i]) {
					t.Errorf("boundary %d at %s, want %s", i, fires[i], want[i])
				}
			}
		})
	}
}

// TestShiftLengthAcrossDST: the README says a weekly shift over the spring
// change lasts 167 hours and one over the autumn change 169.
func TestShiftLengthAcrossDST(t *testing.T) {
	loc := mustLoc(t, "America/New_York")
	s := New(loc, []Rotation{{Members: []string{"a", "b"}, Start: mustCivil(t, "2026-03-02T09:00"), Shift: mustLength(t, "1w")}}, nil, "")
	sh := s.Shifts(mustTime(t, "2026-03-02T14:00:00Z"), 1, mustTime(t, "2026-04-01T00:00:00Z"))
	if got := sh[0].End.Sub(sh[0].Start); got != 167*time.Hour {
		t.Errorf("spring week lasts %s", got)
	}
	sh = s.Shifts(mustTime(t, "2026-10-26T13:00:00Z"), 1, mustTime(t, "2026-12-01T00:00:00Z"))
	if got := sh[0].End.Sub(sh[0].Start); got != 169*time.Hour {
		t.Errorf("autumn week lasts %s", got)
	}
}

func fmtShifts(sh []Shift) string {
	var b strings.Builder
	for _, s := range sh {
		end := "open"
		if !s.End.IsZero() {
			end = s.End.Format("Mon 02 15:04 -0700")
		}
		fmt.Fprintf(&b, "%s %s..%s %s\n", s.Member, s.Start.Format("Mon 02 15:04 -0700"), end, s.Source.Kind)
	}
	return b.String()
}

// TestFollowTheSunWithOverride: a weekday daytime rotation ahead of a
// weekly one, an override on top, across London's spring change. The daily
// rotation counts weekend days too (the window only hides them), so Monday
// goes to bob after Friday's alice.
func TestFollowTheSunWithOverride(t *testing.T) {
	loc := mustLoc(t, "Europe/London")
	days, err := ParseDays([]string{"weekdays"})
	if err != nil {
		t.Fatal(err)
	}
	day := Rotation{Name: "day", Members: []string{"alice", "bob"}, Start: mustCivil(t, "2026-03-23T09:00"), Shift: mustLength(t, "1d"),
		Window: &Window{Days: days, From: 9 * 60, To: 21 * 60}}
	night := Rotation{Name: "night", Members: []string{"carol", "dave"}, Start: mustCivil(t, "2026-03-23T09:00"), Shift: mustLength(t, "1w")}
	ov := Override{Member: "erin", From: mustTime(t, "2026-03-26T12:00:00Z"), To: mustTime(t, "2026-03-27T10:00:00Z")}
	s := New(loc, []Rotation{day, night}, []Override{ov}, "ops")

	got := fmtShifts(s.Shifts(mustTime(t, "2026-03-26T08:00:00Z"), 10, mustTime(t, "2026-04-01T00:00:00Z")))
	want := `carol Thu 26 08:00 +0000..Thu 26 09:00 +0000 rotation
bob Thu 26 09:00 +0000..Thu 26 12:00 +0000 rotation
erin Thu 26 12:00 +0000..Fri 27 10:00 +0000 override
alice Fri 27 10:00 +0000..Fri 27 21:00 +0000 rotation
carol Fri 27 21:00 +0000..Mon 30 09:00 +0100 rotation
bob Mon 30 09:00 +0100..Mon 30 21:00 +0100 rotation
dave Mon 30 21:00 +0100..Tue 31 09:00 +0100 rotation
alice Tue 31 09:00 +0100..Tue 31 21:00 +0100 rotation
dave Tue 31 21:00 +0100..open rotation
`
	if got != want {
		t.Errorf("shifts:\n%s\nwant:\n%s", got, want)
	}
	mine := fmtShifts(s.ShiftsOf("carol", mustTime(t, "2026-03-26T08:00:00Z"), 5, mustTime(t, "2026-04-15T00:00:00Z")))
	if !strings.HasPrefix(mine, "carol Thu 26 08:00 +0000..Thu 26 09:00 +0000 rotation\ncarol Fri 27 21:00 +0000..Mon 30 09:00 +0100 rotation\ncarol Mon 06 21:00") {
		t.Errorf("carol's shifts:\n%s", mine)
	}
	if n := strings.Count(mine, "\n"); n != 5 {
		t.Errorf("carol's shifts: %d, want 5:\n%s", n, mine)
	}
	cur, next := s.Current(mustTime(t, "2026-03-26T12:30:00Z"), 30*24*time.Hour)
	if cur.Member != "erin" || !cur.End.Equal(mustTime(t, "2026-03-27T10:00:00Z")) || next != "alice" {
		t.Errorf("current %+v next %s", cur, next)
	}
}

// TestOvernightWindow: 21:00 to 09:00 belongs to the evening it starts on.
func TestOvernightWindow(t *testing.T) {
	loc := mustLoc(t, "Asia/Kolkata")
	days, _ := ParseDays([]string{"fri"})
	r := Rotation{Members: []string{"nina"}, Start: mustCivil(t, "2026-01-01T00:00"), Shift: mustLength(t, "1w"),
		Window: &Window{Days: days, From: 21 * 60, To: 9 * 60}}
	s := New(loc, []Rotation{r}, nil, "")
	for _, c := range []struct {
		at, who string
	}{
		{"2026-03-06T20:59:00+05:30", ""}, {"2026-03-06T21:00:00+05:30", "nina"},
		{"2026-03-07T08:59:00+05:30", "nina"}, {"2026-03-07T09:00:00+05:30", ""},
		{"2026-03-07T21:00:00+05:30", ""},
	} {
		if got, _ := s.Who(mustTime(t, c.at)); got != c.who {
			t.Errorf("at %s: %q, want %q", c.at, got, c.who)
		}
	}
	// The rotation's own boundary (Thursday 00:00) may change nothing; the
	// next change is the window opening again.
	cur, next := s.Current(mustTime(t, "2026-03-07T10:00:00+05:30"), 30*24*time.Hour)
	if !cur.End.Equal(mustTime(t, "2026-03-13T21:00:00+05:30")) || next != "nina" {
		t.Errorf("next window opens %s (%q)", cur.End, next)
	}
}

func TestOverridesPrecedence(t *testing.T) {
	loc := time.UTC
	r := Rotation{Members: []string{"a", "b"}, Start: mustCivil(t, "2026-01-05T00:00"), Shift: mustLength(t, "1d")}
	o1 := Override{Member: "x", From: mustTime(t, "2026-01-06T10:00:00Z"), To: mustTime(t, "2026-01-06T12:00:00Z")}
	o0 := Override{Member: "y", From: mustTime(t, "2026-01-05T10:00:00Z"), To: mustTime(t, "2026-01-05T11:00:00Z")}
	s := New(loc, []Rotation{r}, []Override{o1, o0}, "f")
	for _, c := range []struct{ at, who string }{
		{"2026-01-04T23:59:59Z", "f"}, {"2026-01-05T00:00:00Z", "a"}, {"2026-01-05T10:00:00Z", "y"},
		{"2026-01-05T11:00:00Z", "a"}, {"2026-01-06T09:59:59Z", "b"}, {"2026-01-06T10:00:00Z", "x"},
		{"2026-01-06T11:59:59Z", "x"}, {"2026-01-06T12:00:00Z", "b"},
	} {
		if got, _ := s.Who(mustTime(t, c.at)); got != c.who {
			t.Errorf("at %s: %q, want %q", c.at, got, c.who)
		}
	}
	// An override of the person already on call changes nothing visible.
	s2 := New(loc, []Rotation{r}, []Override{{Member: "a", From: mustTime(t, "2026-01-05T10:00:00Z"), To: mustTime(t, "2026-01-05T11:00:00Z")}}, "f")
	sh := s2.Shifts(mustTime(t, "2026-01-05T00:00:00Z"), 2, mustTime(t, "2026-01-10T00:00:00Z"))
	if len(sh) != 2 || !sh[0].End.Equal(mustTime(t, "2026-01-06T00:00:00Z")) {
		t.Errorf("merged shifts: %s", fmtShifts(sh))
	}
}

func TestNothingChanges(t *testing.T) {
	s := New(time.UTC, nil, nil, "solo")
	if _, ok := s.NextBoundary(time.Unix(0, 0)); ok {
		t.Error("a schedule without parts has a boundary")
	}
	sh := s.Shifts(time.Unix(0, 0), 5, time.Unix(1e9, 0))
	if len(sh) != 1 || sh[0].Member != "solo" || !sh[0].End.IsZero() {
		t.Errorf("%+v", sh)
	}
}

func TestParse(t *testing.T) {
	for _, s := range []string{"0h", "h", "1x", "-1d", "1.5h", "600w"} {
		if _, err := ParseLength(s); err == nil {
			t.Errorf("ParseLength(%q) accepted", s)
		}
	}
	for _, s := range []string{"9:00", "25:00", "24:01", "12:60", "ab:cd"} {
		if _, err := ParseClock(s); err == nil {
			t.Errorf("ParseClock(%q) accepted", s)
		}
	}
	if c, err := ParseClock("24:00"); err != nil || c != 1440 {
		t.Errorf("24:00: %v %v", c, err)
	}
	if _, err := ParseDays([]string{"mon", "funday"}); err == nil || !strings.Contains(err.Error(), "funday") {
		t.Errorf("bad day: %v", err)
	}
	d, err := ParseDays([]string{"Saturday", "sun"})
	if err != nil || !d[time.Saturday] || !d[time.Sunday] || d[time.Monday] {
		t.Errorf("days %v %v", d, err)
	}
	if _, err := ParseCivil("2026-02-30T09:00"); err == nil {
		t.Error("Feb 30 accepted")
	}
	for _, s := range []string{"2026-11-30T09:00:30.5", "2026-11-30T09:00:60", "2026-11-30T09", "2026-11-30T09:00Z"} {
		if _, err := ParseCivil(s); err == nil {
			t.Errorf("ParseCivil(%q) accepted", s)
		}
	}
	for s, want := range map[string]Civil{
		"2026-11-30T09:00":    CivilOf(2026, 11, 30, 9, 0),
		"2026-11-30 09:00:00": CivilOf(2026, 11, 30, 9, 0),
		"2026-11-30T09:00:30": CivilOf(2026, 11, 30, 9, 0) + 30,
	} {
		c, err := ParseCivil(s)
		if err != nil || c != want {
			t.Errorf("ParseCivil(%q) = %v, %v; want %v", s, c, err, want)
		}
		if back, err := ParseCivil(c.String()); err != nil || back != c {
			t.Errorf("%q: String %q reads back as %v, %v", s, c.String(), back, err)
		}
	}
	c := CivilOf(2026, 12, 31, 23, 30)
	if got := c.AddDays(7 * 9); got != CivilOf(2027, 3, 4, 23, 30) {
		t.Errorf("AddDays: %v", got)
	}
	for _, tc := range []struct {
		from Civil
		want int
	}{
		{CivilOf(2026, 12, 31, 23, 30), 0},
		{CivilOf(2026, 12, 31, 23, 31), -1},
		{CivilOf(2026, 12, 24, 23, 30), 7},
		{CivilOf(2026, 12, 24, 23, 31), 6},
	} {
		if got := c.DaysSince(tc.from); got != tc.want {
			t.Errorf("DaysSince(%v) = %d, want %d", tc.from, got, tc.want)
		}
	}
}

// TestZoneTable: the offset table agrees with time.Location everywhere,
// inside the table's years and outside.
func TestZoneTable(t *testing.T) {
	for _, name := range []string{"America/New_York", "Europe/London", "Australia/Lord_Howe", "Asia/Kolkata", "UTC", "America/Sao_Paulo"} {
		loc := mustLoc(t, name)
		z := newZone(loc)
		from := time.Date(1960, 1, 1, 0, 0, 0, 0, time.UTC).Unix()
		until := time.Date(2130, 1, 1, 0, 0, 0, 0, time.UTC).Unix()
		// Every 4h49m49s: a wrong period lasts months, and the DST tables
		// check the transitions to the second.
		for u := from; u < until; u += 17389 {
			_, want := time.Unix(u, 0).In(loc).Zone()
			if got := z.offset(u); got != int64(want) {
				t.Fatalf("%s at %s: offset %d, want %d", name, time.Unix(u, 0).UTC(), got, want)
			}
		}
	}
}

// TestShiftStartMatchesShifts: walking back from t finds the start that
// walking forward from well before t finds, minute by minute across DST
// changes, windows (one past midnight), overlapping overrides and shifts
// that merge.
func TestShiftStartMatchesShifts(t *testing.T) {
	loc := mustLoc(t, "America/New_York")
	wd, _ := ParseDays([]string{"weekdays"})
	fri, _ := ParseDays([]string{"fri", "sun"})
	rots := []Rotation{
		{Name: "day", Members: []string{"a", "b", "a"}, Start: mustCivil(t, "2026-02-02T09:00"), Shift: mustLength(t, "1d"), Window: &Window{Days: wd, From: 9 * 60, To: 17 * 60}},
		{Name: "night", Members: []string{"n"}, Start: mustCivil(t, "2026-02-06T21:00"), Shift: mustLength(t, "1w"), Window: &Window{Days: fri, From: 21 * 60, To: 2*60 + 30}},
		{Name: "weekly", Members: []string{"c", "d", "c"}, Start: mustCivil(t, "2026-02-02T09:00"), Shift: mustLength(t, "1w")},
	}
	at := func(s string) time.Time { return mustTime(t, s) }
	ovs := []Override{
		{Member: "x", From: at("2026-03-03T10:00:00Z"), To: at("2026-03-05T10:00:00Z")},
		{Member: "y", From: at("2026-03-04T10:00:00Z"), To: at("2026-03-04T12:00:00Z")}, // inside x's: x's end no longer counts
		{Member: "c", From: at("2026-03-07T00:00:00Z"), To: at("2026-03-12T00:00:00Z")},
		{Member: "x", From: at("2026-03-12T00:00:00Z"), To: at("2026-03-12T05:00:00Z")},
	}
	s := New(loc, rots, ovs, "f")
	var found int
	for u := at("2026-02-01T00:00:00Z"); u.Before(at("2026-03-20T00:00:00Z")); u = u.Add(7 * time.Minute) {
		from := u.Add(-10 * 24 * time.Hour)
		sh := s.Shifts(from, 1<<30, u.Add(time.Second))
		want := sh[len(sh)-1].Start
		got, ok := s.ShiftStart(u)
		if len(sh) == 1 {
			if ok && got.After(from) {
				t.Fatalf("at %s: start %s, but nothing changes since %s", u, got, from)
			}
			continue
		}
		found++
		if !ok || !got.Equal(want) {
			t.Fatalf("at %s (%s): start %s %v, want %s", u.In(loc), sh[len(sh)-1].Member, got.In(loc), ok, want.In(loc))
		}
	}
	if found < 9000 {
		t.Errorf("only %d instants checked", found)
	}

	// Nobody else before: the rotation's start is no change when the
	// fallback is its member.
	solo := New(loc, []Rotation{{Members: []string{"f"}, Start: mustCivil(t, "2026-01-01T00:00"), Shift: mustLength(t, "1w")}}, nil, "f")
	if got, ok := solo.ShiftStart(at("2026-06-01T00:00:00Z")); ok {
		t.Errorf("solo rotation starts %s", got)
	}
	// A shift running for years: the real start, not a window's edge.
	long := New(loc, []Rotation{{Members: []string{"g"}, Start: mustCivil(t, "2020-01-06T09:00"), Shift: mustLength(t, "1w")}}, nil, "f")
	if got, ok := long.ShiftStart(at("2026-06-01T00:00:00Z")); !ok || !got.Equal(at("2020-01-06T14:00:00Z")) {
		t.Errorf("long shift starts %s %v", got, ok)
	}
}
