package intake

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/oncall/pager/app/alerts"
	"github.com/oncall/pager/app/keygate"
)

// AlertService is the alert domain (alerts.Service).
type AlertService interface {
	Apply(ctx context.Context, ev alerts.Event, actor string) (alerts.Transition, error)
}

// Options wire the intake.
type Options struct {
	Alerts AlertService
	// Keys checks API keys, their budget (one per key, shared with the API
	// and heartbeats) and records refusals. Required.
	Keys   keygate.Keys
	Logger *slog.Logger
}

// Intake is the plumbing every dialect's handler shares.
type Intake struct {
	alerts AlertService
	keys   keygate.Keys
	log    *slog.Logger
}

// New returns the shared intake.
func New(o Options) *Intake {
	in := &Intake{alerts: o.Alerts, keys: o.Keys, log: o.Logger}
	if in.log == nil {
		in.log = slog.New(slog.DiscardHandler)
	}
	return in
}

// Keys is the key gate, for a dialect's handler.
func (in *Intake) Keys() keygate.Keys { return in.keys }

// ErrTooLarge is ReadBody's answer to a body over MaxBodyBytes.
var ErrTooLarge = errors.New("request body too large")

// ReadBody reads the request body, refusing one over MaxBodyBytes.
func ReadBody(c echo.Context) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(c.Request().Body, MaxBodyBytes+1))
	if err != nil {
		return nil, err
	}
	if len(data) > MaxBodyBytes {
		return nil, ErrTooLarge
	}
	return data, nil
}

// Answer is the webhook receivers' answer (all dialects but PagerDuty's,
// which answers as PagerDuty does).
type Answer struct {
	Message string   `json:"message"`
	Alerts  []Result `json:"alerts,omitempty"`
	Errors  []string `json:"errors,omitempty"`
}

// Result is what one event did.
type Result struct {
	ID       string         `json:"id,omitempty"`
	Code     string         `json:"code,omitempty"`
	DedupKey string         `json:"dedup_key"`
	State    alerts.State   `json:"state,omitempty"`
	Outcome  alerts.Outcome `json:"outcome"`
}

// Webhook is a webhook receiver that takes its key as Authorization:
// Bearer or ?api_key=: it checks the key and the rate limit, reads the
// body, parses it with parse and applies every event, answering 200 with
// what each did.
func (in *Intake) Webhook(parse func([]byte) ([]alerts.Event, error)) echo.HandlerFunc {
	return func(c echo.Context) error { return in.serveWebhook(c, parse) }
}

func (in *Intake) serveWebhook(c echo.Context, parse func([]byte) ([]alerts.Event, error)) error {
	key, err := keygate.KeyFrom(c.Request(), c.QueryParam("api_key"))
	if err != nil {
		return c.JSON(http.StatusBadRequest, Answer{Message: err.Error()})
	}
	v := in.keys.Check(c, keygate.ViaWebhook, key)
	if !v.OK() {
		return c.JSON(v.Status(), Answer{Message: v.Message()})
	}
	name := v.Name
	body, err := ReadBody(c)
	if err != nil {
		return c.JSON(http.StatusRequestEntityTooLarge, Answer{Message: err.Error()})
	}
	evs, err := parse(body)
	if err != nil {
		var ve *ValidationError
		if errors.As(err, &ve) {
			return c.JSON(http.StatusBadRequest, Answer{Message: "invalid event", Errors: ve.Errors})
		}
		return c.JSON(http.StatusBadRequest, Answer{Message: err.Error()})
	}
	ans := Answer{Message: "ok"}
	for _, ev := range evs {
		res, err := in.Apply(c.Request().Context(), name, ev)
		if err != nil {
			return err
		}
		ans.Alerts = append(ans.Alerts, res)
	}
	return c.JSON(http.StatusOK, ans)
}

// Apply acts on one event for the key named name. Dedup keys are scoped by
// the key's name, not its secret, so rotating a key's secret keeps dedup.
// An acknowledge or resolve for no open alert is dropped, as PagerDuty
// does. A failure comes back as an *echo.HTTPError to return as is.
func (in *Intake) Apply(ctx context.Context, name string, ev alerts.Event) (Result, error) {
	ev.RoutingKey = "key:" + name
	tr, err := in.alerts.Apply(ctx, ev, "api:"+name)
	res := Result{DedupKey: ev.DedupKey, Outcome: tr.Outcome, ID: tr.Alert.ID, Code: tr.Alert.Code, State: tr.Alert.State}
	switch {
	case errors.Is(err, alerts.ErrNotFound):
		res.Outcome = "no_open_alert"
		return res, nil
	case errors.Is(err, alerts.ErrInvalid):
		return res, echo.NewHTTPError(http.StatusBadRequest, err.Error())
	case err != nil:
		in.log.ErrorContext(ctx, "intake: event not recorded", "key", name, "action", ev.Action, "err", err)
		return res, echo.NewHTTPError(http.StatusServiceUnavailable, "event not recorded; retry")
	}
	in.log.InfoContext(ctx, "intake: event", "key", name, "integration", ev.Integration, "action", ev.Action, "alert", tr.Alert.ID, "outcome", tr.Outcome)
	return res, nil
}
