package control

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/oncall/pager/app/alerts"
	"github.com/oncall/pager/app/audit"
	"github.com/oncall/pager/app/jsondoc"
	"github.com/oncall/pager/app/server"
	"github.com/oncall/pager/app/sessions"
	"github.com/oncall/pager/app/team"
	"github.com/oncall/pager/app/twilio"
	"github.com/oncall/pager/twiml"
)

// Config is the part of the team manager control needs.
type Config interface {
	Current() *team.Config
	Update(ctx context.Context, actor string, mutate func(cfg *team.Config, doc *jsondoc.Doc) error) (*team.Config, error)
}

// Texter sends an SMS outside the reply (telling the relieved engineer).
type Texter interface {
	Text(ctx context.Context, from, to, body string) error
}

// Handler serves the control number's SMS webhook.
type Handler struct {
	cfg      Config
	sessions *sessions.Store
	audit    *audit.Log
	texter   Texter
	now      func() time.Time
	log      *slog.Logger
	alerts   Alerter
	once     Once
	refuse   func(c echo.Context, source, reason string)
	// whoReply is the WHO answer of the config it was composed for: it
	// depends on nothing else, and WHO is the most frequent text.
	whoReply atomic.Pointer[whoReply]
}

type whoReply struct {
	cfg *team.Config
	// head is "On call: <name> (<phone>)" (or the whole answer when
	// nobody is), tail " Changed <when> by <who>."; under a schedule the
	// part between them (until when, who next) depends on the time, as
	// does the maintenance note after them.
	head, tail string
	onCall     string
	// whole is the answer when it depends on nothing but the config (no
	// schedule, no maintenance windows): no clock read, no copy.
	whole string
}

// Options wires a Handler.
type Options struct {
	Config   Config
	Sessions *sessions.Store
	Audit    *audit.Log
	Texter   Texter
	Now      func() time.Time
	Logger   *slog.Logger
	// Alerts, when set, enables ACK / CLOSE and the reply codes of pages.
	Alerts Alerter
	// Once, when set, makes Twilio's retries of a text that changes
	// something act once (see ServeEntry).
	Once Once
	// OnRefuse, when set, learns of each text from a sender who is not an
	// enabled member, with the sender's number as source and a fixed
	// reason (server.Rejections.RejectFrom): anyone may text the number, so
	// what such texts leave behind must be bounded by the receiver, not
	// grow by one audit object per text.
	OnRefuse func(c echo.Context, source, reason string)
}

// New returns a control handler.
func New(o Options) *Handler {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return &Handler{cfg: o.Config, sessions: o.Sessions, audit: o.Audit, texter: o.Texter, now: o.Now, log: o.Logger, alerts: o.Alerts, once: o.Once, refuse: o.OnRefuse}
}

// ServeEntry is POST /msgcontrol/entry. The form was already parsed and its
// signature checked by the server's middleware. What the text did goes on
// the request's access line (server.Outcome), not on a line of its own.
func (h *Handler) ServeEntry(c echo.Context) error {
	from := c.FormValue("From")
	reply, o := h.handle(c.Request().Context(), from, c.FormValue("Body"), c.FormValue("MessageSid"), twilio.HeaderValue(c.Request().Header, twilio.IdempotencyHeader))
	server.SetOutcome(c, o)
	if h.refuse != nil {
		switch o.What {
		case whatUnknownSender:
			h.refuse(c, from, "text to the control number from a sender not in available_users")
		case whatDisabledSender:
			h.refuse(c, from, "text to the control number from a disabled member")
		}
	}
	if reply == "" {
		return writeMessaging(c)
	}
	return writeMessaging(c, reply)
}

