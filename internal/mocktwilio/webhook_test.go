package mocktwilio

import (
	"net/http"
	"net/http/httptest"
	"regexp"
	"testing"
)

func TestPostSignsLikeTwilio(t *testing.T) {
	s := New(t)
	h, got := signatureChecker(t, s.AuthToken(), "")
	app := httptest.NewServer(h)
	defer app.Close()

	params := s.SMSParams("+15005550006", "+15005550001", "take")
	status, body, err := s.Post(t.Context(), app.URL+"/msgcontrol/entry?lang=en&x=a%20b", params)
	if err != nil {
		t.Fatal(err)
	}
	if status != http.StatusOK || body != "<Response/>" {
		t.Fatalf("app answered %d %q", status, body)
	}
	if (*got).Get("Body") != "take" || (*got).Get("MessageSid") != params.Get("MessageSid") {
		t.Errorf("app received %v", *got)
	}

	// The same request signed with another token must be refused by the
	// app, or the check above proves nothing.
	h2, _ := signatureChecker(t, "0123456789abcdef0123456789abcdef", "")
	app2 := httptest.NewServer(h2)
	defer app2.Close()
	if status, _, _ := s.Post(t.Context(), app2.URL+"/msgcontrol/entry", params); status != http.StatusForbidden {
		t.Errorf("wrong-token app answered %d, want 403", status)
	}
}

func TestPostToSignsThePublicURL(t *testing.T) {
	s := New(t)
	const public = "https://pager.example.com"
	h, _ := signatureChecker(t, s.AuthToken(), public)
	app := httptest.NewServer(h)
	defer app.Close()

	params := s.VoiceParams("+15005550006", "+15005550001")
	if status, _, err := s.PostTo(t.Context(), app.URL, public+"/", "/public/answer", params); err != nil || status != http.StatusOK {
		t.Errorf("PostTo: %d %v", status, err)
	}
	// Signed for the address the app listens on instead: the app, which
	// checks against its public URL, must refuse it.
	if status, _, _ := s.Post(t.Context(), app.URL+"/public/answer", params); status != http.StatusForbidden {
		t.Errorf("locally signed webhook answered %d, want 403", status)
	}
}

func TestWebhookParams(t *testing.T) {
	s := New(t)
	sms := s.SMSParams("+15005550006", "+15005550001", "who")
	for k, want := range map[string]string{
		"AccountSid": s.AccountSID(), "From": "+15005550006", "To": "+15005550001",
		"Body": "who", "NumMedia": "0", "ApiVersion": "2010-04-01", "SmsStatus": "received",
	} {
		if sms.Get(k) != want {
			t.Errorf("SMS %s = %q, want %q", k, sms.Get(k), want)
		}
	}
	if !regexp.MustCompile(`^SM[0-9a-f]{32}$`).MatchString(sms.Get("MessageSid")) {
		t.Errorf("MessageSid %q", sms.Get("MessageSid"))
	}
	if again := s.SMSParams("a", "b", "c"); again.Get("MessageSid") == sms.Get("MessageSid") {
		t.Error("MessageSid repeated")
	}

	voice := s.VoiceParams("+15005550006", "+15005550001")
	if !regexp.MustCompile(`^CA[0-9a-f]{32}$`).MatchString(voice.Get("CallSid")) ||
		voice.Get("Caller") != "+15005550006" || voice.Get("Called") != "+15005550001" ||
		voice.Get("Direction") != "inbound" || voice.Has("CallerName") {
		t.Errorf("voice params %v", voice)
	}

	rec := s.AddRecording("", []byte("x"))
	rp := s.RecordingParams(voice.Get("CallSid"), rec, 12)
	if rp.Get("RecordingUrl") != rec || !regexp.MustCompile(`^RE[0-9a-f]{32}$`).MatchString(rp.Get("RecordingSid")) ||
		rp.Get("RecordingDuration") != "12" || rp.Get("RecordingStatus") != "completed" {
		t.Errorf("recording params %v", rp)
	}

	st := s.MessageStatusParams(Message{SID: sms.Get("MessageSid"), From: "a", To: "b"}, "undelivered")
	if st.Get("MessageStatus") != "undelivered" || st.Get("ErrorCode") == "" || st.Get("MessageSid") != sms.Get("MessageSid") {
		t.Errorf("status params %v", st)
	}
}
