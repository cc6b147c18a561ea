package notification

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/oncall/pager/app/jobs"
	"github.com/oncall/pager/app/outbound"
	"github.com/oncall/pager/app/team"
	"github.com/oncall/pager/store"
)

// KindNotification is an alert raised through the API, as delivered to one
// recipient: a notification is one job per recipient, one step per route,
// each delivered and retried on its own, beside a small record of the
// notification itself (see Notify).
const KindNotification jobs.Kind = "notification"

// JobPrefix starts the ID of every notification job:
// "ntf-<id>-<nnnn>".
const JobPrefix = "ntf-"

// RecordPrefix is where the notification records are kept:
// "notifications/<id>.json".
const RecordPrefix = "notifications/"

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
	Recipients []Recipient `json:"recipients"`
	// APIKey is the name of the key that raised it, never the key.
	APIKey  string    `json:"api_key,omitempty"`
	Created time.Time `json:"created"`
}

// JobsPrefix is the common start of the IDs of notification id's jobs.
func JobsPrefix(id string) string { return JobPrefix + id + "-" }

// JobID is the ID of the job carrying notification id to the recipient at
// index i of its Recipients.
func JobID(id string, i int) string { return fmt.Sprintf("%s%04d", JobsPrefix(id), i) }

func recordKey(id string) string { return RecordPrefix + id + ".json" }

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

// record is what a notification is besides its deliveries, stored once and
// never changed: the report's header, and the recipients who have no job
// (skipped, or reached through an earlier recipient's routes). It is
// written before the jobs, so jobs missing after a crash can be told from
// a notification that never had them.
type record struct {
	ID      string    `json:"id"`
	Source  string    `json:"source"`
	Subject string    `json:"subject,omitempty"`
	Message string    `json:"message"`
	APIKey  string    `json:"api_key,omitempty"`
	Created time.Time `json:"created"`
	// Jobs counts the recipients with a job; Recipients counts them all.
	Jobs       int       `json:"jobs"`
	Recipients int       `json:"recipients"`
	Others     []jobless `json:"others,omitempty"`
}

// jobless is a recipient without a job, at its place in the notification.
type jobless struct {
	Index   int    `json:"index"`
	UserID  string `json:"user_id"`
	Name    string `json:"name,omitempty"`
	Skipped string `json:"skipped,omitempty"`
}

// payload is one recipient job's payload: what it takes to reach that
// recipient, fixed when the notification was accepted.
type payload struct {
	ID         string    `json:"id"` // the notification's
	Source     string    `json:"source"`
	Subject    string    `json:"subject,omitempty"`
	Message    string    `json:"message"`
	FromPhone  string    `json:"from_phone,omitempty"`
	Index      int       `json:"index"` // in the notification's Recipients
	Recipient  Recipient `json:"recipient"`
	Deliveries []planned `json:"deliveries"`

	byStep map[string]int // index into Deliveries, filled by link
}

// planned is one delivery: the step that carries it and the route, by
// index into the recipient's Routes.
type planned struct {
	Step     string `json:"step"`
	RouteIdx int    `json:"route"`
	// From is the sender number of an SMS or call when it is not the
	// notification's FromPhone (a named channel's own number). Both are
	// fixed at accept time so the rate limiter's plan and the send use the
	// same key.
	From string `json:"from,omitempty"`

	Route  Route  `json:"-"` // filled by link
	Sender string `json:"-"` // From, else FromPhone; filled by link
}

