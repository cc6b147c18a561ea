package twilio_test

import (
	"fmt"
	"net/url"
	"testing"

	"github.com/oncall/pager/app/twilio"
)

// Every status Twilio documents for messages and calls (and "answered"),
// read into the pager's outcome.
func TestStatusOutcome(t *testing.T) {
	type want struct {
		rank                             int
		final, failed, reached, optedOut bool
	}
	msg, call := twilio.KindMessage, twilio.KindCall
	cases := []struct {
		kind                          twilio.Kind
		status, errorCode, answeredBy string
		want                          want
	}{
		{msg, "accepted", "", "", want{rank: 1}},
		{msg, "scheduled", "", "", want{rank: 1}},
		{msg, "queued", "", "", want{rank: 1}},
		{msg, "sending", "", "", want{rank: 2}},
		{msg, "sent", "", "", want{rank: 3}},
		{msg, "receiving", "", "", want{}}, // inbound: not a delivery's
		{msg, "received", "", "", want{}},
		{msg, "delivered", "", "", want{rank: 4, final: true, reached: true}},
		{msg, "partially_delivered", "", "", want{rank: 4, final: true, reached: true}},
		{msg, "undelivered", "30003", "", want{rank: 4, final: true, failed: true}},
		{msg, "failed", "30008", "", want{rank: 4, final: true, failed: true}},
		{msg, "failed", "21610", "", want{rank: 4, final: true, failed: true, optedOut: true}},
		{msg, "undelivered", "21610", "", want{rank: 4, final: true, failed: true, optedOut: true}},
		{msg, "canceled", "", "", want{rank: 4, final: true, failed: true}},
		{msg, "read", "", "", want{rank: 5, final: true, reached: true}},
		{msg, "delivered", "21610", "", want{rank: 4, final: true, reached: true}}, // a code on success is no opt-out
		{msg, "exploded", "", "", want{}},
		{msg, "", "", "", want{}},
		{msg, "completed", "", "", want{}}, // a call's word in a message callback

		{call, "queued", "", "", want{rank: 1}},
		{call, "initiated", "", "", want{rank: 2}},
		{call, "ringing", "", "", want{rank: 3}},
		{call, "in-progress", "", "", want{rank: 4}},
		{call, "in-progress", "", "human", want{rank: 4, reached: true}},
		{call, "in-progress", "", "unknown", want{rank: 4, reached: true}},
		{call, "in-progress", "", "machine_start", want{rank: 4}},
		{call, "answered", "", "", want{rank: 4}},
		{call, "answered", "", "human", want{rank: 4, reached: true}},
		{call, "completed", "", "", want{rank: 5, final: true, reached: true}},
		{call, "completed", "", "human", want{rank: 5, final: true, reached: true}},
		{call, "completed", "", "unknown", want{rank: 5, final: true, reached: true}},
		{call, "completed", "", "machine_start", want{rank: 5, final: true}},
		{call, "completed", "", "machine_end_beep", want{rank: 5, final: true}},
		{call, "completed", "", "machine_end_silence", want{rank: 5, final: true}},
		{call, "completed", "", "machine_end_other", want{rank: 5, final: true}},
		{call, "completed", "", "fax", want{rank: 5, final: true}},
		{call, "busy", "", "", want{rank: 5, final: true, failed: true}},
		{call, "no-answer", "", "", want{rank: 5, final: true, failed: true}},
		{call, "failed", "13224", "", want{rank: 5, final: true, failed: true}},
		{call, "canceled", "", "", want{rank: 5, final: true, failed: true}},
		{call, "delivered", "", "", want{}}, // a message's word in a call callback
		{call, "", "", "", want{}},
	}
	for _, tc := range cases {
		o := twilio.StatusOutcome(tc.kind, tc.status, tc.errorCode, tc.answeredBy)
		got := want{o.Rank, o.Final, o.Failed, o.Reached, o.OptedOut}
		if got != tc.want {
			t.Errorf("kind %d %q (code %q, answered by %q) = %+v; want %+v", tc.kind, tc.status, tc.errorCode, tc.answeredBy, got, tc.want)
		}
		if o.Known() != (tc.want.rank > 0) {
			t.Errorf("%q: Known() = %v", tc.status, o.Known())
		}
	}
}

func TestStatusOutcomeAnswer(t *testing.T) {
	for by, want := range map[string]twilio.Answer{
		"": twilio.AnswerUnknown, "human": twilio.AnswerPerson, "unknown": twilio.AnswerPerson,
		"machine_start": twilio.AnswerMachine, "machine_end_beep": twilio.AnswerMachine,
		"machine_end_silence": twilio.AnswerMachine, "machine_end_other": twilio.AnswerMachine, "fax": twilio.AnswerMachine,
	} {
		if got := twilio.StatusOutcome(twilio.KindCall, "completed", "", by).Answer; got != want {
			t.Errorf("AnsweredBy %q: %v; want %v", by, got, want)
		}
		if got := twilio.StatusOutcome(twilio.KindMessage, "delivered", "", by).Answer; got != twilio.AnswerUnknown {
			t.Errorf("a message answered by %q: %v", by, got)
		}
	}
}

