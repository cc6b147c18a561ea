package grafana_test

import (
	"testing"

	"github.com/oncall/pager/app/alerts"
	"github.com/oncall/pager/app/intake/grafana"
	"github.com/oncall/pager/app/intake/intaketest"
)

func TestGrafana(t *testing.T) {
	evs, err := grafana.Parse(intaketest.Fixture(t, "grafana_firing.json"))
	if err != nil {
		t.Fatal(err)
	}
	ev := evs[0]
	if ev.Action != alerts.EventTrigger || ev.Integration != alerts.IntegrationGrafana ||
		ev.DedupKey != `grafana:1:{}:{alertname="High memory usage"}` ||
		ev.Summary != "High memory usage in zone eu-1" || ev.Severity != alerts.SeverityError {
		t.Errorf("event = %+v", ev)
	}
	hasSilence := false
	for _, l := range ev.Links {
		hasSilence = hasSilence || l.Text == "silence"
	}
	if !hasSilence {
		t.Errorf("links %v lack the silence URL", ev.Links)
	}
	res, err := grafana.Parse(intaketest.Fixture(t, "grafana_resolved.json"))
	if err != nil {
		t.Fatal(err)
	}
	if res[0].Action != alerts.EventResolve || res[0].DedupKey != ev.DedupKey {
		t.Errorf("resolved = %+v", res[0])
	}
}

// FuzzParse: no body makes Parse panic or break the parsers' contract.
func FuzzParse(f *testing.F) {
	intaketest.AddSeeds(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		evs, err := grafana.Parse(body)
		intaketest.CheckParsed(t, evs, err)
	})
}