// writeMessaging answers with a messaging reply, written straight into the
// response through a pooled buffer.
func writeMessaging(c echo.Context, bodies ...string) error {
	w := c.Response()
	w.Header().Set(echo.HeaderContentType, "text/xml; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	return twiml.WriteMessaging(w, bodies...)
}

// Handle runs one inbound text and returns the replies. Unknown senders get
// none at all: answering would confirm to a stranger that the number is a
// pager. Their text is not reported to OnRefuse, which needs the request.
func (h *Handler) Handle(ctx context.Context, from, body, sid string) []string {
	reply, _ := h.handle(ctx, from, body, sid, "")
	if reply == "" {
		return nil
	}
	return []string{reply}
}

// Outcomes of a text from someone who may not use the number.
const (
	whatUnknownSender  = "unknown_sender"
	whatDisabledSender = "disabled_sender"
)

// handle returns the one reply ("" for none) and what the text did.
func (h *Handler) handle(ctx context.Context, from, body, sid, token string) (string, server.Outcome) {
	cfg := h.cfg.Current()
	user, ok := cfg.UserByPhone(from)
	if !ok || !user.IsEnabled() {
		what := whatUnknownSender
		if ok {
			what = whatDisabledSender
		}
		return "", server.Outcome{What: what, Ref: from}
	}
	o := server.Outcome{Actor: user.ID, Ref: sid}
	// Classify once: what the text asks decides whether the request may
	// touch the store, and so whether it needs a deadline and the
	// act-once marker. WHO and HALP need neither (WHO's maintenance note is
	// read from the config in memory).
	kw, isOpt := alerts.ParseOptKeyword(body)
	var r alerts.Reply
	var isReply bool
	var cmd Command
	if !isOpt {
		r, isReply = alerts.ParseReply(body)
	}
	if !isOpt && !isReply {
		cmd = Parse(body)
	}
	if isOpt || isReply || cmd == CmdTake || cmd == CmdConfirm || cmd == CmdCancel || cmd == CmdQuiet {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, server.TwilioDeadline)
		defer cancel()
		if !h.firstDelivery(ctx, sid, token) {
			o.What = "repeated_delivery"
			return "", o
		}
	}
	switch {
	case isOpt:
		o.What = "opt_" + string(kw)
		return h.optInOut(ctx, user, kw), o
	case isReply:
		o.What = "alert_" + string(r.Action)
		if r.Code != "" {
			o.Ref = r.Code
		}
		return h.reply(ctx, cfg, user, r), o
	}
	o.What = string(cmd)
	switch cmd {
	case CmdWho:
		return h.who(cfg), o
	case CmdNext:
		return h.next(cfg), o
	case CmdMine:
		return h.mine(cfg, user), o
	case CmdQuiet:
		return h.quiet(ctx, cfg, user, body), o
	case CmdTake:
		return h.take(ctx, cfg, user, body), o
	case CmdConfirm:
		return h.confirm(ctx, user), o
	case CmdCancel:
		return h.cancel(ctx, cfg, user), o
	default:
		// Two SMS segments (306 GSM-7 characters) with a name of up to 29.
		return "Hi " + user.Name + ". Text WHO to see who is on call, TAKE to take the pager, " +
			"NEXT for the next shifts, MINE for yours, " +
			"ACK or CLOSE (with a code like 1a, or alone for your last page) for an alert, " +
			"STOP / START for SMS pages off / on, QUIET 2h / QUIET OFF (admins) to hold pages, HALP for help.", o
	}
}

func (h *Handler) who(cfg *team.Config) string {
	w := h.whoReply.Load()
	if w == nil || w.cfg != cfg {
		w = composeWho(cfg)
		h.whoReply.Store(w)
	}
	if w.whole != "" {
		return w.whole
	}
	now := h.now()
	note := quietNote(cfg, now)
	if w.onCall == "" {
		return w.head + note
	}
	// Under a schedule: "until Mon 09:00, then Carol." (no store call).
	switch next := whoNext(cfg, w.onCall, now); {
	case strings.HasPrefix(next, " until"):
		return w.head + next + w.tail + note
	default:
		return w.head + "." + next + w.tail + note
	}
}

func composeWho(cfg *team.Config) *whoReply {
	_, scheduled := cfg.OnCallSchedule()
	timeless := !scheduled && len(cfg.MaintenanceWindows) == 0
	oc, ok := cfg.OnCall()
	if !ok {
		w := &whoReply{cfg: cfg, head: "Nobody is on call right now. Text TAKE to take the pager."}
		if timeless {
			w.whole = w.head
		}
		return w
	}
	cc := cfg.CurrentConfig
	w := &whoReply{cfg: cfg, onCall: oc.ID, head: fmt.Sprintf("On call: %s (%s)", oc.Name, oc.Phone)}
	if cc.LastModifiedTime > 0 {
		w.tail = fmt.Sprintf(" Changed %s", formatTime(time.Unix(cc.LastModifiedTime, 0), cc.Location()))
		if cc.LastModifiedUserID != "" {
			w.tail += " by " + cc.LastModifiedUserID
		}
		w.tail += "."
	}
	if timeless {
		w.whole = w.head + "." + w.tail
	}
	return w
}

