package alertmanager_test

import (
	"testing"
	"time"

	"github.com/oncall/pager/app/alerts"
	"github.com/oncall/pager/app/intake/alertmanager"
	"github.com/oncall/pager/app/intake/intaketest"
)

func TestAlertmanagerGroup(t *testing.T) {
	evs, err := alertmanager.Parse(intaketest.Fixture(t, "alertmanager_firing.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 1 {
		t.Fatalf("got %d events, want one per group", len(evs))
	}
	ev := evs[0]
	if ev.Action != alerts.EventTrigger || ev.Severity != alerts.SeverityCritical || ev.Integration != alerts.IntegrationAlertmanager {
		t.Errorf("event = %+v", ev)
	}
	if ev.DedupKey != `alertmanager:{}/{severity="critical"}:{alertname="ProbeFailure"}` {
		t.Errorf("dedup key = %q", ev.DedupKey)
	}
	if ev.Summary != "[FIRING:2] ProbeFailure" {
		t.Errorf("summary = %q", ev.Summary)
	}
	if ev.Source != "alertmanager alertmanager.example.net:9093" {
		t.Errorf("source = %q", ev.Source)
	}
	if want := time.Date(2026, 3, 1, 11, 49, 30, 0, time.UTC); !ev.Timestamp.Equal(want) {
		t.Errorf("timestamp = %v, want earliest start %v", ev.Timestamp, want)
	}
	if ev.Details["firing"] != 2 {
		t.Errorf("details = %v", ev.Details)
	}

	res, err := alertmanager.Parse(intaketest.Fixture(t, "alertmanager_resolved.json"))
	if err != nil {
		t.Fatal(err)
	}
	if res[0].Action != alerts.EventResolve || res[0].DedupKey != ev.DedupKey {
		t.Errorf("resolved = %+v; want resolve of %q", res[0], ev.DedupKey)
	}
}

func TestAlertmanagerInvalid(t *testing.T) {
	tests := map[string]string{
		`{"version":"3","status":"firing","groupKey":"g","alerts":[{"status":"firing"}]}`:  "version 4",
		`{"version":"4","status":"pending","groupKey":"g","alerts":[{"status":"firing"}]}`: "'status'",
		`{"version":"4","status":"firing","groupKey":"g","alerts":[]}`:                     "'alerts' is missing",
		`{"version":"4","status":"firing","alerts":[{"status":"firing"}]}`:                 "'groupKey'",
		`{"version":4}`: "field",
		`nope`:          "invalid JSON",
	}
	for body, want := range tests {
		if _, err := alertmanager.Parse([]byte(body)); !intaketest.HasError(err, want) {
			t.Errorf("%s: err = %v, want %q", body, err, want)
		}
	}
}

// FuzzParse: no body makes Parse panic or break the parsers' contract.
func FuzzParse(f *testing.F) {
	intaketest.AddSeeds(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		evs, err := alertmanager.Parse(body)
		intaketest.CheckParsed(t, evs, err)
	})
}
