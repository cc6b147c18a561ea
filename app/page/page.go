package page

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"slices"
	"sort"
	"strings"

	"github.com/oncall/pager/app/alerts"
	"github.com/oncall/pager/app/outbound"
	"github.com/oncall/pager/app/team"
	"github.com/oncall/pager/app/twilio"
	"github.com/oncall/pager/twiml"
)

// Page keys offered on a page call.
const (
	PageKeyAck    = "1"
	PageKeyClose  = "2"
	PageKeyRepeat = "3"
)

// Sender is the outbound path as pages use it (outbound.Outbound).
type Sender interface {
	SendText(ctx context.Context, t outbound.Text) (string, error)
	StartCall(ctx context.Context, c outbound.Call) (string, error)
}

// ConfigSource is the team config in use (team.Manager).
type ConfigSource interface {
	Current() *team.Config
}

// Pages pages people about alerts over the outbound path: it is the alerts
// package's Pager, Notifier and Roster over the team config. A person whose
// SMS is switched off (STOP, or by ops) is called instead; an SMS that
// cannot be sent is followed by a call at once, and returned to the caller
// as a failed delivery to record.
type Pages struct {
	out  Sender
	cfg  ConfigSource
	base string
	log  *slog.Logger
}

// New returns the alert pager. baseURL is the pager's public URL, for
// Twilio's callbacks.
func New(out Sender, cfg ConfigSource, baseURL string, log *slog.Logger) *Pages {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Pages{out: out, cfg: cfg, base: strings.TrimRight(baseURL, "/"), log: log}
}

// SMSOn reports whether u takes SMS pages: no channels listed means SMS to
// their phone; listed channels must include SMS, switched on.
func SMSOn(u team.User) bool {
	if u.Channels == nil {
		return true
	}
	ch, ok := u.Channels[team.MediumSMS]
	return ok && ch.IsEnabled()
}

// Text is the SMS of a page: the reply codes first, as a phone's
// notification preview shows the start. what is the alert's summary, or a
// voicemail's description for the voicemail page the pager line sends;
// either is flattened to one line and stripped of anything that reads as a
// reply instruction (alerts.CleanSummary).
func Text(code, what string) string {
	what = alerts.CleanSummary(what)
	if code == "" {
		return fmt.Sprintf("ALERT %s - reply ACK to acknowledge, CLOSE to close", what)
	}
	return fmt.Sprintf("[%sa/%sc] %s - reply %sa to acknowledge, %sc to close", code, code, what, code, code)
}

// Page implements alerts.Pager. An SMS Twilio refused at once (the
// recipient opted out, or a number that cannot take it) is followed by a
// call and returned as a failed delivery, for the alert to record.
func (p *Pages) Page(ctx context.Context, a alerts.Alert, userIDs []string) ([]alerts.Delivery, error) {
	cfg := p.cfg.Current()
	var (
		failed []alerts.Delivery
		errs   []error
	)
	for _, id := range userIDs {
		u, ok := cfg.UserByID(id)
		if !ok || u.Phone == "" {
			p.log.WarnContext(ctx, "notify: page for an unknown user or one without a phone skipped", "alert", a.ID, "user", id)
			continue
		}
		if !SMSOn(u) {
			errs = append(errs, failedFor(id, p.Call(ctx, a, id)))
			continue
		}
		refused, err := p.text(ctx, cfg, a.ID, u, Text(a.Code, a.Summary))
		if err != nil {
			errs = append(errs, failedFor(id, err))
			continue
		}
		if refused != nil {
			failed = append(failed, *refused)
			errs = append(errs, failedFor(id, p.callUser(ctx, cfg, a.ID, a.Summary, u)))
		}
	}
	return failed, errors.Join(errs...)
}

// failedFor names the user a page failed for, so the step's retry pages
// only them, not the users already paged.
func failedFor(userID string, err error) error {
	if err == nil {
		return nil
	}
	return &alerts.PageError{UserID: userID, Err: err}
}

