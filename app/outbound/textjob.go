package outbound

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/oncall/pager/app/jobs"
)

// KindText is a durable one-off SMS: sent by the job queue, so a text the
// pager promised (a hand-over notice) survives a Twilio outage or a restart.
const KindText jobs.Kind = "text"

const stepSend = "send"

// Register adds the outbound path's own job kind to q: durable texts. A
// text waiting for its rate slot gives its worker back (SendTextStep).
func (o *Outbound) Register(q *jobs.Queue) {
	q.Handle(KindText, stepSend, func(ctx context.Context, job *jobs.Job, step *jobs.Step) (any, error) {
		var t Text
		if err := job.Decode(&t); err != nil {
			return nil, jobs.Permanent(err)
		}
		sent, err := o.SendTextStep(ctx, q, job, step, t)
		if err != nil {
			return nil, err
		}
		return map[string]string{"sid": sent.SID}, nil
	})
}

// TextQueue queues durable texts.
type TextQueue struct {
	Q *jobs.Queue
	// MaxAttempts bounds a text's failed sends; 0 retries until it goes
	// out.
	MaxAttempts int
}

// Enqueue stores t as a job with the given id; the same id twice sends once.
func (tq TextQueue) Enqueue(ctx context.Context, id string, t Text) error {
	payload, err := json.Marshal(t)
	if err != nil {
		return err
	}
	if _, err := tq.Q.Enqueue(ctx, jobs.Job{ID: id, Kind: KindText, Payload: payload, Steps: []jobs.Step{{Name: stepSend, MaxAttempts: tq.MaxAttempts}}}); err != nil {
		return fmt.Errorf("notify: queue text: %w", err)
	}
	return nil
}
