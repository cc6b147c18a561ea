package outbound

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/oncall/pager/app/jobs"
	"github.com/oncall/pager/app/twilio"
)

// Sending from a durable job step of many (a notification's deliveries):
// a step does not hold a queue worker for long in the rate limiter; its
// slot is booked when the job is stored and the step is due near it.

// ErrDeferred: the step was rescheduled for its rate-limit slot; whatever
// it returns is discarded by the queue (its step changed while it ran).
var ErrDeferred = errors.New("notify: rescheduled for its rate-limit slot")

// SendTextStep sends t from a job step at the sender number's rate, or
// reschedules the step for its slot (ErrDeferred). A recipient who opted
// out is named as such in the error, so a report says why. A text an
// earlier run of the step already got to Twilio is not sent again: it is
// returned as Twilio has it now.
func (o *Outbound) SendTextStep(ctx context.Context, q *jobs.Queue, job *jobs.Job, step *jobs.Step, t Text) (twilio.Sent, error) {
	body := TrimSMS(t.Body)
	if s, ok, err := o.sentBefore(ctx, job, step, func(f SentFinder, w twilio.Window) (twilio.Sent, bool, error) {
		return f.FindMessage(ctx, t.From, t.To, body, w)
	}); err != nil || ok {
		return s, err
	}
	for waited := true; waited; {
		if err := o.admit(ctx, q, job, step, o.sms, t.From, Segments(body)); err != nil {
			return twilio.Sent{}, err
		}
		var err error
		if waited, err = o.stepTurn(ctx, q, job, step, smsKey(t.From)); err != nil {
			return twilio.Sent{}, err
		}
	}
	if err := o.sms.Pace(ctx, t.From, Segments(body)); err != nil {
		return twilio.Sent{}, err
	}
	sid, err := o.tw.SendMessage(ctx, twilio.Message{From: t.From, To: t.To, Body: body, MediaURL: t.MediaURL, StatusCallback: t.StatusCallback})
	if err != nil {
		return twilio.Sent{}, stepError(err)
	}
	return twilio.Sent{SID: sid, Status: statusQueued}, nil
}

// statusQueued is where Twilio's answer to a create leaves a send; its
// status callbacks take it on from there.
const statusQueued = "queued"

// StartCallStep places c from a job step at the account's call rate, or
// reschedules the step for its slot (ErrDeferred). A call an earlier run of
// the step already got to Twilio is not placed again: it is returned as
// Twilio has it now.
func (o *Outbound) StartCallStep(ctx context.Context, q *jobs.Queue, job *jobs.Job, step *jobs.Step, c Call) (twilio.Sent, error) {
	if s, ok, err := o.sentBefore(ctx, job, step, func(f SentFinder, w twilio.Window) (twilio.Sent, bool, error) {
		return f.FindCall(ctx, c.From, c.To, w)
	}); err != nil || ok {
		return s, err
	}
	for waited := true; waited; {
		if err := o.admit(ctx, q, job, step, o.calls, callKey, 1); err != nil {
			return twilio.Sent{}, err
		}
		var err error
		if waited, err = o.stepTurn(ctx, q, job, step, callKey); err != nil {
			return twilio.Sent{}, err
		}
	}
	if err := o.calls.Pace(ctx, callKey, 1); err != nil {
		return twilio.Sent{}, err
	}
	sid, err := o.tw.StartCall(ctx, twilioCall(c))
	if err != nil {
		return twilio.Sent{}, stepError(err)
	}
	return twilio.Sent{SID: sid, Status: statusQueued}, nil
}

// SentFinder looks up sends Twilio already has (twilio.Client): made within
// a window and not failed. A Twilio client without it is trusted to have
// sent nothing it did not answer.
type SentFinder interface {
	FindMessage(ctx context.Context, from, to, body string, w twilio.Window) (twilio.Sent, bool, error)
	FindCall(ctx context.Context, from, to string, w twilio.Window) (twilio.Sent, bool, error)
}

// The client's lookups must keep matching SentFinder: a Twilio client that
// stopped implementing it would silently send again after every lost answer.
var _ SentFinder = (*twilio.Client)(nil)

// skew allows for Twilio's clock and ours disagreeing, and for a send made
// just before a run's end reaching Twilio just after.
const skew = time.Minute

