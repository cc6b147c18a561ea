package metrics

import (
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"
)

// routeLabel is the route template echo matched (/contact/:slug), never
// the raw path, so the label's values are the routes the pager registers.
func routeLabel(route string) string {
	if route == "" {
		return "unmatched"
	}
	return route
}

// HTTP counts and times every request by route template, method and the
// status answered. Add it with echo's Use: it runs after routing, so the
// template is known.
func (m *Metrics) HTTP() echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			start := time.Now()
			err := next(c)
			code := c.Response().Status
			if err != nil && !c.Response().Committed {
				// The error handler answers later, outside this middleware:
				// count the status it will write.
				code = http.StatusInternalServerError
				var he *echo.HTTPError
				if errors.As(err, &he) {
					code = he.Code
				}
			}
			route, method := routeLabel(c.Path()), methodLabel(c.Request().Method)
			m.httpRequests.WithLabelValues(route, method, strconv.Itoa(code)).Inc()
			m.httpDuration.WithLabelValues(route, method).Observe(time.Since(start).Seconds())
			return err
		}
	}
}