// formatTime takes the config's loaded location (CurrentConfig.Location):
// loading the zone by name reads the zone database, and WHO formats times
// on every text while a maintenance window is on.
func formatTime(t time.Time, loc *time.Location) string {
	return t.In(loc).Format("2006-01-02 15:04 MST")
}

func (h *Handler) take(ctx context.Context, cfg *team.Config, user team.User, body string) string {
	oc, hasOC := cfg.OnCall()
	if hasOC && oc.ID == user.ID {
		return fmt.Sprintf("You are already on call, %s. Nothing changes.", user.Name)
	}
	now := h.now()
	ttl := cfg.CurrentConfig.Session()
	sess := sessions.Session{Kind: sessions.KindTake, Phone: user.Phone, UserID: user.ID,
		PrevOnCallID: oc.ID, Created: now, Expires: now.Add(ttl)}
	sched, scheduled := cfg.OnCallSchedule()
	if scheduled {
		// Under a schedule TAKE is an override: until the end of the
		// current shift unless the text says otherwise.
		until, err := takeEnd(body, now, sched.Location())
		if err != nil {
			return "Sorry: " + err.Error() + ". Nothing changed."
		}
		if until.IsZero() {
			cur, _ := sched.Current(now, scheduleHorizon)
			if cur.End.IsZero() {
				return "The schedule has no hand-over ahead, so say until when: TAKE 4h or TAKE UNTIL FRI 18:00. Nothing changed."
			}
			until = cur.End
		}
		sess.Until = until
	}
	if err := h.sessions.Open(ctx, sess); err != nil {
		h.log.ErrorContext(ctx, "control: TAKE window not opened: store unavailable", "user", user.ID, "err", err)
		return "Sorry, the pager cannot save anything right now (storage unavailable). Nothing changed; try TAKE again in a minute."
	}
	h.audit.Try(ctx, audit.Entry{Actor: user.ID, Action: audit.ActionTakeRequested, Source: user.Phone})
	current := "nobody"
	if hasOC {
		current = oc.Name
	}
	if scheduled {
		return fmt.Sprintf("%s, reply C within %s to be on call until %s (now: %s), or X to cancel.",
			user.Name, humanDuration(ttl), when(sess.Until, now, sched.Location()), current)
	}
	return fmt.Sprintf("%s, reply C within %s to become the on-call engineer (now: %s), or X to cancel.",
		user.Name, humanDuration(ttl), current)
}

func humanDuration(d time.Duration) string {
	s := int(d / time.Second)
	switch {
	case s%60 == 0 && s >= 120:
		return fmt.Sprintf("%d minutes", s/60)
	case s == 60:
		return "1 minute"
	default:
		return fmt.Sprintf("%d seconds", s)
	}
}

// errLostRace aborts a confirmation whose TAKE was overtaken by someone else.
type errLostRace struct{ winner team.User }

// errTakeExpired aborts a confirmation whose override would already be over.
var errTakeExpired = errors.New("the TAKE's end has passed")

func (e errLostRace) Error() string { return "on-call changed since TAKE to " + e.winner.ID }

