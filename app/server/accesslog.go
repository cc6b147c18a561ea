package server

import (
	"log/slog"
	"strings"
	"sync"
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

// accessContext is the request's context as WrapRequestLog hands it on,
// with room for the Outcome: a field of a pooled struct costs nothing per
// request, where echo's Context.Set makes a map for each.
type accessContext struct {
	echo.Context
	outcome    Outcome
	hasOutcome bool
}

var accessContexts = sync.Pool{New: func() any { return new(accessContext) }}

// SetOutcome records o for the request's access line.
func SetOutcome(c echo.Context, o Outcome) {
	if ac, ok := c.(*accessContext); ok {
		ac.outcome, ac.hasOutcome = o, true
		return
	}
	c.Set(outcomeKey, o) // a context not from WrapRequestLog (tests)
}

func outcomeOf(c echo.Context) (Outcome, bool) {
	if ac, ok := c.(*accessContext); ok && ac.hasOutcome {
		return ac.outcome, true
	}
	o, ok := c.Get(outcomeKey).(Outcome)
	return o, ok
}

// WrapRequestLog logs one line per request, when it is answered, with the
// handler's Outcome if it set one. It runs outside WrapRequestID and names
// the request itself (request_id, last, as on every other line of the
// request), so the line is built once: on a WHO, the records slog's
// variadic API and a request-id handler would each copy and grow cost more
// than the handler's work. No source position: it would always be this
// function.
func WrapRequestLog(log *slog.Logger) echo.MiddlewareFunc {
	h := log.Handler()
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			start := time.Now()
			// The context as it came in, without the request's id: the
			// line carries the id as an attribute of its own.
			ctx := c.Request().Context()
			ac := accessContexts.Get().(*accessContext)
			*ac = accessContext{Context: c}
			err := next(ac)
			if err != nil {
				c.Error(err)
			}
			o, hasOutcome := outcomeOf(ac)
			*ac = accessContext{}
			accessContexts.Put(ac)
			status := c.Response().Status
			lvl := slog.LevelInfo
			if status >= 500 {
				lvl = slog.LevelError
			} else if status >= 400 {
				lvl = slog.LevelWarn
			}
			if !h.Enabled(ctx, lvl) {
				return nil
			}
			end := time.Now()
			r := c.Request() // WrapRequestID's, carrying the id
			attrs := [8]slog.Attr{
				slog.String("method", r.Method),
				slog.String("path", logPath(r.URL.Path)),
				slog.Int("status", status),
				slog.Float64("dur_ms", float64(end.Sub(start).Microseconds())/1000),
			}
			n := 4
			if hasOutcome {
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
			// Under WrapRequestID instead (ctx has the id), the handler
			// adds it.
			if id := RequestID(r.Context()); id != "" && RequestID(ctx) == "" {
				attrs[n] = slog.String("request_id", id)
				n++
			}
			rec := slog.NewRecord(end, lvl, "http", 0)
			rec.AddAttrs(attrs[:n]...)
			_ = h.Handle(ctx, rec)
			return nil
		}
	}
}

// calendarPath starts the calendar feed's route (/calendar/:file), whose
// token in the path is the feed's only credential.
const calendarPath = "/calendar/"

// logPath is path as the log may hold it: the calendar feed's token (or a
// guess at one) stays out. Other paths are returned as they are, with no
// allocation.
func logPath(path string) string {
	if i := strings.Index(path, calendarPath); i >= 0 {
		return path[:i+len(calendarPath)] + "***"
	}
	return path
}
