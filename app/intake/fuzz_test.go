package intake_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/oncall/pager/app/alerts"
	"github.com/oncall/pager/app/intake"
)

// FuzzParse feeds arbitrary bodies to every parser: none may panic, and each
// either returns events the alert domain can use or a *ValidationError the
// HTTP layer can answer with 400.
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "*.json"))
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"routing_key":"k","event_action":"trigger","payload":{"summary":"s","source":"h","severity":"info","custom_details":[1,2]}}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, body []byte) {
		check := func(name string, evs []alerts.Event, err error) {
			if err != nil {
				var ve *intake.ValidationError
				if !errors.As(err, &ve) || len(ve.Errors) == 0 {
					t.Fatalf("%s: error %v is not a non-empty *ValidationError", name, err)
				}
				return
			}
			if len(evs) == 0 {
				t.Fatalf("%s: no error and no events", name)
			}
			for _, ev := range evs {
				if !ev.Action.Valid() {
					t.Fatalf("%s: action %q", name, ev.Action)
				}
				if ev.DedupKey == "" {
					t.Fatalf("%s: empty dedup key", name)
				}
				if ev.Action == alerts.EventTrigger && ev.Summary == "" {
					t.Fatalf("%s: trigger without summary", name)
				}
				if len(ev.Summary) > intake.MaxSummaryLength {
					t.Fatalf("%s: summary of %d bytes", name, len(ev.Summary))
				}
			}
		}
		ev, err := intake.ParsePagerDuty(body, intake.PagerDutyOptions{})
		check("pagerduty", []alerts.Event{ev}, err)
		ev, err = intake.ParseGeneric(body)
		check("generic", []alerts.Event{ev}, err)
		evs, err := intake.ParseAlertmanager(body, intake.WebhookOptions{})
		check("alertmanager", evs, err)
		evs, err = intake.ParseGrafana(body, intake.WebhookOptions{PerAlert: true})
		check("grafana", evs, err)
	})
}
