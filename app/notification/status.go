package notification

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/oncall/pager/app/jobs"
	"github.com/oncall/pager/app/team"
	"github.com/oncall/pager/app/twilio"
)

// stepOutcome reads a step's recorded status in Twilio's words for its
// medium (other channels record "sent" and "delivered" too). Steps record
// no AnsweredBy: a completed call counts as reached.
func stepOutcome(d Delivery) twilio.Outcome {
	kind := twilio.KindMessage
	if d.Medium == team.MediumVoice {
		kind = twilio.KindCall
	}
	return twilio.StatusOutcome(kind, d.Status, "", "")
}

// Status is a Twilio delivery status callback for one notification step.
type Status struct {
	ID string // notification id
	// Job is the recipient's job (the callback URL's "job"). Empty in
	// callbacks for texts sent before it was added: then the notification's
	// jobs are searched for the step.
	Job       string
	Step      string
	SID       string // MessageSid or CallSid
	Status    string // MessageStatus or CallStatus
	ErrorCode string
	// Kind says whether Status is a message's or a call's.
	Kind twilio.Kind
}

// Errors of RecordStatus.
var (
	// ErrUnknownDelivery: the callback names no step of a known
	// notification.
	ErrUnknownDelivery = errors.New("notify: no such notification delivery")
	// ErrNotRecordedYet: the step has not recorded its send yet. Twilio
	// can call back within milliseconds of accepting a message, before the
	// step's outcome is stored; the caller may try again shortly. The step
	// itself is not touched: changing a running step would send again.
	ErrNotRecordedYet = errors.New("notify: delivery not recorded yet")
)

// RecordStatus writes a delivery status callback into the step's result.
// A callback for an earlier attempt (another SID), an unknown status or an
// older state than the one recorded changes nothing (changed is false).
// The deliveries a callback settles (delivered, or failed) are counted on
// the Service's Meter, under the medium deliverStep counts their sends.
func (o *Service) RecordStatus(ctx context.Context, q *jobs.Queue, s Status, now time.Time) (bool, error) {
	changed, settled, err := recordStatus(ctx, q, s, now)
	if settled != "" {
		ch := string(team.MediumSMS)
		if s.Kind == twilio.KindCall {
			ch = string(team.MediumVoice)
		}
		o.meter.Notification(ch, settled)
	}
	return changed, err
}

// recordStatus is RecordStatus without the Meter; settled is
// outcomeDelivered when this callback first says a person got it,
// outcomeFailed when it says the delivery failed for good, else empty.
func recordStatus(ctx context.Context, q *jobs.Queue, s Status, now time.Time) (changed bool, settled string, err error) {
	if !ValidID(s.ID) || s.Step == "" {
		return false, "", ErrUnknownDelivery
	}
	next := twilio.StatusOutcome(s.Kind, s.Status, s.ErrorCode, "")
	if !next.Known() {
		return false, "", nil
	}
	jobID, err := findJob(ctx, q, s)
	if err != nil {
		return false, "", err
	}
	_, err = q.Update(ctx, jobID, func(j *jobs.Job) error {
		st := j.Step(s.Step)
		if st == nil {
			return ErrUnknownDelivery
		}
		var d Delivery
		if len(st.Result) > 0 {
			_ = json.Unmarshal(st.Result, &d)
		}
		if d.SID != s.SID {
			if st.State == jobs.StepPending {
				return ErrNotRecordedYet
			}
			return errStale // a callback for an earlier attempt
		}
		if next.Rank < twilio.StatusOutcome(s.Kind, d.Status, "", "").Rank || (s.Status == d.Status && s.ErrorCode == d.ErrorCode) {
			return errStale
		}
		d.Status, d.ErrorCode, d.UpdatedAt = s.Status, s.ErrorCode, now.UTC()
		settled = ""
		if next.Reached && d.DeliveredAt.IsZero() {
			d.DeliveredAt = now.UTC()
			settled = outcomeDelivered
		} else if next.Failed && d.DeliveredAt.IsZero() {
			settled = outcomeFailed
		}
		raw, err := json.Marshal(d)
		if err != nil {
			return err
		}
		st.Result = raw
		return nil
	})
	switch {
	case errors.Is(err, errStale):
		return false, "", nil
	case errors.Is(err, ErrNotRecordedYet):
		return false, "", ErrNotRecordedYet
	case errors.Is(err, jobs.ErrNotFound), errors.Is(err, jobs.ErrInvalidJob), errors.Is(err, ErrUnknownDelivery):
		return false, "", fmt.Errorf("%w: %s %s", ErrUnknownDelivery, s.ID, s.Step)
	case err != nil:
		return false, "", err
	}
	// Update answers nil only after a run of fn that returned nil, and fn
	// returns nil only once it has put the new status in the step.
	return true, settled, nil
}

// findJob is the job of the step s reports on.
func findJob(ctx context.Context, q *jobs.Queue, s Status) (string, error) {
	if s.Job != "" {
		if !strings.HasPrefix(s.Job, JobsPrefix(s.ID)) {
			return "", fmt.Errorf("%w: %s: job %s", ErrUnknownDelivery, s.ID, s.Job)
		}
		return s.Job, nil
	}
	js, err := q.List(ctx, JobsPrefix(s.ID))
	if err != nil {
		return "", err
	}
	for i := range js {
		if js[i].Kind == KindNotification && js[i].Step(s.Step) != nil {
			return js[i].ID, nil
		}
	}
	return "", fmt.Errorf("%w: %s %s", ErrUnknownDelivery, s.ID, s.Step)
}
