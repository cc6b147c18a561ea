package alerts_test

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/oncall/pager/app/alerts"
)

func TestSettingsJSON(t *testing.T) {
	in := `{
	  "steps": [{"targets": ["oncall"], "delay": "5m"},
	            {"targets": ["group:ops", "user:alice"], "delay": 600},
	            {"targets": ["everyone"]}],
	  "repeat": 2,
	  "throttle": {"max_pages": 4, "window": "15m"}
	}`
	var s alerts.Settings
	if err := json.Unmarshal([]byte(in), &s); err != nil {
		t.Fatal(err)
	}
	if len(s.Steps) != 3 || s.Steps[0].Delay != 5*time.Minute || s.Steps[1].Delay != 10*time.Minute ||
		!slices.Equal(s.Steps[1].Targets, []alerts.Target{"group:ops", "user:alice"}) || s.Repeat != 2 ||
		s.Throttle.MaxPages != 4 || s.Throttle.Window != 15*time.Minute {
		t.Fatalf("parsed %+v", s)
	}
	if probs := s.Validate(); len(probs) != 1 || !strings.Contains(probs[0], "steps[2].delay") {
		t.Errorf("problems = %v; want the last step's delay (the policy repeats)", probs)
	}
	out, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	var back alerts.Settings
	if err := json.Unmarshal(out, &back); err != nil {
		t.Fatal(err)
	}
	if back.Steps[1].Delay != 10*time.Minute || back.Throttle.Window != 15*time.Minute {
		t.Errorf("round trip %s → %+v", out, back)
	}
	if err := json.Unmarshal([]byte(`{"steps":[{"targets":["oncall"],"delay":"soon"}]}`), &s); err == nil {
		t.Error(`delay "soon" accepted`)
	}
}

func TestPolicyValidate(t *testing.T) {
	if probs := alerts.DefaultSettings().Validate(); len(probs) != 0 {
		t.Errorf("default settings invalid: %v", probs)
	}
	bad := alerts.Policy{
		Steps: []alerts.PolicyStep{
			{Targets: []alerts.Target{"oncall", "user:", "boss"}, Delay: time.Second},
			{},
		},
		Repeat: 10,
	}
	probs := strings.Join(bad.Validate(), "\n")
	for _, want := range []string{"repeat", `"user:"`, `"boss"`, "steps[0].delay", "steps[1].targets"} {
		if !strings.Contains(probs, want) {
			t.Errorf("problems lack %s:\n%s", want, probs)
		}
	}
	if probs := (alerts.Policy{}).Validate(); len(probs) == 0 {
		t.Error("empty policy valid")
	}
}
