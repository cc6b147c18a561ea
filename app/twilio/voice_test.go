package twilio_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"regexp"
	"slices"
	"testing"

	"github.com/oncall/pager/app/twilio"
	"github.com/oncall/pager/internal/mocktwilio"
)

var callSID = regexp.MustCompile(`^CA[0-9a-f]{32}$`)

func TestStartCallWithTwiml(t *testing.T) {
	mock := mocktwilio.New(t)
	c := newClient(t, mock)
	twiml := `<?xml version="1.0" encoding="UTF-8"?><Response><Say>You have a page.</Say></Response>`
	sid, err := c.StartCall(t.Context(), twilio.Call{
		From: "+15005550001", To: "+15005550006", Twiml: twiml,
		StatusCallback:       "https://pager.example.com/public/callstatus?page=42",
		StatusCallbackEvents: []string{"initiated", "answered", "completed"},
		MachineDetection:     twilio.MachineDetectionMessageEnd,
		Timeout:              25,
	})
	if err != nil {
		t.Fatal(err)
	}
	calls, err := mock.WaitCalls(t.Context(), 1)
	if err != nil {
		t.Fatal(err)
	}
	got := calls[0]
	if !callSID.MatchString(sid) || sid != got.SID {
		t.Errorf("sid %q, mock assigned %q", sid, got.SID)
	}
	if got.From != "+15005550001" || got.To != "+15005550006" || got.Twiml != twiml || got.URL != "" ||
		got.StatusCallback != "https://pager.example.com/public/callstatus?page=42" ||
		!slices.Equal(got.StatusCallbackEvents, []string{"initiated", "answered", "completed"}) ||
		got.MachineDetection != "DetectMessageEnd" || got.Timeout != 25 {
		t.Errorf("mock recorded %+v", got)
	}
}

func TestStartCallWithURL(t *testing.T) {
	mock := mocktwilio.New(t)
	c := newClient(t, mock)
	if _, err := c.StartCall(t.Context(), twilio.Call{From: "+15005550001", To: "+15005550006", URL: "https://pager.example.com/public/page-call"}); err != nil {
		t.Fatal(err)
	}
	got := mock.Calls()[0]
	if got.URL != "https://pager.example.com/public/page-call" || got.Params.Has("Twiml") ||
		got.Params.Has("Timeout") || got.Params.Has("MachineDetection") || got.Params.Has("StatusCallbackEvent") {
		t.Errorf("sent %v", got.Params)
	}
}

func TestStartCallRejectsInvalidWithoutSending(t *testing.T) {
	mock := mocktwilio.New(t)
	c := newClient(t, mock)
	for name, cl := range map[string]twilio.Call{
		"no To":             {From: "+15005550001", Twiml: "<Response/>"},
		"no From":           {To: "+15005550006", Twiml: "<Response/>"},
		"neither":           {From: "+15005550001", To: "+15005550006"},
		"both":              {From: "+15005550001", To: "+15005550006", Twiml: "<Response/>", URL: "https://x.example/"},
		"negative timeout":  {From: "+15005550001", To: "+15005550006", Twiml: "<Response/>", Timeout: -1},
		"events, no target": {From: "+15005550001", To: "+15005550006", Twiml: "<Response/>", StatusCallbackEvents: []string{"answered"}},
		"unknown AMD mode":  {From: "+15005550001", To: "+15005550006", Twiml: "<Response/>", MachineDetection: "enable"},
	} {
		if _, err := c.StartCall(t.Context(), cl); !errors.Is(err, twilio.ErrInvalidRequest) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if n := len(mock.Requests()); n != 0 {
		t.Errorf("%d requests sent for invalid calls", n)
	}
}

// twilio-go builds its requests on context.Background(); the client must
// still abandon a call when the caller's context ends.
func TestStartCallStopsWhenContextEnds(t *testing.T) {
	arrived := make(chan struct{})
	release := make(chan struct{})
	srv := newLoopbackServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Reading the body lets the server notice the client hanging up.
		_, _ = io.Copy(io.Discard, r.Body)
		close(arrived)
		select { // hang until the client gives up
		case <-r.Context().Done():
		case <-release:
		}
	}))
	t.Cleanup(func() { close(release) }) // runs before the server closes
	c, err := twilio.New(twilio.Config{AccountSID: "AC0123456789abcdef0123456789abcdef", AuthToken: "0123456789abcdef0123456789abcdef", BaseURL: srv})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	go func() {
		<-arrived
		cancel()
	}()
	_, err = c.StartCall(ctx, twilio.Call{From: "+15005550001", To: "+15005550006", Twiml: "<Response/>"})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err %v, want context.Canceled", err)
	}
	if twilio.IsPermanent(err) {
		t.Error("a cancelled call was classified permanent")
	}
}

func TestNetworkErrorIsTemporary(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there now
	c, err := twilio.New(twilio.Config{AccountSID: "AC0123456789abcdef0123456789abcdef", AuthToken: "0123456789abcdef0123456789abcdef", BaseURL: "http://" + addr})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.SendMessage(t.Context(), twilio.Message{From: "+15005550001", To: "+15005550006", Body: "x"})
	if err == nil || twilio.IsPermanent(err) {
		t.Errorf("err %v, permanent %v", err, twilio.IsPermanent(err))
	}
}

// A proxy in front of Twilio may answer with HTML; twilio-go then cannot
// decode the body, but the status must survive for the retry decision.
func TestUndecodableErrorKeepsStatus(t *testing.T) {
	for status, permanent := range map[int]bool{502: false, 403: true} {
		srv := newLoopbackServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(status)
			_, _ = io.WriteString(w, "<html><body>Bad Gateway</body></html>")
		}))
		c, err := twilio.New(twilio.Config{AccountSID: "AC0123456789abcdef0123456789abcdef", AuthToken: "0123456789abcdef0123456789abcdef", BaseURL: srv})
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.StartCall(t.Context(), twilio.Call{From: "+15005550001", To: "+15005550006", Twiml: "<Response/>"})
		var te *twilio.Error
		if !errors.As(err, &te) || te.Status != status {
			t.Errorf("%d: err %v", status, err)
		}
		if twilio.IsPermanent(err) != permanent {
			t.Errorf("%d: permanent %v, want %v", status, twilio.IsPermanent(err), permanent)
		}
	}
}
