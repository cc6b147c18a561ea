package notify

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/oncall/pager/app/alerts"
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

// DeliveryRecorder keeps what became of a page (alerts.Service).
type DeliveryRecorder interface {
	RecordDelivery(ctx context.Context, alertID string, d alerts.Delivery) (alerts.DeliveryUpdate, error)
}

// Pages pages people about alerts over the outbound path: it is the alerts
// package's Pager, Notifier and Roster over the team config. A person whose
// SMS is switched off (STOP, or by ops) is called instead; an SMS that
// cannot be sent is followed by a call at once.
type Pages struct {
	out  *Outbound
	cfg  ConfigSource
	base string
	log  *slog.Logger

	mu  sync.Mutex
	rec DeliveryRecorder
}

// NewPages returns the alert pager. baseURL is the pager's public URL, for
// Twilio's callbacks.
func NewPages(out *Outbound, cfg ConfigSource, baseURL string, log *slog.Logger) *Pages {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Pages{out: out, cfg: cfg, base: strings.TrimRight(baseURL, "/"), log: log}
}

// SetRecorder names where send failures are recorded; the alerts service
// needs the Pages to be built first.
func (p *Pages) SetRecorder(r DeliveryRecorder) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.rec = r
}

func (p *Pages) recorder() DeliveryRecorder {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.rec
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

// PageText is the SMS of a page: the reply codes first, as a phone's
// notification preview shows the start.
func PageText(a alerts.Alert) string {
	if a.Code == "" {
		return fmt.Sprintf("ALERT %s — reply ACK to acknowledge, CLOSE to close", a.Summary)
	}
	return fmt.Sprintf("[%sa/%sc] %s — reply %sa to acknowledge, %sc to close", a.Code, a.Code, a.Summary, a.Code, a.Code)
}

// Page implements alerts.Pager.
func (p *Pages) Page(ctx context.Context, a alerts.Alert, userIDs []string) error {
	cfg := p.cfg.Current()
	var errs []error
	for _, id := range userIDs {
		u, ok := cfg.UserByID(id)
		if !ok || u.Phone == "" {
			p.log.Warn("notify: page for an unknown user or one without a phone skipped", "alert", a.ID, "user", id)
			continue
		}
		if SMSOn(u) {
			errs = append(errs, p.text(ctx, cfg, a, u, PageText(a)))
			continue
		}
		errs = append(errs, p.Call(ctx, a, id))
	}
	return errors.Join(errs...)
}

// text sends a page SMS; a recipient who opted out at Twilio is recorded
// so and called instead, not retried.
func (p *Pages) text(ctx context.Context, cfg *team.Config, a alerts.Alert, u team.User, body string) error {
	alertID := a.ID
	_, err := p.out.SendText(ctx, Text{From: cfg.CurrentConfig.FromPhone, To: u.Phone, Body: body,
		StatusCallback: p.callback("/public/alertstatus", alertID, u.ID, alerts.ChannelSMS)})
	if err == nil {
		return nil
	}
	if !twilio.IsOptOut(err) && !twilio.IsPermanent(err) {
		return err
	}
	p.log.Warn("notify: page SMS refused; calling instead", "alert", alertID, "user", u.ID, "opted_out", twilio.IsOptOut(err))
	if rec := p.recorder(); rec != nil && alertID != "" {
		d := PageDelivery(alerts.ChannelSMS, u.ID, twilio.RefusedMessage("send-"+u.ID+"-"+alerts.StepRef(ctx), err))
		if _, rerr := rec.RecordDelivery(ctx, alertID, d); rerr != nil && !errors.Is(rerr, alerts.ErrNotFound) {
			p.log.Warn("notify: refused page SMS not recorded", "alert", alertID, "err", rerr)
		}
	}
	if alertID == "" {
		return nil
	}
	return p.callUser(ctx, cfg, alertID, a.Summary, u)
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
	_, err := p.out.StartCall(ctx, Call{From: from, To: u.Phone,
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
	return twiml.Voice(
		twiml.Gather{Action: p.callback("/public/pagekey", alertID, userID, ""), NumDigits: 1, Timeout: 10,
			Prompt: []twiml.Verb{twiml.Say{Text: say + ". " + PageKeysPrompt}}},
		twiml.Say{Text: "No key pressed. The alert stays open. Goodbye."},
	)
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
		return p.text(ctx, cfg, alerts.Alert{}, u, b.String())
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
		_, err := p.out.SendText(ctx, Text{From: cfg.CurrentConfig.FromPhone, To: u.Phone, Body: msg})
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
