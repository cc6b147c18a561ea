package outbound

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/oncall/pager/app/jobs"
	"github.com/oncall/pager/app/outbound/channel"
	"github.com/oncall/pager/app/retry"
	"github.com/oncall/pager/app/team"
	"github.com/oncall/pager/app/twilio"
	"github.com/oncall/pager/store"
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

// ConfigSource is the team config in use (team.Manager).
type ConfigSource interface {
	Current() *team.Config
}

// Outbound sends.
type Outbound struct {
	tw      TwilioAPI
	sms     *Limiter
	calls   *Limiter
	log     *slog.Logger
	emailFn func(e channel.Email) channel.Sender
	dryMail bool
	cfg     ConfigSource
	now     func() time.Time
	client  *http.Client
	pushURL string

	// fixedSMS, fixedCalls: the rate was given in Options (or the limiter
	// replaced), so the config's rates do not apply.
	fixedSMS, fixedCalls bool
	// waiters bounds the job workers a rate-limited step may hold while it
	// waits for its slot; maxHold bounds how long one waits. A step that
	// would exceed either is rescheduled instead (see admit).
	waiters chan struct{}
	maxHold time.Duration
	// window is the planning window, and the wait any step may take
	// without a waiter slot: min(1s, maxHold).
	window time.Duration
	// turns: the sender leases shared with other replicas (nil: this
	// process alone sends).
	turns *turns
	sleep func(context.Context, time.Duration) error
}

// Options wires Outbound.
type Options struct {
	Twilio TwilioAPI
	// Rates, when set, fix the sending rates and the config's "rates" are
	// ignored (tests). Unset, the rates follow the team config, default 1
	// SMS segment per second per sender number and 1 call per second.
	Rates  Rates
	Logger *slog.Logger
	// SMSLimiter and CallLimiter replace the default limiters (tests); a
	// replaced limiter keeps its own rate.
	SMSLimiter, CallLimiter *Limiter
	// Sleep is how the default limiters wait (tests move a fake clock);
	// default: a timer.
	Sleep func(context.Context, time.Duration) error
	// Email builds the SMTP sender; tests use it to trust a test CA.
	Email func(e channel.Email) channel.Sender
	// DryRunEmail logs each email instead of sending it: the pager runs
	// without a Twilio account (a dry run), and its embedded default's mail
	// server is a placeholder that never answers, so trying it would only
	// retry for ever.
	DryRunEmail bool

	// Config is the team config, for its sending rates.
	Config ConfigSource
	// Now is the clock for delivery times; default time.Now.
	Now func() time.Time
	// HTTPClient posts to webhooks and chat services; default: a client
	// with a 30 s timeout that does not follow redirects.
	HTTPClient *http.Client
	// PushoverURL is the Pushover API's base URL; default
	// https://api.pushover.net.
	PushoverURL string
	// RateWaiters bounds the job workers that rate-limited deliveries (SMS,
	// calls) hold while waiting longer than a second for their slot
	// (default 2). Shorter waits need no waiter slot: texts are planned
	// into one-second windows, so a worker is held at most about a second
	// by them before the next step in line gets it.
	RateWaiters int
	// MaxRateWait is the longest a delivery holds a worker waiting for its
	// slot (default 2 s); one due later is rescheduled for its slot.
	MaxRateWait time.Duration

	// Store, when set, makes the rates hold across the replicas sharing
	// it: one replica at a time sends from a number (see turns.go). Owner
	// names this process in the leases (unique per process).
	Store store.Store
	Owner string
	// SenderLease is how long a sender lease lasts unrenewed (default
	// DefaultSenderLease).
	SenderLease time.Duration
}

// New returns the outbound path.
func New(o Options) *Outbound {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	out := &Outbound{tw: o.Twilio, log: o.Logger, emailFn: o.Email, dryMail: o.DryRunEmail, cfg: o.Config, now: o.Now, client: o.HTTPClient, pushURL: o.PushoverURL,
		fixedSMS: o.Rates.SMSPerSecond > 0 || o.SMSLimiter != nil, fixedCalls: o.Rates.CallsPerSecond > 0 || o.CallLimiter != nil,
		maxHold: o.MaxRateWait}
	out.sms, out.calls = o.SMSLimiter, o.CallLimiter
	if out.sms == nil {
		out.sms = NewLimiter(o.Rates.SMSPerSecond, o.Now, o.Sleep)
	}
	if out.calls == nil {
		out.calls = NewLimiter(o.Rates.CallsPerSecond, o.Now, o.Sleep)
	}
	if out.emailFn == nil {
		out.emailFn = func(e channel.Email) channel.Sender { return e }
	}
	if o.RateWaiters <= 0 {
		o.RateWaiters = 2
	}
	out.waiters = make(chan struct{}, o.RateWaiters)
	if out.maxHold <= 0 {
		out.maxHold = 2 * time.Second
	}
	out.window = min(time.Second, out.maxHold)
	out.sleep = o.Sleep
	if out.sleep == nil {
		out.sleep = retry.Sleep
	}
	if o.Store != nil {
		if o.SenderLease <= 0 {
			o.SenderLease = DefaultSenderLease
		}
		if o.Owner == "" {
			o.Owner = rand.Text()
		}
		out.turns = &turns{st: o.Store, owner: o.Owner, ttl: o.SenderLease, now: o.Now, log: o.Logger, keys: map[string]*senderTurn{}}
	}
	out.syncRates()
	return out
}

