package server

import (
	"log/slog"
	"time"

	"github.com/labstack/echo/v4"
)

// Outcome is what a handler did with a request, in the handler's words,
// for the request's one access line: the log holds one line per request
// rather than a line from the router and another from the handler.
type Outcome struct {
	// What happened, e.g. "who", "take_requested", "unknown_sender".
	What string
	// Actor is the team member the request came from, when known.
	Actor string
	// Ref is what the request was about (a Twilio SID, an alert code).
	Ref string
}

const outcomeKey = "server.outcome"

// SetOutcome records o for the request's access line.
func SetOutcome(c echo.Context, o Outcome) { c.Set(outcomeKey, o) }

// WrapRequestLog logs one line per request, when it is answered, with the
// handler's Outcome if it set one. Attributes are built without the
// key-value boxing of slog's variadic API: this runs on every request.
func WrapRequestLog(log *slog.Logger) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			start := time.Now()
			err := next(c)
			if err != nil {
				c.Error(err)
			}
			status := c.Response().Status
			lvl := slog.LevelInfo
			if status >= 500 {
				lvl = slog.LevelError
			} else if status >= 400 {
				lvl = slog.LevelWarn
			}
			ctx := c.Request().Context()
			if !log.Enabled(ctx, lvl) {
				return nil
			}
			r := c.Request()
			attrs := [7]slog.Attr{
				slog.String("method", r.Method),
				slog.String("path", r.URL.Path),
				slog.Int("status", status),
				slog.Float64("dur_ms", float64(time.Since(start).Microseconds())/1000),
			}
			n := 4
			if o, ok := c.Get(outcomeKey).(Outcome); ok {
				attrs[n] = slog.String("outcome", o.What)
				n++
				if o.Actor != "" {
					attrs[n] = slog.String("actor", o.Actor)
					n++
				}
				if o.Ref != "" {
					attrs[n] = slog.String("ref", o.Ref)
					n++
				}
			}
			log.LogAttrs(ctx, lvl, "http", attrs[:n]...)
			return nil
		}
	}
}
