package server

import (
	"context"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/oncall/pager/app/twilio"
)

// SignatureChecker is the Twilio request validator (app/twilio.Validator).
type SignatureChecker interface {
	Enabled() bool
	Valid(fullURL string, params url.Values, signature string) bool
}

// WrapTwilioSignature rejects any request not signed by Twilio with 403 and
// no side effect. The signed URL is the public base URL plus the request's
// path and query, because behind a TLS proxy the pager never sees the URL
// Twilio called.
func WrapTwilioSignature(v SignatureChecker, baseURL string, log *slog.Logger, onReject func(c echo.Context, reason string)) echo.MiddlewareFunc {
	base := strings.TrimRight(baseURL, "/")
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			r := c.Request()
			if err := r.ParseForm(); err != nil {
				return echo.NewHTTPError(http.StatusBadRequest, "malformed form body")
			}
			if !v.Enabled() {
				return next(c)
			}
			sig := r.Header.Get(twilio.SignatureHeader)
			full := base + r.URL.RequestURI()
			reason := ""
			switch {
			case sig == "":
				reason = "missing " + twilio.SignatureHeader
			case !v.Valid(full, r.PostForm, sig):
				reason = twilio.SignatureHeader + " does not match"
			}
			if reason != "" {
				log.Warn("twilio webhook rejected", "path", r.URL.Path, "reason", reason,
					"remote", c.RealIP(), "signed_url", full,
					"hint", "check ONCALL_APP_BASE_URL matches the URL configured in the Twilio console and TWILIO_AUTH_TOKEN")
				if onReject != nil {
					onReject(c, reason)
				}
				return echo.NewHTTPError(http.StatusForbidden, "invalid Twilio signature")
			}
			return next(c)
		}
	}
}

// WrapRequestLog logs one line per request.
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
			log.Log(c.Request().Context(), lvl, "http",
				"method", c.Request().Method, "path", c.Request().URL.Path, "status", status,
				"dur_ms", float64(time.Since(start).Microseconds())/1000)
			return nil
		}
	}
}

// TwilioDeadline bounds a Twilio webhook's work. Twilio gives up after 15 s
// and then plays an error to the caller or drops the reply; answering
// "storage unavailable" in time beats a perfect answer nobody hears.
const TwilioDeadline = 12 * time.Second

// WrapDeadline gives the request context a deadline, so store and Twilio
// calls made while answering a webhook cannot hang it.
func WrapDeadline(d time.Duration) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			ctx, cancel := context.WithTimeout(c.Request().Context(), d)
			defer cancel()
			c.SetRequest(c.Request().WithContext(ctx))
			return next(c)
		}
	}
}
