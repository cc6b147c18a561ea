package schedule

import (
	"fmt"
	"testing"
	"time"
)

// benchSchedule is the large team: 50 members, 5 rotations (two
// with daily windows), 200 overrides spread over the year.
func benchSchedule(b *testing.B) (*Schedule, time.Time) {
	loc := mustLoc(b, "America/New_York")
	members := make([]string, 50)
	for i := range members {
		members[i] = fmt.Sprintf("user%02d", i)
	}
	wd, _ := ParseDays([]string{"weekdays"})
	we, _ := ParseDays([]string{"weekends"})
	rots := []Rotation{
		{Name: "day", Members: members[0:10], Start: mustCivil(b, "2026-01-05T09:00"), Shift: mustLength(b, "1d"), Window: &Window{Days: wd, From: 9 * 60, To: 17 * 60}},
		{Name: "evening", Members: members[10:20], Start: mustCivil(b, "2026-01-05T17:00"), Shift: mustLength(b, "1w"), Window: &Window{Days: wd, From: 17 * 60, To: 9 * 60}},
		{Name: "weekend", Members: members[20:30], Start: mustCivil(b, "2026-01-03T09:00"), Shift: mustLength(b, "12h"), Window: &Window{Days: we, From: 0, To: 24 * 60}},
		{Name: "secondary", Members: members[30:40], Start: mustCivil(b, "2026-01-05T09:00"), Shift: mustLength(b, "2w")},
		{Name: "backstop", Members: members[40:50], Start: mustCivil(b, "2026-01-05T09:00"), Shift: mustLength(b, "4w")},
	}
	var ovs []Override
	base := mustTime(b, "2026-01-01T00:00:00Z")
	for i := range 200 {
		from := base.Add(time.Duration(i) * 43 * time.Hour)
		ovs = append(ovs, Override{Member: members[(i*7)%50], From: from, To: from.Add(5 * time.Hour)})
	}
	return New(loc, rots, ovs, members[0]), mustTime(b, "2026-06-10T15:04:05Z")
}

func BenchmarkNow(b *testing.B) {
	s, now := benchSchedule(b)
	b.ReportAllocs()
	for b.Loop() {
		if m, _ := s.Who(now); m == "" {
			b.Fatal("nobody")
		}
	}
}

func BenchmarkNext5Shifts(b *testing.B) {
	s, now := benchSchedule(b)
	until := now.Add(60 * 24 * time.Hour)
	b.ReportAllocs()
	for b.Loop() {
		if sh := s.Shifts(now, 6, until); len(sh) != 6 {
			b.Fatal(len(sh))
		}
	}
}

// BenchmarkWhoReply is what WHO needs: the current shift's end and who
// comes next.
func BenchmarkWhoReply(b *testing.B) {
	s, now := benchSchedule(b)
	b.ReportAllocs()
	for b.Loop() {
		s.Current(now, 30*24*time.Hour)
	}
}
