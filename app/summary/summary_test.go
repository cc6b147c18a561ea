package summary

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oncall/pager/app/alerts"
	"github.com/oncall/pager/app/heartbeat"
	"github.com/oncall/pager/app/jobs"
	"github.com/oncall/pager/app/jsondoc"
	"github.com/oncall/pager/app/outbound"
	"github.com/oncall/pager/app/team"
	"github.com/oncall/pager/internal/testclock"
	"github.com/oncall/pager/store/storetest"
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
	if n, enc := outbound.SegmentsOf(got); n > 2 || enc != outbound.GSM7 || !team.PlainText(got) {
		t.Fatalf("%d %s segments, plain %v: %q", n, enc, team.PlainText(got), got)
	}
	for _, want := range []string{"Daily summary: 20 open alerts (20 unacked).", "Last 24h: 40 fired.", "Next on call: Bob Roberts from Tue 09:00.", "Heartbeats late: backup.", "Quiet: db-upgrade until Sun 02:00.", "Open [1] Disk - ?full? on db"} {
		if !strings.Contains(got, want) {
			t.Errorf("%q lacks %q", got, want)
		}
	}
	// Brackets, braces, bars, tildes, carets and backslashes are GSM-7's
	// extension characters, two septets each: a text of them fills its
	// segments before its length says so.
	for i := range f.Open {
		f.Open[i].Summary = fmt.Sprintf("[db%d] {disk|/var} ~95%%^", i) // f.Fired's too
	}
	got = Text(f)
	if n, enc := outbound.SegmentsOf(got); n > 2 || enc != outbound.GSM7 || !team.PlainText(got) {
		t.Fatalf("with extension characters: %d %s segments, plain %v: %q", n, enc, team.PlainText(got), got)
	}
	if !strings.Contains(got, "Open [1] [db0] {disk|/var} ~95%^.") {
		t.Errorf("with extension characters: %q lacks the first open alert", got)
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

type staticConfig struct{ c *team.Config }

func (s staticConfig) Current() *team.Config { return s.c }

// quiet is a day without alerts.
type quiet struct{}

func (quiet) Open(context.Context) ([]alerts.Alert, error) { return nil, nil }
func (quiet) CreatedSince(context.Context, time.Time) ([]string, error) {
	return nil, nil
}
func (quiet) Get(context.Context, string) (alerts.Alert, error) {
	return alerts.Alert{}, alerts.ErrNotFound
}

// texts records the texts a Service asks for; the first fail ones fail
// after the text may have been queued (the store's answer lost).
type texts struct {
	mu   sync.Mutex
	ids  []string
	fail int
}

func (x *texts) Text(_ context.Context, id, _, _ string) error {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.ids = append(x.ids, id)
	if len(x.ids) <= x.fail {
		return errors.New("answer lost")
	}
	return nil
}

func (*texts) Email(context.Context, string, string) error { return nil }

// A text step that runs again names the same text, so the outbound path
// sends it once (though the facts, and so the body, may have changed).
func TestRetriedTextNamesTheSameText(t *testing.T) {
	doc, err := jsondoc.Parse(team.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	if err := doc.Set([]string{"daily_summary"}, map[string]any{"at": "12:10"}); err != nil {
		t.Fatal(err)
	}
	data, err := doc.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := team.Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	clk := testclock.New()
	q := jobs.New(storetest.NewMem(), jobs.Options{Now: clk.Now, Lease: time.Hour, Backoff: func(int) time.Duration { return time.Second }})
	sent := &texts{fail: 1}
	s := New(Options{Jobs: q, Alerts: quiet{}, Config: staticConfig{cfg}, Sender: sent, Now: clk.Now})
	ctx := context.Background()
	if err := s.Ensure(ctx); err != nil {
		t.Fatal(err)
	}
	run := func() {
		for range 4 {
			if err := q.RunOnce(ctx); err != nil {
				t.Fatal(err)
			}
		}
	}
	clk.Advance(11 * time.Minute)
	run()
	clk.Advance(time.Minute)
	run()
	want := "sum-" + testclock.StartTime().Format("20060102") + "-1210." + stepText
	if len(sent.ids) != 2 || sent.ids[0] != want || sent.ids[1] != want {
		t.Fatalf("texts asked for %q, want %q twice", sent.ids, want)
	}
}
