package mocktwilio

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oncall/pager/internal/testskip"
)

// sharedSpec parses Twilio's OpenAPI description once per test process.
// This is the package's only package-level state, kept because the parsed
// *Spec is immutable after loading while parsing the 1.8 MB file costs about
// 0.1 s (0.4 s under -race) — too much to repeat for each of the many
// Servers a test suite starts. Consequently TWILIO_OPENAPI_SPEC is read once,
// at the first New.
var sharedSpec = sync.OnceValue(func() specResult {
	required := specRequired()
	path, searched, ok := FindSpec()
	if !ok {
		return specResult{searched: searched, required: required}
	}
	spec, err := LoadSpec(path)
	return specResult{spec: spec, path: path, searched: searched, err: err, required: required}
})

type specResult struct {
	spec     *Spec
	path     string
	searched []string
	err      error
	// required: a missing spec fails the test instead of turning the
	// validation layer off (in CI, where it must not pass unnoticed).
	required bool
}

// specRequired reports whether the run is in CI (CI=true, as CI services
// set it), where a missing spec is an error, not a reason to skip.
func specRequired() bool {
	ci, _ := strconv.ParseBool(os.Getenv("CI"))
	return ci
}

// noSpec handles a missing spec: outside CI the validation layer is off,
// with one line saying so; in CI the test fails.
func (res specResult) noSpec(t testing.TB, skipped string) {
	t.Helper()
	where := strings.Join(res.searched, ", ")
	if res.required {
		t.Fatalf("Twilio OpenAPI spec not found at %s; CI=true requires it (set %s to its path)", where, SpecEnv)
	}
	t.Logf("Twilio OpenAPI spec not found at %s; skipping %s (set %s to its path)", where, skipped, SpecEnv)
}

// Request is one request the mock received, whatever became of it.
type Request struct {
	Method string
	Path   string
	Query  url.Values
	// Form is the parsed form body (empty for GET/DELETE).
	Form   url.Values
	Header http.Header
	// Status is what the mock answered.
	Status int
}

// Server is a running fake of api.twilio.com. Its methods are safe for
// concurrent use.
type Server struct {
	t          testing.TB
	srv        *httptest.Server
	accountSID string
	authToken  string
	spec       *Spec // nil: spec validation skipped
	webhooks   *http.Client

	mu         sync.Mutex
	changed    chan struct{} // closed and replaced whenever a record is added
	requests   []Request
	messages   []Message
	calls      []Call
	recordings map[string]*recording
	inbound    map[string]Call // calls to the account's numbers, by SID
	faults     []*fault
	violations []string
	latency    time.Duration
	now        func() time.Time
}

// SetClock makes the mock stamp what it takes (date_created, date_sent,
// start_time) with now instead of the wall clock, so a pager on a fake
// clock and the mock agree on when a send was made.
func (s *Server) SetClock(now func() time.Time) {
	s.mu.Lock()
	s.now = now
	s.mu.Unlock()
}

// clock is the mock's time (SetClock).
func (s *Server) clock() time.Time {
	s.mu.Lock()
	now := s.now
	s.mu.Unlock()
	if now == nil {
		return time.Now()
	}
	return now()
}

// SetStatus makes the message or call sid (one the mock took) have status
// as Twilio's list resources report it, e.g. an undelivered text or a
// busy call. The status must be one the spec names for the resource.
func (s *Server) SetStatus(sid, status string) {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	set := func(schema string, rec *string) {
		if s.spec != nil && !slices.Contains(s.spec.statuses[schema], status) {
			s.t.Fatalf("mocktwilio: %q is not a status of %s (%v)", status, schema, s.spec.statuses[schema])
		}
		*rec = status
	}
	for i := range s.messages {
		if s.messages[i].SID == sid {
			set("message_enum_status", &s.messages[i].Status)
			return
		}
	}
	for i := range s.calls {
		if s.calls[i].SID == sid {
			set("call_enum_status", &s.calls[i].Status)
			return
		}
	}
	s.t.Fatalf("mocktwilio: no message or call %s", sid)
}

