package team

import (
	"os"
	"strings"
	"testing"
	"time"
)

// TestREADMEScheduleExampleValidates keeps the README's complete schedule example
// valid, without warnings, and saying what the README says it does.
func TestREADMEScheduleExampleValidates(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, after, ok := strings.Cut(string(readme), "<!-- schedule example")
	if !ok {
		t.Fatal("README: schedule example marker not found")
	}
	_, block, ok := strings.Cut(after, "```json\n")
	if !ok {
		t.Fatal("README: no json block after the marker")
	}
	block, _, _ = strings.Cut(block, "```")
	cfg, err := Parse([]byte(block))
	if err != nil {
		t.Fatalf("README schedule example: %v", err)
	}
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	if w := append(Warnings(cfg), ScheduleWarnings(cfg, now)...); len(w) > 0 {
		t.Errorf("README schedule example has warnings: %v", w)
	}
	s, ok := cfg.OnCallSchedule()
	if !ok {
		t.Fatal("no schedule")
	}
	ny, _ := time.LoadLocation("America/New_York")
	for at, want := range map[string]string{
		"2026-12-01 10:00": "bob",   // business hours, day 1 of alice/bob
		"2026-12-01 20:00": "alice", // evening: the weekly rotation, alice's week
		"2026-12-07 20:00": "bob",   // bob's week
		"2026-12-25 12:00": "carol", // the override
	} {
		tm, _ := time.ParseInLocation("2006-01-02 15:04", at, ny)
		if got, _ := s.Who(tm); got != want {
			t.Errorf("README example at %s: %s, want %s", at, got, want)
		}
	}
}
