package intaketest

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/oncall/pager/app/alerts"
	"github.com/oncall/pager/app/intake"
)

// Fixture reads testdata/name of the package under test.
func Fixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// HasError reports whether err is an *intake.ValidationError with a
// problem containing substr.
func HasError(err error, substr string) bool {
	var ve *intake.ValidationError
	if !errors.As(err, &ve) {
		return false
	}
	for _, e := range ve.Errors {
		if strings.Contains(e, substr) {
			return true
		}
	}
	return false
}

// AddSeeds adds every dialect's fixtures to f (run from a dialect's
// folder), so each parser is fuzzed from the others' bodies too.
func AddSeeds(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("..", "*", "testdata", "*.json"))
	if len(files) == 0 {
		f.Fatal("no intake fixtures found")
	}
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"routing_key":"k","event_action":"trigger","payload":{"summary":"s","source":"h","severity":"info","custom_details":[1,2]}}`))
	f.Add([]byte(`null`))
}

// CheckParsed fails t unless a parser kept its contract: either events
// the alert domain can use or a non-empty *intake.ValidationError the HTTP
// layer can answer with 400.
func CheckParsed(t *testing.T, evs []alerts.Event, err error) {
	t.Helper()
	if err != nil {
		var ve *intake.ValidationError
		if !errors.As(err, &ve) || len(ve.Errors) == 0 {
			t.Fatalf("error %v is not a non-empty *ValidationError", err)
		}
		return
	}
	if len(evs) == 0 {
		t.Fatal("no error and no events")
	}
	for _, ev := range evs {
		if !ev.Action.Valid() {
			t.Fatalf("action %q", ev.Action)
		}
		if ev.DedupKey == "" {
			t.Fatal("empty dedup key")
		}
		if ev.Action == alerts.EventTrigger && ev.Summary == "" {
			t.Fatal("trigger without summary")
		}
		if len(ev.Summary) > intake.MaxSummaryLength {
			t.Fatalf("summary of %d bytes", len(ev.Summary))
		}
	}
}
