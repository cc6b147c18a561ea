package alerts

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// Channel is how a page was delivered.
type Channel string

// Channels with delivery callbacks.
const (
	ChannelSMS   Channel = "sms"
	ChannelVoice Channel = "voice"
)

// DeliveryOutcome is what a page's delivery came to.
type DeliveryOutcome string

// Outcomes; empty while undecided.
const (
	DeliveryReached    DeliveryOutcome = "reached"
	DeliveryNotReached DeliveryOutcome = "not_reached"
	// DeliveryOptedOut: the person texted STOP; SMS cannot reach them until
	// they text START.
	DeliveryOptedOut DeliveryOutcome = "opted_out"
)

// Answer is who picked up a page call.
type Answer string

// Answers; empty until the provider says.
const (
	AnswerPerson  Answer = "person"
	AnswerMachine Answer = "machine" // a voicemail greeting or a fax
)

// Delivery is the state of one message or call (by its provider SID) sent
// for an alert, merged from status reports that may arrive out of order.
//
// A report (the argument of Advance and RecordDelivery) is the provider's
// status callback put in these words where it is received: Progress, Answer
// and Outcome say what that one callback means (Outcome: reached, not
// reached, opted out, or nothing yet).
type Delivery struct {
	SID     string  `json:"sid"`
	UserID  string  `json:"user_id"`
	Channel Channel `json:"channel"`
	// Status, AnsweredBy and ErrorCode are the provider's own words for the
	// state recorded, kept for people reading the alert; no decision here
	// reads them.
	Status     string          `json:"status"`
	AnsweredBy string          `json:"answered_by,omitempty"`
	ErrorCode  int             `json:"error_code,omitempty"`
	Outcome    DeliveryOutcome `json:"outcome,omitempty"`
	// Progress orders the states of a delivery: a report that ranks no
	// higher than the one recorded arrived late. 0 for a report that says
	// nothing about progress.
	Progress int `json:"progress,omitempty"`
	// Answer is who picked up a call, once known.
	Answer    Answer    `json:"answer,omitempty"`
	UpdatedAt time.Time `json:"updated_at"`
}

// failed reports whether the delivery ended without reaching anyone
// (undelivered, busy, no answer...): nothing recorded after that moves it.
// A call a machine answered is not reached either, but it goes on to end.
func (d Delivery) failed() bool {
	return (d.Outcome == DeliveryNotReached || d.Outcome == DeliveryOptedOut) && d.Answer != AnswerMachine
}

// Advance merges a status report into the delivery as known. A report that
// ranks no higher than the current state (an older callback arriving late)
// is ignored, and nothing follows a failure, so a page never moves
// backwards. changed reports whether anything was recorded.
//
// A call a machine answered is not a person reached; detection may report
// after the call ends, so "reached" can still turn into "not reached",
// never the other way.
func Advance(cur, next Delivery) (Delivery, bool) {
	out := cur
	if out.Channel == "" {
		out.Channel = next.Channel
	}
	changed := false
	ended := cur.failed()
	advanced := next.Progress > cur.Progress && !ended
	if advanced {
		out.Status, out.Progress = next.Status, next.Progress
		if next.ErrorCode != 0 {
			out.ErrorCode = next.ErrorCode
		}
		changed = true
	}
	if out.Answer == "" && next.Answer != "" {
		out.Answer, out.AnsweredBy = next.Answer, next.AnsweredBy
		changed = true
	}
	var o DeliveryOutcome
	switch {
	case ended:
		o = cur.Outcome
	case advanced && next.failed():
		o = next.Outcome
	case out.Answer == AnswerMachine:
		o = DeliveryNotReached
	case next.Outcome == DeliveryReached || cur.Outcome == DeliveryReached:
		o = DeliveryReached
	}
	if o != out.Outcome && (out.Outcome == "" || out.Outcome == DeliveryReached) {
		out.Outcome = o
		changed = changed || o != ""
	}
	return out, changed
}

// DeliveryUpdate is the result of RecordDelivery.
type DeliveryUpdate struct {
	Delivery Delivery
	// Changed: the callback added something; false for a stale or repeated
	// one.
	Changed bool
	// Decided: the outcome was settled (or turned to not reached) by this
	// callback. Act on it once: a page not reached by SMS falls back to a
	// call at once.
	Decided bool
}

// NotReached reports whether this callback established that the person was
// not reached.
func (u DeliveryUpdate) NotReached() bool {
	return u.Decided && (u.Delivery.Outcome == DeliveryNotReached || u.Delivery.Outcome == DeliveryOptedOut)
}

// RecordDelivery merges a delivery status callback (or the initial record
// of a sent page: SID, user, channel, "queued") into the alert. ErrNotFound
// once the alert is closed and filed: nobody needs reaching then.
func (s *Service) RecordDelivery(ctx context.Context, alertID string, d Delivery) (DeliveryUpdate, error) {
	if d.SID == "" {
		return DeliveryUpdate{}, fmt.Errorf("%w: delivery without SID", ErrInvalid)
	}
	var up DeliveryUpdate
	_, err := s.modify(ctx, alertID, func(x *Alert) (bool, error) {
		up = DeliveryUpdate{}
		now := s.now().UTC()
		i := -1
		for k := range x.Deliveries {
			if x.Deliveries[k].SID == d.SID {
				i = k
				break
			}
		}
		if i < 0 {
			if len(x.Deliveries) >= MaxDeliveries {
				x.Deliveries = x.Deliveries[1:]
			}
			x.Deliveries = append(x.Deliveries, Delivery{SID: d.SID, UserID: d.UserID, Channel: d.Channel, UpdatedAt: now})
			i = len(x.Deliveries) - 1
		}
		cur := x.Deliveries[i]
		next, changed := Advance(cur, d)
		if cur.UserID == "" {
			next.UserID, changed = d.UserID, changed || d.UserID != ""
		}
		if !changed {
			up.Delivery = cur
			return false, nil
		}
		next.UpdatedAt = now
		x.Deliveries[i] = next
		up = DeliveryUpdate{Delivery: next, Changed: true, Decided: next.Outcome != cur.Outcome}
		if up.Decided {
			detail := fmt.Sprintf("%s to %s: %s", next.Channel, next.UserID, next.Status)
			if next.AnsweredBy != "" {
				detail += " (answered by " + next.AnsweredBy + ")"
			}
			x.log(Entry{Time: now, Action: ActionDelivery, Detail: detail + ": " + strings.ReplaceAll(string(next.Outcome), "_", " ")})
		}
		return true, nil
	})
	if err != nil {
		return DeliveryUpdate{}, notFoundIfMissing(alertID, err)
	}
	return up, nil
}
