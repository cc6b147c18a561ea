package twilio

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/url"
	"path"
	"regexp"
	"strings"
)

// ErrRecordingTooLarge is returned when a recording exceeds the configured
// cap (Config.MaxRecordingBytes).
var ErrRecordingTooLarge = errors.New("twilio: recording exceeds size cap")

const maxRedirects = 5

var recordingSIDPattern = regexp.MustCompile(`^RE[0-9a-fA-F]{32}$`)

// FetchRecording downloads the media behind a RecordingUrl that Twilio
// posted to a callback. Twilio's RecordingUrl has no extension; ".mp3" is
// appended then (without it Twilio serves WAV, several times larger).
//
// The account credentials are sent only to Twilio's API host over HTTPS, or
// to the BaseURL's host when one is configured (api.twilio.com is then
// rewritten to BaseURL, as for every other request). Any other host is
// refused with ErrUntrustedHost before a connection is made: a forged
// callback must not be able to make us hand our auth token to its server.
// Redirects are followed, but credentials never go along to another host.
//
// FetchRecording reads, so DryRun does not change it; without credentials it
// simply asks without them.
func (c *Client) FetchRecording(ctx context.Context, recordingURL string) (data []byte, contentType string, err error) {
	u, err := url.Parse(recordingURL)
	if err != nil {
		return nil, "", invalidf("recording URL: %v", err)
	}
	if u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return nil, "", invalidf("recording URL %q is not an absolute http(s) URL", recordingURL)
	}
	if u.User != nil {
		return nil, "", invalidf("recording URL must not carry credentials")
	}
	if c.dryRun {
		// No account: nothing at Twilio is ours to fetch, and a dry run
		// never contacts Twilio's hosts. Only a local simulator's recording
		// (`oncall-pager call --record`) is fetched, without credentials.
		if !loopbackHost(u.Hostname()) {
			return nil, "", invalidf("dry run: not fetching the recording at %s (without a Twilio account only a loopback URL, as 'oncall-pager call --record' serves, is fetched)", u.Host)
		}
	} else if !c.trustedHost(u) {
		return nil, "", fmt.Errorf("%w: %s", ErrUntrustedHost, u.Host)
	}
	if path.Ext(u.Path) == "" {
		u.Path += ".mp3"
		if u.RawPath != "" {
			u.RawPath += ".mp3"
		}
	}

	ctx, cancel := context.WithTimeout(ctx, c.recordingTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, "", invalidf("recording URL: %v", err)
	}
	if c.accountSID != "" && c.authToken != "" {
		req.SetBasicAuth(c.accountSID, c.authToken)
	}
	hc := &http.Client{Transport: c.transport, CheckRedirect: c.checkRecordingRedirect}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, "", fmt.Errorf("twilio: fetch recording: %w", err)
	}
	defer resp.Body.Close()

	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil, "", fmt.Errorf("twilio: fetch recording: %w", errorFromResponse(resp))
	}
	if resp.ContentLength > c.maxRecording {
		return nil, "", fmt.Errorf("%w: %d bytes announced, cap %d", ErrRecordingTooLarge, resp.ContentLength, c.maxRecording)
	}
	data, err = io.ReadAll(io.LimitReader(resp.Body, c.maxRecording+1))
	if err != nil {
		return nil, "", fmt.Errorf("twilio: fetch recording: %w", err)
	}
	if int64(len(data)) > c.maxRecording {
		return nil, "", fmt.Errorf("%w: cap %d", ErrRecordingTooLarge, c.maxRecording)
	}
	contentType = resp.Header.Get("Content-Type")
	if contentType == "" {
		contentType = mime.TypeByExtension(path.Ext(u.Path))
	}
	return data, contentType, nil
}

func loopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// trustedHost says whether u may receive the account credentials.
func (c *Client) trustedHost(u *url.URL) bool {
	if strings.EqualFold(u.Hostname(), apiHost) {
		if c.base != nil {
			// Rewritten to BaseURL by the transport, like every API call.
			return true
		}
		return u.Scheme == "https" && (u.Port() == "" || u.Port() == "443")
	}
	return c.base != nil && u.Scheme == c.base.Scheme && strings.EqualFold(u.Host, c.base.Host)
}

// checkRecordingRedirect drops the credentials when a redirect leaves the
// trusted host. net/http only strips them when the host name changes, not
// the port, which is not enough on a shared host such as 127.0.0.1.
func (c *Client) checkRecordingRedirect(req *http.Request, via []*http.Request) error {
	if len(via) >= maxRedirects {
		return fmt.Errorf("stopped after %d redirects", maxRedirects)
	}
	if !c.trustedHost(req.URL) {
		req.Header.Del("Authorization")
	}
	return nil
}

// errorFromResponse reads a Twilio JSON error body, tolerating anything else.
func errorFromResponse(resp *http.Response) *Error {
	e := &Error{Status: resp.StatusCode}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	var parsed struct {
		Code     int    `json:"code"`
		Message  string `json:"message"`
		MoreInfo string `json:"more_info"`
	}
	if json.Unmarshal(body, &parsed) == nil {
		e.Code, e.Message, e.MoreInfo = parsed.Code, parsed.Message, parsed.MoreInfo
	}
	if e.Message == "" {
		e.Message = http.StatusText(resp.StatusCode)
	}
	return e
}

// DeleteRecording deletes a recording (e.g. once it is stored elsewhere). A
// recording that is already gone (404) counts as deleted.
func (c *Client) DeleteRecording(ctx context.Context, recordingSID string) error {
	if !recordingSIDPattern.MatchString(recordingSID) {
		return invalidf("%q is not a recording SID", recordingSID)
	}
	if c.dryRun {
		c.log.InfoContext(ctx, "twilio dry run: recording not deleted", "recording_sid", recordingSID)
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	call := c.newAPICall(ctx)
	err := call.svc.DeleteRecording(recordingSID, nil)
	if err == nil {
		return nil
	}
	err = convertError("twilio: delete recording", err, call.ct.status)
	var te *Error
	if errors.As(err, &te) && te.Status == http.StatusNotFound {
		return nil
	}
	return err
}