// sentBefore asks Twilio whether a step's send already reached it, when it
// may have: the job was taken over from a runner that died holding it, or
// an earlier run of the step ended in an error (a timeout after Twilio
// accepted it reads like one). Only sends made while such a run could have
// been sending count: the step's last run, the lease of the runner it was
// taken from. A send from the same number to the same person outside them
// is another job's, or the pager's since, and must not stand in for this
// one. Found, the step records that send instead of sending again.
func (o *Outbound) sentBefore(ctx context.Context, job *jobs.Job, step *jobs.Step, find func(SentFinder, twilio.Window) (twilio.Sent, bool, error)) (twilio.Sent, bool, error) {
	f, ok := o.tw.(SentFinder)
	if !ok || (!job.TakenOver && step.Attempts == 0) {
		return twilio.Sent{}, false, nil
	}
	for _, w := range runWindows(job, step, o.now()) {
		s, found, err := find(f, w)
		if err != nil {
			return twilio.Sent{}, false, fmt.Errorf("notify: check Twilio for an earlier send before sending again: %w", err)
		}
		if found {
			o.log.Info("notify: send already on Twilio from an earlier attempt; not sending again", "job", job.ID, "step", step.Name, "sid", s.SID, "status", s.Status)
			return s, true, nil
		}
	}
	return twilio.Sent{}, false, nil
}

// sentInRun is sentBefore for a send made from whatever step ctx runs in,
// if any.
func (o *Outbound) sentInRun(ctx context.Context, find func(SentFinder, twilio.Window) (twilio.Sent, bool, error)) (twilio.Sent, bool, error) {
	job, step, ok := jobs.Running(ctx)
	if !ok {
		return twilio.Sent{}, false, nil
	}
	return o.sentBefore(ctx, job, step, find)
}

// runWindows are when earlier runs of step may have sent, widened by skew.
// Jobs stored before runs and leases were timed say only when they were
// created: then anything since counts, as it did.
func runWindows(job *jobs.Job, step *jobs.Step, now time.Time) []twilio.Window {
	var ws []twilio.Window
	widen := func(start, end time.Time) {
		ws = append(ws, twilio.Window{Start: start.Add(-skew), End: end.Add(skew)})
	}
	if step.Attempts > 0 {
		if step.RunStart.IsZero() {
			return []twilio.Window{{Start: job.CreatedAt.Add(-skew), End: now.Add(skew)}}
		}
		widen(step.RunStart, step.RunEnd)
	}
	if job.TakenOver {
		l := job.TakenFrom
		if l == nil || l.Since.IsZero() {
			return []twilio.Window{{Start: job.CreatedAt.Add(-skew), End: now.Add(skew)}}
		}
		end := l.Until
		if end.After(now) {
			end = now
		}
		widen(l.Since, end)
	}
	return ws
}

// stepError classifies a failed send; an opted-out recipient is named as
// such.
func stepError(err error) error {
	if twilio.IsOptOut(err) {
		return jobs.Permanent(fmt.Errorf("recipient opted out (replied STOP; they must text START to the sender first): %w", err))
	}
	return classify(err)
}

// stepTurn waits, as long as a step may hold its worker, for this replica's
// turn to send from key (waited: it had to, so the step takes another
// rate-limit slot); a step whose turn is further off is rescheduled for
// when the other replica's lease ends (ErrDeferred). It waits at most the
// planning window, as a rate-limit wait without a waiter slot does: no
// waiter slot bounds how many workers wait for a lease, and a lease runs as
// long as MaxRateWait by default, so that bound would let every worker of
// this replica wait out whole leases while another replica sends.
func (o *Outbound) stepTurn(ctx context.Context, q *jobs.Queue, job *jobs.Job, step *jobs.Step, key string) (bool, error) {
	waited, left, err := o.turn(ctx, key, o.window)
	if err != nil || left <= 0 {
		return waited, err
	}
	at := o.now().Add(left).UTC()
	_, err = q.Update(ctx, job.ID, func(j *jobs.Job) error {
		s := j.Step(step.Name)
		if s == nil || s.State != jobs.StepPending || s.Attempts != step.Attempts {
			return errStale
		}
		s.NextAt = at
		return nil
	})
	if err != nil {
		_, _, err = o.turn(ctx, key, -1)
		return true, err
	}
	return false, ErrDeferred
}