// Callbacks arrive in any order; recording one only when it ranks above
// the one recorded (as every caller does) ends on the status Twilio sent
// last in progress order, whatever order they came in.
func TestStatusOutOfOrder(t *testing.T) {
	cases := []struct {
		kind twilio.Kind
		seq  []string
		want string
	}{
		{twilio.KindMessage, []string{"queued", "sending", "sent", "delivered"}, "delivered"},
		{twilio.KindMessage, []string{"queued", "delivered", "sent", "sending"}, "delivered"},
		{twilio.KindMessage, []string{"delivered", "queued"}, "delivered"},
		{twilio.KindMessage, []string{"accepted", "undelivered", "sent", "queued"}, "undelivered"},
		{twilio.KindMessage, []string{"sent", "failed", "accepted"}, "failed"},
		{twilio.KindMessage, []string{"read", "delivered", "sent"}, "read"},
		{twilio.KindMessage, []string{"delivered", "read"}, "read"},
		{twilio.KindMessage, []string{"scheduled", "canceled", "queued"}, "canceled"},
		{twilio.KindMessage, []string{"sent", "partially_delivered", "sending"}, "partially_delivered"},
		{twilio.KindMessage, []string{"sent", "received", "receiving"}, "sent"},
		{twilio.KindCall, []string{"queued", "initiated", "ringing", "in-progress", "completed"}, "completed"},
		{twilio.KindCall, []string{"completed", "ringing", "initiated", "queued"}, "completed"},
		{twilio.KindCall, []string{"ringing", "initiated"}, "ringing"},
		{twilio.KindCall, []string{"in-progress", "ringing"}, "in-progress"},
		{twilio.KindCall, []string{"answered", "ringing", "completed"}, "completed"},
		{twilio.KindCall, []string{"busy", "ringing", "initiated"}, "busy"},
		{twilio.KindCall, []string{"no-answer", "ringing"}, "no-answer"},
		{twilio.KindCall, []string{"initiated", "canceled", "queued"}, "canceled"},
		{twilio.KindCall, []string{"failed", "queued"}, "failed"},
	}
	for _, tc := range cases {
		cur, rank := "", 0
		for _, st := range tc.seq {
			if o := twilio.StatusOutcome(tc.kind, st, "", ""); o.Rank > rank {
				cur, rank = st, o.Rank
			}
		}
		if cur != tc.want {
			t.Errorf("%v: ends at %q; want %q", tc.seq, cur, tc.want)
		}
	}
}

func TestRefusedMessage(t *testing.T) {
	optOut := fmt.Errorf("send: %w", &twilio.Error{Status: 400, Code: twilio.CodeUnsubscribed})
	if o := twilio.RefusedMessage("x", optOut).Outcome(); !o.Failed || !o.OptedOut || !o.Final {
		t.Errorf("opted out: %+v", o)
	}
	invalid := &twilio.Error{Status: 400, Code: twilio.CodeInvalidTo}
	if o := twilio.RefusedMessage("x", invalid).Outcome(); !o.Failed || o.OptedOut {
		t.Errorf("invalid number: %+v", o)
	}
}

func TestParseStatusCallback(t *testing.T) {
	cases := []struct {
		form url.Values
		want twilio.StatusCallback
	}{
		{url.Values{"MessageSid": {"SM1"}, "MessageStatus": {"failed"}, "ErrorCode": {"21610"}},
			twilio.StatusCallback{Kind: twilio.KindMessage, SID: "SM1", Status: "failed", ErrorCode: "21610"}},
		{url.Values{"MessageSid": {"SM1"}, "SmsStatus": {"sent"}},
			twilio.StatusCallback{Kind: twilio.KindMessage, SID: "SM1", Status: "sent"}},
		{url.Values{"CallSid": {"CA1"}, "CallStatus": {"completed"}, "AnsweredBy": {"human"}},
			twilio.StatusCallback{Kind: twilio.KindCall, SID: "CA1", Status: "completed", AnsweredBy: "human"}},
		// A text sent during a call names both; it is the text's callback.
		{url.Values{"CallSid": {"CA1"}, "MessageSid": {"SM1"}, "MessageStatus": {"sent"}},
			twilio.StatusCallback{Kind: twilio.KindMessage, SID: "SM1", Status: "sent"}},
	}
	for _, tc := range cases {
		if got := twilio.ParseStatusCallback(tc.form); got != tc.want {
			t.Errorf("%v: %+v; want %+v", tc.form, got, tc.want)
		}
	}
}
