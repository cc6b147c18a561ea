package notification

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/oncall/pager/app/jobs"
	"github.com/oncall/pager/app/outbound"
	"github.com/oncall/pager/app/outbound/channel"
	"github.com/oncall/pager/app/team"
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

// maxVoiceRunes keeps the spoken message to what a person can follow; the
// escaped document, message said twice, must also fit Twilio's 4,000
// characters of inline TwiML (twiml.FitVoice).
const maxVoiceRunes = 1000

// deliverStep is the handler of every notification step.
func (o *Service) deliverStep(q *jobs.Queue) jobs.StepFunc {
	return func(ctx context.Context, job *jobs.Job, step *jobs.Step) (any, error) {
		p, err := decodePayload(job)
		if err != nil {
			return nil, jobs.Permanent(err)
		}
		d, ok := p.delivery(step.Name)
		if !ok {
			return nil, jobs.Permanent(fmt.Errorf("notify: %s has no delivery %q", job.ID, step.Name))
		}
		res := Delivery{Medium: d.Route.Medium, Address: outbound.MaskAddress(d.Route.Medium, d.Route.Address),
			Channel: d.Route.Channel, Attempts: step.Attempts + 1}
		switch d.Route.Medium {
		case team.MediumSMS:
			err = o.deliverSMS(ctx, q, job, step, p, d, &res)
		case team.MediumVoice:
			err = o.deliverCall(ctx, q, job, step, p, d, &res)
		default:
			err = o.deliverChannel(ctx, p, d, &res)
		}
		if errors.Is(err, outbound.ErrDeferred) {
			return nil, err
		}
		if err != nil {
			if jobs.IsPermanent(err) || (step.MaxAttempts > 0 && step.Attempts+1 >= step.MaxAttempts) {
				o.meter.Notification(string(d.Route.Medium), outcomeFailed)
			}
			return nil, err
		}
		res.SentAt = o.now().UTC()
		res.UpdatedAt = res.SentAt
		o.meter.Notification(string(d.Route.Medium), outcomeSent)
		// A send an earlier attempt made may have been delivered (a call
		// answered) by now; its callback saying so came while the step
		// had nothing recorded, and is not sent again.
		if stepOutcome(res).Reached {
			res.DeliveredAt = res.SentAt
			o.meter.Notification(string(d.Route.Medium), outcomeDelivered)
		}
		o.log.Info("notify: delivery sent", "notification", p.ID, "step", step.Name, "medium", d.Route.Medium,
			"sid", res.SID, "attempt", res.Attempts)
		return res, nil
	}
}

// ackURL is the status callback of a text or call: the notification, the
// recipient's job and the step, so the receipt updates that job alone.
func (o *Service) ackURL(id, jobID, step string) string {
	if o.base == "" {
		return ""
	}
	return o.base + "/ack?" + url.Values{"n": {id}, "job": {jobID}, "step": {step}}.Encode()
}

func (o *Service) deliverSMS(ctx context.Context, q *jobs.Queue, job *jobs.Job, step *jobs.Step, p *payload, d planned, res *Delivery) error {
	if d.Sender == "" {
		return jobs.Permanent(errors.New("notify: no number to text from: set current_config.from_phone, the event's from_phone or the channel's"))
	}
	sent, err := o.out.SendTextStep(ctx, q, job, step, outbound.Text{From: d.Sender, To: d.Route.Address, Body: p.Message,
		StatusCallback: o.ackURL(p.ID, job.ID, step.Name)})
	if err != nil {
		return err
	}
	res.SID, res.Status = sent.SID, sent.Status
	return nil
}

func (o *Service) deliverCall(ctx context.Context, q *jobs.Queue, job *jobs.Job, step *jobs.Step, p *payload, d planned, res *Delivery) error {
	if d.Sender == "" {
		return jobs.Permanent(errors.New("notify: no number to call from: set current_config.from_phone, the event's from_phone or the channel's"))
	}
	doc := twiml.FitVoice(VoiceText(p.Message), func(say string) string {
		return twiml.Voice(twiml.Say{Text: say}, twiml.Pause{Seconds: 1}, twiml.Say{Text: "Again: " + say})
	})
	sent, err := o.out.StartCallStep(ctx, q, job, step, outbound.Call{From: d.Sender, To: d.Route.Address,
		Twiml:          doc,
		StatusCallback: o.ackURL(p.ID, job.ID, step.Name)})
	if err != nil {
		return err
	}
	res.SID, res.Status = sent.SID, sent.Status
	return nil
}

// VoiceText is what a call says (twice): the message, cut to what a person
// can follow.
func VoiceText(msg string) string {
	return channel.Truncate(strings.Join(strings.Fields(msg), " "), maxVoiceRunes)
}

// deliverChannel delivers by email, webhook or chat, with the credentials
// of the named channel or, for a user's own route, the pager's mail
// settings or the channel Config.Transport names.
func (o *Service) deliverChannel(ctx context.Context, p *payload, d planned, res *Delivery) error {
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
	if r.Medium == team.MediumEmail {
		return o.deliverEmail(ctx, cfg, ch, p, d, res)
	}
	var named *team.NotificationChannel
	if r.Channel != "" {
		named = &ch
	}
	rc, err := o.out.Post(ctx, r.Medium, r.Address, named, channel.Message{NotificationID: p.ID, Subject: p.Subject, Body: p.Message})
	if err != nil {
		return err
	}
	res.SID, res.Detail, res.Status = rc.ID, rc.Detail, "sent"
	if r.Medium == team.MediumWebhook {
		// The receiver itself answered 2xx: RedFlash counts that as
		// delivered.
		res.Status = "delivered"
	}
	return nil
}

func (o *Service) deliverEmail(ctx context.Context, cfg *team.Config, ch team.NotificationChannel, p *payload, d planned, res *Delivery) error {
	var ms team.MailSettings
	switch {
	case d.Route.Channel != "":
		ms = team.MailSettings{FromEmail: ch.Sender, MailServer: ch.SMTPServer, MailPort: ch.SMTPPort,
			MailUseTLS: ch.TLS(), MailUsername: ch.SMTPUser, MailPassword: ch.SMTPPassword}
	case cfg != nil:
		ms = cfg.CurrentConfig.MailSettings
	}
	rc, err := o.out.Email(ctx, ms, []string{d.Route.Address}, channel.Message{
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
	return channel.Truncate(s, 120)
}

var errStale = errors.New("notify: step changed meanwhile")
