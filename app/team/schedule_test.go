package team

import (
	"strings"
	"testing"
	"time"

	"github.com/oncall/pager/app/jsondoc"
)

func scheduleSection(t testing.TB, js string) map[string]any {
	t.Helper()
	doc, err := jsondoc.Parse([]byte(js))
	if err != nil {
		t.Fatal(err)
	}
	return map[string]any{"schedule": doc.Root(), "current_config.timezone": "America/New_York"}
}

func TestScheduleValid(t *testing.T) {
	data := edit(t, seedConfig(t), scheduleSection(t, `{
		"rotations": [
			{"name": "day", "members": ["alice", "bob"], "start": "2026-11-30T09:00", "shift": "1d",
			 "window": {"days": ["weekdays"], "from": "09:00", "to": "21:00"}, "color": "red"},
			{"name": "weekly", "members": ["bob", "alice"], "start": "2026-11-30T09:00", "shift": "1w"}
		],
		"overrides": [{"member": "bob", "from": "2026-12-02T09:00", "to": "2026-12-02T13:00:00-05:00"}],
		"reminder": "30m"
	}`))
	cfg, err := Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	s, ok := cfg.OnCallSchedule()
	if !ok || len(s.Rotations()) != 2 || len(s.Overrides()) != 1 || s.Fallback() != "alice" {
		t.Fatalf("compiled schedule %+v", s)
	}
	if who, _ := s.Who(time.Date(2026, 12, 2, 15, 0, 0, 0, time.UTC)); who != "bob" {
		t.Errorf("override at 10:00 New York: %s", who)
	}
	if cfg.ReminderBefore() != 30*time.Minute {
		t.Errorf("reminder %s", cfg.ReminderBefore())
	}
	// Unknown keys survive a write-back by the pager.
	doc, _ := jsondoc.Parse(data)
	if err := SetOnCall(doc, User{ID: "bob", Name: "Bob Roberts", Phone: "+19195551002"}, ScheduleActor, time.Unix(1e9, 0)); err != nil {
		t.Fatal(err)
	}
	out, _ := doc.Marshal()
	if !strings.Contains(string(out), `"color": "red"`) {
		t.Error("unknown rotation key lost")
	}
	// Both rotations cover every hour from the start: no gaps.
	if w := ScheduleWarnings(cfg, time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)); len(w) != 0 {
		t.Errorf("warnings %v", w)
	}
	// A config without the section has no schedule and no reminder.
	plain, err := Parse(seedConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := plain.OnCallSchedule(); ok || plain.ReminderBefore() != 0 {
		t.Error("schedule without a section")
	}
}

func TestScheduleProblemsWithPaths(t *testing.T) {
	data := edit(t, seedConfig(t), scheduleSection(t, `{
		"rotations": [
			{"name": "day", "members": ["alice", "zoe"], "start": "2026-11-30 9am", "shift": "0d",
			 "window": {"days": ["funday"], "from": "09:00", "to": "09:00"}},
			{"name": "day", "members": [], "start": "2026-11-30T09:00", "shift": "30m"}
		],
		"overrides": [
			{"member": "bob", "from": "2026-12-02T09:00", "to": "2026-12-03T09:00"},
			{"member": "ghost", "from": "2026-12-02T18:00", "to": "2026-12-02T20:00"},
			{"member": "alice", "from": "2026-12-05T09:00", "to": "2026-12-05T09:00"}
		],
		"reminder": "soon",
		"calendar_tokens": {"team": {"sha256": "abc"}, "zoe": {"sha256": "`+strings.Repeat("a", 64)+`", "user": "zoe"}}
	}`))
	_, err := Parse(data)
	ve, ok := err.(*ValidationError)
	if !ok {
		t.Fatalf("err %v", err)
	}
	got := strings.Join(problemPaths(ve.Problems), "\n")
	want := strings.Join([]string{
		"schedule.calendar_tokens.team.sha256",
		"schedule.calendar_tokens.zoe.user",
		"schedule.overrides[1]",
		"schedule.overrides[1].member",
		"schedule.overrides[2].to",
		"schedule.reminder",
		"schedule.rotations[0].members[1]",
		"schedule.rotations[0].shift",
		"schedule.rotations[0].start",
		"schedule.rotations[0].window.days",
		"schedule.rotations[0].window.to",
		"schedule.rotations[1].members",
		"schedule.rotations[1].name",
		"schedule.rotations[1].shift",
	}, "\n")
	if got != want {
		t.Errorf("problem paths:\n%s\nwant:\n%s\n(%v)", got, want, ve)
	}
	if !strings.Contains(ve.Error(), "zero-length") || !strings.Contains(ve.Error(), "overlaps overrides[0]") {
		t.Errorf("messages: %v", ve)
	}
}

func TestScheduleGapWarnings(t *testing.T) {
	data := edit(t, seedConfig(t), scheduleSection(t, `{
		"rotations": [{"members": ["alice", "bob"], "start": "2026-11-30T09:00", "shift": "1d",
			"window": {"days": ["weekdays"], "from": "09:00", "to": "17:00"}}]
	}`))
	cfg, err := Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	w := ScheduleWarnings(cfg, time.Date(2026, 12, 1, 14, 0, 0, 0, time.UTC)) // Tue 09:00 New York
	if len(w) != 11 || !strings.Contains(w[0].Message, "from Tue 1 Dec 2026 17:00 EST to Wed 2 Dec 2026 09:00 EST") ||
		!strings.Contains(w[10].Message, "more gaps") {
		t.Errorf("gap warnings: %d %v", len(w), w)
	}
}
