package pagerduty

import (
	"errors"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/oncall/pager/app/intake"
	"github.com/oncall/pager/app/team"
)

// Handler is POST /v2/enqueue, answering as PagerDuty does: 202 with the
// dedup key, 400 listing every problem (an unknown routing_key included,
// as PagerDuty answers it), 429 over the rate limit. The routing_key is
// one of our API keys.
func Handler(in *intake.Intake) echo.HandlerFunc {
	return func(c echo.Context) error {
		body, err := intake.ReadBody(c)
		if err != nil {
			return c.JSON(http.StatusBadRequest, Invalid(err))
		}
		ev, err := Parse(body, Options{})
		if err != nil {
			return c.JSON(http.StatusBadRequest, Invalid(err))
		}
		cfg, name, kerr := in.CheckKey(ev.RoutingKey)
		if cfg == nil {
			return c.JSON(http.StatusServiceUnavailable, Response{Status: "unavailable", Message: "no configuration loaded yet; retry shortly"})
		}
		if errors.Is(kerr, team.ErrExampleKey) {
			in.Refuse(c, "the README's example API key on a public listener")
			return c.JSON(http.StatusForbidden, Response{Status: "invalid event", Message: team.ExampleKeyRefused})
		}
		if kerr != nil {
			in.Refuse(c, "unknown routing key")
			return c.JSON(http.StatusBadRequest, Invalid(&intake.ValidationError{Errors: []string{"'routing_key' is not a key of this pager"}}))
		}
		if ok, retry := in.Allow(cfg, name); !ok {
			in.Refuse(c, "over the API key's rate limit")
			intake.SetRetryAfter(c, retry)
			return c.JSON(http.StatusTooManyRequests, Throttled())
		}
		if _, err := in.Apply(c.Request().Context(), name, ev); err != nil {
			return err
		}
		return c.JSON(http.StatusAccepted, Accepted(ev.DedupKey))
	}
}
