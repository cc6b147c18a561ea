// Package notify is the pager's one outbound path: every text, call and email
// the pager sends — a voicemail page, an API alert, a hand-over notice — goes
// through Outbound, which applies Twilio's rates and classifies failures so
// the durable jobs that call it know whether to retry.
package notify

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/oncall/pager/app/jobs"
	"github.com/oncall/pager/app/notify/channel"
	"github.com/oncall/pager/app/team"
	"github.com/oncall/pager/app/twilio"
)

// TwilioAPI is the part of the Twilio client the outbound path uses.
type TwilioAPI interface {
	SendMessage(ctx context.Context, m twilio.Message) (string, error)
	StartCall(ctx context.Context, c twilio.Call) (string, error)
}

// Rates are Twilio's sending limits.
type Rates struct {
	// SMSPerSecond is segments per second per sender number (1 on a US long code).
	SMSPerSecond float64
	// CallsPerSecond is calls per second per account (Twilio's default CPS is 1).
	CallsPerSecond float64
}

// Outbound sends.
type Outbound struct {
	tw      TwilioAPI
	sms     *Limiter
	calls   *Limiter
	log     *slog.Logger
	emailFn func(e channel.Email) channel.Sender
}

// Options wires Outbound.
type Options struct {
	Twilio TwilioAPI
	Rates  Rates
	Logger *slog.Logger
	// SMSLimiter and CallLimiter replace the default limiters (tests).
	SMSLimiter, CallLimiter *Limiter
	// Email builds the SMTP sender; tests use it to trust a test CA.
	Email func(e channel.Email) channel.Sender
}

// New returns the outbound path.
func New(o Options) *Outbound {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.SMSLimiter == nil {
		o.SMSLimiter = NewLimiter(o.Rates.SMSPerSecond, nil, nil)
	}
	if o.CallLimiter == nil {
		o.CallLimiter = NewLimiter(o.Rates.CallsPerSecond, nil, nil)
	}
	if o.Email == nil {
		o.Email = func(e channel.Email) channel.Sender { return e }
	}
	return &Outbound{tw: o.Twilio, sms: o.SMSLimiter, calls: o.CallLimiter, log: o.Logger, emailFn: o.Email}
}

// Text is one SMS or MMS.
type Text struct {
	From, To       string
	Body           string
	MediaURL       []string
	StatusCallback string
}

// SendText sends t at the sender number's allowed rate. Errors are wrapped
// with jobs.Permanent when retrying cannot help (invalid or opted-out number).
func (o *Outbound) SendText(ctx context.Context, t Text) (string, error) {
	body := TrimSMS(t.Body)
	cost := Segments(body)
	if len(t.MediaURL) > 0 && cost < 1 {
		cost = 1
	}
	if err := o.sms.Wait(ctx, t.From, cost); err != nil {
		return "", err
	}
	sid, err := o.tw.SendMessage(ctx, twilio.Message{From: t.From, To: t.To, Body: body, MediaURL: t.MediaURL, StatusCallback: t.StatusCallback})
	if err != nil {
		return "", classify(err)
	}
	return sid, nil
}

// Call is one outbound voice call with inline TwiML.
type Call struct {
	From, To         string
	Twiml            string
	StatusCallback   string
	MachineDetection bool
}

// StartCall places c at the account's allowed call rate.
func (o *Outbound) StartCall(ctx context.Context, c Call) (string, error) {
	if err := o.calls.Wait(ctx, "account", 1); err != nil {
		return "", err
	}
	call := twilio.Call{From: c.From, To: c.To, Twiml: c.Twiml, StatusCallback: c.StatusCallback, Timeout: 30}
	if c.StatusCallback != "" {
		call.StatusCallbackEvents = []string{"initiated", "ringing", "answered", "completed"}
	}
	if c.MachineDetection {
		call.MachineDetection = twilio.MachineDetectionEnable
	}
	sid, err := o.tw.StartCall(ctx, call)
	if err != nil {
		return "", classify(err)
	}
	return sid, nil
}

// Email sends m with the team's mail settings to the given addresses.
func (o *Outbound) Email(ctx context.Context, ms team.MailSettings, to []string, m channel.Message) (channel.Receipt, error) {
	if ms.MailServer == "" || ms.FromEmail == "" || len(to) == 0 {
		return channel.Receipt{}, jobs.Permanent(errors.New("notify: email: mail_settings has no mail_server, from_email or recipient"))
	}
	port := ms.MailPort
	if port == 0 {
		port = 25
	}
	sender := o.emailFn(channel.Email{
		Server:   ms.MailServer,
		Port:     port,
		UseTLS:   ms.MailUseTLS && port != 465,
		Username: ms.MailUsername,
		Password: ms.MailPassword,
		From:     ms.FromEmail,
		To:       to,
	})
	r, err := sender.Send(ctx, m)
	if err != nil {
		if channel.IsPermanent(err) {
			return r, jobs.Permanent(err)
		}
		return r, err
	}
	return r, nil
}

func classify(err error) error {
	if twilio.IsPermanent(err) {
		return jobs.Permanent(err)
	}
	return err
}

// CanMMS reports whether Twilio can deliver MMS between the two numbers:
// only US and Canadian numbers (+1) take MMS; elsewhere a link goes by SMS.
func CanMMS(from, to string) bool {
	return strings.HasPrefix(from, "+1") && strings.HasPrefix(to, "+1")
}

// PhoneWords spaces the digits of a number so text-to-speech reads them one
// by one.
func PhoneWords(p string) string {
	var b strings.Builder
	for _, r := range p {
		if r >= '0' && r <= '9' {
			if b.Len() > 0 {
				b.WriteString(" ")
			}
			b.WriteRune(r)
		}
	}
	return b.String()
}

// DurationWords says a length in seconds for a text or a voice prompt.
func DurationWords(sec int) string {
	if sec == 1 {
		return "1 second"
	}
	return fmt.Sprintf("%d seconds", sec)
}
