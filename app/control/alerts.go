package control

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/oncall/pager/app/alerts"
	"github.com/oncall/pager/app/audit"
	"github.com/oncall/pager/app/jsondoc"
	"github.com/oncall/pager/app/team"
)

// Alerter acknowledges and closes alerts (alerts.Service).
type Alerter interface {
	Ack(ctx context.Context, ref, actor string) (alerts.Transition, error)
	Close(ctx context.Context, ref, actor string) (alerts.Transition, error)
	LatestPagedTo(ctx context.Context, userID string) (alerts.Alert, error)
	// ReleaseHeld has the alerts held by ended maintenance windows paged.
	ReleaseHeld(ctx context.Context, reason string) error
	ByCode(ctx context.Context, code string) (alerts.Alert, error)
}

// Audit actions of the alert commands.
const (
	ActionAlertAck   audit.Action = "alert_ack"
	ActionAlertClose audit.Action = "alert_close"
	ActionSMSOff     audit.Action = "sms_off"
	ActionSMSOn      audit.Action = "sms_on"
	// ActionAlertRefused: a reply code from someone neither paged for the
	// alert nor on call.
	ActionAlertRefused audit.Action = "alert_reply_refused"
)

// mayReply: a reply code acts only for someone paged for the alert (by the
// escalation or its source) or the engineer on call now. Codes are short
// and guessable; this keeps a member who saw a code elsewhere, or mistyped
// one, from closing an alert that was never theirs.
func mayReply(cfg *team.Config, a alerts.Alert, userID string) bool {
	if slices.Contains(a.PagedUsers, userID) || slices.Contains(a.PrePaged, userID) {
		return true
	}
	oc, ok := cfg.OnCall()
	return ok && oc.ID == userID
}

// reply acts on "1a", "ACK 1", "CLOSE" and the like. Without a code it is
// the latest alert paged to the sender.
func (h *Handler) reply(ctx context.Context, cfg *team.Config, user team.User, r alerts.Reply) string {
	if h.alerts == nil {
		return "Alerts are not handled by this pager."
	}
	ref := r.Code
	if ref == "" {
		a, err := h.alerts.LatestPagedTo(ctx, user.ID)
		if errors.Is(err, alerts.ErrNotFound) {
			return "You have no open alert to " + verb(r.Action) + ". Reply with its code, e.g. 1a."
		}
		if err != nil {
			h.log.ErrorContext(ctx, "control: latest alert not found: store unavailable", "user", user.ID, "err", err)
			return "Sorry, the pager cannot reach its storage right now. Try again in a minute."
		}
		ref = a.ID
	} else {
		a, err := h.alerts.ByCode(ctx, r.Code)
		switch {
		case errors.Is(err, alerts.ErrNotFound):
			return fmt.Sprintf("No open alert has code %s. It may have been closed already.", r.Code)
		case err != nil:
			h.log.Error("control: alert not read", "user", user.ID, "code", r.Code, "err", err)
			return "Sorry, the pager cannot reach its storage right now. Try again in a minute."
		}
		if !mayReply(cfg, a, user.ID) {
			h.audit.Try(ctx, audit.Entry{Actor: user.ID, Action: ActionAlertRefused, Source: user.Phone, Detail: a.ID})
			h.log.Info("control: reply from someone not paged for the alert refused", "user", user.ID, "alert", a.ID)
			return fmt.Sprintf("You were not paged for [%s] and are not on call, so you cannot %s it. "+
				"Ask the on-call engineer or someone who was paged.", r.Code, verb(r.Action))
		}
		ref = a.ID
	}
	var tr alerts.Transition
	var err error
	action := ActionAlertAck
	if r.Action == alerts.ReplyClose {
		action = ActionAlertClose
		tr, err = h.alerts.Close(ctx, ref, user.ID)
	} else {
		tr, err = h.alerts.Ack(ctx, ref, user.ID)
	}
	switch {
	case errors.Is(err, alerts.ErrNotFound) && r.Code == "":
		return "Your latest alert is no longer open."
	case errors.Is(err, alerts.ErrNotFound):
		return fmt.Sprintf("No open alert has code %s. It may have been closed already.", r.Code)
	case err != nil:
		h.log.ErrorContext(ctx, "control: alert not updated", "user", user.ID, "ref", ref, "err", err)
		return "Sorry, that could not be saved (storage unavailable). Nothing changed; try again in a minute."
	}
	a := tr.Alert
	name := func(id string) string {
		if u, ok := cfg.UserByID(id); ok && u.Name != "" {
			return u.Name
		}
		return id
	}
	switch tr.Outcome {
	case alerts.OutcomeAlreadyAcknowledged:
		return fmt.Sprintf("[%s] %s was already acknowledged by %s.", a.Code, a.Summary, name(a.AckedBy))
	case alerts.OutcomeAlreadyClosed:
		return fmt.Sprintf("[%s] %s was already closed by %s.", a.Code, a.Summary, name(a.ClosedBy))
	}
	h.audit.Try(ctx, audit.Entry{Actor: user.ID, Action: action, Source: user.Phone, Detail: a.ID})
	told := ""
	if len(tr.Told) > 0 {
		names := make([]string, 0, len(tr.Told))
		for _, id := range tr.Told {
			names = append(names, name(id))
		}
		told = " Telling " + strings.Join(names, ", ") + "."
	}
	if r.Action == alerts.ReplyClose {
		return fmt.Sprintf("Closed [%s] %s.%s", a.Code, a.Summary, told)
	}
	return fmt.Sprintf("Acknowledged [%s] %s: escalation stopped.%s Reply %sc to close it.", a.Code, a.Summary, told, a.Code)
}

