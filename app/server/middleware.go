package server

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/oncall/pager/app/twilio"
)

// SignatureChecker is the Twilio request validator (app/twilio.Validator).
type SignatureChecker interface {
	Enabled() bool
	Valid(fullURL string, params url.Values, signature string) bool
	// ValidParams is Valid for the form's fields in request order.
	ValidParams(fullURL string, params []twilio.Param, signature string) bool
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
		// The form's fields in request order, for the check: one slice
		// per request in flight, reused.
		fieldLists := sync.Pool{New: func() any { return new([]twilio.Param) }}
		return func(c echo.Context) error {
			r := c.Request()
			if !v.Enabled() {
				if err := ParseForm(r); err != nil {
					return formError(err)
				}
				return next(c)
			}
			fields := fieldLists.Get().(*[]twilio.Param)
			listed, err := parseForm(r, fields)
			valid := false
			sig := twilio.HeaderValue(r.Header, twilio.SignatureHeader)
			full := signedURLOf(&route, base, r.URL)
			switch {
			case err != nil || sig == "":
			case listed:
				valid = v.ValidParams(full, *fields, sig)
			default:
				valid = v.Valid(full, r.PostForm, sig)
			}
			clear(*fields) // the request's strings are not kept
			*fields = (*fields)[:0]
			fieldLists.Put(fields)
			if err != nil {
				return formError(err)
			}
			reason := ""
			switch {
			case sig == "":
				reason = "missing " + twilio.SignatureHeader
			case !valid:
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

// formError answers a form that could not be read: 413 for one over a size
// cap, else 400.
func formError(err error) error {
	if tooLarge(err) {
		return echo.NewHTTPError(http.StatusRequestEntityTooLarge, "request body too large")
	}
	return echo.NewHTTPError(http.StatusBadRequest, "malformed form body")
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
	_, err := parseForm(r, nil)
	return err
}

// maxListedFields bounds the fields parseForm parses itself; a larger form
// goes to url.ParseQuery, whose own limit then applies.
const maxListedFields = 1000

// parseForm is ParseForm. With fields, it also appends a URL-encoded
// body's fields to *fields in request order and reports listed, so the
// signature check needs no map lookups.
func parseForm(r *http.Request, fields *[]twilio.Param) (listed bool, err error) {
	if r.PostForm != nil || r.URL.RawQuery != "" || r.Body == nil || r.Method != http.MethodPost ||
		twilio.HeaderValue(r.Header, echo.HeaderContentType) != echo.MIMEApplicationForm {
		return false, r.ParseForm()
	}
	body, err := readBody(r)
	if err != nil {
		return false, err
	}
	query := string(body)
	form, ok := parseQuery(query, fields)
	if !ok {
		// Malformed, or too large to list: the standard parser decides,
		// and words the error.
		if fields != nil {
			clear(*fields)
			*fields = (*fields)[:0]
		}
		if form, err = url.ParseQuery(query); err != nil {
			return false, err
		}
		r.PostForm, r.Form = form, form
		return false, nil
	}
	r.PostForm, r.Form = form, form
	return fields != nil, nil
}

// maxPresized bounds the buffer readBody sizes from Content-Length before
// reading: a declared length is only a claim.
const maxPresized = 64 << 10

// readBody reads r's body into one buffer of its declared length when that
// is known and small (Twilio's forms always are), where io.ReadAll would
// start at 512 bytes and grow. It reads as io.ReadAll does: to the end,
// whatever the declared length said.
func readBody(r *http.Request) ([]byte, error) {
	n := r.ContentLength
	if n <= 0 || n > maxPresized {
		return io.ReadAll(r.Body)
	}
	// One byte over, so the read that meets the end fits.
	buf := make([]byte, 0, n+1)
	for {
		k, err := r.Body.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+k]
		switch {
		case err == io.EOF:
			return buf, nil
		case err != nil:
			return nil, err
		case len(buf) == cap(buf):
			// More than declared (a hand-built request).
			rest, err := io.ReadAll(r.Body)
			if err != nil {
				return nil, err
			}
			return append(buf, rest...), nil
		}
	}
}

// parseQuery is url.ParseQuery for a query it accepts, listing the fields
// in order when fields is not nil; ok is false for any query it would
// refuse (and one with very many fields), without saying why.
func parseQuery(query string, fields *[]twilio.Param) (form url.Values, ok bool) {
	n := strings.Count(query, "&") + 1
	if n > maxListedFields {
		return nil, false
	}
	// Sized once, and every name's first value in one array: a map grown
	// field by field and a slice per field were most of a webhook's
	// allocations.
	form = make(url.Values, n)
	firsts := make([]string, 0, n)
	for query != "" {
		var kv string
		kv, query, _ = strings.Cut(query, "&")
		if strings.Contains(kv, ";") {
			return nil, false
		}
		if kv == "" {
			continue
		}
		k, v, _ := strings.Cut(kv, "=")
		k, err := url.QueryUnescape(k)
		if err != nil {
			return nil, false
		}
		if v, err = url.QueryUnescape(v); err != nil {
			return nil, false
		}
		if vs, ok := form[k]; ok {
			form[k] = append(vs, v) // a repeated name: its own array from here
		} else {
			firsts = append(firsts, v)
			form[k] = firsts[len(firsts)-1 : len(firsts) : len(firsts)]
		}
		if fields != nil {
			*fields = append(*fields, twilio.Param{Name: k, Value: v})
		}
	}
	return form, true
}
