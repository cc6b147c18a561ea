package alerts_test

import (
	"context"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oncall/pager/app/alerts"
	"github.com/oncall/pager/app/jobs"
	"github.com/oncall/pager/internal/testclock"
	"github.com/oncall/pager/store/storetest"
)

// window holds dedup keys starting "db-" until its end, while on.
type window struct {
	clk *testclock.Clock
	mu  sync.Mutex
	on  bool
	end time.Time
}

func (w *window) hold(a alerts.Alert) (string, time.Time, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return "db", w.end, w.on && w.clk.Now().Before(w.end) && strings.HasPrefix(a.DedupKey, "db-")
}

func (w *window) set(on bool) { w.mu.Lock(); w.on = on; w.mu.Unlock() }

func newHoldEnv(t *testing.T, clk *testclock.Clock, rec *recorder, w *window) *env {
	st := storetest.NewMem()
	q := jobs.New(st, jobs.Options{Now: clk.Now, Backoff: func(int) time.Duration { return time.Minute }})
	svc := alerts.New(st, alerts.Options{Jobs: q, Pager: rec, Notifier: rec, Roster: roster{},
		Settings: func() alerts.Settings { return testSettings(0) }, Hold: w.hold, Now: clk.Now})
	return &env{st: st, q: q, svc: svc}
}

func TestWindowHoldsItsScopeAndReleasesAtItsEnd(t *testing.T) {
	clk := newClock()
	rec := &recorder{clk: clk}
	w := &window{clk: clk, on: true, end: t0.Add(30 * time.Minute)}
	e := newHoldEnv(t, clk, rec, w)
	ctx := context.Background()

	held := e.trigger(t, "db-1", "Replica lag")
	web := e.trigger(t, "web-1", "Web 5xx")
	vm, _, err := e.svc.Trigger(ctx, alerts.Event{Action: alerts.EventTrigger, DedupKey: "db-vm", Summary: "Voicemail",
		Integration: alerts.IntegrationVoicemail})
	if err != nil {
		t.Fatal(err)
	}
	e.run(t)
	if len(rec.pagesOf(held.ID)) != 0 || len(rec.pagesOf(web.ID)) != 1 || len(rec.pagesOf(vm.ID)) != 1 {
		t.Fatalf("pages: held %d, web %d, voicemail %d; want 0, 1, 1", len(rec.pagesOf(held.ID)), len(rec.pagesOf(web.ID)), len(rec.pagesOf(vm.ID)))
	}
	a, err := e.svc.Get(ctx, held.ID)
	if err != nil || a.Held == nil || a.Code == "" || a.Escalation != "" || a.State != alerts.StateTriggered {
		t.Fatalf("held alert %+v %v", a, err)
	}
	// A repeated trigger during the window pages nobody either.
	e.trigger(t, "db-1", "Replica lag")
	clk.Set(t0.Add(29 * time.Minute))
	e.run(t)
	if n := len(rec.pagesOf(held.ID)); n != 0 {
		t.Fatalf("held alert paged %d times in its window", n)
	}

	clk.Set(t0.Add(30 * time.Minute))
	e.run(t)
	e.run(t)
	p := rec.pagesOf(held.ID)
	if len(p) != 1 || !p[0].At.Equal(t0.Add(30*time.Minute)) {
		t.Fatalf("at the window's end: %+v, want one page then", p)
	}
	// The escalation runs from the release: the next step 5 minutes on.
	clk.Set(t0.Add(34 * time.Minute))
	e.run(t)
	if n := len(rec.pagesOf(held.ID)); n != 1 {
		t.Fatalf("next step early: %d pages", n)
	}
	clk.Set(t0.Add(35 * time.Minute))
	e.run(t)
	if n := len(rec.pagesOf(held.ID)); n != 2 {
		t.Fatalf("next step at release + 5m: %d pages, want 2", n)
	}
}

func TestWindowEndedEarlyReleasesOnSweep(t *testing.T) {
	clk := newClock()
	rec := &recorder{clk: clk}
	w := &window{clk: clk, on: true, end: t0.Add(2 * time.Hour)}
	e := newHoldEnv(t, clk, rec, w)
	held := e.trigger(t, "db-1", "Replica lag")
	e.run(t)
	clk.Set(t0.Add(10 * time.Minute))
	if _, err := e.svc.Sweep(context.Background()); err != nil {
		t.Fatal(err)
	}
	e.run(t)
	if n := len(rec.pagesOf(held.ID)); n != 0 {
		t.Fatalf("sweep released an alert its window still holds: %d pages", n)
	}
	w.set(false) // deleted from the config
	if _, err := e.svc.Sweep(context.Background()); err != nil {
		t.Fatal(err)
	}
	e.run(t)
	if n := len(rec.pagesOf(held.ID)); n != 1 {
		t.Fatalf("after the window was removed: %d pages, want 1", n)
	}
}

// A repeated trigger of a held alert costs what one of a paging alert
// does, counting it and nothing more: its release job was enqueued when it
// was first held. Triggers repeat often during maintenance.
func TestRepeatedTriggerOfHeldAlertOnlyCounts(t *testing.T) {
	clk := newClock()
	rec := &recorder{clk: clk}
	w := &window{clk: clk, on: true, end: t0.Add(30 * time.Minute)}
	st := storetest.Faulty(storetest.NewMem())
	q := jobs.New(st, jobs.Options{Now: clk.Now, Backoff: func(int) time.Duration { return time.Minute }})
	e := &env{st: st, q: q, svc: alerts.New(st, alerts.Options{Jobs: q, Pager: rec, Notifier: rec, Roster: roster{},
		Settings: func() alerts.Settings { return testSettings(0) }, Hold: w.hold, Now: clk.Now})}

	held := e.trigger(t, "db-1", "Replica lag")
	e.trigger(t, "web-1", "Web 5xx")
	st.ResetRequests()
	e.trigger(t, "web-1", "Web 5xx")
	paging := st.Requests()
	st.ResetRequests()
	e.trigger(t, "db-1", "Replica lag")
	if got := st.Requests(); !maps.Equal(got, paging) || got["Put"] != 1 {
		t.Fatalf("repeated trigger of a held alert: store calls %v; want %v as for a paging alert, one write", got, paging)
	}
	a, err := e.svc.Get(context.Background(), held.ID)
	if err != nil || a.Triggers != 2 || a.Held == nil || a.Escalation != "" {
		t.Fatalf("held alert %+v, %v; want 2 triggers, still held", a, err)
	}
	if ids := jobIDs(t, st); !slices.ContainsFunc(ids, func(id string) bool { return strings.HasPrefix(id, "rel-db-") }) {
		t.Fatalf("jobs %v; want the window's release", ids)
	}
}
