package team

import (
	"os"
	"strings"
	"testing"
)

// TestREADMEConfigExamplesValidate parses every JSON block the README marks
// with <!-- validated-config -->, so the documented examples keep working.
func TestREADMEConfigExamplesValidate(t *testing.T) {
	data, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := strings.Split(string(data), "<!-- validated-config -->")[1:]
	if len(blocks) == 0 {
		t.Fatal("README has no <!-- validated-config --> example")
	}
	for i, b := range blocks {
		_, rest, ok := strings.Cut(b, "```json\n")
		body, _, closed := strings.Cut(rest, "```")
		if !ok || !closed {
			t.Fatalf("example %d: no ```json block after the marker", i+1)
		}
		cfg, err := Parse([]byte(body))
		if err != nil {
			t.Fatalf("example %d does not validate: %v", i+1, err)
		}
		for _, w := range Warnings(cfg) {
			t.Errorf("example %d: warning %s", i+1, w)
		}
		if len(cfg.Heartbeats) == 0 || len(cfg.MaintenanceWindows) == 0 || cfg.DailySummary == nil {
			t.Errorf("example %d: want heartbeats, maintenance windows and a daily summary", i+1)
		}
	}
}
