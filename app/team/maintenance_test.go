package team

import (
	"errors"
	"slices"
	"testing"
	"time"
)

func TestWeeklyWindowKeepsLocalTimeAcrossDST(t *testing.T) {
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	// Tuesdays 09:00-10:00 New York time; DST ends on Sunday 1 Nov 2026.
	w := MaintenanceWindow{Start: "2026-10-27T09:00", Duration: Duration(time.Hour), Repeat: RepeatWeekly, Scope: WindowScope{All: true}}
	for _, tc := range []struct {
		at     string
		on     bool
		starts string
	}{
		{"2026-10-27T13:00:00Z", true, "2026-10-27T13:00:00Z"}, // 09:00 EDT
		{"2026-10-27T14:00:00Z", false, ""},                    // 10:00 EDT: ended
		{"2026-11-03T13:30:00Z", false, ""},                    // 08:30 EST: would be on had it kept UTC
		{"2026-11-03T14:00:00Z", true, "2026-11-03T14:00:00Z"}, // 09:00 EST
		{"2026-11-03T14:59:59Z", true, "2026-11-03T14:00:00Z"}, // 09:59:59 EST
		{"2026-11-03T15:00:00Z", false, ""},                    // 10:00 EST
		{"2027-03-16T13:00:00Z", true, "2027-03-16T13:00:00Z"}, // back on EDT in March
		{"2026-10-20T13:30:00Z", false, ""},                    // before the first
		{"2026-10-28T13:30:00Z", false, ""},                    // a Wednesday
	} {
		at, _ := time.Parse(time.RFC3339, tc.at)
		s, e, on := w.At(at, ny)
		if on != tc.on {
			t.Errorf("%s: on=%v, want %v", tc.at, on, tc.on)
			continue
		}
		if on {
			if got := s.UTC().Format(time.RFC3339); got != tc.starts {
				t.Errorf("%s: occurrence starts %s, want %s", tc.at, got, tc.starts)
			}
			if ls := s.In(ny); ls.Hour() != 9 || ls.Minute() != 0 || e.Sub(s) != time.Hour {
				t.Errorf("%s: occurrence %s-%s is not 09:00-10:00 local", tc.at, s.In(ny), e.In(ny))
			}
		}
	}
}

func TestWindowScopeAndMaintenance(t *testing.T) {
	data := edit(t, seedConfig(t), map[string]any{
		"api_keys": map[string]any{
			"monitoring": map[string]any{"sha256": HashAPIKey("k1")},
			"hooks":      map[string]any{"sha256": HashAPIKey("k2")},
		},
		"maintenance_windows": map[string]any{
			"db":   map[string]any{"start": "2026-12-05T22:00:00Z", "end": "2026-12-06T02:00:00Z", "scope": map[string]any{"keys": []any{"monitoring"}, "dedup_prefixes": []any{"db-"}}},
			"long": map[string]any{"start": "2026-12-05T23:00:00Z", "duration": "5h", "scope": map[string]any{"dedup_prefixes": []any{"db-"}}},
		},
	})
	c, err := Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 12, 6, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		route, dedup, want string
		until              time.Time
	}{
		{"key:monitoring", "x", "db", time.Date(2026, 12, 6, 2, 0, 0, 0, time.UTC)},
		{"key:hooks", "x", "", time.Time{}},
		{"key:hooks", "db-disk", "long", time.Date(2026, 12, 6, 4, 0, 0, 0, time.UTC)}, // both match: the later end
		{"event:disk", "web-1", "", time.Time{}},
	} {
		name, until, ok := c.Maintenance(tc.route, tc.dedup, at)
		if name != tc.want || ok != (tc.want != "") || !until.Equal(tc.until) {
			t.Errorf("%s %s: %q until %s, want %q until %s", tc.route, tc.dedup, name, until, tc.want, tc.until)
		}
	}
	if _, _, ok := c.Maintenance("key:monitoring", "x", at.Add(3*time.Hour)); ok {
		t.Error("db window still holds after its end")
	}
}

