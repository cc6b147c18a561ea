package server

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
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
		// One route is called at one URL: its signed form is kept rather
		// than built for every request.
		var route atomic.Pointer[signedURL]
		return func(c echo.Context) error {
			r := c.Request()
			if err := ParseForm(r); err != nil {
				if tooLarge(err) {
					return echo.NewHTTPError(http.StatusRequestEntityTooLarge, "request body too large")
				}
				return echo.NewHTTPError(http.StatusBadRequest, "malformed form body")
			}
			if !v.Enabled() {
				return next(c)
			}
			sig := twilio.HeaderValue(r.Header, twilio.SignatureHeader)
			full := signedURLOf(&route, base, r.URL)
			reason := ""
			switch {
			case sig == "":
				reason = "missing " + twilio.SignatureHeader
			case !v.Valid(full, r.PostForm, sig):
				reason = twilio.SignatureHeader + " does not match"
			}
			if reason != "" {
				// Debug only: onReject logs the first refusal per source and
				// interval, and counts the rest, so a flood makes no flood of
				// lines.
				log.DebugContext(c.Request().Context(), "twilio webhook rejected", "path", r.URL.Path, "reason", reason,
					"remote", c.RealIP(), "signed_url", Truncate(full, 256))
				if onReject != nil {
					onReject(c, reason)
				}
				return echo.NewHTTPError(http.StatusForbidden, "invalid Twilio signature")
			}
			return next(c)
		}
	}
}

// signedURL is a route's path and the URL Twilio signs for it.
type signedURL struct{ path, full string }

// signedURLOf is base + u.RequestURI(), from last when u is the same plain
// path (no query, no raw or opaque form) as the request before.
func signedURLOf(last *atomic.Pointer[signedURL], base string, u *url.URL) string {
	plain := u.RawQuery == "" && u.RawPath == "" && u.Opaque == "" && !u.ForceQuery
	if l := last.Load(); plain && l != nil && l.path == u.Path {
		return l.full
	}
	full := base + u.RequestURI()
	if plain {
		last.Store(&signedURL{path: u.Path, full: full})
	}
	return full
}

// WrapBodyLimit answers 413 to a body over limit bytes. A declared length
// is checked before anything is read, and the server reads no further than
// it, so only a body of unknown length (chunked) is wrapped in a counting
// reader.
func WrapBodyLimit(limit int64) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			r := c.Request()
			if r.ContentLength > limit {
				return echo.ErrStatusRequestEntityTooLarge
			}
			if r.ContentLength < 0 && r.Body != nil {
				r.Body = http.MaxBytesReader(c.Response(), r.Body, limit)
			}
			return next(c)
		}
	}
}

// tooLarge reports whether a body read failed on a size cap: echo's
// BodyLimit (chunked bodies, whose size is only known while reading),
// http.MaxBytesReader, or ParseForm's own 10 MB cap on forms.
func tooLarge(err error) bool {
	var he *echo.HTTPError
	var mb *http.MaxBytesError
	return (errors.As(err, &he) && he.Code == http.StatusRequestEntityTooLarge) ||
		errors.As(err, &mb) || strings.Contains(err.Error(), "http: POST too large")
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

// ParseForm parses a webhook's form into r.PostForm and r.Form, as
// r.ParseForm does. For Twilio's usual request (a URL-encoded body, no
// query string) both are the same map, which saves ParseForm's copy of
// every value list; anything else goes through r.ParseForm.
func ParseForm(r *http.Request) error {
	if r.PostForm != nil || r.URL.RawQuery != "" || r.Body == nil || r.Method != http.MethodPost ||
		r.Header.Get(echo.HeaderContentType) != echo.MIMEApplicationForm {
		return r.ParseForm()
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return err
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return err
	}
	r.PostForm, r.Form = form, form
	return nil
}