// text sends a page SMS. One Twilio refused for good (opted out, or a
// number that cannot take texts) is not retried: it is returned as the
// failed delivery, for a call to follow.
func (p *Pages) text(ctx context.Context, cfg *team.Config, alertID string, u team.User, body string) (*alerts.Delivery, error) {
	_, err := p.out.SendText(ctx, outbound.Text{From: cfg.CurrentConfig.FromPhone, To: u.Phone, Body: body,
		StatusCallback: p.callback("/public/alertstatus", alertID, u.ID, alerts.ChannelSMS)})
	if err == nil {
		return nil, nil
	}
	if !twilio.IsOptOut(err) && !twilio.IsPermanent(err) {
		return nil, err
	}
	p.log.WarnContext(ctx, "notify: page SMS refused; calling instead", "alert", alertID, "user", u.ID, "opted_out", twilio.IsOptOut(err))
	d := PageDelivery(alerts.ChannelSMS, u.ID, twilio.RefusedMessage("send-"+u.ID+"-"+alerts.StepRef(ctx), err))
	return &d, nil
}

// Call pages userID about a by phone: the summary is read and keys offered
// (1 acknowledge, 2 close, 3 repeat); answering machines are detected so a
// voicemail greeting does not count as reached.
func (p *Pages) Call(ctx context.Context, a alerts.Alert, userID string) error {
	cfg := p.cfg.Current()
	u, ok := cfg.UserByID(userID)
	if !ok || u.Phone == "" {
		return nil
	}
	return p.callUser(ctx, cfg, a.ID, a.Summary, u)
}

func (p *Pages) callUser(ctx context.Context, cfg *team.Config, alertID, summary string, u team.User) error {
	from := cfg.CurrentConfig.PagerPhone
	if from == "" {
		from = cfg.CurrentConfig.FromPhone
	}
	_, err := p.out.StartCall(ctx, outbound.Call{From: from, To: u.Phone,
		Twiml:            p.CallTwiML(alertID, u.ID, summary),
		StatusCallback:   p.callback("/public/alertstatus", alertID, u.ID, alerts.ChannelVoice),
		MachineDetection: true})
	return err
}

// PageKeysPrompt offers the page keys on a call.
const PageKeysPrompt = "Press 1 to acknowledge, 2 to close, 3 to hear this again."

// PageKeyURL is where a page call's keys go (POST /public/pagekey) for
// alertID answered by userID; baseURL is the pager's public URL. Calls the
// pager places outside Pages (a voicemail) offer the same keys with it.
func PageKeyURL(baseURL, alertID, userID string) string {
	q := url.Values{"alert": {alertID}, "user": {userID}}
	return strings.TrimRight(baseURL, "/") + "/public/pagekey?" + q.Encode()
}

// CallTwiML is what a page call says: the summary, then the keys.
func (p *Pages) CallTwiML(alertID, userID, summary string) string {
	say := "This is the pager. An alert needs you"
	if summary != "" {
		say += ": " + summary
	}
	action := p.callback("/public/pagekey", alertID, userID, "")
	return twiml.FitVoice(say, func(say string) string {
		return twiml.Voice(
			twiml.Gather{Action: action, NumDigits: 1, Timeout: 10,
				Prompt: []twiml.Verb{twiml.Say{Text: say + ". " + PageKeysPrompt}}},
			twiml.Say{Text: "No key pressed. The alert stays open. Goodbye."},
		)
	})
}

func (p *Pages) callback(route, alertID, userID string, ch alerts.Channel) string {
	if p.base == "" {
		return ""
	}
	q := url.Values{"alert": {alertID}, "user": {userID}}
	if ch != "" {
		q.Set("ch", string(ch))
	}
	return p.base + route + "?" + q.Encode()
}

