package notify

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/oncall/pager/app/jobs"
	"github.com/oncall/pager/app/notify/channel"
	"github.com/oncall/pager/app/team"
	"github.com/oncall/pager/app/twilio"
	"github.com/oncall/pager/twiml"
)

// Delivery is a notification step's result: the transmission log entry of
// one recipient and route. Delivery status callbacks (/ack) update Status
// and DeliveredAt later.
type Delivery struct {
	Medium team.Medium `json:"medium"`
	// Address is where it went, masked (MaskAddress): the report is
	// readable with any API key.
	Address string `json:"address,omitempty"`
	Channel string `json:"channel,omitempty"`
	// Attempts counts tries including this one.
	Attempts int `json:"attempts"`
	// SID is the provider's id: Twilio's message or call SID, the e-mail's
	// Message-Id, Pushover's request id, signal-cli's timestamp.
	SID string `json:"sid,omitempty"`
	// Status is the provider's word: Twilio's queued, sent, delivered,
	// undelivered, failed (texts) or initiated ... completed, busy,
	// no-answer (calls); "sent" when a peer accepted it; "delivered" when a
	// webhook answered 2xx.
	Status      string    `json:"status"`
	Detail      string    `json:"detail,omitempty"`
	ErrorCode   string    `json:"error_code,omitempty"`
	SentAt      time.Time `json:"sent_at,omitzero"`
	DeliveredAt time.Time `json:"delivered_at,omitzero"`
	UpdatedAt   time.Time `json:"updated_at,omitzero"`
}

// errDeferred: the step was rescheduled for its rate-limit slot; whatever
// it returns is discarded by the queue (its step changed while it ran).
var errDeferred = errors.New("notify: rescheduled for its rate-limit slot")

// maxVoiceRunes keeps the spoken message, said twice, well inside Twilio's
// 4,000-character limit on inline TwiML.
const maxVoiceRunes = 1000

// deliverStep is the handler of every notification step.
func (o *Outbound) deliverStep(q *jobs.Queue) jobs.StepFunc {
	return func(ctx context.Context, job *jobs.Job, step *jobs.Step) (any, error) {
		p, err := decodePayload(job)
		if err != nil {
			return nil, jobs.Permanent(err)
		}
		d, ok := p.delivery(step.Name)
		if !ok {
			return nil, jobs.Permanent(fmt.Errorf("notify: %s has no delivery %q", job.ID, step.Name))
		}
		res := Delivery{Medium: d.Route.Medium, Address: MaskAddress(d.Route.Medium, d.Route.Address),
			Channel: d.Route.Channel, Attempts: step.Attempts + 1}
		switch d.Route.Medium {
		case team.MediumSMS:
			err = o.deliverSMS(ctx, q, job, step, p, d, &res)
		case team.MediumVoice:
			err = o.deliverCall(ctx, q, job, step, p, d, &res)
		default:
			err = o.deliverChannel(ctx, p, d, &res)
		}
		if errors.Is(err, errDeferred) {
			return nil, err
		}
		if err != nil {
			return nil, err
		}
		res.SentAt = o.now().UTC()
		res.UpdatedAt = res.SentAt
		if res.Status == "delivered" {
			res.DeliveredAt = res.SentAt
		}
		o.log.Info("notify: delivery sent", "notification", p.ID, "step", step.Name, "medium", d.Route.Medium,
			"sid", res.SID, "attempt", res.Attempts)
		return res, nil
	}
}

// ackURL is the status callback of a text or call: the notification, the
// recipient's job and the step, so the receipt updates that job alone.
func (o *Outbound) ackURL(id, jobID, step string) string {
	if o.base == "" {
		return ""
	}
	return o.base + "/ack?" + url.Values{"n": {id}, "job": {jobID}, "step": {step}}.Encode()
}

