package summary

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/oncall/pager/app/alerts"
	"github.com/oncall/pager/app/heartbeat"
	"github.com/oncall/pager/app/team"
)

func TestTextFitsTwoGSM7Segments(t *testing.T) {
	f := Facts{Loc: time.UTC, FiredCount: 40, Unacked: 20, NextName: "Bob Roberts", NextAt: time.Date(2026, 12, 8, 9, 0, 0, 0, time.UTC)}
	for i := range 20 {
		f.Open = append(f.Open, alerts.Alert{Code: fmt.Sprint(i + 1), State: alerts.StateTriggered,
			Summary: "Disk \u2014 \u201cfull\u201d on db" + strings.Repeat("x", 80)})
	}
	f.Fired = f.Open[:5]
	f.Heartbeats = []heartbeat.Status{{Name: "backup", State: heartbeat.StateLate}}
	f.Windows = []team.ActiveWindow{{Name: "db-upgrade", End: time.Date(2026, 12, 6, 2, 0, 0, 0, time.UTC)}}
	got := Text(f)
	if len(got) > 2*153 || !team.PlainText(got) {
		t.Fatalf("%d chars, plain %v: %q", len(got), team.PlainText(got), got)
	}
	for _, want := range []string{"Daily summary: 20 open alerts (20 unacked).", "Last 24h: 40 fired.", "Next on call: Bob Roberts from Tue 09:00.", "Heartbeats late: backup.", "Quiet: db-upgrade until Sun 02:00.", "Open [1] Disk - ?full? on db"} {
		if !strings.Contains(got, want) {
			t.Errorf("%q lacks %q", got, want)
		}
	}
	if quiet := Text(Facts{Loc: time.UTC}); quiet != "Daily summary: 0 open alerts (0 unacked). Last 24h: 0 fired." {
		t.Errorf("quiet day: %q", quiet)
	}
}

func TestNextKeepsLocalTimeAcrossDST(t *testing.T) {
	ny, _ := time.LoadLocation("America/New_York")
	d := team.DailySummary{At: "08:30"}
	// Saturday 31 Oct 2026 09:00 EDT: the next is Sunday 1 Nov 08:30 EST.
	from := time.Date(2026, 10, 31, 9, 0, 0, 0, ny)
	next, err := d.Next(from, ny)
	if err != nil {
		t.Fatal(err)
	}
	if got := next.UTC().Format(time.RFC3339); got != "2026-11-01T13:30:00Z" {
		t.Fatalf("next %s, want 08:30 EST = 13:30Z", got)
	}
}