// Booking is one send's place in a rate limiter's plan.
type Booking struct {
	l          *Limiter
	key        string
	start, end time.Time
	due        time.Time
}

// Due is when the booked step should run; zero means now.
func (b Booking) Due() time.Time { return b.due }

// Undo takes the booking back if nothing was planned after it (the job
// was not stored).
func (b Booking) Undo() {
	if b.l != nil {
		b.l.Unplan(b.key, b.start, b.end)
	}
}

// BookText books a text of segments from the sender number into the plan.
func (o *Outbound) BookText(from string, segments int) Booking {
	return o.book(o.sms, from, segments)
}

// BookCall books a call into the plan.
func (o *Outbound) BookCall() Booking { return o.book(o.calls, callKey, 1) }

// book plans a slot. A step is due at the start of the window (o.window
// long, counted from now) its slot falls in, not at the slot itself: at 1
// text a second each step is due exactly at its slot, but at 100 a second a
// hundred are due together and wait the rest of the window in the limiter.
// Waking the job once per slot would cost a claim and a release per text,
// more than a slot lasts at high rates.
func (o *Outbound) book(l *Limiter, key string, cost int) Booking {
	if key == "" {
		return Booking{}
	}
	now := o.now()
	at := l.Plan(key, cost)
	b := Booking{l: l, key: key, start: at, end: l.PlannedEnd(key)}
	if at.After(now) {
		if w := at.Sub(now) / o.window * o.window; w > 0 {
			b.due = now.Add(w).UTC()
		}
	}
	return b
}

// SyncRates makes the limiters follow the config's rates now (before a
// batch of bookings) unless Options fixed them.
func (o *Outbound) SyncRates() { o.syncRates() }

// admit waits for a rate-limit slot, but only briefly and only in a few
// workers at once: the queue's workers are shared with every other
// delivery and the voicemail pages. Waits within the planning window are
// what planning intends; a longer one needs one of the few waiter slots.
// A step whose slot is more than MaxRateWait away, or that would be one
// long waiter too many, is rescheduled for its slot in the plan instead,
// freeing its worker (ErrDeferred).
func (o *Outbound) admit(ctx context.Context, q *jobs.Queue, job *jobs.Job, step *jobs.Step, l *Limiter, key string, cost int) error {
	o.syncRates()
	if l.Delay(key) > o.window {
		select {
		case o.waiters <- struct{}{}:
			defer func() { <-o.waiters }()
		default:
			return o.reschedule(ctx, q, job, step, l, key, cost)
		}
	}
	r, ok := l.reserve(key, cost, o.maxHold)
	if !ok {
		return o.reschedule(ctx, q, job, step, l, key, cost)
	}
	return r.wait(ctx)
}

// reschedule moves the running step's NextAt to its planned slot. The
// queue then discards this run's outcome (the step changed while it ran)
// and runs it again when due; the attempt is not counted. If the job cannot
// be updated, the step waits for a slot here after all.
func (o *Outbound) reschedule(ctx context.Context, q *jobs.Queue, job *jobs.Job, step *jobs.Step, l *Limiter, key string, cost int) error {
	at := l.Plan(key, cost).UTC()
	_, err := q.Update(ctx, job.ID, func(j *jobs.Job) error {
		s := j.Step(step.Name)
		if s == nil || s.State != jobs.StepPending || s.Attempts != step.Attempts {
			return errStale
		}
		s.NextAt = at
		return nil
	})
	if err != nil && ctx.Err() != nil {
		// Shutting down: the step runs again on the next start.
		return ctx.Err()
	}
	if err != nil {
		o.log.WarnContext(ctx, "notify: could not reschedule a rate-limited delivery; waiting for its slot instead",
			"job", job.ID, "step", step.Name, "err", err)
		return l.Wait(ctx, key, cost)
	}
	o.log.DebugContext(ctx, "notify: delivery rescheduled for its rate-limit slot", "job", job.ID, "step", step.Name, "at", at)
	return ErrDeferred
}

var errStale = errors.New("notify: step changed meanwhile")
