package page

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/oncall/pager/app/alerts"
	"github.com/oncall/pager/app/jobs"
	"github.com/oncall/pager/app/twilio"
	"github.com/oncall/pager/twiml"
)

// Alerts is the alert domain as the page callbacks use it (alerts.Service).
type Alerts interface {
	Get(ctx context.Context, id string) (alerts.Alert, error)
	Ack(ctx context.Context, ref, actor string) (alerts.Transition, error)
	Close(ctx context.Context, ref, actor string) (alerts.Transition, error)
	RecordDelivery(ctx context.Context, alertID string, d alerts.Delivery) (alerts.DeliveryUpdate, error)
}

// KindFallbackCall is the call that follows a page SMS Twilio could not
// deliver: one job per text, so a repeated status callback calls once.
const KindFallbackCall jobs.Kind = "page-fallback-call"

const (
	stepFallbackCall = "call"
	// fallbackCallAttempts bounds retries of the call (the outbound path
	// failing outright); the alert's escalation pages on regardless.
	fallbackCallAttempts = 10
)

// Fallback call results, recorded in the job for operators.
const (
	FallbackCalled  = "called"
	FallbackSkipped = "skipped"
)

// FallbackResult is what a fallback call step records.
type FallbackResult struct {
	Status string `json:"status"`
	Reason string `json:"reason,omitempty"`
}

type fallbackPayload struct {
	AlertID string `json:"alert_id"`
	UserID  string `json:"user_id"`
	// SMSSID is the undelivered text's.
	SMSSID string `json:"sms_sid"`
}

// FallbackCallID is the job of the call following the page text sid to
// userID about alertID. Hashed: the parts come from the callback URL and
// need not fit the job id's charset.
func FallbackCallID(alertID, userID, sid string) string {
	h := sha256.Sum256([]byte(alertID + "\x00" + userID + "\x00" + sid))
	return "pagecall-" + hex.EncodeToString(h[:16])
}

// Callbacks serve Twilio's callbacks of alert pages: delivery status and
// the keys pressed on a page call.
type Callbacks struct {
	alerts Alerts
	pages  *Pages
	q      *jobs.Queue
	log    *slog.Logger
}

// NewCallbacks returns the page callbacks over the alerts and the pages,
// and registers the fallback call's handler on q (before it runs).
func NewCallbacks(a Alerts, p *Pages, q *jobs.Queue, log *slog.Logger) *Callbacks {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	in := &Callbacks{alerts: a, pages: p, q: q, log: log}
	q.Handle(KindFallbackCall, stepFallbackCall, in.runFallbackCall)
	return in
}

// ServeAlertStatus is POST /public/alertstatus?alert=&user=&ch=: Twilio's
// status callback of a page's SMS or call. Callbacks arriving out of order
// never move a page backwards; an SMS that fails or goes undelivered is
// followed at once by a call (a job), unless the alert was taken meanwhile.
func (in *Callbacks) ServeAlertStatus(c echo.Context) error {
	ctx := c.Request().Context()
	alertID, userID := c.QueryParam("alert"), c.QueryParam("user")
	form, _ := c.FormParams()
	cb := twilio.ParseStatusCallback(form)
	ch := alerts.Channel(c.QueryParam("ch"))
	if ch == "" {
		ch = alerts.ChannelSMS
		if cb.Kind == twilio.KindCall {
			ch = alerts.ChannelVoice
		}
	}
	d := PageDelivery(ch, userID, cb)
	if alertID == "" || d.SID == "" {
		return c.NoContent(http.StatusBadRequest)
	}
	up, err := in.alerts.RecordDelivery(ctx, alertID, d)
	switch {
	case errors.Is(err, alerts.ErrNotFound):
		return c.NoContent(http.StatusNoContent) // closed: nobody needs reaching
	case err != nil:
		in.log.ErrorContext(ctx, "intake: page status not recorded", "alert", alertID, "err", err)
		return c.NoContent(http.StatusServiceUnavailable)
	}
	if !up.NotReached() || up.Delivery.Channel != alerts.ChannelSMS {
		return c.NoContent(http.StatusNoContent)
	}
	// Not placed here: the call waits for the call rate and for Twilio,
	// which can outlast Twilio's wait for this answer, and Twilio does not
	// send the callback again, while "not reached" is stored already. Once
	// the job is stored the call survives a timeout or a restart.
	if err := in.queueFallbackCall(ctx, alertID, userID, d.SID); err != nil {
		in.log.ErrorContext(ctx, "intake: fallback call not queued", "alert", alertID, "user", userID, "err", err)
		return c.NoContent(http.StatusServiceUnavailable)
	}
	in.log.WarnContext(ctx, "intake: page SMS not delivered; call queued", "alert", alertID, "user", userID, "status", up.Delivery.Status)
	return c.NoContent(http.StatusNoContent)
}

