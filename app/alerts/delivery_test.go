package alerts_test

import (
	"context"
	"testing"
	"time"

	"github.com/oncall/pager/app/alerts"
)

func TestAdvanceIgnoresLateStatuses(t *testing.T) {
	sms := func(st string) alerts.Delivery { return alerts.Delivery{Channel: alerts.ChannelSMS, Status: st} }
	tests := []struct {
		name     string
		seq      []alerts.Delivery
		want     string
		outcome  alerts.DeliveryOutcome
		lastSeen bool // whether the last callback changed anything
	}{
		{"in order", []alerts.Delivery{sms("queued"), sms("sent"), sms("delivered")}, "delivered", alerts.DeliveryReached, true},
		{"sent after delivered", []alerts.Delivery{sms("queued"), sms("delivered"), sms("sent")}, "delivered", alerts.DeliveryReached, false},
		{"queued after failed", []alerts.Delivery{sms("queued"), sms("undelivered"), sms("queued")}, "undelivered", alerts.DeliveryNotReached, false},
		{"delivered after failed", []alerts.Delivery{sms("failed"), sms("delivered")}, "failed", alerts.DeliveryNotReached, false},
		{"read after delivered", []alerts.Delivery{sms("delivered"), sms("read")}, "read", alerts.DeliveryReached, true},
		{"unknown status", []alerts.Delivery{sms("sent"), sms("exploded")}, "sent", "", false},
		{"opted out", []alerts.Delivery{sms("queued"), {Channel: alerts.ChannelSMS, Status: "failed", ErrorCode: alerts.TwilioErrorOptedOut}}, "failed", alerts.DeliveryOptedOut, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var d alerts.Delivery
			var changed bool
			for _, next := range tc.seq {
				d, changed = alerts.Advance(d, next)
			}
			if d.Status != tc.want || d.Outcome != tc.outcome || changed != tc.lastSeen {
				t.Errorf("got %s/%s (last changed %v); want %s/%s (%v)", d.Status, d.Outcome, changed, tc.want, tc.outcome, tc.lastSeen)
			}
		})
	}
}

func TestCallOutcomes(t *testing.T) {
	call := func(st, by string) alerts.Delivery {
		return alerts.Delivery{Channel: alerts.ChannelVoice, Status: st, AnsweredBy: by}
	}
	tests := []struct {
		name string
		seq  []alerts.Delivery
		want alerts.DeliveryOutcome
	}{
		{"human", []alerts.Delivery{call("ringing", ""), call("in-progress", "human"), call("completed", "")}, alerts.DeliveryReached},
		{"busy", []alerts.Delivery{call("ringing", ""), call("busy", "")}, alerts.DeliveryNotReached},
		{"no answer", []alerts.Delivery{call("no-answer", "")}, alerts.DeliveryNotReached},
		{"voicemail", []alerts.Delivery{call("in-progress", "machine_start"), call("completed", "")}, alerts.DeliveryNotReached},
		// Async detection reports after the call ended: reached turns into
		// not reached.
		{"late machine", []alerts.Delivery{call("completed", ""), call("completed", "machine_end_beep")}, alerts.DeliveryNotReached},
		{"ringing late", []alerts.Delivery{call("busy", ""), call("ringing", "")}, alerts.DeliveryNotReached},
		{"in progress undecided", []alerts.Delivery{call("in-progress", "")}, ""},
	}
	for _, tc := range tests {
		var d alerts.Delivery
		for _, next := range tc.seq {
			d, _ = alerts.Advance(d, next)
		}
		if d.Outcome != tc.want {
			t.Errorf("%s: outcome %q (status %s), want %q", tc.name, d.Outcome, d.Status, tc.want)
		}
	}
}

// Through the service: a failed SMS is decided once (the moment to fall
// back to a call), however often and in whatever order callbacks arrive.
func TestRecordDelivery(t *testing.T) {
	clk := newClock()
	e := newEnv(t, newLocal(t, t.TempDir()), "r1", clk, &recorder{clk: clk}, testSettings(0))
	ctx := context.Background()
	a := e.trigger(t, "k", "db down")
	rec := func(status string) alerts.DeliveryUpdate {
		t.Helper()
		clk.Set(clk.Now().Add(time.Second))
		u, err := e.svc.RecordDelivery(ctx, a.ID, alerts.Delivery{SID: "SM1", UserID: "alice", Channel: alerts.ChannelSMS, Status: status})
		if err != nil {
			t.Fatal(err)
		}
		return u
	}
	if u := rec("queued"); !u.Changed || u.NotReached() {
		t.Fatalf("queued: %+v", u)
	}
	if u := rec("undelivered"); !u.NotReached() {
		t.Fatalf("undelivered: %+v; want not reached", u)
	}
	for _, st := range []string{"undelivered", "sent", "queued"} {
		if u := rec(st); u.Changed || u.NotReached() || u.Delivery.Status != "undelivered" {
			t.Fatalf("late %s: %+v; want ignored", st, u)
		}
	}
	got, _ := e.svc.Get(ctx, a.ID)
	if len(got.Deliveries) != 1 || got.Deliveries[0].Outcome != alerts.DeliveryNotReached {
		t.Fatalf("deliveries = %+v", got.Deliveries)
	}
	if _, err := e.svc.Close(ctx, a.ID, "alice"); err != nil {
		t.Fatal(err)
	}
	_, err := e.svc.RecordDelivery(ctx, a.ID, alerts.Delivery{SID: "SM1", Status: "delivered"})
	mustNotFound(t, err)
}