func (h *Handler) confirm(ctx context.Context, user team.User) string {
	sess, err := h.sessions.Take(ctx, user.Phone)
	if errors.Is(err, sessions.ErrNone) {
		return fmt.Sprintf("There is no TAKE waiting for you to confirm. Text TAKE, then C within %s.",
			humanDuration(h.cfg.Current().CurrentConfig.Session()))
	}
	if err != nil {
		h.log.ErrorContext(ctx, "control: confirm failed: store unavailable", "user", user.ID, "err", err)
		return "Sorry, the pager cannot reach its storage right now. Nothing changed; reply C again in a minute."
	}
	var before team.User
	until := sess.Until
	hand := func(cfg *team.Config, doc *jsondoc.Doc) error {
		until = sess.Until
		cur, _ := cfg.OnCall()
		if cur.ID == user.ID {
			before = cur
			if prev, ok := cfg.UserByID(sess.PrevOnCallID); ok && prev.ID != user.ID && cfg.CurrentConfig.LastModifiedUserID == user.ID {
				// This confirmation's own write, whose answer was lost:
				// the one it relieved has not been told yet.
				before = prev
			}
			return nil
		}
		if cur.ID != sess.PrevOnCallID {
			return errLostRace{winner: cur}
		}
		// Re-read the member from the latest config: ops may have changed their number.
		u, ok := cfg.UserByID(user.ID)
		if !ok {
			return fmt.Errorf("user %s no longer in available_users", user.ID)
		}
		before = cur
		if _, scheduled := cfg.OnCallSchedule(); scheduled && !sess.Until.IsZero() {
			if !sess.Until.After(h.now()) {
				return errTakeExpired
			}
			var err error
			if until, err = takeOverride(cfg, doc, u, h.now(), sess.Until); err != nil {
				return err
			}
		}
		return team.SetOnCall(doc, u, user.ID, h.now())
	}
	newCfg, err := h.cfg.Update(ctx, user.ID, hand)
	if err != nil && !errors.Is(err, errTakeExpired) && !errors.As(err, new(errLostRace)) && !errors.Is(err, team.ErrStoredConfigInvalid) && ctx.Err() == nil {
		// The store may have taken the write and lost only its answer: a
		// second try finds it (see hand) rather than telling the member
		// that nothing changed while the pager is theirs.
		newCfg, err = h.cfg.Update(ctx, user.ID, hand)
	}
	var lost errLostRace
	switch {
	case errors.Is(err, errTakeExpired):
		_ = h.sessions.Close(ctx, user.Phone)
		return "The time you asked to take the pager until has passed. Nothing changed."
	case errors.As(err, &lost):
		return fmt.Sprintf("Too late, %s: %s took the pager since you sent TAKE. Nothing changed; text TAKE again if you still want it.",
			user.Name, lost.winner.Name)
	case errors.Is(err, team.ErrStoredConfigInvalid):
		h.log.Error("control: TAKE refused: the stored config is invalid", "user", user.ID, "err", err)
		return "Sorry, the team config in storage is broken (a bad upload), so nothing can be changed until ops fix it. " +
			"Nothing changed: you are not on call."
	case err != nil:
		h.log.ErrorContext(ctx, "control: TAKE not saved", "user", user.ID, "err", err)
		if rerr := h.sessions.Restore(ctx, sess); rerr != nil {
			h.log.ErrorContext(ctx, "control: TAKE window not restored", "user", user.ID, "err", rerr)
		}
		return "Sorry, the change could not be saved (storage unavailable). Nothing changed; reply C again to retry."
	}
	_ = h.sessions.Close(ctx, user.Phone)
	pager := newCfg.CurrentConfig.PagerPhone
	h.audit.Try(ctx, audit.Entry{Actor: user.ID, Action: audit.ActionTake, Source: user.Phone,
		Before: onCallView(before), After: onCallView(user)})
	h.log.InfoContext(ctx, "control: on-call changed", "from_user", before.ID, "to_user", user.ID)
	if before.ID != "" && before.ID != user.ID && before.Phone != "" && h.texter != nil {
		msg := fmt.Sprintf("%s, %s has taken the pager: you are no longer on call.", before.Name, user.Name)
		if err := h.texter.Text(ctx, newCfg.CurrentConfig.FromPhone, before.Phone, msg); err != nil {
			h.log.ErrorContext(ctx, "control: relieved engineer not told", "user", before.ID, "err", err)
		}
	}
	if sched, ok := newCfg.OnCallSchedule(); ok && !sess.Until.IsZero() {
		return fmt.Sprintf("Done, %s: you are on call until %s. Call %s and leave a test message to check that pages reach you.",
			user.Name, when(until, h.now(), sched.Location()), pager)
	}
	return fmt.Sprintf("Done, %s: you are on call now. Call %s and leave a test message to check that pages reach you.",
		user.Name, pager)
}

func onCallView(u team.User) map[string]string {
	if u.ID == "" {
		return nil
	}
	return map[string]string{"id": u.ID, "name": u.Name, "phone": u.Phone}
}

func (h *Handler) cancel(ctx context.Context, cfg *team.Config, user team.User) string {
	_, err := h.sessions.Take(ctx, user.Phone)
	if errors.Is(err, sessions.ErrNone) {
		return "There is nothing to cancel."
	}
	if err != nil {
		h.log.ErrorContext(ctx, "control: cancel failed: store unavailable", "user", user.ID, "err", err)
		return "Sorry, the pager cannot reach its storage right now. Your TAKE will lapse on its own."
	}
	_ = h.sessions.Close(ctx, user.Phone)
	h.audit.Try(ctx, audit.Entry{Actor: user.ID, Action: audit.ActionTakeCancelled, Source: user.Phone})
	oc, ok := cfg.OnCall()
	if !ok {
		return fmt.Sprintf("Cancelled, %s. Nobody is on call.", user.Name)
	}
	return fmt.Sprintf("Cancelled, %s. Nothing changes: %s stays on call.", user.Name, oc.Name)
}