func (in *Callbacks) queueFallbackCall(ctx context.Context, alertID, userID, sid string) error {
	payload, err := json.Marshal(fallbackPayload{AlertID: alertID, UserID: userID, SMSSID: sid})
	if err != nil {
		return fmt.Errorf("page: encode fallback call: %w", err)
	}
	_, err = in.q.Enqueue(ctx, jobs.Job{ID: FallbackCallID(alertID, userID, sid), Kind: KindFallbackCall, Payload: payload,
		Steps: []jobs.Step{{Name: stepFallbackCall, MaxAttempts: fallbackCallAttempts}}})
	if err != nil {
		return fmt.Errorf("page: queue fallback call for %s to %s: %w", alertID, userID, err)
	}
	return nil
}

// runFallbackCall calls the person an undelivered page SMS did not reach,
// unless the alert was taken meanwhile.
func (in *Callbacks) runFallbackCall(ctx context.Context, job *jobs.Job, _ *jobs.Step) (any, error) {
	var p fallbackPayload
	if err := job.Decode(&p); err != nil {
		return nil, jobs.Permanent(err)
	}
	a, err := in.alerts.Get(ctx, p.AlertID)
	if errors.Is(err, alerts.ErrNotFound) {
		return FallbackResult{Status: FallbackSkipped, Reason: "closed"}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("page: fallback call: %w", err)
	}
	if a.State != alerts.StateTriggered {
		return FallbackResult{Status: FallbackSkipped, Reason: string(a.State)}, nil
	}
	if err := in.pages.Call(ctx, a, p.UserID); err != nil {
		return nil, fmt.Errorf("page: fallback call for %s to %s: %w", p.AlertID, p.UserID, err)
	}
	return FallbackResult{Status: FallbackCalled}, nil
}

// ServePageKey is POST /public/pagekey?alert=&user=: a key pressed on a
// page call. 1 acknowledges, 2 closes, anything else repeats the page.
func (in *Callbacks) ServePageKey(c echo.Context) error {
	ctx := c.Request().Context()
	alertID, userID := c.QueryParam("alert"), c.QueryParam("user")
	a, err := in.alerts.Get(ctx, alertID)
	if err != nil {
		return voice(c, twiml.Say{Text: "This alert is no longer known. Goodbye."}, twiml.Hangup{})
	}
	var tr alerts.Transition
	switch c.FormValue("Digits") {
	case "1":
		tr, err = in.alerts.Ack(ctx, alertID, userID)
	case "2":
		tr, err = in.alerts.Close(ctx, alertID, userID)
	default:
		return c.Blob(http.StatusOK, "text/xml; charset=utf-8", []byte(in.pages.CallTwiML(alertID, userID, a.Summary)))
	}
	if err != nil {
		in.log.ErrorContext(ctx, "intake: key on a page call not acted on", "alert", alertID, "user", userID, "err", err)
		return voice(c, twiml.Say{Text: "Sorry, that could not be saved. Please reply to the text message instead."}, twiml.Hangup{})
	}
	msg := "Acknowledged. Thank you."
	switch tr.Outcome {
	case alerts.OutcomeAlreadyAcknowledged:
		msg = "It was already acknowledged."
	case alerts.OutcomeAlreadyClosed:
		msg = "It was already closed."
	default:
		if tr.Alert.State == alerts.StateClosed {
			msg = "Closed. Thank you."
		}
	}
	return voice(c, twiml.Say{Text: msg}, twiml.Hangup{})
}

func voice(c echo.Context, verbs ...twiml.Verb) error {
	return c.Blob(http.StatusOK, "text/xml; charset=utf-8", []byte(twiml.Voice(verbs...)))
}