func TestWindowProblems(t *testing.T) {
	data := edit(t, seedConfig(t), map[string]any{
		"maintenance_windows": map[string]any{
			"a": map[string]any{"start": "tomorrow", "duration": "1h", "scope": map[string]any{"all": true}},
			"b": map[string]any{"start": "2026-12-05T22:00", "end": "2026-12-05T21:00", "scope": map[string]any{"all": true}},
			"c": map[string]any{"start": "2026-12-05T22:00", "duration": "1h", "scope": map[string]any{}},
			"d": map[string]any{"start": "2026-12-05T22:00", "duration": "200h", "repeat": "weekly", "scope": map[string]any{"all": true}},
			"e": map[string]any{"start": "2026-12-05T22:00", "scope": map[string]any{"all": true}},
			"f": map[string]any{"start": "2026-12-05T22:00", "duration": "1h", "repeat": "daily", "scope": map[string]any{"all": true}},
		},
	})
	_, err := Parse(data)
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("want problems, got %v", err)
	}
	want := []string{
		"maintenance_windows.a.start", "maintenance_windows.b.end", "maintenance_windows.c.scope",
		"maintenance_windows.d.duration", "maintenance_windows.e.end", "maintenance_windows.f.repeat",
	}
	got := problemPaths(ve.Problems)
	if len(got) != len(want) {
		t.Fatalf("problems %v, want at %v", ve.Problems, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("problem %d at %s, want %s", i, got[i], want[i])
		}
	}
}

// TestWindowAndOverrideReadTimesAlike: a maintenance window and an override
// in the same config read the same text as the same instant, on the nights
// the clocks go back (02:30 happens twice) and forward (it never happens),
// weekly occurrences included, and accept and refuse the same texts.
func TestWindowAndOverrideReadTimesAlike(t *testing.T) {
	for _, tc := range []struct{ text, weeklyFrom string }{
		{"2026-10-25T02:30", "2026-10-18T02:30"}, // Paris: 02:30 CEST, then 02:30 CET
		{"2026-03-29T02:30", "2026-03-22T02:30"}, // Paris: 02:00 jumps to 03:00
		{"2026-12-05T22:00", ""},
		{"2026-12-05 22:00", ""},
		{" 2026-12-05T22:00 ", ""},
		{"2026-12-05T22:00:30", ""},
		{"2026-12-05T22:00:00Z", ""},
		{"2026-12-05T22:00:00+01:00", ""},
		{"2026-12-05T22:00Z", ""},
		{"2026-12-05T22:00:00.5", ""},
		{"2026-02-30T09:00", ""},
		{"2026-12-05T22", ""},
		{"tomorrow", ""},
	} {
		windows := map[string]any{
			"w": map[string]any{"start": tc.text, "end": "2026-12-31T00:00:00Z", "scope": map[string]any{"all": true}},
		}
		if tc.weeklyFrom != "" {
			windows["weekly"] = map[string]any{"start": tc.weeklyFrom, "duration": "1h", "repeat": "weekly", "scope": map[string]any{"all": true}}
		}
		sec := scheduleSection(t, `{"overrides": [{"member": "bob", "from": "`+tc.text+`", "to": "2026-12-31T00:00:00Z"}]}`)
		sec["current_config.timezone"] = "Europe/Paris"
		sec["maintenance_windows"] = windows
		c, err := Parse(edit(t, seedConfig(t), sec))
		var ve *ValidationError
		if errors.As(err, &ve) {
			paths := problemPaths(ve.Problems)
			if !slices.Equal(paths, []string{"maintenance_windows.w.start", "schedule.overrides[0].from"}) {
				t.Errorf("%q: refused at %v, want both the window's start and the override's from", tc.text, paths)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%q: %v", tc.text, err)
		}
		s, _ := c.OnCallSchedule()
		from := s.Overrides()[0].From
		if got := windowStarts(c, from); got["w"] != from.Unix() || (tc.weeklyFrom != "" && got["weekly"] != from.Unix()) {
			t.Errorf("%q: override from %s; windows on then start at %v", tc.text, from.UTC(), got)
		}
		if got := windowStarts(c, from.Add(-time.Second)); len(got) != 0 {
			t.Errorf("%q: override from %s; windows already on a second before: %v", tc.text, from.UTC(), got)
		}
	}
}

func windowStarts(c *Config, at time.Time) map[string]int64 {
	out := map[string]int64{}
	for _, aw := range c.ActiveWindows(at) {
		out[aw.Name] = aw.Start.Unix()
	}
	return out
}
