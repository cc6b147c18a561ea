package api

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/oncall/pager/app/alerts"
	"github.com/oncall/pager/app/intake"
	"github.com/oncall/pager/app/team"
)

// The monitoring intake (each dialect's parsing is in app/intake):
//
//	POST /v2/enqueue     PagerDuty Events API v2; routing_key is one of our API keys
//	POST /alertmanager   Prometheus Alertmanager webhook_config
//	POST /grafana        Grafana alerting webhook contact point
//	POST /alerts         the pager's own JSON
//
// The last three take the key as Authorization: Bearer or ?api_key=. Every
// event becomes (or acts on) an alert, deduplicated per key and dedup key.

// AlertService is the alert domain (alerts.Service).
type AlertService interface {
	Apply(ctx context.Context, ev alerts.Event, actor string) (alerts.Transition, error)
	Get(ctx context.Context, id string) (alerts.Alert, error)
	Ack(ctx context.Context, ref, actor string) (alerts.Transition, error)
	Close(ctx context.Context, ref, actor string) (alerts.Transition, error)
	RecordDelivery(ctx context.Context, alertID string, d alerts.Delivery) (alerts.DeliveryUpdate, error)
}

// PageCaller calls a person about an alert (notify.Pages).
type PageCaller interface {
	Call(ctx context.Context, a alerts.Alert, userID string) error
	CallTwiML(alertID, userID, summary string) string
}

// IntakeOptions wire the intake and page callbacks.
type IntakeOptions struct {
	Config  ConfigSource
	Alerts  AlertService
	Pages   PageCaller
	Limiter *intake.RateLimiter // default PagerDuty's 120 a minute per key
	Logger  *slog.Logger
}

// Intake serves the monitoring intake and the Twilio callbacks of pages.
type Intake struct {
	cfg    ConfigSource
	alerts AlertService
	pages  PageCaller
	limit  *intake.RateLimiter
	log    *slog.Logger
}

// NewIntake returns the intake handlers.
func NewIntake(o IntakeOptions) *Intake {
	in := &Intake{cfg: o.Config, alerts: o.Alerts, pages: o.Pages, limit: o.Limiter, log: o.Logger}
	if in.log == nil {
		in.log = slog.New(slog.DiscardHandler)
	}
	if in.limit == nil {
		in.limit = intake.NewRateLimiter(0, 0, nil)
	}
	return in
}

func readBody(c echo.Context) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(c.Request().Body, intake.MaxBodyBytes+1))
	if err != nil {
		return nil, err
	}
	if len(data) > intake.MaxBodyBytes {
		return nil, errTooLarge
	}
	return data, nil
}

var errTooLarge = errors.New("request body too large")

// checkKey finds the enabled API key; name is "" when there is none.
func (in *Intake) checkKey(key string) (cfg *team.Config, name string) {
	cfg = in.cfg.Current()
	if cfg == nil {
		return nil, ""
	}
	n, _, ok := cfg.CheckAPIKey(key)
	if !ok {
		return cfg, ""
	}
	return cfg, n
}

// ServeEnqueue is POST /v2/enqueue, answering as PagerDuty does: 202 with
// the dedup key, 400 listing every problem, 429 over the rate limit.
func (in *Intake) ServeEnqueue(c echo.Context) error {
	body, err := readBody(c)
	if err != nil {
		return c.JSON(http.StatusBadRequest, intake.PagerDutyInvalid(err))
	}
	ev, err := intake.ParsePagerDuty(body, intake.PagerDutyOptions{})
	if err != nil {
		return c.JSON(http.StatusBadRequest, intake.PagerDutyInvalid(err))
	}
	cfg, name := in.checkKey(ev.RoutingKey)
	if cfg == nil {
		return c.JSON(http.StatusServiceUnavailable, intake.PagerDutyResponse{Status: "unavailable", Message: "no configuration loaded yet; retry shortly"})
	}
	if name == "" {
		in.log.Warn("intake: event refused: unknown routing key", "path", c.Request().URL.Path, "remote", c.RealIP())
		return c.JSON(http.StatusBadRequest, intake.PagerDutyInvalid(&intake.ValidationError{Errors: []string{"'routing_key' is not a key of this pager"}}))
	}
	if !in.limit.Allow(name) {
		return c.JSON(http.StatusTooManyRequests, intake.PagerDutyThrottled())
	}
	if _, err := in.apply(c.Request().Context(), name, ev); err != nil {
		return err
	}
	return c.JSON(http.StatusAccepted, intake.PagerDutyAccepted(ev.DedupKey))
}

