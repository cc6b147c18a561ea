package mocktwilio

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/oncall/pager/app/twilio"
)

// Post delivers a webhook to fullURL (query string included) as Twilio
// does: form-encoded, signed in X-Twilio-Signature with the mock's auth
// token over fullURL and params. It returns the app's status and body.
func (s *Server) Post(ctx context.Context, fullURL string, params url.Values) (status int, body string, err error) {
	return s.post(ctx, fullURL, fullURL, params)
}

// PostTo delivers to baseURL+pathAndQuery a webhook signed for
// publicBaseURL+pathAndQuery: the app sits behind a proxy, and Twilio signs
// the public URL it was configured with, not the address the app listens on.
func (s *Server) PostTo(ctx context.Context, baseURL, publicBaseURL, pathAndQuery string, params url.Values) (status int, body string, err error) {
	return s.post(ctx, strings.TrimSuffix(baseURL, "/")+pathAndQuery, strings.TrimSuffix(publicBaseURL, "/")+pathAndQuery, params)
}

func (s *Server) post(ctx context.Context, targetURL, signedURL string, params url.Values) (int, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, targetURL, strings.NewReader(params.Encode()))
	if err != nil {
		return 0, "", fmt.Errorf("mocktwilio: webhook: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set(twilio.SignatureHeader, twilio.Sign(s.authToken, signedURL, params))
	req.Header.Set("User-Agent", "TwilioProxy/1.1")
	req.Header.Set(twilio.IdempotencyHeader, randHex(16))
	resp, err := s.webhooks.Do(req)
	if err != nil {
		return 0, "", fmt.Errorf("mocktwilio: webhook: %w", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return resp.StatusCode, "", fmt.Errorf("mocktwilio: webhook body: %w", err)
	}
	return resp.StatusCode, string(b), nil
}

// geo fills Twilio's geographic lookup fields for a number. Twilio sends
// them empty when it knows nothing, which is what we claim here; the
// country is what it always resolves for a +1 number.
func geo(v url.Values, prefix string) {
	v.Set(prefix+"City", "")
	v.Set(prefix+"State", "")
	v.Set(prefix+"Zip", "")
	v.Set(prefix+"Country", "US")
}

// SMSParams returns the form Twilio posts to a number's messaging webhook
// for an incoming SMS (fresh MessageSid each time).
func (s *Server) SMSParams(from, to, body string) url.Values {
	sid := "SM" + randHex(16)
	v := url.Values{}
	v.Set("AccountSid", s.accountSID)
	v.Set("ApiVersion", "2010-04-01")
	v.Set("Body", body)
	v.Set("From", from)
	v.Set("MessageSid", sid)
	v.Set("NumMedia", "0")
	v.Set("NumSegments", "1")
	v.Set("SmsMessageSid", sid)
	v.Set("SmsSid", sid)
	v.Set("SmsStatus", "received")
	v.Set("To", to)
	geo(v, "From")
	geo(v, "To")
	return v
}

// VoiceParams returns the form Twilio posts to a number's voice webhook for
// an incoming call (fresh CallSid each time). CallerName is left out, as
// Twilio does unless caller-name lookup is enabled.
func (s *Server) VoiceParams(from, to string) url.Values {
	v := url.Values{}
	v.Set("AccountSid", s.accountSID)
	v.Set("ApiVersion", "2010-04-01")
	v.Set("CallSid", "CA"+randHex(16))
	v.Set("CallStatus", "ringing")
	v.Set("Called", to)
	v.Set("Caller", from)
	v.Set("Direction", "inbound")
	v.Set("From", from)
	v.Set("To", to)
	for _, p := range []string{"Called", "Caller", "From", "To"} {
		geo(v, p)
	}
	return v
}

// RecordingParams returns the form Twilio posts to a recording status
// callback once recordingURL (as returned by AddRecording) is complete.
func (s *Server) RecordingParams(callSID, recordingURL string, durationSec int) url.Values {
	v := url.Values{}
	v.Set("AccountSid", s.accountSID)
	v.Set("CallSid", callSID)
	v.Set("ErrorCode", "0")
	v.Set("RecordingChannels", "1")
	v.Set("RecordingDuration", strconv.Itoa(durationSec))
	v.Set("RecordingSid", path.Base(recordingURL))
	v.Set("RecordingSource", "RecordVerb")
	v.Set("RecordingStartTime", twilioTime(time.Now()))
	v.Set("RecordingStatus", "completed")
	v.Set("RecordingTrack", "both")
	v.Set("RecordingUrl", recordingURL)
	return v
}

// MessageStatusParams returns the form Twilio posts to a message's
// StatusCallback when its status changes (queued, sent, delivered,
// undelivered, failed, …).
func (s *Server) MessageStatusParams(m Message, status string) url.Values {
	v := url.Values{}
	v.Set("AccountSid", s.accountSID)
	v.Set("ApiVersion", "2010-04-01")
	v.Set("From", m.From)
	v.Set("MessageSid", m.SID)
	v.Set("MessageStatus", status)
	v.Set("SmsSid", m.SID)
	v.Set("SmsStatus", status)
	v.Set("To", m.To)
	if status == "failed" || status == "undelivered" {
		v.Set("ErrorCode", "30003") // Unreachable destination handset
	}
	return v
}