// SetLatency makes the mock answer each create (a text, a call) d after it
// took it, as Twilio does (a few hundred milliseconds): a client that dies
// in between has sent something it never heard about.
func (s *Server) SetLatency(d time.Duration) {
	s.mu.Lock()
	s.latency = d
	s.mu.Unlock()
}

// pause waits out the configured latency.
func (s *Server) pause() {
	s.mu.Lock()
	d := s.latency
	s.mu.Unlock()
	if d > 0 {
		time.Sleep(d)
	}
}

// New starts a mock on loopback with a fresh account SID and auth token; it
// is closed when the test ends. Requests that do not match Twilio's OpenAPI
// description fail the test; when the description cannot be found that
// check is skipped, with one line in the test log saying so.
func New(t testing.TB) *Server {
	t.Helper()
	res := sharedSpec()
	if res.spec == nil && res.err == nil && !res.required {
		testskip.Record("Twilio spec validation", "twilio_api_v2010.json not found (set "+SpecEnv+")")
	}
	return newServer(t, res)
}

func newServer(t testing.TB, res specResult) *Server {
	t.Helper()
	if res.err != nil {
		t.Fatalf("mocktwilio: Twilio OpenAPI spec at %s: %v", res.path, res.err)
	}
	if res.spec == nil {
		res.noSpec(t, "spec validation")
	}
	s := &Server{
		t:          t,
		accountSID: "AC" + randHex(16),
		authToken:  randHex(16),
		spec:       res.spec,
		webhooks: &http.Client{
			Timeout: 10 * time.Second,
			// Twilio reports a webhook's redirect as its answer; so do we.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		changed:    make(chan struct{}),
		recordings: map[string]*recording{},
		inbound:    map[string]Call{},
	}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serveHTTP))
	t.Cleanup(s.srv.Close)
	return s
}

// URL is the mock's base URL (http://127.0.0.1:port), for Config.BaseURL.
func (s *Server) URL() string { return s.srv.URL }

// AccountSID is the account the mock accepts: "AC" and 32 hex digits.
func (s *Server) AccountSID() string { return s.accountSID }

// AuthToken is the mock account's auth token; it also signs webhooks.
func (s *Server) AuthToken() string { return s.authToken }

// SpecChecked reports whether requests are being checked against Twilio's
// OpenAPI description.
func (s *Server) SpecChecked() bool { return s.spec != nil }

// Requests returns every request received so far, in arrival order.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.requests)
}

// Violations returns the OpenAPI violations found so far (each one has also
// failed the test).
func (s *Server) Violations() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.violations)
}

// notifyLocked wakes every waiter; s.mu must be held.
func (s *Server) notifyLocked() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// waitFor blocks until cond (called with s.mu held) reports true or ctx ends.
func (s *Server) waitFor(ctx context.Context, cond func() bool) error {
	for {
		s.mu.Lock()
		if cond() {
			s.mu.Unlock()
			return nil
		}
		ch := s.changed
		s.mu.Unlock()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-ch:
		}
	}
}

// statusWriter records the request, with its status, just before the
// response starts: a client that has its answer finds the request in
// Requests.
type statusWriter struct {
	http.ResponseWriter
	status int
	record func(status int)
}

// discard is where a lost answer goes.
type discard struct{}

func (discard) Header() http.Header         { return http.Header{} }
func (discard) Write(b []byte) (int, error) { return len(b), nil }
func (discard) WriteHeader(int)             {}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
		w.record(code)
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(b)
}

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 10<<20))
	if err != nil {
		writeError(w, http.StatusBadRequest, 0, "reading body: "+err.Error())
		return
	}
	rec := Request{Method: r.Method, Path: r.URL.Path, Query: r.URL.Query(), Form: url.Values{}, Header: r.Header.Clone()}
	if len(body) > 0 {
		if form, err := url.ParseQuery(string(body)); err == nil {
			rec.Form = form
		}
	}
	sw := &statusWriter{ResponseWriter: w, record: func(status int) {
		rec.Status = status
		s.mu.Lock()
		s.requests = append(s.requests, rec)
		s.notifyLocked()
		s.mu.Unlock()
	}}
	if s.handle(sw, r, body, rec.Form) {
		sw.record(0)
		// Closes the connection without a reply.
		panic(http.ErrAbortHandler)
	}
	if sw.status == 0 {
		sw.WriteHeader(http.StatusOK)
	}
}

