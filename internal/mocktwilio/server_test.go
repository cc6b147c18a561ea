package mocktwilio

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oncall/pager/app/twilio"
)

// captureTB stands in for the test so that failures the mock reports can be
// asserted on instead of failing the test. Everything else goes to the real
// test (Cleanup, Skip, …).
type captureTB struct {
	testing.TB
	mu     sync.Mutex
	errors []string
	logs   []string
}

func (c *captureTB) Helper() {}

func (c *captureTB) Errorf(format string, args ...any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.errors = append(c.errors, fmt.Sprintf(format, args...))
}

// Fatalf records the failure and ends the calling goroutine, as
// testing.T.Fatalf does; call what may fail in a goroutine of its own.
func (c *captureTB) Fatalf(format string, args ...any) {
	c.Errorf(format, args...)
	runtime.Goexit()
}

func (c *captureTB) Logf(format string, args ...any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.logs = append(c.logs, fmt.Sprintf(format, args...))
}

func (c *captureTB) Errors() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.errors...)
}

// do sends a raw request to the mock, with its credentials unless user is "-".
func do(t *testing.T, s *Server, method, path string, form url.Values, user, pass string) (int, map[string]any) {
	t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, s.URL()+path, body)
	if err != nil {
		t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if user != "-" {
		req.SetBasicAuth(user, pass)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	raw, _ := io.ReadAll(resp.Body)
	_ = json.Unmarshal(raw, &out)
	return resp.StatusCode, out
}

func messagesOf(s *Server) string { return "/2010-04-01/Accounts/" + s.AccountSID() + "/Messages.json" }

func TestNewCredentialsLookLikeTwilio(t *testing.T) {
	s := New(t)
	if !regexp.MustCompile(`^AC[0-9a-f]{32}$`).MatchString(s.AccountSID()) {
		t.Errorf("account SID %q", s.AccountSID())
	}
	if !regexp.MustCompile(`^[0-9a-f]{32}$`).MatchString(s.AuthToken()) {
		t.Errorf("auth token %q", s.AuthToken())
	}
	if !strings.HasPrefix(s.URL(), "http://127.0.0.1:") && !strings.HasPrefix(s.URL(), "http://[::1]:") {
		t.Errorf("URL %q is not on loopback", s.URL())
	}
}

func TestCreateMessageAnswersLikeTwilio(t *testing.T) {
	s := New(t)
	status, body := do(t, s, http.MethodPost, messagesOf(s), url.Values{"To": {"+15005550006"}, "From": {"+15005550001"}, "Body": {"hi"}}, s.AccountSID(), s.AuthToken())
	if status != http.StatusCreated {
		t.Fatalf("status %d, body %v", status, body)
	}
	msgs := s.Messages()
	if len(msgs) != 1 || body["sid"] != msgs[0].SID || body["status"] != "queued" || body["to"] != "+15005550006" {
		t.Errorf("answer %v, recorded %+v", body, msgs)
	}
}

func TestEveryRequestNeedsCredentials(t *testing.T) {
	s := New(t)
	rec := s.AddRecording("", []byte("mp3"))
	path := strings.TrimPrefix(rec, s.URL()) + ".mp3"
	for name, creds := range map[string][2]string{
		"none":           {"-", ""},
		"wrong token":    {s.AccountSID(), "0123456789abcdef0123456789abcdef"},
		"wrong username": {"AC0123456789abcdef0123456789abcdef", s.AuthToken()},
	} {
		status, body := do(t, s, http.MethodGet, path, nil, creds[0], creds[1])
		if status != http.StatusUnauthorized || body["code"] != float64(20003) {
			t.Errorf("%s: status %d body %v, want 401 with code 20003", name, status, body)
		}
		status, _ = do(t, s, http.MethodPost, messagesOf(s), url.Values{"To": {"+15005550006"}, "From": {"+15005550001"}, "Body": {"x"}}, creds[0], creds[1])
		if status != http.StatusUnauthorized {
			t.Errorf("%s: message status %d, want 401", name, status)
		}
	}
	if len(s.Messages()) != 0 {
		t.Error("a message was accepted without credentials")
	}
	if status, _ := do(t, s, http.MethodGet, path, nil, s.AccountSID(), s.AuthToken()); status != http.StatusOK {
		t.Errorf("with credentials: status %d", status)
	}
}

func TestOtherAccountIsNotFound(t *testing.T) {
	s := New(t)
	status, body := do(t, s, http.MethodPost, "/2010-04-01/Accounts/AC0123456789abcdef0123456789abcdef/Messages.json",
		url.Values{"To": {"+15005550006"}, "From": {"+15005550001"}, "Body": {"x"}}, s.AccountSID(), s.AuthToken())
	if status != http.StatusNotFound || body["code"] != float64(20404) {
		t.Errorf("status %d body %v", status, body)
	}
}

func TestFailNextCountsDown(t *testing.T) {
	s := New(t)
	s.FailNext("Messages.json", 500, 0, 2)
	s.FailNext("Calls.json", 400, 21211, 1) // must not affect messages
	form := url.Values{"To": {"+15005550006"}, "From": {"+15005550001"}, "Body": {"x"}}
	var got []string
	for range 3 {
		status, body := do(t, s, http.MethodPost, messagesOf(s), form, s.AccountSID(), s.AuthToken())
		got = append(got, fmt.Sprint(status, " ", body["code"]))
	}
	want := []string{"500 20500", "500 20500", "201 <nil>"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("got %v, want %v", got, want)
	}
	if n := len(s.Messages()); n != 1 {
		t.Errorf("%d messages recorded, want only the one that succeeded", n)
	}
	if n := len(s.Requests()); n != 3 {
		t.Errorf("%d requests recorded, want 3", n)
	}
}

func TestLoseNextAcceptsButAnswersNothing(t *testing.T) {
	s := New(t)
	s.LoseNext("Messages.json", 1)
	form := url.Values{"To": {"+15005550006"}, "From": {"+15005550001"}, "Body": {"x"}}
	req, err := http.NewRequest(http.MethodPost, s.URL()+messagesOf(s), strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(s.AccountSID(), s.AuthToken())
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
		t.Fatalf("answered %d, want the connection closed without a reply", resp.StatusCode)
	}
	if n := len(s.Messages()); n != 1 {
		t.Fatalf("%d messages recorded, want the one whose answer was lost", n)
	}
	if reqs := s.Requests(); len(reqs) != 1 || reqs[0].Status != 0 {
		t.Fatalf("requests %+v, want one with status 0", reqs)
	}
	if status, _ := do(t, s, http.MethodPost, messagesOf(s), form, s.AccountSID(), s.AuthToken()); status != http.StatusCreated {
		t.Fatalf("the next request answered %d", status)
	}
}

func TestFailNextOptOutShape(t *testing.T) {
	s := New(t)
	s.FailNext("Messages.json", 400, 21610, 1)
	status, body := do(t, s, http.MethodPost, messagesOf(s), url.Values{"To": {"+15005550006"}, "From": {"+15005550001"}, "Body": {"x"}}, s.AccountSID(), s.AuthToken())
	if status != 400 || body["code"] != float64(21610) || body["status"] != float64(400) ||
		body["more_info"] != "https://www.twilio.com/docs/errors/21610" || body["message"] == "" {
		t.Errorf("status %d body %v", status, body)
	}
}

func TestViolationFailsTheTestAndAnswers400(t *testing.T) {
	res := sharedSpec()
	if res.spec == nil {
		res.noSpec(t, "a test of violations")
		t.SkipNow()
	}
	tb := &captureTB{TB: t}
	s := newServer(tb, res)
	form := url.Values{"To": {"+15005550006"}, "From": {"+15005550001"}, "Body": {"x"}, "Priority": {"high"}}
	status, body := do(t, s, http.MethodPost, messagesOf(s), form, s.AccountSID(), s.AuthToken())
	if status != http.StatusBadRequest {
		t.Errorf("status %d, want 400 (%v)", status, body)
	}
	errs := tb.Errors()
	if len(errs) != 1 || !strings.Contains(errs[0], `field "Priority" is not in the spec`) {
		t.Errorf("reported %q", errs)
	}
	if len(s.Violations()) != 1 || len(s.Messages()) != 0 {
		t.Errorf("violations %q, messages %d", s.Violations(), len(s.Messages()))
	}
}

func TestMissingSpecIsLoggedAndSkipped(t *testing.T) {
	tb := &captureTB{TB: t}
	s := newServer(tb, specResult{searched: []string{"/nowhere/shared/twilio/twilio_api_v2010.json"}})
	if len(tb.logs) != 1 || !strings.HasPrefix(tb.logs[0],
		"Twilio OpenAPI spec not found at /nowhere/shared/twilio/twilio_api_v2010.json; skipping spec validation") {
		t.Errorf("logs %q", tb.logs)
	}
	form := url.Values{"To": {"+15005550006"}, "From": {"+15005550001"}, "Body": {"x"}, "Priority": {"high"}}
	if status, _ := do(t, s, http.MethodPost, messagesOf(s), form, s.AccountSID(), s.AuthToken()); status != http.StatusCreated {
		t.Errorf("status %d: without a spec nothing should be checked", status)
	}
	if s.SpecChecked() || len(tb.Errors()) != 0 {
		t.Errorf("spec checked %v, errors %q", s.SpecChecked(), tb.Errors())
	}
}

func TestMissingSpecFailsInCI(t *testing.T) {
	tb := &captureTB{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		newServer(tb, specResult{searched: []string{"/nowhere/shared/twilio/twilio_api_v2010.json"}, required: true})
		t.Error("newServer went on without the spec in CI")
	}()
	<-done
	if errs := tb.Errors(); len(errs) != 1 || !strings.Contains(errs[0], "CI=true requires it") {
		t.Errorf("errors %q, want one saying CI requires the spec", errs)
	}
	t.Setenv("CI", "true")
	if !specRequired() {
		t.Error("CI=true does not require the spec")
	}
	t.Setenv("CI", "")
	if specRequired() {
		t.Error("without CI the spec is required")
	}
}

func TestRecordingsServeAndDelete(t *testing.T) {
	s := New(t)
	rec := s.AddRecording("RE0123456789abcdef0123456789abcdef", []byte("ID3 audio"))
	if want := s.URL() + "/2010-04-01/Accounts/" + s.AccountSID() + "/Recordings/RE0123456789abcdef0123456789abcdef"; rec != want {
		t.Errorf("URL %q, want %q", rec, want)
	}
	path := strings.TrimPrefix(rec, s.URL())
	req, _ := http.NewRequest(http.MethodGet, rec+".mp3", nil)
	req.SetBasicAuth(s.AccountSID(), s.AuthToken())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	data, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(data) != "ID3 audio" || resp.Header.Get("Content-Type") != "audio/mpeg" {
		t.Errorf("got %q as %q", data, resp.Header.Get("Content-Type"))
	}
	if status, body := do(t, s, http.MethodGet, path+".json", nil, s.AccountSID(), s.AuthToken()); status != 200 || body["status"] != "completed" {
		t.Errorf("metadata: %d %v", status, body)
	}
	if status, _ := do(t, s, http.MethodDelete, path+".json", nil, s.AccountSID(), s.AuthToken()); status != http.StatusNoContent {
		t.Errorf("delete: status %d", status)
	}
	if s.HasRecording("RE0123456789abcdef0123456789abcdef") {
		t.Error("recording still there after delete")
	}
	if status, _ := do(t, s, http.MethodGet, path+".mp3", nil, s.AccountSID(), s.AuthToken()); status != http.StatusNotFound {
		t.Errorf("fetch after delete: status %d", status)
	}
	if status, _ := do(t, s, http.MethodDelete, path+".json", nil, s.AccountSID(), s.AuthToken()); status != http.StatusNotFound {
		t.Errorf("second delete: status %d", status)
	}
}

func TestWaitMessages(t *testing.T) {
	s := New(t)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	go func() {
		for _, b := range []string{"one", "two"} {
			req, _ := http.NewRequest(http.MethodPost, s.URL()+messagesOf(s),
				strings.NewReader(url.Values{"To": {"+15005550006"}, "From": {"+15005550001"}, "Body": {b}}.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.SetBasicAuth(s.AccountSID(), s.AuthToken())
			if resp, err := http.DefaultClient.Do(req); err == nil {
				resp.Body.Close()
			}
		}
	}()
	msgs, err := s.WaitMessages(ctx, 2)
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 2 || msgs[0].Body != "one" || msgs[1].Body != "two" {
		t.Errorf("messages %+v", msgs)
	}

	short, cancelShort := context.WithCancel(t.Context())
	cancelShort()
	if _, err := s.WaitCalls(short, 1); err != context.Canceled {
		t.Errorf("WaitCalls with no calls: %v, want context.Canceled", err)
	}
}

// signatureChecker is a stand-in for the app: it accepts a webhook only if
// its signature is valid for publicBase + the request URI.
func signatureChecker(t *testing.T, token, publicBase string) (http.Handler, *url.Values) {
	var got url.Values
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil {
			t.Error(err)
		}
		got = r.PostForm
		base := publicBase
		if base == "" {
			base = "http://" + r.Host
		}
		if !twilio.NewValidator(token).Valid(base+r.URL.RequestURI(), r.PostForm, r.Header.Get(twilio.SignatureHeader)) {
			http.Error(w, "bad signature", http.StatusForbidden)
			return
		}
		w.Header().Set("Content-Type", "text/xml")
		_, _ = io.WriteString(w, "<Response/>")
	}), &got
}

// Twilio refuses inline TwiML over 4,000 characters (error 32018); the mock
// does too, so a caller that builds too long a document finds out in tests.
func TestLongInlineTwimlRefused(t *testing.T) {
	s := New(t)
	calls := "/2010-04-01/Accounts/" + s.AccountSID() + "/Calls.json"
	form := func(twiml string) url.Values {
		return url.Values{"To": {"+15005550006"}, "From": {"+15005550001"}, "Twiml": {twiml}}
	}
	doc := func(n int) string {
		const wrap = "<Response><Say></Say></Response>"
		return "<Response><Say>" + strings.Repeat("a", n-len(wrap)) + "</Say></Response>"
	}
	if status, body := do(t, s, http.MethodPost, calls, form(doc(MaxInlineTwiml)), s.AccountSID(), s.AuthToken()); status != 201 {
		t.Fatalf("4,000 characters: %d %v", status, body)
	}
	status, body := do(t, s, http.MethodPost, calls, form(doc(MaxInlineTwiml+1)), s.AccountSID(), s.AuthToken())
	if status != 400 || body["code"] != float64(32018) {
		t.Fatalf("4,001 characters: %d %v", status, body)
	}
	if n := len(s.Calls()); n != 1 {
		t.Fatalf("%d calls placed, want the one that fit", n)
	}
}

// The Messages and Calls list resources filter by To, From and date as
// Twilio's do (and the requests pass the spec check), newest first.
func TestListFilters(t *testing.T) {
	s := New(t)
	base := "/2010-04-01/Accounts/" + s.AccountSID()
	send := func(to, body string) {
		if st, b := do(t, s, http.MethodPost, messagesOf(s), url.Values{"To": {to}, "From": {"+15005550001"}, "Body": {body}}, s.AccountSID(), s.AuthToken()); st != 201 {
			t.Fatalf("send: %d %v", st, b)
		}
	}
	send("+15005550006", "one")
	send("+15005550007", "two")
	send("+15005550006", "three")
	list := func(path string) []any {
		t.Helper()
		st, b := do(t, s, http.MethodGet, path, nil, s.AccountSID(), s.AuthToken())
		if st != 200 {
			t.Fatalf("GET %s: %d %v", path, st, b)
		}
		for _, k := range []string{"messages", "calls"} {
			if v, ok := b[k].([]any); ok {
				return v
			}
		}
		t.Fatalf("GET %s: no list in %v", path, b)
		return nil
	}
	got := list(base + "/Messages.json?To=%2B15005550006&From=%2B15005550001")
	if len(got) != 2 || got[0].(map[string]any)["body"] != "three" || got[1].(map[string]any)["body"] != "one" {
		t.Fatalf("To filter: %v", got)
	}
	today := time.Now().UTC().Truncate(24 * time.Hour).Format(time.RFC3339)
	tomorrow := time.Now().UTC().Add(24 * time.Hour).Format(time.RFC3339)
	if n := len(list(base + "/Messages.json?" + url.Values{"DateSent": {today}}.Encode())); n != 3 {
		t.Fatalf("DateSent=today: %d", n)
	}
	if n := len(list(base + "/Messages.json?" + url.Values{"DateSent>": {tomorrow}}.Encode())); n != 0 {
		t.Fatalf("DateSent>tomorrow: %d", n)
	}
	if n := len(list(base + "/Messages.json?PageSize=1")); n != 1 {
		t.Fatalf("PageSize=1: %d", n)
	}

	calls := base + "/Calls.json"
	if st, b := do(t, s, http.MethodPost, calls, url.Values{"To": {"+15005550006"}, "From": {"+15005550001"}, "Twiml": {"<Response/>"}}, s.AccountSID(), s.AuthToken()); st != 201 {
		t.Fatalf("call: %d %v", st, b)
	}
	if n := len(list(calls + "?To=%2B15005550006&" + url.Values{"StartTime>": {today}}.Encode())); n != 1 {
		t.Fatalf("calls To, StartTime>: %d", n)
	}
	if n := len(list(calls + "?To=%2B15005550007")); n != 0 {
		t.Fatalf("calls to another number: %d", n)
	}
}
