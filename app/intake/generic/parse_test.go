package generic_test

import (
	"testing"

	"github.com/oncall/pager/app/alerts"
	"github.com/oncall/pager/app/intake/generic"
	"github.com/oncall/pager/app/intake/intaketest"
)

func TestGeneric(t *testing.T) {
	ev, err := generic.Parse(intaketest.Fixture(t, "generic_trigger.json"))
	if err != nil {
		t.Fatal(err)
	}
	if ev.Action != alerts.EventTrigger || ev.DedupKey != "cert-shop" || ev.Severity != alerts.SeverityWarning ||
		ev.Source != "cert-checker" || ev.Details["issuer"] != "Example CA" || len(ev.Links) != 1 {
		t.Errorf("event = %+v", ev)
	}
	min, err := generic.Parse([]byte(`{"summary":"it broke"}`))
	if err != nil {
		t.Fatal(err)
	}
	if min.Action != alerts.EventTrigger || min.Severity != alerts.SeverityCritical || min.DedupKey == "" || min.Source != "generic" {
		t.Errorf("defaults = %+v", min)
	}
	ack, err := generic.Parse([]byte(`{"action":"ack","dedup_key":"cert-shop"}`))
	if err != nil || ack.Action != alerts.EventAcknowledge {
		t.Errorf("ack = %+v, %v", ack, err)
	}
	for body, want := range map[string]string{
		`{}`:                             "'summary' is missing",
		`{"summary":"x","action":"zap"}`: "'action'",
		`{"action":"resolve"}`:           "'dedup_key' is required",
		`{"summary":"x","severity":"z"}`: "'severity' is invalid",
		`{"summary":5}`:                  "'summary' must be a string",
	} {
		if _, err := generic.Parse([]byte(body)); !intaketest.HasError(err, want) {
			t.Errorf("%s: err = %v, want %q", body, err, want)
		}
	}
}

// FuzzParse: no body makes Parse panic or break the parsers' contract.
func FuzzParse(f *testing.F) {
	intaketest.AddSeeds(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		ev, err := generic.Parse(body)
		intaketest.CheckParsed(t, []alerts.Event{ev}, err)
	})
}