// link fills in each delivery's route and the index by step name after
// decoding.
func (p *payload) link() error {
	p.byStep = make(map[string]int, len(p.Deliveries))
	for i := range p.Deliveries {
		d := &p.Deliveries[i]
		if d.RouteIdx < 0 || d.RouteIdx >= len(p.Recipient.Routes) {
			return fmt.Errorf("notify: notification %s: delivery %q refers to no route", p.ID, d.Step)
		}
		d.Route = p.Recipient.Routes[d.RouteIdx]
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
func StepName(userID string, r Route) string {
	s := userID + "/" + string(r.Medium)
	if r.Channel != "" {
		s += "/" + r.Channel
	}
	return s
}

// Notify stores n before it returns: first a record of it (RecordPrefix),
// then one job per reached recipient, "ntf-<id>-<nnnn>" with nnnn the
// recipient's place in n.Recipients, one step per route (see StepName).
// The queue delivers them afterwards, each route retried with backoff on
// temporary failures and recorded as failed at once on permanent ones (an
// invalid or opted-out number). A delivery outcome rewrites only its
// recipient's job, so what a message costs does not grow with the
// notification.
//
// Notify is idempotent per n.ID: called again with the same ID (a retry
// after a store error, or after a crash halfway) it creates only the jobs
// still missing, and returns ErrDuplicate when none were.
//
// Texts and calls are planned: each step is scheduled for the slot the
// rate limiter will probably give it, so a thousand queued texts drain at
// the allowed rate without a thousand steps holding the queue's workers in
// the limiter, and email, webhooks and chat go out at once beside them.
func (o *Service) Notify(ctx context.Context, q *jobs.Queue, n Notification) error {
	if !ValidID(n.ID) {
		return fmt.Errorf("notify: notification id %q: want 32 hex digits", n.ID)
	}
	if o.st == nil {
		return errors.New("notify: no store for notification records (Options.Store)")
	}
	if n.Created.IsZero() {
		n.Created = o.now().UTC()
	}
	rec, ps := o.plan(n)
	if len(ps) == 0 {
		return ErrNothingToSend
	}
	data, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("notify: encode notification %s: %w", n.ID, err)
	}
	// A record already there is an earlier try of this notification, whose
	// jobs may be all, partly or not at all stored: Enqueue tells.
	if _, err := o.st.Put(ctx, recordKey(n.ID), data, store.Cond{IfNoneMatch: true}); err != nil && !errors.Is(err, store.ErrPrecondition) {
		return fmt.Errorf("notify: store notification %s: %w", n.ID, err)
	}
	created, err := o.enqueue(ctx, q, n.Created, ps)
	if err != nil {
		return fmt.Errorf("notify: queue notification %s: %w", n.ID, err)
	}
	if created == 0 {
		return ErrDuplicate
	}
	return nil
}

// enqueueWorkers bounds the jobs of one notification stored at once: each
// is a few store round trips, which a thousand recipients should not wait
// for one after another.
const enqueueWorkers = 8

// enqueue stores the recipients' jobs, booking their texts and calls into
// the rate limiters' plan, and takes back the bookings of the jobs it did
// not create (duplicates, or errors). It returns how many it created.
func (o *Service) enqueue(ctx context.Context, q *jobs.Queue, created time.Time, ps []*payload) (int, error) {
	o.out.SyncRates()
	js := make([]jobs.Job, len(ps))
	books := make([][]outbound.Booking, len(ps))
	for i, p := range ps {
		data, err := json.Marshal(p)
		if err != nil {
			return 0, fmt.Errorf("notify: encode %s: %w", JobID(p.ID, p.Index), err)
		}
		js[i] = jobs.Job{ID: JobID(p.ID, p.Index), Kind: KindNotification, Payload: data, CreatedAt: created}
		books[i] = o.schedule(p, &js[i])
	}
	var (
		wg   sync.WaitGroup
		sem  = make(chan struct{}, enqueueWorkers)
		ok   = make([]bool, len(js))
		errs = make([]error, len(js))
	)
	for i := range js {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			ok[i], errs[i] = q.Enqueue(ctx, js[i])
		}()
	}
	wg.Wait()
	n := 0
	for i := len(js) - 1; i >= 0; i-- {
		if ok[i] {
			n++
			continue
		}
		for k := len(books[i]) - 1; k >= 0; k-- {
			books[i][k].Undo()
		}
	}
	return n, errors.Join(errs...)
}

// plan lists the deliveries of n: each route of each reached recipient,
// as one payload per recipient, and the record of n.
func (o *Service) plan(n Notification) (record, []*payload) {
	var cfg *team.Config
	if o.cfg != nil {
		cfg = o.cfg.Current()
	}
	if n.FromPhone == "" && cfg != nil {
		n.FromPhone = cfg.CurrentConfig.FromPhone
	}
	rec := record{ID: n.ID, Source: n.Source, Subject: n.Subject, Message: n.Message, APIKey: n.APIKey,
		Created: n.Created, Recipients: len(n.Recipients)}
	var ps []*payload
	seen := map[string]bool{}
	for i, rc := range n.Recipients {
		if rc.Skipped != "" || seen[rc.UserID] || len(rc.Routes) == 0 {
			rec.Others = append(rec.Others, jobless{Index: i, UserID: rc.UserID, Name: rc.Name, Skipped: rc.Skipped})
			if rc.Skipped == "" {
				seen[rc.UserID] = true
			}
			continue
		}
		seen[rc.UserID] = true
		p := &payload{ID: n.ID, Source: n.Source, Subject: n.Subject, Message: n.Message, FromPhone: n.FromPhone,
			Index: i, Recipient: rc}
		used := map[string]int{}
		for ri, r := range rc.Routes {
			name := StepName(rc.UserID, r)
			// The same medium and channel twice for one recipient (a
			// channel with several addresses): number the later ones.
			if used[name]++; used[name] > 1 {
				name += "#" + strconv.Itoa(used[name])
			}
			d := planned{Step: name, RouteIdx: ri}
			if r.Medium == team.MediumSMS || r.Medium == team.MediumVoice {
				if ch, ok := cfg.Channel(r.Channel); ok && r.Channel != "" && ch.FromPhone != "" && ch.FromPhone != n.FromPhone {
					d.From = ch.FromPhone
				}
			}
			p.Deliveries = append(p.Deliveries, d)
		}
		_ = p.link() // cannot fail: built from the recipient's own routes
		ps = append(ps, p)
	}
	rec.Jobs = len(ps)
	return rec, ps
}

// schedule makes the job's steps and books texts and calls into the rate
// limiters' plan (each step due near its slot), returning the bookings.
func (o *Service) schedule(p *payload, job *jobs.Job) []outbound.Booking {
	var books []outbound.Booking
	segs := outbound.Segments(outbound.TrimSMS(p.Message))
	for _, d := range p.Deliveries {
		s := jobs.Step{Name: d.Step, MaxAttempts: MaxDeliveryAttempts}
		var b outbound.Booking
		switch {
		case d.Route.Medium == team.MediumSMS && d.Sender != "":
			b = o.out.BookText(d.Sender, segs)
		case d.Route.Medium == team.MediumVoice:
			b = o.out.BookCall()
		}
		if due := b.Due(); !due.IsZero() {
			s.NextAt = due
		}
		books = append(books, b)
		job.Steps = append(job.Steps, s)
	}
	return books
}
