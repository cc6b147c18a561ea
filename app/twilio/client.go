package twilio

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"

	tw "github.com/twilio/twilio-go/client"
	api "github.com/twilio/twilio-go/rest/api/v2010"
)

const (
	// defaultTimeout bounds one REST call, connection included.
	defaultTimeout = 10 * time.Second
	// recordingTimeout is longer: a recording is megabytes, not a JSON reply.
	recordingTimeout = 60 * time.Second
	// DefaultMaxRecordingBytes caps FetchRecording; a 5-minute voicemail mp3 is
	// a few MiB, so this only stops something that is not a voicemail.
	DefaultMaxRecordingBytes = 50 << 20

	apiHost = "api.twilio.com"
)

// Config sets up a Client.
type Config struct {
	AccountSID string
	AuthToken  string
	// BaseURL, when set (e.g. "http://127.0.0.1:1234"), receives every
	// request twilio-go would send to *.twilio.com: for tests and simulators.
	// Empty means the real Twilio.
	BaseURL string
	// DryRun logs what would be sent and returns fake SIDs instead of calling
	// Twilio. Credentials are optional then.
	DryRun bool
	// HTTPClient supplies the Transport (and, if non-zero, the Timeout) used
	// for every request. Redirects are handled here regardless.
	HTTPClient *http.Client
	// MaxRecordingBytes caps FetchRecording; 0 means DefaultMaxRecordingBytes.
	MaxRecordingBytes int64
	Logger            *slog.Logger
}

// Client talks to Twilio's REST API. It is safe for concurrent use.
type Client struct {
	accountSID string
	authToken  string
	base       *url.URL // nil: the real Twilio
	dryRun     bool
	// transport rewrites Twilio hosts to base; shared by all requests.
	transport        http.RoundTripper
	timeout          time.Duration
	recordingTimeout time.Duration
	maxRecording     int64
	log              *slog.Logger
}

// credentialChars is what twilio-go accepts in an account SID or auth token;
// checked up front so a typo fails at start-up, not at the first page.
var credentialChars = regexp.MustCompile(`^[A-Za-z0-9]+$`)

// New checks cfg and returns a Client. Without DryRun both credentials are
// required: a pager that silently drops pages because an environment
// variable is missing is worse than one that refuses to start.
func New(cfg Config) (*Client, error) {
	c := &Client{
		accountSID:       cfg.AccountSID,
		authToken:        cfg.AuthToken,
		dryRun:           cfg.DryRun,
		timeout:          defaultTimeout,
		recordingTimeout: recordingTimeout,
		maxRecording:     cfg.MaxRecordingBytes,
		log:              cfg.Logger,
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	if c.maxRecording <= 0 {
		c.maxRecording = DefaultMaxRecordingBytes
	}
	if !cfg.DryRun {
		if cfg.AccountSID == "" || cfg.AuthToken == "" {
			return nil, errors.New("twilio: account SID and auth token are required unless DryRun is set")
		}
	}
	if cfg.AccountSID != "" && !credentialChars.MatchString(cfg.AccountSID) {
		return nil, errors.New("twilio: account SID must be letters and digits only")
	}
	if cfg.AuthToken != "" && !credentialChars.MatchString(cfg.AuthToken) {
		// Never echo the token itself.
		return nil, errors.New("twilio: auth token must be letters and digits only")
	}
	if cfg.BaseURL != "" {
		u, err := url.Parse(cfg.BaseURL)
		if err != nil {
			return nil, fmt.Errorf("twilio: base URL: %w", err)
		}
		if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
			return nil, fmt.Errorf("twilio: base URL %q must be http(s)://host[:port][/prefix]", cfg.BaseURL)
		}
		u.Path = strings.TrimSuffix(u.Path, "/")
		u.RawPath = ""
		c.base = u
	}
	next := http.DefaultTransport
	if cfg.HTTPClient != nil {
		if cfg.HTTPClient.Transport != nil {
			next = cfg.HTTPClient.Transport
		}
		if cfg.HTTPClient.Timeout > 0 {
			c.timeout = cfg.HTTPClient.Timeout
			c.recordingTimeout = cfg.HTTPClient.Timeout
		}
	}
	c.transport = &rewriteTransport{base: c.base, next: next}
	return c, nil
}

// AccountSID is the account this client acts for.
func (c *Client) AccountSID() string { return c.accountSID }

// DryRun reports whether sends are only logged.
func (c *Client) DryRun() bool { return c.dryRun }

// rewriteTransport sends requests for Twilio's hosts to base instead.
// twilio-go hard-codes https://api.twilio.com (and rewrites the host again
// for TWILIO_EDGE/TWILIO_REGION), so the transport is the one place every
// request passes through.
type rewriteTransport struct {
	base *url.URL
	next http.RoundTripper
}

func (t *rewriteTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if t.base == nil || !isTwilioHost(req.URL.Hostname()) {
		return t.next.RoundTrip(req)
	}
	r := req.Clone(req.Context())
	r.URL.Scheme = t.base.Scheme
	r.URL.Host = t.base.Host
	if t.base.Path != "" {
		r.URL.Path = t.base.Path + req.URL.Path
		if req.URL.RawPath != "" {
			r.URL.RawPath = t.base.EscapedPath() + req.URL.RawPath
		}
	}
	r.Host = ""
	return t.next.RoundTrip(r)
}

func isTwilioHost(host string) bool {
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	return host == "twilio.com" || strings.HasSuffix(host, ".twilio.com")
}

// callTransport binds one call's context to the requests twilio-go makes:
// twilio-go builds its requests with context.Background(), so without this
// neither cancellation nor deadlines would reach the wire. It also remembers
// the last HTTP status, which twilio-go drops when an error body is not JSON.
type callTransport struct {
	ctx    context.Context
	next   http.RoundTripper
	status int
}

func (t *callTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.next.RoundTrip(req.WithContext(t.ctx))
	if resp != nil {
		t.status = resp.StatusCode
	}
	return resp, err
}

// apiCall is the per-call twilio-go service plus what its transport saw.
// Building it per call is cheap (a few small structs) and keeps the context
// out of shared state.
type apiCall struct {
	svc *api.ApiService
	ct  *callTransport
}

func (c *Client) newAPICall(ctx context.Context) *apiCall {
	ct := &callTransport{ctx: ctx, next: c.transport}
	httpClient := &http.Client{
		Transport: ct,
		// The REST API never redirects a create/delete; following one would
		// re-send the form somewhere we did not choose (twilio-go's own
		// default client refuses redirects too).
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	cl := &tw.Client{
		Credentials: tw.NewCredentials(c.accountSID, c.authToken),
		HTTPClient:  httpClient,
	}
	cl.SetAccountSid(c.accountSID)
	return &apiCall{svc: api.NewApiServiceWithClient(cl), ct: ct}
}

// fakeSID makes a dry-run SID with Twilio's length (34) and a visible marker,
// e.g. "SMdryrun" + 26 hex digits.
func fakeSID(prefix string) string {
	b := make([]byte, 13)
	_, _ = rand.Read(b)
	return prefix + "dryrun" + hex.EncodeToString(b)
}

func invalidf(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrInvalidRequest}, args...)...)
}
