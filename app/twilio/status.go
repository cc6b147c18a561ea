package twilio

import (
	"net/url"
	"strconv"
	"strings"
)

// Kind says which of Twilio's two status vocabularies a callback speaks.
type Kind int

// Kinds of status callback. The zero Kind is a message.
const (
	// KindMessage is a text's callback: MessageStatus (SmsStatus in older
	// callbacks), ErrorCode.
	KindMessage Kind = iota
	// KindCall is a call's callback: CallStatus, ErrorCode, AnsweredBy.
	KindCall
)

// Answer is who picked up a call, as answering-machine detection reports
// it.
type Answer int

// Answers.
const (
	// AnswerUnknown: detection has not said (no AnsweredBy), or not a call.
	AnswerUnknown Answer = iota
	// AnswerPerson: "human", or "unknown" (detection could not tell, and a
	// person may be listening: paging them counts, as it always has).
	AnswerPerson
	// AnswerMachine: a voicemail greeting or a fax ("machine_start",
	// "machine_end_beep", "fax", ...).
	AnswerMachine
)

// Outcome is what one status callback means to the pager.
type Outcome struct {
	// Rank orders a kind's statuses as a delivery progresses. Twilio does
	// not promise callback order, so a callback ranking below the one
	// recorded arrived late and must not move the delivery backwards. 0
	// for a status that says nothing about a delivery the pager sent (an
	// unknown word, or an inbound message's receiving/received).
	Rank int
	// Final: Twilio sends no further status (but a text's "read" may still
	// follow "delivered").
	Final bool
	// Failed: final, and it never got there: a text undelivered, failed or
	// canceled; a call busy, unanswered, failed or canceled.
	Failed bool
	// OptedOut: failed because the recipient texted STOP (error 21610):
	// texts cannot reach them until they text START.
	OptedOut bool
	// Answer is who answered a call, once detection says.
	Answer Answer
	// Reached: a person got it: a text delivered (or read), a call answered
	// by a person. A call that completed without a detection result counts;
	// one in progress counts once detection says a person answered.
	Reached bool
}

// Known reports whether the status is one of a delivery's.
func (o Outcome) Known() bool { return o.Rank > 0 }

// step is one status word's place in a delivery's progress.
type step struct {
	rank          int
	final, failed bool
	// reached: a person got it, unless a machine answered.
	reached bool
}

// messageSteps are the statuses Twilio documents for messages
// (message_enum_status). A text is accepted (by a messaging service) or
// scheduled, queued, sending, sent, then delivered or not; "read" comes
// after "delivered" where the channel reports it.
var messageSteps = map[string]step{
	"accepted":            {rank: 1},
	"scheduled":           {rank: 1},
	"queued":              {rank: 1},
	"sending":             {rank: 2},
	"sent":                {rank: 3},
	"delivered":           {rank: 4, final: true, reached: true},
	"partially_delivered": {rank: 4, final: true, reached: true},
	"undelivered":         {rank: 4, final: true, failed: true},
	"failed":              {rank: 4, final: true, failed: true},
	"canceled":            {rank: 4, final: true, failed: true},
	"read":                {rank: 5, final: true, reached: true},
	// "receiving" and "received" describe inbound messages: rank 0.
}

// callSteps are the statuses Twilio documents for calls (call_enum_status
// and the callback's "initiated"), and "answered", the status callback
// event some callbacks report as a status.
var callSteps = map[string]step{
	"queued":      {rank: 1},
	"initiated":   {rank: 2},
	"ringing":     {rank: 3},
	"in-progress": {rank: 4},
	"answered":    {rank: 4},
	"completed":   {rank: 5, final: true, reached: true},
	"busy":        {rank: 5, final: true, failed: true},
	"no-answer":   {rank: 5, final: true, failed: true},
	"failed":      {rank: 5, final: true, failed: true},
	"canceled":    {rank: 5, final: true, failed: true},
}

// StatusCallback is what the pager reads from a message or call status
// callback.
type StatusCallback struct {
	Kind Kind
	// SID is the MessageSid or CallSid.
	SID string
	// Status is the MessageStatus or CallStatus.
	Status    string
	ErrorCode string
	// AnsweredBy is a call's answering-machine detection result.
	AnsweredBy string
}

// ParseStatusCallback reads a status callback's form: a call's when it
// names a CallSid and no MessageSid, else a message's.
func ParseStatusCallback(form url.Values) StatusCallback {
	cb := StatusCallback{SID: form.Get("MessageSid"), Status: form.Get("MessageStatus"), ErrorCode: form.Get("ErrorCode")}
	if cb.Status == "" {
		cb.Status = form.Get("SmsStatus")
	}
	if cb.SID == "" && form.Get("CallSid") != "" {
		cb.Kind, cb.SID, cb.Status, cb.AnsweredBy = KindCall, form.Get("CallSid"), form.Get("CallStatus"), form.Get("AnsweredBy")
	}
	return cb
}

// RefusedMessage is the callback a text Twilio refused to send (err, from
// SendMessage) stands for: failed, and opted out when that is why.
func RefusedMessage(sid string, err error) StatusCallback {
	cb := StatusCallback{Kind: KindMessage, SID: sid, Status: "failed"}
	if IsOptOut(err) {
		cb.ErrorCode = strconv.Itoa(CodeUnsubscribed)
	}
	return cb
}

// Outcome reads the callback.
func (cb StatusCallback) Outcome() Outcome {
	return StatusOutcome(cb.Kind, cb.Status, cb.ErrorCode, cb.AnsweredBy)
}

// StatusOutcome reads one status callback of kind k: status is its
// MessageStatus or CallStatus, errorCode its ErrorCode, answeredBy a call's
// AnsweredBy.
func StatusOutcome(k Kind, status, errorCode, answeredBy string) Outcome {
	steps := messageSteps
	if k == KindCall {
		steps = callSteps
	}
	s := steps[status]
	o := Outcome{Rank: s.rank, Final: s.final, Failed: s.failed}
	if k == KindCall {
		o.Answer = answerOf(answeredBy)
	}
	code, _ := strconv.Atoi(errorCode)
	o.OptedOut = o.Failed && code == CodeUnsubscribed
	switch {
	case o.Answer == AnswerMachine:
	case s.reached:
		o.Reached = true
	case k == KindCall && s.rank == callSteps["in-progress"].rank:
		// Answered; a person once detection says so.
		o.Reached = o.Answer == AnswerPerson
	}
	return o
}

func answerOf(answeredBy string) Answer {
	switch {
	case answeredBy == "":
		return AnswerUnknown
	case strings.HasPrefix(answeredBy, "machine"), answeredBy == "fax":
		return AnswerMachine
	default:
		return AnswerPerson
	}
}
