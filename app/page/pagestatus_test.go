package page

import (
	"testing"

	"github.com/oncall/pager/app/alerts"
	"github.com/oncall/pager/app/twilio"
)

// From Twilio's callbacks, in any order, to what the alert records: the
// page's text.
func TestPageDeliveryText(t *testing.T) {
	sms := func(st string) twilio.StatusCallback { return twilio.StatusCallback{Status: st} }
	tests := []struct {
		name     string
		seq      []twilio.StatusCallback
		want     string
		outcome  alerts.DeliveryOutcome
		lastSeen bool // whether the last callback changed anything
	}{
		{"in order", []twilio.StatusCallback{sms("queued"), sms("sent"), sms("delivered")}, "delivered", alerts.DeliveryReached, true},
		{"sent after delivered", []twilio.StatusCallback{sms("queued"), sms("delivered"), sms("sent")}, "delivered", alerts.DeliveryReached, false},
		{"queued after failed", []twilio.StatusCallback{sms("queued"), sms("undelivered"), sms("queued")}, "undelivered", alerts.DeliveryNotReached, false},
		{"delivered after failed", []twilio.StatusCallback{sms("failed"), sms("delivered")}, "failed", alerts.DeliveryNotReached, false},
		{"read after delivered", []twilio.StatusCallback{sms("delivered"), sms("read")}, "read", alerts.DeliveryReached, true},
		{"partially delivered", []twilio.StatusCallback{sms("sent"), sms("partially_delivered"), sms("sending")}, "partially_delivered", alerts.DeliveryReached, false},
		{"canceled", []twilio.StatusCallback{sms("scheduled"), sms("canceled"), sms("queued")}, "canceled", alerts.DeliveryNotReached, false},
		{"unknown status", []twilio.StatusCallback{sms("sent"), sms("exploded")}, "sent", "", false},
		{"inbound status", []twilio.StatusCallback{sms("sent"), sms("received")}, "sent", "", false},
		{"opted out", []twilio.StatusCallback{sms("queued"), {Status: "failed", ErrorCode: "21610"}}, "failed", alerts.DeliveryOptedOut, true},
	}
	for _, tc := range tests {
		var d alerts.Delivery
		var changed bool
		for _, cb := range tc.seq {
			d, changed = alerts.Advance(d, PageDelivery(alerts.ChannelSMS, "alice", cb))
		}
		if d.Status != tc.want || d.Outcome != tc.outcome || changed != tc.lastSeen {
			t.Errorf("%s: got %s/%s (last changed %v); want %s/%s (%v)", tc.name, d.Status, d.Outcome, changed, tc.want, tc.outcome, tc.lastSeen)
		}
	}
}

// The page's call: answered by a person, by a machine, or not at all.
func TestPageDeliveryCall(t *testing.T) {
	call := func(st, by string) twilio.StatusCallback { return twilio.StatusCallback{Status: st, AnsweredBy: by} }
	tests := []struct {
		name string
		seq  []twilio.StatusCallback
		want alerts.DeliveryOutcome
	}{
		{"human", []twilio.StatusCallback{call("ringing", ""), call("in-progress", "human"), call("completed", "")}, alerts.DeliveryReached},
		{"unknown counts as a person", []twilio.StatusCallback{call("in-progress", "unknown")}, alerts.DeliveryReached},
		{"completed without detection", []twilio.StatusCallback{call("initiated", ""), call("completed", "")}, alerts.DeliveryReached},
		{"busy", []twilio.StatusCallback{call("ringing", ""), call("busy", "")}, alerts.DeliveryNotReached},
		{"no answer", []twilio.StatusCallback{call("no-answer", "")}, alerts.DeliveryNotReached},
		{"canceled", []twilio.StatusCallback{call("queued", ""), call("canceled", "")}, alerts.DeliveryNotReached},
		{"failed", []twilio.StatusCallback{call("failed", "")}, alerts.DeliveryNotReached},
		{"voicemail", []twilio.StatusCallback{call("in-progress", "machine_start"), call("completed", "")}, alerts.DeliveryNotReached},
		{"fax", []twilio.StatusCallback{call("completed", "fax")}, alerts.DeliveryNotReached},
		// Async detection reports after the call ended: reached turns into
		// not reached.
		{"late machine", []twilio.StatusCallback{call("completed", ""), call("completed", "machine_end_beep")}, alerts.DeliveryNotReached},
		{"ringing late", []twilio.StatusCallback{call("busy", ""), call("ringing", "")}, alerts.DeliveryNotReached},
		{"completed late", []twilio.StatusCallback{call("no-answer", ""), call("completed", "")}, alerts.DeliveryNotReached},
		{"in progress undecided", []twilio.StatusCallback{call("in-progress", "")}, ""},
		{"answered", []twilio.StatusCallback{call("ringing", ""), call("answered", "human")}, alerts.DeliveryReached},
	}
	for _, tc := range tests {
		var d alerts.Delivery
		for _, cb := range tc.seq {
			d, _ = alerts.Advance(d, PageDelivery(alerts.ChannelVoice, "alice", cb))
		}
		if d.Outcome != tc.want {
			t.Errorf("%s: outcome %q (status %s), want %q", tc.name, d.Outcome, d.Status, tc.want)
		}
	}
}
