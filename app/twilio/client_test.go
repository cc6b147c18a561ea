package twilio_test

import (
	"bytes"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/oncall/pager/app/twilio"
	"github.com/oncall/pager/internal/mocktwilio"
)

func newClient(t *testing.T, mock *mocktwilio.Server, edit ...func(*twilio.Config)) *twilio.Client {
	t.Helper()
	cfg := twilio.Config{AccountSID: mock.AccountSID(), AuthToken: mock.AuthToken(), BaseURL: mock.URL()}
	for _, e := range edit {
		e(&cfg)
	}
	c, err := twilio.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestNewRejectsBadConfig(t *testing.T) {
	const sid, token = "AC0123456789abcdef0123456789abcdef", "0123456789abcdef0123456789abcdef"
	for name, cfg := range map[string]twilio.Config{
		"no credentials":       {},
		"no token":             {AccountSID: sid},
		"token with symbols":   {AccountSID: sid, AuthToken: "abc/def"},
		"base URL not http":    {AccountSID: sid, AuthToken: token, BaseURL: "ftp://127.0.0.1:21"},
		"base URL relative":    {AccountSID: sid, AuthToken: token, BaseURL: "/twilio"},
		"base URL with query":  {AccountSID: sid, AuthToken: token, BaseURL: "http://127.0.0.1:1/?x=1"},
		"dry run, bad sid set": {DryRun: true, AccountSID: "AC-1"},
	} {
		if _, err := twilio.New(cfg); err == nil {
			t.Errorf("%s: New accepted %+v", name, cfg)
		} else if cfg.AuthToken != "" && strings.Contains(err.Error(), cfg.AuthToken) {
			t.Errorf("%s: error %q reveals the auth token", name, err)
		}
	}
	if _, err := twilio.New(twilio.Config{DryRun: true}); err != nil {
		t.Errorf("dry run without credentials: %v", err)
	}
}

// countingTransport proves a caller-supplied transport carries the traffic.
type countingTransport struct{ n atomic.Int32 }

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	c.n.Add(1)
	return http.DefaultTransport.RoundTrip(r)
}

func TestBaseURLRedirectsEveryRequestThroughTheGivenTransport(t *testing.T) {
	mock := mocktwilio.New(t)
	ct := &countingTransport{}
	c := newClient(t, mock, func(cfg *twilio.Config) { cfg.HTTPClient = &http.Client{Transport: ct} })
	if _, err := c.SendMessage(t.Context(), twilio.Message{From: "+15005550001", To: "+15005550006", Body: "x"}); err != nil {
		t.Fatal(err)
	}
	rec := mock.AddRecording("", []byte("x"))
	// The form Twilio really posts: on api.twilio.com. BaseURL sends it to the mock.
	real := "https://api.twilio.com" + strings.TrimPrefix(rec, mock.URL())
	if _, _, err := c.FetchRecording(t.Context(), real); err != nil {
		t.Fatal(err)
	}
	if got := ct.n.Load(); got != 2 {
		t.Errorf("transport saw %d requests, want 2", got)
	}
	if got := len(mock.Requests()); got != 2 {
		t.Errorf("mock saw %d requests, want 2", got)
	}
}

func TestBaseURLWithPathPrefix(t *testing.T) {
	mock := mocktwilio.New(t)
	var seen atomic.Value
	proxy := http.NewServeMux()
	proxy.HandleFunc("/sim/", func(w http.ResponseWriter, r *http.Request) {
		seen.Store(r.URL.Path)
		http.StripPrefix("/sim", reverseTo(mock.URL())).ServeHTTP(w, r)
	})
	srv := newLoopbackServer(t, proxy)
	c := newClient(t, mock, func(cfg *twilio.Config) { cfg.BaseURL = srv + "/sim/" })
	if _, err := c.SendMessage(t.Context(), twilio.Message{From: "+15005550001", To: "+15005550006", Body: "x"}); err != nil {
		t.Fatal(err)
	}
	if p, _ := seen.Load().(string); p != "/sim/2010-04-01/Accounts/"+mock.AccountSID()+"/Messages.json" {
		t.Errorf("simulator saw path %q", p)
	}
}

func TestDryRunSendsNothingAndNeverLogsTheToken(t *testing.T) {
	mock := mocktwilio.New(t)
	var logs bytes.Buffer
	c := newClient(t, mock, func(cfg *twilio.Config) {
		cfg.DryRun = true
		cfg.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	})
	if !c.DryRun() {
		t.Fatal("DryRun() is false")
	}
	sid, err := c.SendMessage(t.Context(), twilio.Message{From: "+15005550001", To: "+15005550006", Body: "hello there", MediaURL: []string{"https://example.com/a.mp3"}})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(sid, "SMdryrun") || len(sid) != 34 {
		t.Errorf("message sid %q", sid)
	}
	callSID, err := c.StartCall(t.Context(), twilio.Call{From: "+15005550001", To: "+15005550006", Twiml: "<Response/>"})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(callSID, "CAdryrun") || len(callSID) != 34 {
		t.Errorf("call sid %q", callSID)
	}
	if err := c.DeleteRecording(t.Context(), "RE0123456789abcdef0123456789abcdef"); err != nil {
		t.Fatal(err)
	}
	if n := len(mock.Requests()); n != 0 {
		t.Errorf("dry run sent %d requests", n)
	}
	out := logs.String()
	// A dry run is a demo: it shows what would have been sent.
	for _, want := range []string{"+15005550006", "hello there", "media_count=1", "<Response/>", sid, callSID} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, mock.AuthToken()) {
		t.Errorf("log reveals the token:\n%s", out)
	}
}

func TestDryRunStillRejectsInvalidInput(t *testing.T) {
	c, err := twilio.New(twilio.Config{DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.SendMessage(t.Context(), twilio.Message{From: "+15005550001", Body: "x"}); !twilio.IsPermanent(err) {
		t.Errorf("message without To: %v", err)
	}
}
