package notification

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"time"

	"github.com/oncall/pager/app/jobs"
	"github.com/oncall/pager/app/outbound"
	"github.com/oncall/pager/store"
)

// Report is what became of a notification, per recipient and route: the
// answer to GET /notification/<id>. Addresses are masked (MaskAddress).
type Report struct {
	ID string `json:"notification_id"`
	// APIKey names the key that created it: only that key, or one that
	// may read all, reads the report. Not shown.
	APIKey  string    `json:"-"`
	Source  string    `json:"source"`
	Subject string    `json:"subject,omitempty"`
	Text    string    `json:"text"`
	Created time.Time `json:"created"`
	// State is "sending" while any delivery is pending, then "done" when
	// all went out, "partial" when some failed, "failed" when all did.
	State    string    `json:"state"`
	Finished time.Time `json:"finished,omitzero"`
	Counts   Counts    `json:"counts"`
	// Unqueued counts recipients whose job is missing: the notification
	// was cut short while being stored and not retried. Nothing reaches
	// them.
	Unqueued   int               `json:"unqueued,omitempty"`
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

// ErrNotPermitted: the caller may not read the notification (may refused
// the key that created it). It wraps jobs.ErrNotFound, so a caller that
// does not tell the two apart answers as for an unknown id.
var ErrNotPermitted = fmt.Errorf("notify: notification of another API key: %w", jobs.ErrNotFound)

// GetNotification reports on notification id, whether it is being
// delivered or finished: its record and each recipient's job.
// jobs.ErrNotFound (wrapped) for an unknown id. may, unless nil, is asked
// about the API key that created the notification; a key it refuses gets
// ErrNotPermitted (wrapped).
func (o *Service) GetNotification(ctx context.Context, q *jobs.Queue, id string, may func(apiKey string) bool) (Report, error) {
	if !ValidID(id) {
		return Report{}, fmt.Errorf("notify: notification %q: %w", id, jobs.ErrNotFound)
	}
	if o.st == nil {
		return Report{}, errors.New("notify: no store for notification records (Options.Store)")
	}
	obj, err := o.st.Get(ctx, recordKey(id))
	switch {
	case errors.Is(err, store.ErrNotFound):
		return Report{}, fmt.Errorf("notify: notification %s: %w", id, jobs.ErrNotFound)
	case err != nil:
		return Report{}, fmt.Errorf("notify: notification %s: %w", id, err)
	}
	var rec record
	if err := json.Unmarshal(obj.Data, &rec); err != nil {
		return Report{}, fmt.Errorf("notify: notification %s: record: %w", id, err)
	}
	// Before the jobs: a refused read must not cost a LIST and a GET per
	// recipient, or anyone holding some key could make the pager read a
	// large notification's jobs over and over.
	if may != nil && !may(rec.APIKey) {
		return Report{}, fmt.Errorf("notify: notification %s: %w", id, ErrNotPermitted)
	}
	js, err := q.List(ctx, JobsPrefix(id))
	if err != nil {
		return Report{}, fmt.Errorf("notify: notification %s: jobs: %w", id, err)
	}
	return buildReport(&rec, js), nil
}

var errorCodeRE = regexp.MustCompile(`code (\d{3,6})`)

func buildReport(rec *record, js []jobs.Job) Report {
	rep := Report{ID: rec.ID, APIKey: rec.APIKey, Source: rec.Source, Subject: rec.Subject, Text: rec.Message, Created: rec.Created}
	// Recipients in the notification's order: those with a job, and the
	// others (skipped, or reached through someone else's routes).
	byIndex := map[int]*RecipientReport{}
	var order []int
	for _, jl := range rec.Others {
		byIndex[jl.Index] = &RecipientReport{UserID: jl.UserID, Name: jl.Name, Skipped: jl.Skipped}
		order = append(order, jl.Index)
	}
	finished := len(js) == rec.Jobs
	for i := range js {
		job := &js[i]
		if job.Kind != KindNotification {
			continue
		}
		p, err := decodePayload(job)
		if err != nil {
			continue
		}
		if _, dup := byIndex[p.Index]; dup {
			continue
		}
		r := &RecipientReport{UserID: p.Recipient.UserID, Name: p.Recipient.Name}
		byIndex[p.Index] = r
		order = append(order, p.Index)
		if job.FinishedAt.IsZero() {
			finished = false
		} else if job.FinishedAt.After(rep.Finished) {
			rep.Finished = job.FinishedAt
		}
		for _, d := range p.Deliveries {
			if s := job.Step(d.Step); s != nil {
				dr := deliveryReport(s, d)
				rep.Counts.add(dr.State)
				r.Deliveries = append(r.Deliveries, dr)
			}
		}
	}
	if !finished {
		rep.Finished = time.Time{}
	}
	slices.Sort(order)
	rep.Recipients = make([]RecipientReport, len(order))
	for i, idx := range order {
		rep.Recipients[i] = *byIndex[idx]
	}
	rep.Unqueued = max(rec.Jobs-len(js), 0)
	total := rep.Counts.Pending + rep.Counts.Sent + rep.Counts.Delivered + rep.Counts.Failed
	switch {
	case rep.Counts.Pending > 0:
		rep.State = "sending"
	case rep.Counts.Failed == total:
		rep.State = "failed"
	case rep.Counts.Failed == 0 && rep.Unqueued == 0:
		rep.State = "done"
	default:
		rep.State = "partial"
	}
	return rep
}

func (c *Counts) add(state string) {
	switch state {
	case "pending":
		c.Pending++
	case "sent":
		c.Sent++
	case "delivered":
		c.Delivered++
	case "failed":
		c.Failed++
	}
}

// deliveryReport is one step's transmission log entry.
func deliveryReport(s *jobs.Step, d planned) DeliveryReport {
	dr := DeliveryReport{Step: d.Step, Delivery: Delivery{Medium: d.Route.Medium,
		Address: outbound.MaskAddress(d.Route.Medium, d.Route.Address), Channel: d.Route.Channel}}
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
		if o := stepOutcome(dr.Delivery); o.Reached {
			dr.State = "delivered"
		} else if o.Final {
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
	return dr
}

// IsNotFound reports whether err means there is no such notification.
func IsNotFound(err error) bool { return errors.Is(err, jobs.ErrNotFound) }
