package heartbeat

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/oncall/pager/app/alerts"
	"github.com/oncall/pager/app/jobs"
	"github.com/oncall/pager/app/jsondoc"
	"github.com/oncall/pager/app/team"
	"github.com/oncall/pager/internal/testclock"
	"github.com/oncall/pager/store/storetest"
)

type staticConfig struct{ c *team.Config }

func (s staticConfig) Current() *team.Config { return s.c }

// pages counts pages per alert; everyone is alice.
type pages struct {
	mu sync.Mutex
	n  map[string]int
}

func (p *pages) Page(_ context.Context, a alerts.Alert, _ []string) ([]alerts.Delivery, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.n[a.ID]++
	return nil, nil
}
func (p *pages) PageDigest(context.Context, alerts.Digest) error      { return nil }
func (p *pages) Notify(context.Context, alerts.Alert, []string) error { return nil }
func (p *pages) Members(context.Context, alerts.Target) ([]string, error) {
	return []string{"alice"}, nil
}
func (p *pages) total() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, v := range p.n {
		n += v
	}
	return n
}

type fixture struct {
	st    *storetest.FaultyStore
	clk   *testclock.Clock
	q     *jobs.Queue
	al    *alerts.Service
	hb    *Service
	pages *pages
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	doc, err := jsondoc.Parse(team.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	if err := doc.Set([]string{"heartbeats"}, map[string]any{
		"backup": map[string]any{"every": "1h", "grace": "10m", "summary": "Backup silent"},
	}); err != nil {
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
	st := storetest.Faulty(storetest.NewMem())
	f := &fixture{st: st, clk: testclock.New(), pages: &pages{n: map[string]int{}}}
	f.q = jobs.New(st, jobs.Options{Now: f.clk.Now, Lease: time.Hour, Backoff: func(int) time.Duration { return time.Second }})
	f.al = alerts.New(st, alerts.Options{Jobs: f.q, Pager: f.pages, Notifier: f.pages, Roster: f.pages, Now: f.clk.Now})
	f.hb = New(st, Options{Jobs: f.q, Alerts: f.al, Config: staticConfig{cfg}, Now: f.clk.Now})
	return f
}

func (f *fixture) run(t *testing.T) {
	t.Helper()
	for range 4 {
		if err := f.q.RunOnce(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
}

func TestSilencePagesOnceAndBeatCloses(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	if _, err := f.hb.Beat(ctx, "backup", Source{Key: "cron"}, "ok"); err != nil {
		t.Fatal(err)
	}
	f.clk.Advance(69 * time.Minute)
	f.run(t)
	if n := f.pages.total(); n != 0 {
		t.Fatalf("%d pages within the grace", n)
	}
	f.clk.Advance(2 * time.Minute)
	f.run(t)
	f.clk.Advance(time.Second)
	f.run(t)
	if n := f.pages.total(); n != 1 {
		t.Fatalf("%d pages after the deadline, want 1", n)
	}
	a, err := f.al.ByDedupKey(ctx, routingKey, dedupKey("backup"))
	if err != nil {
		t.Fatal(err)
	}
	rec, err := f.hb.Beat(ctx, "backup", Source{Key: "cron"}, "")
	if err != nil || !rec.recovered {
		t.Fatalf("beat after the silence: %+v %v", rec, err)
	}
	f.run(t)
	if got, _ := f.al.Get(ctx, a.ID); got.State != alerts.StateClosed {
		t.Fatalf("alert after the beat: %s", got.State)
	}
}

// A beat that lands after a check marked the heartbeat late but before its
// alert exists: the recovery finds no alert, so the check closes the one
// it raises.
func TestBeatBetweenLateAndAlertLeavesNoAlertOpen(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	if _, err := f.hb.Beat(ctx, "backup", Source{}, ""); err != nil {
		t.Fatal(err)
	}
	f.clk.Advance(71 * time.Minute)
	// What the check wrote before it raised the alert.
	rec, etag, err := f.hb.read(ctx, "backup")
	if err != nil {
		t.Fatal(err)
	}
	late := rec
	late.Late = &Late{Beat: rec.Last, Due: rec.Last.Add(70 * time.Minute)}
	late.Armed = time.Time{}
	if ok, err := f.hb.write(ctx, late, etag); !ok || err != nil {
		t.Fatalf("mark late: %v %v", ok, err)
	}
	// The beat, and its recovery, run first.
	if _, err := f.hb.Beat(ctx, "backup", Source{}, ""); err != nil {
		t.Fatal(err)
	}
	f.run(t)
	// Then the check raises its alert.
	hb, _ := f.hb.cfg.Current().Heartbeat("backup")
	if _, err := f.hb.raise(ctx, hb, late); err != nil {
		t.Fatal(err)
	}
	if _, err := f.al.ByDedupKey(ctx, routingKey, dedupKey("backup")); !errors.Is(err, alerts.ErrNotFound) {
		t.Fatalf("an alert stays open for a heartbeat that beat: %v", err)
	}
}

// A beat in the steady state (a check already armed for an earlier
// deadline) is one read and one conditional write, however many beats came
// before; arming costs the first beat a job.
func TestSteadyBeatIsOneConditionalWrite(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	if _, err := f.hb.Beat(ctx, "backup", Source{}, ""); err != nil {
		t.Fatal(err)
	}
	first := f.st.Requests()
	for i := range 50 {
		f.clk.Advance(time.Minute)
		f.st.ResetRequests()
		if _, err := f.hb.Beat(ctx, "backup", Source{}, ""); err != nil {
			t.Fatal(err)
		}
		if got := f.st.Requests(); got["Get"] != 1 || got["Put"] != 1 || f.st.Total() != 2 {
			t.Fatalf("beat %d cost %v, want one Get and one Put (the first cost %v)", i+2, got, first)
		}
	}
	// A store outage fails the beat (the sender retries) and writes nothing.
	f.st.Down()
	if _, err := f.hb.Beat(ctx, "backup", Source{}, ""); err == nil {
		t.Fatal("beat during an outage reported success")
	}
	f.st.Up()
}

// The process that stored the beat ending a silence died before queueing
// the recovery: the next check closes the alert.
func TestLostRecoveryIsQueuedByTheNextCheck(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	if _, err := f.hb.Beat(ctx, "backup", Source{}, ""); err != nil {
		t.Fatal(err)
	}
	f.clk.Advance(71 * time.Minute)
	f.run(t)
	a, err := f.al.ByDedupKey(ctx, routingKey, dedupKey("backup"))
	if err != nil {
		t.Fatal(err)
	}
	// The beat as stored, without its recovery job.
	rec, etag, err := f.hb.read(ctx, "backup")
	if err != nil || rec.Late == nil {
		t.Fatalf("record %+v %v", rec, err)
	}
	now := f.clk.Now().UTC()
	rec.Last, rec.Late, rec.Armed = now, nil, now.Add(70*time.Minute)
	if err := f.hb.arm(ctx, "backup", rec.Armed); err != nil {
		t.Fatal(err)
	}
	if ok, err := f.hb.write(ctx, rec, etag); !ok || err != nil {
		t.Fatalf("write: %v %v", ok, err)
	}
	f.run(t)
	if got, _ := f.al.Get(ctx, a.ID); got.State == alerts.StateClosed {
		t.Fatal("closed without a recovery: the test does not test the check")
	}
	// Beats keep coming; the check at the armed deadline heals.
	f.clk.Advance(60 * time.Minute)
	if _, err := f.hb.Beat(ctx, "backup", Source{}, ""); err != nil {
		t.Fatal(err)
	}
	f.clk.Advance(11 * time.Minute)
	f.run(t)
	if got, _ := f.al.Get(ctx, a.ID); got.State != alerts.StateClosed || got.ClosedBy != "heartbeat:backup" {
		t.Fatalf("alert after the next check: %s by %q", got.State, got.ClosedBy)
	}
}

// tells records the texts a Service asks for; the first fail ones fail
// after the text may have been queued (the store's answer lost).
type tells struct {
	mu   sync.Mutex
	ids  []string
	fail int
}

func (x *tells) Tell(_ context.Context, id, _, _ string) error {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.ids = append(x.ids, id)
	if len(x.ids) <= x.fail {
		return errors.New("answer lost")
	}
	return nil
}

// A tell step that runs again names the same text, so the outbound path
// sends it once.
func TestRetriedTellNamesTheSameText(t *testing.T) {
	f := newFixture(t)
	told := &tells{fail: 1}
	f.hb.teller = told
	ctx := context.Background()
	if _, err := f.hb.Beat(ctx, "backup", Source{}, ""); err != nil {
		t.Fatal(err)
	}
	f.clk.Advance(71 * time.Minute)
	f.run(t)
	a, err := f.al.ByDedupKey(ctx, routingKey, dedupKey("backup"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.al.Ack(ctx, a.ID, "alice"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.hb.Beat(ctx, "backup", Source{}, ""); err != nil {
		t.Fatal(err)
	}
	f.run(t)
	f.clk.Advance(time.Minute)
	f.run(t)
	want := recoverJobID(a.ID) + "." + stepTell
	if len(told.ids) != 2 || told.ids[0] != want || told.ids[1] != want {
		t.Fatalf("texts asked for %q, want %q twice", told.ids, want)
	}
}