func (o *Outbound) deliverSMS(ctx context.Context, q *jobs.Queue, job *jobs.Job, step *jobs.Step, p *payload, d planned, res *Delivery) error {
	if d.Sender == "" {
		return jobs.Permanent(errors.New("notify: no number to text from: set current_config.from_phone, the event's from_phone or the channel's"))
	}
	body := TrimSMS(p.Message)
	if err := o.admit(ctx, q, job, step, o.sms, d.Sender, Segments(body)); err != nil {
		return err
	}
	sid, err := o.tw.SendMessage(ctx, twilio.Message{From: d.Sender, To: d.Route.Address, Body: body,
		StatusCallback: o.ackURL(p.ID, job.ID, step.Name)})
	if err != nil {
		return twilioError(err)
	}
	res.SID, res.Status = sid, "queued"
	return nil
}

func (o *Outbound) deliverCall(ctx context.Context, q *jobs.Queue, job *jobs.Job, step *jobs.Step, p *payload, d planned, res *Delivery) error {
	if d.Sender == "" {
		return jobs.Permanent(errors.New("notify: no number to call from: set current_config.from_phone, the event's from_phone or the channel's"))
	}
	if err := o.admit(ctx, q, job, step, o.calls, callKey, 1); err != nil {
		return err
	}
	say := VoiceText(p.Message)
	call := twilio.Call{From: d.Sender, To: d.Route.Address, Timeout: 30,
		Twiml: twiml.Voice(twiml.Say{Text: say}, twiml.Pause{Seconds: 1}, twiml.Say{Text: "Again: " + say})}
	if cb := o.ackURL(p.ID, job.ID, step.Name); cb != "" {
		call.StatusCallback = cb
		call.StatusCallbackEvents = []string{"initiated", "ringing", "answered", "completed"}
	}
	sid, err := o.tw.StartCall(ctx, call)
	if err != nil {
		return twilioError(err)
	}
	res.SID, res.Status = sid, "queued"
	return nil
}

// VoiceText is what a call says (twice): the message, cut to what a person
// can follow.
func VoiceText(msg string) string {
	msg = strings.Join(strings.Fields(msg), " ")
	if utf8.RuneCountInString(msg) <= maxVoiceRunes {
		return msg
	}
	r := []rune(msg)
	return string(r[:maxVoiceRunes-1]) + "…"
}

// twilioError classifies a failed send; an opted-out recipient is named as
// such so the report says why.
func twilioError(err error) error {
	if twilio.IsOptOut(err) {
		return jobs.Permanent(fmt.Errorf("recipient opted out (replied STOP; they must text START to the sender first): %w", err))
	}
	return classify(err)
}

// admit waits for a rate-limit slot, but only briefly and only in a few
// workers at once: the queue's workers are shared with every other
// delivery and the voicemail pages. Waits within the planning window are
// what planning intends; a longer one needs one of the few waiter slots.
// A step whose slot is more than MaxRateWait away, or that would be one
// long waiter too many, is rescheduled for its slot in the plan instead,
// freeing its worker (errDeferred).
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
	if err != nil {
		o.log.Warn("notify: could not reschedule a rate-limited delivery; waiting for its slot instead",
			"job", job.ID, "step", step.Name, "err", err)
		return l.Wait(ctx, key, cost)
	}
	o.log.Debug("notify: delivery rescheduled for its rate-limit slot", "job", job.ID, "step", step.Name, "at", at)
	return errDeferred
}

var errStale = errors.New("notify: step changed meanwhile")