// handle answers one request; lost: it took effect and its answer is to be
// lost (LoseNext).
func (s *Server) handle(w http.ResponseWriter, r *http.Request, body []byte, form url.Values) (lost bool) {
	if s.spec != nil {
		if v := s.spec.Validate(r, body); len(v) > 0 {
			s.mu.Lock()
			s.violations = append(s.violations, v...)
			s.mu.Unlock()
			for _, msg := range v {
				s.t.Errorf("mocktwilio: request violates Twilio's OpenAPI spec: %s", msg)
			}
			writeError(w, http.StatusBadRequest, 0, "request violates Twilio's OpenAPI spec: "+strings.Join(v, "; "))
			return
		}
	}
	// Twilio checks credentials on every API request, media included.
	user, pass, ok := r.BasicAuth()
	if !ok || user != s.accountSID || pass != s.authToken {
		w.Header().Set("WWW-Authenticate", `Basic realm="Twilio API"`)
		writeError(w, http.StatusUnauthorized, 20003, "Authenticate")
		return
	}
	rest, ok := strings.CutPrefix(r.URL.Path, "/2010-04-01/Accounts/")
	account, resource, _ := strings.Cut(rest, "/")
	if !ok || account != s.accountSID {
		writeNotFound(w, r)
		return
	}
	if f := s.takeFault(r.URL.Path); f != nil {
		if !f.lose {
			writeError(w, f.status, f.code, f.message())
			return
		}
		s.route(discard{}, r, resource, form)
		return true
	}
	s.route(w, r, resource, form)
	return false
}

// route serves one API request past the checks.
func (s *Server) route(w http.ResponseWriter, r *http.Request, resource string, form url.Values) {
	switch {
	case r.Method == http.MethodPost && resource == "Messages.json":
		s.createMessage(w, form)
	case r.Method == http.MethodPost && resource == "Calls.json":
		s.createCall(w, form)
	case r.Method == http.MethodGet && resource == "Messages.json":
		s.listMessages(w, r)
	case r.Method == http.MethodGet && resource == "Calls.json":
		s.listCalls(w, r)
	case r.Method == http.MethodGet && resource == "Recordings.json":
		s.listRecordings(w, r)
	case r.Method == http.MethodGet && strings.HasPrefix(resource, "Calls/") && strings.Count(resource, "/") == 1 && strings.HasSuffix(resource, ".json"):
		s.fetchCall(w, r, strings.TrimSuffix(strings.TrimPrefix(resource, "Calls/"), ".json"))
	case strings.HasPrefix(resource, "Recordings/") && strings.Count(resource, "/") == 1:
		s.serveRecording(w, r, strings.TrimPrefix(resource, "Recordings/"))
	default:
		writeNotFound(w, r)
	}
}

// twilioTime formats times as Twilio's 2010 API does (RFC 1123 with a
// numeric zone).
func twilioTime(t time.Time) string { return t.UTC().Format(time.RFC1123Z) }

func writeJSON(w http.ResponseWriter, status int, v any) {
	var buf bytes.Buffer
	if err := json.NewEncoder(&buf).Encode(v); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// writeError answers in Twilio's error shape. code 0 is written as null.
func writeError(w http.ResponseWriter, status, code int, message string) {
	body := map[string]any{"code": nil, "message": message, "more_info": nil, "status": status}
	if code != 0 {
		body["code"] = code
		body["more_info"] = fmt.Sprintf("https://www.twilio.com/docs/errors/%d", code)
	}
	writeJSON(w, status, body)
}

func writeNotFound(w http.ResponseWriter, r *http.Request) {
	writeError(w, http.StatusNotFound, 20404, fmt.Sprintf("The requested resource %s was not found", r.URL.Path))
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