// PageDigest implements alerts.Pager: one SMS (or call) listing the pages
// held back by throttling.
func (p *Pages) PageDigest(ctx context.Context, d alerts.Digest) error {
	cfg := p.cfg.Current()
	u, ok := cfg.UserByID(d.UserID)
	if !ok || u.Phone == "" || len(d.Alerts) == 0 {
		return nil
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d held-back pages:", len(d.Alerts)+d.More)
	for _, a := range d.Alerts {
		fmt.Fprintf(&b, " [%s] %s (%s);", a.Code, a.Summary, a.State)
	}
	if d.More > 0 {
		fmt.Fprintf(&b, " and %d more;", d.More)
	}
	b.WriteString(" reply <code>a to acknowledge, <code>c to close")
	if SMSOn(u) {
		// A digest stands for several alerts: a refused one is not
		// followed by a call about any one of them.
		_, err := p.text(ctx, cfg, "", u, b.String())
		return err
	}
	// SMS off: call about the oldest still open.
	for _, a := range d.Alerts {
		if a.State == alerts.StateTriggered {
			return p.callUser(ctx, cfg, a.ID, a.Summary, u)
		}
	}
	return nil
}

// Notify implements alerts.Notifier: everyone else paged is told who took
// the alert, by SMS where they take it.
func (p *Pages) Notify(ctx context.Context, a alerts.Alert, userIDs []string) error {
	cfg := p.cfg.Current()
	msg := fmt.Sprintf("[%s] %s: acknowledged by %s.", a.Code, a.Summary, p.name(cfg, a.AckedBy))
	if a.State == alerts.StateClosed {
		msg = fmt.Sprintf("[%s] %s: closed by %s.", a.Code, a.Summary, p.name(cfg, a.ClosedBy))
		if a.AckedBy != "" && a.AckedBy != a.ClosedBy {
			msg = fmt.Sprintf("[%s] %s: acknowledged by %s, closed by %s.", a.Code, a.Summary, p.name(cfg, a.AckedBy), p.name(cfg, a.ClosedBy))
		}
	}
	var errs []error
	for _, id := range userIDs {
		u, ok := cfg.UserByID(id)
		if !ok || u.Phone == "" || !SMSOn(u) {
			continue
		}
		_, err := p.out.SendText(ctx, outbound.Text{From: cfg.CurrentConfig.FromPhone, To: u.Phone, Body: msg})
		if err != nil && !twilio.IsPermanent(err) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (p *Pages) name(cfg *team.Config, actor string) string {
	if u, ok := cfg.UserByID(actor); ok && u.Name != "" {
		return u.Name
	}
	if actor == "" {
		return "someone"
	}
	return actor
}

// Members implements alerts.Roster over the current team config.
func (p *Pages) Members(_ context.Context, t alerts.Target) ([]string, error) {
	cfg := p.cfg.Current()
	enabled := func(id string) bool {
		u, ok := cfg.UserByID(id)
		return ok && u.IsEnabled()
	}
	switch {
	case t == alerts.TargetOnCall:
		if u, ok := cfg.OnCall(); ok && u.IsEnabled() {
			return []string{u.ID}, nil
		}
		return nil, nil
	case t == alerts.TargetEveryone:
		var ids []string
		for id := range cfg.AvailableUsers.Users {
			if enabled(id) {
				ids = append(ids, id)
			}
		}
		sort.Strings(ids)
		return ids, nil
	}
	if id, ok := t.User(); ok {
		if enabled(id) {
			return []string{id}, nil
		}
		return nil, nil
	}
	if slug, ok := t.Group(); ok {
		g, found := cfg.Groups[slug]
		if !found || !g.IsEnabled() {
			return nil, nil
		}
		var ids []string
		for _, id := range g.Members {
			if enabled(id) && !slices.Contains(ids, id) {
				ids = append(ids, id)
			}
		}
		return ids, nil
	}
	return nil, nil
}
