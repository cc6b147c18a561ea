package alerts_test

import (
	"context"
	"testing"
	"time"

	"github.com/oncall/pager/app/alerts"
)

// Reports in the domain's words; the Twilio statuses behind them are read
// in app/twilio, and the full path from a callback is tested with
// notify.PageDelivery.
func sms(status string, progress int, o alerts.DeliveryOutcome) alerts.Delivery {
	return alerts.Delivery{Channel: alerts.ChannelSMS, Status: status, Progress: progress, Outcome: o}
}

func call(status string, progress int, a alerts.Answer, o alerts.DeliveryOutcome) alerts.Delivery {
	return alerts.Delivery{Channel: alerts.ChannelVoice, Status: status, Progress: progress, Answer: a, Outcome: o}
}

var (
	queued      = sms("queued", 1, "")
	sent        = sms("sent", 3, "")
	delivered   = sms("delivered", 4, alerts.DeliveryReached)
	undelivered = sms("undelivered", 4, alerts.DeliveryNotReached)
	read        = sms("read", 5, alerts.DeliveryReached)
)

func TestAdvanceIgnoresLateStatuses(t *testing.T) {
	tests := []struct {
		name     string
		seq      []alerts.Delivery
		want     string
		outcome  alerts.DeliveryOutcome
		lastSeen bool // whether the last report changed anything
	}{
		{"in order", []alerts.Delivery{queued, sent, delivered}, "delivered", alerts.DeliveryReached, true},
		{"sent after delivered", []alerts.Delivery{queued, delivered, sent}, "delivered", alerts.DeliveryReached, false},
		{"queued after failed", []alerts.Delivery{queued, undelivered, queued}, "undelivered", alerts.DeliveryNotReached, false},
		{"delivered after failed", []alerts.Delivery{undelivered, delivered}, "undelivered", alerts.DeliveryNotReached, false},
		{"read after failed", []alerts.Delivery{undelivered, read}, "undelivered", alerts.DeliveryNotReached, false},
		{"read after delivered", []alerts.Delivery{delivered, read}, "read", alerts.DeliveryReached, true},
		{"no progress", []alerts.Delivery{sent, sms("exploded", 0, "")}, "sent", "", false},
		{"opted out", []alerts.Delivery{queued, sms("failed", 4, alerts.DeliveryOptedOut)}, "failed", alerts.DeliveryOptedOut, true},
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
	ringing := call("ringing", 3, "", "")
	busy := call("busy", 5, "", alerts.DeliveryNotReached)
	completed := call("completed", 5, "", alerts.DeliveryReached)
	tests := []struct {
		name string
		seq  []alerts.Delivery
		want alerts.DeliveryOutcome
	}{
		{"person", []alerts.Delivery{ringing, call("in-progress", 4, alerts.AnswerPerson, alerts.DeliveryReached), completed}, alerts.DeliveryReached},
		{"busy", []alerts.Delivery{ringing, busy}, alerts.DeliveryNotReached},
		{"voicemail", []alerts.Delivery{call("in-progress", 4, alerts.AnswerMachine, alerts.DeliveryNotReached), completed}, alerts.DeliveryNotReached},
		// Async detection reports after the call ended: reached turns into
		// not reached.
		{"late machine", []alerts.Delivery{completed, call("completed", 5, alerts.AnswerMachine, alerts.DeliveryNotReached)}, alerts.DeliveryNotReached},
		{"person stays reached", []alerts.Delivery{completed, call("in-progress", 4, alerts.AnswerPerson, alerts.DeliveryReached)}, alerts.DeliveryReached},
		{"ringing late", []alerts.Delivery{busy, ringing}, alerts.DeliveryNotReached},
		{"in progress undecided", []alerts.Delivery{call("in-progress", 4, "", "")}, ""},
		{"answer without progress", []alerts.Delivery{call("in-progress", 4, "", ""), call("answered", 4, alerts.AnswerPerson, alerts.DeliveryReached)}, alerts.DeliveryReached},
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
	rec := func(d alerts.Delivery) alerts.DeliveryUpdate {
		t.Helper()
		clk.Set(clk.Now().Add(time.Second))
		d.SID, d.UserID = "SM1", "alice"
		u, err := e.svc.RecordDelivery(ctx, a.ID, d)
		if err != nil {
			t.Fatal(err)
		}
		return u
	}
	if u := rec(queued); !u.Changed || u.NotReached() {
		t.Fatalf("queued: %+v", u)
	}
	if u := rec(undelivered); !u.NotReached() {
		t.Fatalf("undelivered: %+v; want not reached", u)
	}
	for _, st := range []alerts.Delivery{undelivered, sent, queued} {
		if u := rec(st); u.Changed || u.NotReached() || u.Delivery.Status != "undelivered" {
			t.Fatalf("late %s: %+v; want ignored", st.Status, u)
		}
	}
	got, _ := e.svc.Get(ctx, a.ID)
	if len(got.Deliveries) != 1 || got.Deliveries[0].Outcome != alerts.DeliveryNotReached {
		t.Fatalf("deliveries = %+v", got.Deliveries)
	}
	if _, err := e.svc.Close(ctx, a.ID, "alice"); err != nil {
		t.Fatal(err)
	}
	d := delivered
	d.SID = "SM1"
	_, err := e.svc.RecordDelivery(ctx, a.ID, d)
	mustNotFound(t, err)
}