// syncRates makes the limiters follow the config's rates unless Options
// fixed them.
func (o *Outbound) syncRates() {
	if o.cfg == nil || (o.fixedSMS && o.fixedCalls) {
		return
	}
	r := o.cfg.Current().RateLimits()
	if !o.fixedSMS {
		o.sms.SetRate(r.SMSPerSecond)
	}
	if !o.fixedCalls {
		o.calls.SetRate(r.CallsPerSecond)
	}
}

// Limiters are the texts' limiter (keyed by sender number) and the calls'
// (one for the account), as they are now.
func (o *Outbound) Limiters() (sms, calls *Limiter) { return o.sms, o.calls }

// Text is one SMS or MMS.
type Text struct {
	From, To       string
	Body           string
	MediaURL       []string
	StatusCallback string
}

// SendText sends t at the sender number's allowed rate. Errors are wrapped
// with jobs.Permanent when retrying cannot help (invalid or opted-out number).
// Sent from a job step (an alert's page, a digest), a text an earlier run of
// that step may have got to Twilio is looked up there first, and found, not
// sent again: its SID is returned.
func (o *Outbound) SendText(ctx context.Context, t Text) (string, error) {
	body := TrimSMS(t.Body)
	if s, ok, err := o.sentInRun(ctx, func(f SentFinder, w twilio.Window) (twilio.Sent, bool, error) {
		return f.FindMessage(ctx, t.From, t.To, body, w)
	}); err != nil || ok {
		return s.SID, err
	}
	cost := Segments(body)
	o.syncRates()
	for waited := true; waited; {
		if err := o.sms.Wait(ctx, t.From, cost); err != nil {
			return "", err
		}
		var err error
		if waited, _, err = o.turn(ctx, smsKey(t.From), -1); err != nil {
			return "", err
		}
	}
	if err := o.sms.Pace(ctx, t.From, cost); err != nil {
		return "", err
	}
	sid, err := o.tw.SendMessage(ctx, twilio.Message{From: t.From, To: t.To, Body: body, MediaURL: t.MediaURL, StatusCallback: t.StatusCallback})
	if err != nil {
		return "", classify(err)
	}
	return sid, nil
}

// callKey is the call limiter's key: Twilio's calls-per-second limit is per
// account, whatever the caller ID.
const callKey = "account"

// smsKey is a sender number's lease key (the call lease is callKey).
func smsKey(from string) string { return "sms-" + from }

// Call is one outbound voice call with inline TwiML.
type Call struct {
	From, To         string
	Twiml            string
	StatusCallback   string
	MachineDetection bool
}

// StartCall places c at the account's allowed call rate. Placed from a job
// step, a call an earlier run of that step may have got to Twilio is looked
// up there first, as SendText does.
func (o *Outbound) StartCall(ctx context.Context, c Call) (string, error) {
	if s, ok, err := o.sentInRun(ctx, func(f SentFinder, w twilio.Window) (twilio.Sent, bool, error) {
		return f.FindCall(ctx, c.From, c.To, w)
	}); err != nil || ok {
		return s.SID, err
	}
	o.syncRates()
	for waited := true; waited; {
		if err := o.calls.Wait(ctx, callKey, 1); err != nil {
			return "", err
		}
		var err error
		if waited, _, err = o.turn(ctx, callKey, -1); err != nil {
			return "", err
		}
	}
	if err := o.calls.Pace(ctx, callKey, 1); err != nil {
		return "", err
	}
	sid, err := o.tw.StartCall(ctx, twilioCall(c))
	if err != nil {
		return "", classify(err)
	}
	return sid, nil
}

func twilioCall(c Call) twilio.Call {
	call := twilio.Call{From: c.From, To: c.To, Twiml: c.Twiml, StatusCallback: c.StatusCallback, Timeout: 30}
	if c.StatusCallback != "" {
		call.StatusCallbackEvents = []string{"initiated", "ringing", "answered", "completed"}
	}
	if c.MachineDetection {
		call.MachineDetection = twilio.MachineDetectionEnable
	}
	return call
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
	if o.dryMail {
		names := make([]string, len(m.Attachments))
		for i, a := range m.Attachments {
			names[i] = fmt.Sprintf("%s (%d bytes)", a.Name, len(a.Data))
		}
		masked := make([]string, len(to))
		for i, a := range to {
			masked[i] = maskEmail(a)
		}
		o.log.InfoContext(ctx, "email dry run: not sent", "server", net.JoinHostPort(ms.MailServer, strconv.Itoa(port)),
			"from", ms.FromEmail, "to", masked, "subject", m.Subject, "body", m.Body, "attachments", names)
		return channel.Receipt{ID: "dry-run", Detail: "dry run: logged, not sent"}, nil
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