func verb(a alerts.ReplyAction) string {
	if a == alerts.ReplyClose {
		return "close"
	}
	return "acknowledge"
}

// optInOut mirrors Twilio's own opt-out: STOP switches the sender's SMS
// pages off in the config (they are called instead), START on again.
// Twilio blocks texts after STOP, so that reply may never arrive.
func (h *Handler) optInOut(ctx context.Context, user team.User, kw alerts.OptKeyword) string {
	on := kw == alerts.OptIn
	_, err := h.cfg.Update(ctx, user.ID, func(cfg *team.Config, doc *jsondoc.Doc) error {
		if _, ok := cfg.UserByID(user.ID); !ok {
			return fmt.Errorf("user %s no longer in available_users", user.ID)
		}
		return doc.Set([]string{"available_users", "users", user.ID, "channels", string(team.MediumSMS), "enabled"}, on)
	})
	if errors.Is(err, team.ErrStoredConfigInvalid) {
		h.log.Error("control: SMS setting refused: the stored config is invalid", "user", user.ID, "on", on, "err", err)
		return "Sorry, the team config in storage is broken (a bad upload), so nothing can be changed until ops fix it. Nothing changed."
	}
	if err != nil {
		h.log.ErrorContext(ctx, "control: SMS setting not saved", "user", user.ID, "on", on, "err", err)
		return "Sorry, the change could not be saved. Try again in a minute."
	}
	action := ActionSMSOff
	if on {
		action = ActionSMSOn
	}
	h.audit.Try(ctx, audit.Entry{Actor: user.ID, Action: action, Source: user.Phone})
	h.log.InfoContext(ctx, "control: SMS pages switched", "user", user.ID, "on", on)
	if on {
		return fmt.Sprintf("SMS pages are on again, %s.", user.Name)
	}
	return fmt.Sprintf("SMS pages are off, %s: you will be called instead. Text START to turn them back on.", user.Name)
}

// Once remembers webhook deliveries across restarts and replicas
// (server.Once).
type Once interface {
	First(ctx context.Context, token string) (bool, error)
}

// firstDelivery reports whether to act on this delivery of a text that
// changes something (a hand-over, an acknowledgement, an opt-out): those
// must act once however often Twilio delivers the text. The marker is the
// MessageSid when there is one: Twilio signs it, and it is the same on
// every retry and on a replay of a captured request, whatever
// I-Twilio-Idempotency-Token says (Twilio's signature has no timestamp).
// When the marker cannot be written it acts anyway: the commands report
// their own storage trouble, and acting twice beats not acting.
func (h *Handler) firstDelivery(ctx context.Context, sid, token string) bool {
	if sid != "" {
		token = "sms:" + sid
	}
	if h.once == nil || token == "" {
		return true
	}
	first, err := h.once.First(ctx, token)
	if err != nil {
		h.log.WarnContext(ctx, "control: delivery not recorded; acting anyway", "err", err)
		return true
	}
	return first
}
