package notify

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/oncall/pager/app/jobs"
	"github.com/oncall/pager/app/team"
)

// KindNotification is an alert raised through the API: one durable job per
// notification, one step per recipient and route, each delivered and
// retried on its own.
const KindNotification jobs.Kind = "notification"

// JobPrefix starts the ID of every notification job: "ntf-<id>".
const JobPrefix = "ntf-"

// MaxDeliveryAttempts bounds the tries of one delivery: with the queue's
// default backoff (1 s doubling to a 5 min cap) the last try is about 25
// minutes after the first. An alert that late is rarely worth a page.
const MaxDeliveryAttempts = 12

// Notification is one accepted alert.
type Notification struct {
	// ID is 32 hex digits (NewID), the notification_id the API answers with.
	ID string `json:"id"`
	// Source says what was notified: "contact:alice", "group:ops",
	// "event:disk_full".
	Source  string `json:"source"`
	Subject string `json:"subject,omitempty"`
	Message string `json:"message"`
	// FromPhone is the number texts and calls come from, unless a named
	// channel has its own; empty means current_config.from_phone.
	FromPhone string `json:"from_phone,omitempty"`
	// Recipients are fixed when the alert is accepted, so a retry an hour
	// later goes to the same people; those with Skipped set get nothing.
	Recipients []team.Recipient `json:"recipients"`
	// APIKey is the name of the key that raised it, never the key.
	APIKey  string    `json:"api_key,omitempty"`
	Created time.Time `json:"created"`
}

// JobID is the ID of the job carrying notification id.
func JobID(id string) string { return JobPrefix + id }

// NewID returns a fresh notification ID: 128 random bits as 32 hex digits.
func NewID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand)
	return hex.EncodeToString(b[:])
}

