package team

import (
	"errors"
	"slices"
	"testing"
	"time"
)

func TestHeartbeatsValid(t *testing.T) {
	data := edit(t, seedConfig(t), map[string]any{
		"api_keys": map[string]any{"cron": map[string]any{"sha256": HashAPIKey("k1")}},
		"heartbeats": map[string]any{
			"backup":   map[string]any{"every": "24h", "grace": "1h", "summary": "Nightly backup did not report", "api_key": "cron"},
			"watchdog": map[string]any{"every": jsonNum("300"), "summary": "Alertmanager watchdog silent"},
		},
	})
	c, err := Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	hb, ok := c.Heartbeat("backup")
	if !ok || hb.Deadline() != 25*time.Hour || hb.APIKey != "cron" {
		t.Fatalf("backup: %+v", hb)
	}
	if w, _ := c.Heartbeat("watchdog"); w.Deadline() != 5*time.Minute {
		t.Fatalf("watchdog deadline %s, want 5m (seconds as a number)", w.Deadline())
	}
}

func TestHeartbeatsEveryProblemWithItsPath(t *testing.T) {
	data := edit(t, seedConfig(t), map[string]any{
		"heartbeats": map[string]any{
			"-bad":    map[string]any{"every": "1h", "summary": "x"},
			"fast":    map[string]any{"every": "10s", "summary": "too fast"},
			"nobody":  map[string]any{"every": "1h", "summary": "keyless", "api_key": "nope"},
			"nosum":   map[string]any{"every": "1h"},
			"noevery": map[string]any{"summary": "when?"},
			"grace":   map[string]any{"every": "1h", "grace": "-1m", "summary": "negative"},
			"fancy":   map[string]any{"every": "1h", "summary": "Backup \u2014 late"},
			"typo":    map[string]any{"every": "1 hour", "summary": "x"},
		},
	})
	_, err := Parse(data)
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("want a ValidationError, got %v", err)
	}
	want := []string{
		`heartbeats.-bad`, // quoted or not, the name is reported
		"heartbeats.fancy.summary",
		"heartbeats.fast.every",
		"heartbeats.grace.grace",
		"heartbeats.nobody.api_key",
		"heartbeats.noevery.every",
		"heartbeats.nosum.summary",
		"heartbeats.typo.every",
	}
	got := problemPaths(ve.Problems)
	for _, w := range want {
		if !slices.ContainsFunc(got, func(p string) bool { return p == w || p == `heartbeats["`+w[len("heartbeats."):]+`"]` }) {
			t.Errorf("no problem at %s; got %q", w, got)
		}
	}
	if len(got) != len(want) {
		t.Errorf("%d problems, want %d: %v", len(got), len(want), ve.Problems)
	}
}
