package page

import (
	"context"
	"errors"
	"log/slog"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/oncall/pager/app/alerts"
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

// Callbacks serve Twilio's callbacks of alert pages: delivery status and
// the keys pressed on a page call.
type Callbacks struct {
	alerts Alerts
	pages  *Pages
	log    *slog.Logger
}

// NewCallbacks returns the page callbacks over the alerts and the pages.
func NewCallbacks(a Alerts, p *Pages, log *slog.Logger) *Callbacks {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Callbacks{alerts: a, pages: p, log: log}
}

// ServeAlertStatus is POST /public/alertstatus?alert=&user=&ch=: Twilio's
// status callback of a page's SMS or call. Callbacks arriving out of order
// never move a page backwards; an SMS that fails or goes undelivered is
// followed at once by a call, unless the alert was taken meanwhile.
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
	a, err := in.alerts.Get(ctx, alertID)
	if err != nil || a.State != alerts.StateTriggered {
		return c.NoContent(http.StatusNoContent)
	}
	in.log.WarnContext(ctx, "intake: page SMS not delivered; calling", "alert", alertID, "user", userID, "status", up.Delivery.Status)
	if err := in.pages.Call(ctx, a, userID); err != nil {
		in.log.ErrorContext(ctx, "intake: fallback call failed", "alert", alertID, "user", userID, "err", err)
		return c.NoContent(http.StatusServiceUnavailable)
	}
	return c.NoContent(http.StatusNoContent)
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
