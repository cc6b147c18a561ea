package channel

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

const (
	// defaultHTTPTimeout bounds a request when the caller supplies neither a
	// Client nor a context deadline; a page stuck forever is worse than a
	// retried one.
	defaultHTTPTimeout = 30 * time.Second
	// maxResponse is how much of an answer we keep: enough for any
	// provider's JSON or error text, small enough to log.
	maxResponse = 64 << 10
	userAgent   = "oncall-pager"
)

type httpResult struct {
	status int
	body   []byte
	header http.Header
}

// postHTTP sends one POST and reads a bounded answer. Redirects are not
// followed: Go's client turns a redirected POST into a GET without a body,
// which a webhook endpoint may well answer with 200, and we would report a
// message as delivered that nobody received.
func postHTTP(ctx context.Context, client *http.Client, name, rawURL, contentType string, body []byte, header http.Header) (httpResult, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		// url.Parse echoes the URL, which may carry a token.
		return httpResult{}, permanent(0, "%s: invalid URL", name)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return httpResult{}, permanent(0, "%s: URL %s is not an absolute http(s) URL", name, RedactURL(u))
	}

	c := http.Client{Timeout: defaultHTTPTimeout}
	if client != nil {
		c = *client
	}
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), bytes.NewReader(body))
	if err != nil {
		return httpResult{}, permanent(0, "%s: build request for %s: %w", name, RedactURL(u), err)
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("User-Agent", userAgent)

	resp, err := c.Do(req)
	if err != nil {
		// *url.Error repeats the full URL; tokens live in webhook paths.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		e := temporary(0, "%s: POST %s: %w", name, RedactURL(u), err)
		e.Permanent = permanentTransport(err)
		return httpResult{}, e
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	if err != nil {
		return httpResult{}, temporary(resp.StatusCode, "%s: read answer from %s: %w", name, RedactURL(u), err)
	}
	// Draining lets the connection be reused; bounded so a hostile peer
	// cannot keep us reading.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	return httpResult{status: resp.StatusCode, body: data, header: resp.Header}, nil
}

// statusError describes an unsuccessful answer.
func statusError(name string, res httpResult) *Error {
	msg := fmt.Sprintf("%s: HTTP %d %s", name, res.status, http.StatusText(res.status))
	if res.status >= 300 && res.status < 400 {
		msg += " (redirects are not followed; configure the final URL)"
	}
	if snippet := answerSnippet(res.body); snippet != "" {
		msg += ": " + snippet
	}
	return &Error{Permanent: permanentHTTPStatus(res.status), Code: res.status, Err: errors.New(msg)}
}

// answerSnippet makes a peer's answer fit on one log line.
func answerSnippet(b []byte) string {
	s := strings.Join(strings.Fields(string(b)), " ")
	return Truncate(s, 200)
}
