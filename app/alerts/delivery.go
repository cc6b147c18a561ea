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

// TwilioErrorOptedOut is Twilio's error code for a message to a number that
// replied STOP: recorded as not reached, never retried.
const TwilioErrorOptedOut = 21610

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

// Delivery is the state of one message or call (by its Twilio SID) sent for
// an alert, merged from status callbacks that may arrive out of order.
type Delivery struct {
	SID     string  `json:"sid"`
	UserID  string  `json:"user_id"`
	Channel Channel `json:"channel"`
	// Status is Twilio's MessageStatus or CallStatus.
	Status string `json:"status"`
	// AnsweredBy is Twilio's answering-machine detection result
	// ("human", "machine_start", "fax", "unknown"…).
	AnsweredBy string          `json:"answered_by,omitempty"`
	ErrorCode  int             `json:"error_code,omitempty"`
	Outcome    DeliveryOutcome `json:"outcome,omitempty"`
	UpdatedAt  time.Time       `json:"updated_at"`
}

// StatusRank orders a channel's statuses as they progress; 0 for a status
// it does not know. Terminal statuses share the highest rank but one (SMS
// "read" comes after "delivered").
func StatusRank(ch Channel, status string) int {
	switch ch {
	case ChannelSMS:
		switch status {
		case "accepted", "scheduled", "queued":
			return 1
		case "sending":
			return 2
		case "sent":
			return 3
		case "delivered", "undelivered", "failed", "canceled", "partially_delivered":
			return 4
		case "read":
			return 5
		}
	case ChannelVoice:
		switch status {
		case "queued":
			return 1
		case "initiated":
			return 2
		case "ringing":
			return 3
		case "in-progress", "answered":
			return 4
		case "completed", "busy", "no-answer", "failed", "canceled":
			return 5
		}
	}
	return 0
}

func failedStatus(ch Channel, status string) bool {
	switch ch {
	case ChannelSMS:
		return status == "undelivered" || status == "failed" || status == "canceled"
	case ChannelVoice:
		return status == "busy" || status == "no-answer" || status == "failed" || status == "canceled"
	}
	return false
}

func machineAnswered(answeredBy string) bool {
	return strings.HasPrefix(answeredBy, "machine") || answeredBy == "fax"
}

// Advance merges a status callback into the delivery as known. A status
// that ranks no higher than the current one (an older callback arriving
// late) is ignored, and nothing follows a failure, so a page never moves
// backwards. changed reports whether anything was recorded.
func Advance(cur, next Delivery) (Delivery, bool) {
	out := cur
	if out.Channel == "" {
		out.Channel = next.Channel
	}
	changed := false
	r, nr := StatusRank(out.Channel, out.Status), StatusRank(out.Channel, next.Status)
	if nr > r && !failedStatus(out.Channel, out.Status) {
		out.Status = next.Status
		if next.ErrorCode != 0 {
			out.ErrorCode = next.ErrorCode
		}
		changed = true
	}
	if out.AnsweredBy == "" && next.AnsweredBy != "" {
		out.AnsweredBy = next.AnsweredBy
		changed = true
	}
	if o := outcomeOf(out); o != out.Outcome && (out.Outcome == "" || out.Outcome == DeliveryReached) {
		out.Outcome = o
		changed = changed || o != ""
	}
	return out, changed
}

// outcomeOf decides what the delivery came to so far. A call answered by a
// machine (answering-machine detection) is not a person reached; the
// detection may report after the call ends, so "reached" can still turn
// into "not reached", never the other way.
func outcomeOf(d Delivery) DeliveryOutcome {
	if failedStatus(d.Channel, d.Status) {
		if d.ErrorCode == TwilioErrorOptedOut {
			return DeliveryOptedOut
		}
		return DeliveryNotReached
	}
	switch d.Channel {
	case ChannelSMS:
		if StatusRank(ChannelSMS, d.Status) >= 4 {
			return DeliveryReached
		}
	case ChannelVoice:
		if machineAnswered(d.AnsweredBy) {
			return DeliveryNotReached
		}
		if d.Status == "completed" || (StatusRank(ChannelVoice, d.Status) == 4 && d.AnsweredBy != "") {
			return DeliveryReached
		}
	}
	return ""
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
