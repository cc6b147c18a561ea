package notify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"time"

	"github.com/oncall/pager/app/jobs"
	"github.com/oncall/pager/app/team"
)

// Report is what became of a notification, per recipient and route: the
// answer to GET /notification/<id>. Addresses are masked (MaskAddress).
type Report struct {
	ID      string    `json:"notification_id"`
	Source  string    `json:"source"`
	Subject string    `json:"subject,omitempty"`
	Text    string    `json:"text"`
	Created time.Time `json:"created"`
	// State is "sending" while any delivery is pending, then "done" when
	// all went out, "partial" when some failed, "failed" when all did.
	State      string            `json:"state"`
	Finished   time.Time         `json:"finished,omitzero"`
	Counts     Counts            `json:"counts"`
	Recipients []RecipientReport `json:"recipients"`
}

// Counts sums the deliveries by where they stand.
type Counts struct {
	Pending   int `json:"pending"`
	Sent      int `json:"sent"`
	Delivered int `json:"delivered"`
	Failed    int `json:"failed"`
}

// RecipientReport is one recipient's deliveries.
type RecipientReport struct {
	UserID     string           `json:"contact"`
	Name       string           `json:"name,omitempty"`
	Skipped    string           `json:"skipped,omitempty"`
	Deliveries []DeliveryReport `json:"deliveries,omitempty"`
}

// DeliveryReport is one route's transmission log entry.
type DeliveryReport struct {
	Step string `json:"step"`
	// State is pending (not yet out, or retrying), sent, delivered or
	// failed.
	State string `json:"state"`
	Delivery
	Error       string    `json:"error,omitempty"`
	NextAttempt time.Time `json:"next_attempt,omitzero"`
}

// GetNotification reports on notification id, whether it is being
// delivered or finished. jobs.ErrNotFound (wrapped) for an unknown id.
func GetNotification(ctx context.Context, q *jobs.Queue, id string) (Report, error) {
	if !ValidID(id) {
		return Report{}, fmt.Errorf("notify: notification %q: %w", id, jobs.ErrNotFound)
	}
	job, err := q.Get(ctx, JobID(id))
	if err != nil {
		return Report{}, err
	}
	if job.Kind != KindNotification {
		return Report{}, fmt.Errorf("notify: %s is not a notification: %w", job.ID, jobs.ErrNotFound)
	}
	p, err := decodePayload(&job)
	if err != nil {
		return Report{}, err
	}
	return buildReport(&job, p), nil
}

var errorCodeRE = regexp.MustCompile(`code (\d{3,6})`)

func buildReport(job *jobs.Job, p *payload) Report {
	rep := Report{ID: p.ID, Source: p.Source, Subject: p.Subject, Text: p.Message, Created: p.Created,
		Finished: job.FinishedAt, Recipients: make([]RecipientReport, len(p.Recipients))}
	for i, rc := range p.Recipients {
		rep.Recipients[i] = RecipientReport{UserID: rc.UserID, Name: rc.Name, Skipped: rc.Skipped}
	}
	for _, d := range p.Deliveries {
		if d.Recipient < 0 || d.Recipient >= len(rep.Recipients) {
			continue
		}
		dr := DeliveryReport{Step: d.Step, Delivery: Delivery{Medium: d.Route.Medium,
			Address: MaskAddress(d.Route.Medium, d.Route.Address), Channel: d.Route.Channel}}
		s := job.Step(d.Step)
		if s == nil {
			continue
		}
		if len(s.Result) > 0 {
			var got Delivery
			if json.Unmarshal(s.Result, &got) == nil {
				dr.Delivery = got
			}
		}
		dr.Attempts = s.Attempts
		switch s.State {
		case jobs.StepDone:
			dr.State = "sent"
			if dr.Status == "delivered" || dr.Status == "read" || dr.Status == "completed" {
				dr.State = "delivered"
			} else if FinalStatus(dr.Status) {
				// The provider took it but could not deliver it
				// (undelivered, busy, no-answer …).
				dr.State = "failed"
			}
		case jobs.StepFailed:
			dr.State = "failed"
			dr.Error = s.LastError
			if dr.Status == "" {
				dr.Status = "failed"
			}
		default:
			dr.State = "pending"
			dr.Error = s.LastError
			dr.NextAttempt = s.NextAt
		}
		if dr.Error != "" && dr.ErrorCode == "" {
			if m := errorCodeRE.FindStringSubmatch(dr.Error); m != nil {
				dr.ErrorCode = m[1]
			}
		}
		switch dr.State {
		case "pending":
			rep.Counts.Pending++
		case "sent":
			rep.Counts.Sent++
		case "delivered":
			rep.Counts.Delivered++
		case "failed":
			rep.Counts.Failed++
		}
		r := &rep.Recipients[d.Recipient]
		r.Deliveries = append(r.Deliveries, dr)
	}
	total := rep.Counts.Pending + rep.Counts.Sent + rep.Counts.Delivered + rep.Counts.Failed
	switch {
	case rep.Counts.Pending > 0:
		rep.State = "sending"
	case rep.Counts.Failed == 0:
		rep.State = "done"
	case rep.Counts.Failed == total:
		rep.State = "failed"
	default:
		rep.State = "partial"
	}
	return rep
}

// IsNotFound reports whether err means there is no such notification.
func IsNotFound(err error) bool { return errors.Is(err, jobs.ErrNotFound) }

// MaskAddress hides most of an address for reports, which any API key can
// read: phone numbers keep the last four digits ("+*******0101"), e-mail
// addresses their first letter and domain ("a***@example.com"), URLs their
// scheme and host (the path often holds a token), Pushover keys their last
// four characters. Chat channel names ("@alice", "#ops") are kept.
func MaskAddress(m team.Medium, addr string) string {
	if addr == "" {
		return ""
	}
	switch m {
	case team.MediumSMS, team.MediumVoice, team.MediumSignal:
		return maskPhone(addr)
	case team.MediumEmail:
		return maskEmail(addr)
	case team.MediumWebhook, team.MediumSlack:
		return maskURL(addr)
	case team.MediumPushover:
		return maskTail(addr, 4)
	case team.MediumMattermost:
		if looksLikeURL(addr) {
			return maskURL(addr)
		}
		return addr
	}
	return maskTail(addr, 4)
}
