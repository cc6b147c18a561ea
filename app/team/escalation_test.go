package team

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/oncall/pager/app/alerts"
)

func withEscalation(section string) []byte {
	return []byte(strings.Replace(alertingConfig, `"groups": {`, `"escalation": `+section+`,
  "groups": {`, 1))
}

func TestEscalationSectionDecodes(t *testing.T) {
	cfg, err := Parse(withEscalation(`{"steps": [{"targets": ["oncall"], "delay": "2m"},
	  {"targets": ["group:ops", "user:alice"], "delay": 600}], "repeat": 1,
	  "throttle": {"max_pages": 5, "window": "30m"}}`))
	if err != nil {
		t.Fatal(err)
	}
	s := cfg.EscalationSettings()
	if len(s.Steps) != 2 || s.Steps[0].Delay != 2*time.Minute || s.Steps[1].Delay != 10*time.Minute ||
		s.Steps[1].Targets[0] != alerts.GroupTarget("ops") || s.Repeat != 1 ||
		s.Throttle.MaxPages != 5 || s.Throttle.Window != 30*time.Minute {
		t.Fatalf("settings = %+v", s)
	}
	if w := Warnings(cfg); len(w) != 0 {
		t.Fatalf("warnings = %v", w)
	}
}

func TestEscalationAbsentIsDefault(t *testing.T) {
	cfg, err := Parse([]byte(alertingConfig))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(cfg.EscalationSettings().Steps), len(alerts.DefaultPolicy().Steps); got != want {
		t.Fatalf("default steps = %d, want %d", got, want)
	}
}

func TestEscalationProblemsHavePaths(t *testing.T) {
	_, err := Parse(withEscalation(`{"steps": [{"targets": ["oncall", "nobody"], "delay": "10s"},
	  {"targets": ["everyone"]}], "repeat": 12}`))
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("err = %v, want a ValidationError", err)
	}
	want := []string{"escalation.steps[0].targets[1]", "escalation.steps[0].delay", "escalation.steps[1].delay", "escalation.repeat"}
	for _, w := range want {
		found := false
		for _, p := range ve.Problems {
			found = found || p.Path == w
		}
		if !found {
			t.Errorf("no problem at %s in %v", w, ve.Problems)
		}
	}
}

func TestEscalationWarnsAboutUnknownTargets(t *testing.T) {
	cfg, err := Parse(withEscalation(`{"steps": [{"targets": ["user:zed", "group:nope"], "delay": "5m"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	w := Warnings(cfg)
	if len(w) != 2 || w[0].Path != "escalation.steps[0].targets[0]" || w[1].Path != "escalation.steps[0].targets[1]" {
		t.Fatalf("warnings = %v", w)
	}
}