// intakeAnswer is the webhook receivers' answer.
type intakeAnswer struct {
	Message string        `json:"message"`
	Alerts  []alertResult `json:"alerts,omitempty"`
	Errors  []string      `json:"errors,omitempty"`
}

type alertResult struct {
	ID       string         `json:"id,omitempty"`
	Code     string         `json:"code,omitempty"`
	DedupKey string         `json:"dedup_key"`
	State    alerts.State   `json:"state,omitempty"`
	Outcome  alerts.Outcome `json:"outcome"`
}

// ServeAlertmanager is POST /alertmanager.
func (in *Intake) ServeAlertmanager(c echo.Context) error {
	return in.serveWebhook(c, func(b []byte) ([]alerts.Event, error) {
		return intake.ParseAlertmanager(b, intake.WebhookOptions{})
	})
}

// ServeGrafana is POST /grafana.
func (in *Intake) ServeGrafana(c echo.Context) error {
	return in.serveWebhook(c, func(b []byte) ([]alerts.Event, error) {
		return intake.ParseGrafana(b, intake.WebhookOptions{})
	})
}

// ServeGeneric is POST /alerts.
func (in *Intake) ServeGeneric(c echo.Context) error {
	return in.serveWebhook(c, func(b []byte) ([]alerts.Event, error) {
		ev, err := intake.ParseGeneric(b)
		return []alerts.Event{ev}, err
	})
}

func (in *Intake) serveWebhook(c echo.Context, parse func([]byte) ([]alerts.Event, error)) error {
	key := c.QueryParam("api_key")
	if auth := c.Request().Header.Get("Authorization"); auth != "" {
		scheme, token, ok := strings.Cut(strings.TrimSpace(auth), " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") {
			return c.JSON(http.StatusBadRequest, intakeAnswer{Message: `Authorization: want "Bearer <api key>"`})
		}
		key = strings.TrimSpace(token)
	}
	cfg, name := in.checkKey(key)
	if cfg == nil {
		return c.JSON(http.StatusServiceUnavailable, intakeAnswer{Message: "The pager has no configuration loaded yet; retry shortly"})
	}
	if name == "" {
		in.log.Warn("intake: webhook refused: unknown or missing key", "path", c.Request().URL.Path, "remote", c.RealIP())
		return c.JSON(http.StatusForbidden, intakeAnswer{Message: msgInvalidKey})
	}
	if !in.limit.Allow(name) {
		return c.JSON(http.StatusTooManyRequests, intakeAnswer{Message: "too many events for this key; retry later"})
	}
	body, err := readBody(c)
	if err != nil {
		return c.JSON(http.StatusRequestEntityTooLarge, intakeAnswer{Message: err.Error()})
	}
	evs, err := parse(body)
	if err != nil {
		var ve *intake.ValidationError
		if errors.As(err, &ve) {
			return c.JSON(http.StatusBadRequest, intakeAnswer{Message: "invalid event", Errors: ve.Errors})
		}
		return c.JSON(http.StatusBadRequest, intakeAnswer{Message: err.Error()})
	}
	ans := intakeAnswer{Message: "ok"}
	for _, ev := range evs {
		res, err := in.apply(c.Request().Context(), name, ev)
		if err != nil {
			return err
		}
		ans.Alerts = append(ans.Alerts, res)
	}
	return c.JSON(http.StatusOK, ans)
}

// apply acts on one event for the key named name. Dedup keys are scoped by
// the key's name, not its secret, so rotating a key's secret keeps dedup.
// An acknowledge or resolve for no open alert is dropped, as PagerDuty does.
func (in *Intake) apply(ctx context.Context, name string, ev alerts.Event) (alertResult, error) {
	ev.RoutingKey = "key:" + name
	tr, err := in.alerts.Apply(ctx, ev, "api:"+name)
	res := alertResult{DedupKey: ev.DedupKey, Outcome: tr.Outcome, ID: tr.Alert.ID, Code: tr.Alert.Code, State: tr.Alert.State}
	switch {
	case errors.Is(err, alerts.ErrNotFound):
		res.Outcome = "no_open_alert"
		return res, nil
	case errors.Is(err, alerts.ErrInvalid):
		return res, echo.NewHTTPError(http.StatusBadRequest, err.Error())
	case err != nil:
		in.log.Error("intake: event not recorded", "key", name, "action", ev.Action, "err", err)
		return res, echo.NewHTTPError(http.StatusServiceUnavailable, "event not recorded; retry")
	}
	in.log.Info("intake: event", "key", name, "integration", ev.Integration, "action", ev.Action, "alert", tr.Alert.ID, "outcome", tr.Outcome)
	return res, nil
}