// deliverChannel delivers by email, webhook or chat, with the credentials
// of the named channel or, for a user's own route, the pager's mail
// settings or the channel Config.Transport names.
func (o *Outbound) deliverChannel(ctx context.Context, p *payload, d planned, res *Delivery) error {
	var cfg *team.Config
	if o.cfg != nil {
		cfg = o.cfg.Current()
	}
	r := d.Route
	var ch team.NotificationChannel
	if r.Channel != "" {
		var ok bool
		if ch, ok = cfg.Channel(r.Channel); !ok {
			return jobs.Permanent(fmt.Errorf("notify: notification channel %q is no longer configured", r.Channel))
		}
		if !ch.IsEnabled() {
			return jobs.Permanent(fmt.Errorf("notify: notification channel %q was disabled", r.Channel))
		}
	}
	transport := func() (team.NotificationChannel, error) {
		if r.Channel != "" {
			return ch, nil
		}
		_, t, ok := cfg.Transport(r.Medium)
		if !ok {
			return t, jobs.Permanent(fmt.Errorf("notify: no enabled %s notification channel supplies the credentials for %s", r.Medium, r.Medium))
		}
		return t, nil
	}
	m := channel.Message{NotificationID: p.ID, Subject: p.Subject, Body: p.Message}
	var sender channel.Sender
	switch r.Medium {
	case team.MediumEmail:
		return o.deliverEmail(ctx, cfg, ch, p, d, res)
	case team.MediumWebhook:
		w := channel.Webhook{URL: r.Address, Client: o.client, Now: o.now}
		if r.Channel != "" {
			w.URL, w.Secret = ch.URL, ch.Secret
		}
		// RedFlash's receivers expect the message alone.
		m.Subject = ""
		sender = w
	case team.MediumPushover:
		t, terr := transport()
		if terr != nil {
			return terr
		}
		sender = channel.Pushover{Token: t.Token, User: r.Address, BaseURL: o.pushURL, Client: o.client}
	case team.MediumMattermost:
		t, terr := transport()
		if terr != nil {
			return terr
		}
		mm := channel.Mattermost{URL: t.URL, Host: t.Host, Token: t.Token, Channel: t.Channel,
			Username: t.Username, IconURL: t.Icon, Client: o.client}
		if r.Channel == "" {
			mm.Channel = r.Address // the user's "@alice" or channel name
		}
		sender = mm
	case team.MediumSlack:
		s := channel.Slack{URL: r.Address, Client: o.client}
		if r.Channel != "" {
			s.URL = ch.URL // the route only knows the host: the URL is a secret
		}
		sender = s
	case team.MediumSignal:
		t, terr := transport()
		if terr != nil {
			return terr
		}
		sender = channel.Signal{CliPath: t.CliPath, User: t.User, Recipient: r.Address}
	default:
		return jobs.Permanent(fmt.Errorf("notify: unknown medium %q", r.Medium))
	}
	rc, err := sender.Send(ctx, m)
	if err != nil {
		return channelError(err)
	}
	res.SID, res.Detail, res.Status = rc.ID, rc.Detail, "sent"
	if r.Medium == team.MediumWebhook {
		// The receiver itself answered 2xx: RedFlash counts that as
		// delivered.
		res.Status = "delivered"
	}
	return nil
}

func (o *Outbound) deliverEmail(ctx context.Context, cfg *team.Config, ch team.NotificationChannel, p *payload, d planned, res *Delivery) error {
	var ms team.MailSettings
	switch {
	case d.Route.Channel != "":
		ms = team.MailSettings{FromEmail: ch.Sender, MailServer: ch.SMTPServer, MailPort: ch.SMTPPort,
			MailUseTLS: ch.TLS(), MailUsername: ch.SMTPUser, MailPassword: ch.SMTPPassword}
	case cfg != nil:
		ms = cfg.CurrentConfig.MailSettings
	}
	rc, err := o.Email(ctx, ms, []string{d.Route.Address}, channel.Message{
		NotificationID: p.ID,
		Subject:        EmailSubject(p.Subject, p.Message),
		Body:           p.Message + "\n\n-- \nSent by the on-call pager for " + p.Source + ", notification " + p.ID + ".\n",
	})
	if err != nil {
		return err
	}
	res.SID, res.Detail, res.Status = rc.ID, rc.Detail, "sent"
	return nil
}

// EmailSubject is subject, or else the message's first line, cut to fit a
// mail client's list.
func EmailSubject(subject, msg string) string {
	s := strings.TrimSpace(subject)
	if s == "" {
		first, _, _ := strings.Cut(strings.TrimSpace(msg), "\n")
		s = "[OnCall] " + strings.TrimSpace(first)
	}
	const max = 120
	if utf8.RuneCountInString(s) > max {
		s = string([]rune(s)[:max-1]) + "…"
	}
	return s
}

func channelError(err error) error {
	if channel.IsPermanent(err) {
		return jobs.Permanent(err)
	}
	return err
}
