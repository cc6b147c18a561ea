package intake

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/oncall/pager/app/alerts"
	"github.com/oncall/pager/app/team"
)

// ConfigSource is the team config in use (team.Manager): its API keys are
// the intake's credentials.
type ConfigSource interface {
	Current() *team.Config
}

// AlertService is the alert domain (alerts.Service).
type AlertService interface {
	Apply(ctx context.Context, ev alerts.Event, actor string) (alerts.Transition, error)
}

// Options wire the intake.
type Options struct {
	Config  ConfigSource
	Alerts  AlertService
	Limiter *RateLimiter // shared with the API: one budget per key
	Logger  *slog.Logger
	// Exposed: the pager listens where other machines reach it, so the
	// published example key is refused.
	Exposed bool
	// OnRefuse learns of each refused request with a fixed reason
	// (server.Rejections bounds what that leaves behind). Nil: one warning
	// line each.
	OnRefuse func(c echo.Context, reason string)
}

// Intake is the plumbing every dialect's handler shares.
type Intake struct {
	cfg     ConfigSource
	alerts  AlertService
	limit   *RateLimiter
	log     *slog.Logger
	exposed bool
	refuse  func(c echo.Context, reason string)
}

// New returns the shared intake.
func New(o Options) *Intake {
	in := &Intake{cfg: o.Config, alerts: o.Alerts, limit: o.Limiter, log: o.Logger, exposed: o.Exposed}
	if in.log == nil {
		in.log = slog.New(slog.DiscardHandler)
	}
	if in.limit == nil {
		in.limit = NewRateLimiter(0, 0, nil)
	}
	in.refuse = o.OnRefuse
	if in.refuse == nil {
		in.refuse = func(c echo.Context, reason string) {
			in.log.Warn("intake: request refused", "path", c.Request().URL.Path, "reason", reason, "remote", c.RealIP())
		}
	}
	return in
}

// Logger is the intake's logger, for a dialect's own refusals.
func (in *Intake) Logger() *slog.Logger { return in.log }

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

// CheckKey finds the enabled API key: cfg is nil when no config is loaded
// yet, err team.ErrUnknownKey or team.ErrExampleKey when the key is
// refused.
func (in *Intake) CheckKey(key string) (cfg *team.Config, name string, err error) {
	cfg = in.cfg.Current()
	if cfg == nil {
		return nil, "", nil
	}
	name, _, err = cfg.Authenticate(key, in.exposed)
	return cfg, name, err
}

// Refuse reports a refused request (a fixed reason, never request data).
func (in *Intake) Refuse(c echo.Context, reason string) { in.refuse(c, reason) }

// Allow takes one request from the budget of the key named name (its
// rate_limit_per_minute); when refused, retryAfter says when to come back.
func (in *Intake) Allow(cfg *team.Config, name string) (ok bool, retryAfter time.Duration) {
	return in.limit.AllowN(name, cfg.APIKeys[name].RateLimit())
}

// SetRetryAfter puts d, in whole seconds (at least 1), in Retry-After.
func SetRetryAfter(c echo.Context, d time.Duration) {
	c.Response().Header().Set("Retry-After", strconv.Itoa(max(1, int(math.Ceil(d.Seconds())))))
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

// msgInvalidKey is the answer to a bad key: the RedFlash API's words, so a
// script sees the same refusal on every route.
const msgInvalidKey = "Invalid API key for operation"

// Webhook is a webhook receiver that takes its key as Authorization:
// Bearer or ?api_key=: it checks the key and the rate limit, reads the
// body, parses it with parse and applies every event, answering 200 with
// what each did.
func (in *Intake) Webhook(parse func([]byte) ([]alerts.Event, error)) echo.HandlerFunc {
	return func(c echo.Context) error { return in.serveWebhook(c, parse) }
}

func (in *Intake) serveWebhook(c echo.Context, parse func([]byte) ([]alerts.Event, error)) error {
	key := c.QueryParam("api_key")
	if auth := c.Request().Header.Get("Authorization"); auth != "" {
		scheme, token, ok := strings.Cut(strings.TrimSpace(auth), " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") {
			return c.JSON(http.StatusBadRequest, Answer{Message: `Authorization: want "Bearer <api key>"`})
		}
		key = strings.TrimSpace(token)
	}
	cfg, name, kerr := in.CheckKey(key)
	if cfg == nil {
		return c.JSON(http.StatusServiceUnavailable, Answer{Message: "The pager has no configuration loaded yet; retry shortly"})
	}
	if errors.Is(kerr, team.ErrExampleKey) {
		in.Refuse(c, "the README's example API key on a public listener")
		return c.JSON(http.StatusForbidden, Answer{Message: team.ExampleKeyRefused})
	}
	if kerr != nil {
		in.Refuse(c, "unknown or missing API key")
		return c.JSON(http.StatusForbidden, Answer{Message: msgInvalidKey})
	}
	if ok, retry := in.Allow(cfg, name); !ok {
		in.Refuse(c, "over the API key's rate limit")
		SetRetryAfter(c, retry)
		return c.JSON(http.StatusTooManyRequests, Answer{Message: "too many requests for this key; retry after the Retry-After delay"})
	}
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
