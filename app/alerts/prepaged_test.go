package alerts_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/oncall/pager/app/alerts"
)

// A source that paged the on-call itself (a voicemail): the first round
// leaves her out, the next steps and rounds page as usual, and she can
// answer it as if the escalation had paged her.
func TestPrePagedSkipsFirstPageOnly(t *testing.T) {
	clk := newClock()
	rec := &recorder{clk: clk}
	e := newEnv(t, newLocal(t, t.TempDir()), "r1", clk, rec, testSettings(1))
	ctx := context.Background()
	ev := alerts.Event{Action: alerts.EventTrigger, DedupKey: "vm-RE1", Summary: "Voicemail (12 s) from +12125550123", Source: "pagerline"}
	a, created, err := e.svc.TriggerWith(ctx, ev, alerts.TriggerOptions{PrePaged: []string{"alice"}})
	if err != nil || !created || a.Code == "" {
		t.Fatalf("TriggerWith: %+v created=%v %v", a, created, err)
	}
	if !slices.Equal(a.PagedUsers, []string{"alice"}) {
		t.Errorf("paged users = %v, want alice (paged by the source)", a.PagedUsers)
	}
	if got, err := e.svc.LatestPagedTo(ctx, "alice"); err != nil || got.ID != a.ID {
		t.Errorf("LatestPagedTo(alice) = %s, %v; want %s", got.ID, err, a.ID)
	}
	// A retry by the source finds the same alert and pages nobody.
	if b, created, err := e.svc.TriggerWith(ctx, ev, alerts.TriggerOptions{PrePaged: []string{"alice"}}); err != nil || created || b.ID != a.ID {
		t.Fatalf("repeat TriggerWith: %s created=%v %v", b.ID, created, err)
	}

	runAt(t, clk, 0, e)
	if got := rec.pagesOf(a.ID); len(got) != 0 {
		t.Fatalf("the first step paged %+v; the source paged her already", got)
	}
	runAt(t, clk, 5*time.Minute, e)
	runAt(t, clk, 15*time.Minute, e)
	runAt(t, clk, 30*time.Minute, e) // second round: the on-call again
	got := rec.pagesOf(a.ID)
	wants := [][]string{{"bob", "dave"}, {"bob", "carol", "dave"}, {"alice"}}
	if len(got) != len(wants) {
		t.Fatalf("got %d pages, want %d: %+v", len(got), len(wants), got)
	}
	for i, w := range wants {
		if !slices.Equal(got[i].Users, w) {
			t.Errorf("page %d: %v, want %v", i, got[i].Users, w)
		}
	}
}

// Acknowledged before the next step: nobody else is paged.
func TestPrePagedAckStopsEscalation(t *testing.T) {
	clk := newClock()
	rec := &recorder{clk: clk}
	e := newEnv(t, newLocal(t, t.TempDir()), "r1", clk, rec, testSettings(1))
	ctx := context.Background()
	a, _, err := e.svc.TriggerWith(ctx, alerts.Event{DedupKey: "vm-RE2", Summary: "Voicemail", Source: "pagerline"},
		alerts.TriggerOptions{PrePaged: []string{"alice"}})
	if err != nil {
		t.Fatal(err)
	}
	runAt(t, clk, 0, e)
	if _, err := e.svc.Ack(ctx, a.Code, "alice"); err != nil {
		t.Fatal(err)
	}
	runAt(t, clk, time.Hour, e)
	if got := rec.pagesOf(a.ID); len(got) != 0 {
		t.Fatalf("paged after the acknowledgement: %+v", got)
	}
}

// A page SMS Twilio refused at once comes back from the Pager, and the
// alert keeps it as a failed delivery: the Pager needs no way back into
// the alerts.
func TestRefusedPageRecorded(t *testing.T) {
	clk := newClock()
	rec := &recorder{clk: clk, refuse: []string{"alice"}}
	e := newEnv(t, newLocal(t, t.TempDir()), "r1", clk, rec, testSettings(1))
	ctx := context.Background()
	a, _, err := e.svc.Trigger(ctx, alerts.Event{Action: alerts.EventTrigger, DedupKey: "refused", Summary: "disk full", Source: "test"})
	if err != nil {
		t.Fatal(err)
	}
	runAt(t, clk, 0, e)
	got, err := e.svc.Get(ctx, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Deliveries) != 1 || got.Deliveries[0].UserID != "alice" || got.Deliveries[0].Channel != alerts.ChannelSMS || got.Deliveries[0].Outcome != alerts.DeliveryNotReached {
		t.Fatalf("deliveries = %+v, want alice's refused SMS", got.Deliveries)
	}
}