// ValidID reports whether id looks like a notification ID.
func ValidID(id string) bool {
	if len(id) != 32 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// payload is the job's payload: the notification and its deliveries as
// planned when it was accepted. It never changes afterwards.
type payload struct {
	Notification
	Deliveries []planned `json:"deliveries"`

	byStep map[string]int // index into Deliveries, filled by link
}

// planned is one delivery: the step that carries it, whom it is for and by
// which route. The route is kept once, in Recipients, and referred to by
// index: a job is rewritten whenever a step finishes, so its size is paid
// for on every delivery.
type planned struct {
	Step      string `json:"step"`
	Recipient int    `json:"recipient"` // index into Recipients
	RouteIdx  int    `json:"route"`     // index into the recipient's Routes
	// From is the sender number of an SMS or call when it is not the
	// notification's FromPhone (a named channel's own number). Both are
	// fixed at accept time so the rate limiter's plan and the send use the
	// same key.
	From string `json:"from,omitempty"`

	Route  team.Route `json:"-"` // filled by link
	Sender string     `json:"-"` // From, else FromPhone; filled by link
}

// link fills in each delivery's route and the index by step name after
// decoding.
func (p *payload) link() error {
	p.byStep = make(map[string]int, len(p.Deliveries))
	for i := range p.Deliveries {
		d := &p.Deliveries[i]
		if d.Recipient < 0 || d.Recipient >= len(p.Recipients) || d.RouteIdx < 0 || d.RouteIdx >= len(p.Recipients[d.Recipient].Routes) {
			return fmt.Errorf("notify: notification %s: delivery %q refers to no route", p.ID, d.Step)
		}
		d.Route = p.Recipients[d.Recipient].Routes[d.RouteIdx]
		d.Sender = d.From
		if d.Sender == "" && (d.Route.Medium == team.MediumSMS || d.Route.Medium == team.MediumVoice) {
			d.Sender = p.FromPhone
		}
		p.byStep[d.Step] = i
	}
	return nil
}

func (p *payload) delivery(step string) (planned, bool) {
	i, ok := p.byStep[step]
	if !ok {
		return planned{}, false
	}
	return p.Deliveries[i], true
}

// decodePayload reads a notification job's payload.
func decodePayload(job *jobs.Job) (*payload, error) {
	p := &payload{}
	if err := job.Decode(p); err != nil {
		return nil, err
	}
	if err := p.link(); err != nil {
		return nil, err
	}
	return p, nil
}

// Errors of Notify.
var (
	// ErrNothingToSend: no recipient has a route, so there is no job.
	ErrNothingToSend = errors.New("notify: nobody to notify")
	// ErrDuplicate: a notification with this ID was accepted before;
	// nothing new was queued. Not a failure: that one is being delivered.
	ErrDuplicate = errors.New("notify: notification already accepted")
)

// StepName names the step delivering route r to recipient userID:
// "<userid>/<medium>[/<channel>]", readable in logs and reports.
func StepName(userID string, r team.Route) string {
	s := userID + "/" + string(r.Medium)
	if r.Channel != "" {
		s += "/" + r.Channel
	}
	return s
}

// Notify stores n as one job, "ntf-<id>", before it returns; the queue
// delivers it afterwards, each recipient's route in its own step (see
// StepName), retried with backoff on temporary failures and recorded as
// failed at once on permanent ones (an invalid or opted-out number).
//
// Texts and calls are planned: each step is scheduled for the slot the
// rate limiter will probably give it, so a thousand queued texts drain at
// the allowed rate without a thousand steps holding the queue's workers in
// the limiter, and email, webhooks and chat go out at once beside them.
func (o *Outbound) Notify(ctx context.Context, q *jobs.Queue, n Notification) error {
	if !ValidID(n.ID) {
		return fmt.Errorf("notify: notification id %q: want 32 hex digits", n.ID)
	}
	if n.Created.IsZero() {
		n.Created = o.now().UTC()
	}
	p := o.plan(n)
	if len(p.Deliveries) == 0 {
		return ErrNothingToSend
	}
	data, err := json.Marshal(p)
	if err != nil {
		return fmt.Errorf("notify: encode notification %s: %w", n.ID, err)
	}
	job := jobs.Job{ID: JobID(n.ID), Kind: KindNotification, Payload: data, CreatedAt: n.Created}
	undo := o.schedule(p, &job)
	names := make([]string, len(job.Steps))
	for i, s := range job.Steps {
		names[i] = s.Name
	}
	o.handleSteps(q, names)
	created, err := q.Enqueue(ctx, job)
	if err != nil || !created {
		undo()
	}
	if err != nil {
		return fmt.Errorf("notify: queue notification %s: %w", n.ID, err)
	}
	if !created {
		return ErrDuplicate
	}
	return nil
}

// plan lists the deliveries of n: each route of each reached recipient.
func (o *Outbound) plan(n Notification) *payload {
	var cfg *team.Config
	if o.cfg != nil {
		cfg = o.cfg.Current()
	}
	if n.FromPhone == "" && cfg != nil {
		n.FromPhone = cfg.CurrentConfig.FromPhone
	}
	p := &payload{Notification: n}
	used := map[string]int{}
	seen := map[string]bool{}
	for i, rc := range n.Recipients {
		if rc.Skipped != "" || seen[rc.UserID] {
			continue
		}
		seen[rc.UserID] = true
		for ri, r := range rc.Routes {
			name := StepName(rc.UserID, r)
			// The same medium and channel twice for one recipient (a
			// channel with several addresses): number the later ones.
			if used[name]++; used[name] > 1 {
				name += "#" + strconv.Itoa(used[name])
			}
			d := planned{Step: name, Recipient: i, RouteIdx: ri, Route: r}
			if r.Medium == team.MediumSMS || r.Medium == team.MediumVoice {
				if ch, ok := cfg.Channel(r.Channel); ok && r.Channel != "" && ch.FromPhone != "" && ch.FromPhone != n.FromPhone {
					d.From = ch.FromPhone
				}
			}
			p.Deliveries = append(p.Deliveries, d)
		}
	}
	_ = p.link() // cannot fail: built from the recipients' own routes
	return p
}

// schedule makes the job's steps and books texts and calls into the rate
// limiters' plan, returning how to take the booking back.
//
// A step is due at the start of the window (o.window long, counted from
// now) its slot falls in, not at the slot itself: at 1 text a second each
// step is due exactly at its slot, but at 100 a second a hundred are due
// together and wait the rest of the window in the limiter. Waking the job
// once per slot would cost a claim and a release per text, more than a
// slot lasts at high rates.
func (o *Outbound) schedule(p *payload, job *jobs.Job) (undo func()) {
	o.syncRates()
	type span struct{ start, end time.Time }
	booked := map[*Limiter]map[string]*span{}
	now := o.now()
	body := TrimSMS(p.Message)
	segs := Segments(body)
	for _, d := range p.Deliveries {
		s := jobs.Step{Name: d.Step, MaxAttempts: MaxDeliveryAttempts}
		var (
			l    *Limiter
			key  string
			cost int
		)
		switch d.Route.Medium {
		case team.MediumSMS:
			l, key, cost = o.sms, d.Sender, segs
		case team.MediumVoice:
			l, key, cost = o.calls, callKey, 1
		}
		if l != nil && key != "" {
			at := l.Plan(key, cost)
			if booked[l] == nil {
				booked[l] = map[string]*span{}
			}
			b := booked[l][key]
			if b == nil {
				b = &span{start: at}
				booked[l][key] = b
			}
			b.end = l.PlannedEnd(key)
			if at.After(now) {
				w := at.Sub(now) / o.window * o.window
				if w > 0 {
					s.NextAt = now.Add(w).UTC()
				}
			}
		}
		job.Steps = append(job.Steps, s)
	}
	return func() {
		for l, keys := range booked {
			for key, b := range keys {
				l.Unplan(key, b.start, b.end)
			}
		}
	}
}

// payloadOf decodes a notification job's payload, once per job: a
// thousand-step job would otherwise parse its thousand recipients once per
// step. The payload never changes after Enqueue.
func (o *Outbound) payloadOf(job *jobs.Job) (*payload, error) {
	o.payloadMu.Lock()
	p := o.payloads[job.ID]
	o.payloadMu.Unlock()
	if p != nil {
		return p, nil
	}
	p, err := decodePayload(job)
	if err != nil {
		return nil, err
	}
	o.payloadMu.Lock()
	defer o.payloadMu.Unlock()
	const keep = 16 // jobs in flight at once, about; older ones decode again
	if len(o.payloads) >= keep {
		for id := range o.payloads {
			delete(o.payloads, id)
			break
		}
	}
	o.payloads[job.ID] = p
	return p, nil
}
