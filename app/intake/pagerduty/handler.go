package pagerduty

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/oncall/pager/app/intake"
	"github.com/oncall/pager/app/keygate"
)

// Handler is POST /v2/enqueue, answering as PagerDuty does: 202 with the
// dedup key, 400 listing the problems (an unknown routing_key included,
// as PagerDuty answers it), 429 over the rate limit. The routing_key is
// one of our API keys.
func Handler(in *intake.Intake) echo.HandlerFunc {
	return func(c echo.Context) error {
		body, err := intake.ReadBody(c)
		if err != nil {
			return c.JSON(http.StatusBadRequest, Invalid(err))
		}
		ev, err := Parse(body)
		if err != nil {
			return c.JSON(http.StatusBadRequest, Invalid(err))
		}
		v := in.Keys().Check(c, keygate.ViaRoutingKey, ev.RoutingKey)
		switch v.Refused {
		case keygate.Passed:
		case keygate.NoConfig:
			return c.JSON(http.StatusServiceUnavailable, Response{Status: "unavailable", Message: "no configuration loaded yet; retry shortly"})
		case keygate.UnknownKey:
			return c.JSON(http.StatusBadRequest, Invalid(&intake.ValidationError{Errors: []string{"'routing_key' is not a key of this pager"}}))
		case keygate.OverLimit:
			return c.JSON(http.StatusTooManyRequests, Throttled())
		default: // keygate.ExampleKey
			return c.JSON(v.Status(), Response{Status: "invalid event", Message: v.Message()})
		}
		if _, err := in.Apply(c.Request().Context(), v.Name, ev); err != nil {
			return err
		}
		return c.JSON(http.StatusAccepted, Accepted(ev.DedupKey))
	}
}
