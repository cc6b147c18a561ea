package metrics

import (
	"net/http"
	"strconv"
	"strings"
)

// Twilio wraps next (nil: http.DefaultTransport) so every request to
// Twilio's REST API is counted by resource, method and status, and
// failures (no answer, 4xx, 5xx) counted as errors.
func (m *Metrics) Twilio(next http.RoundTripper) http.RoundTripper {
	if next == nil {
		next = http.DefaultTransport
	}
	return twilioTransport{next: next, m: m}
}

type twilioTransport struct {
	next http.RoundTripper
	m    *Metrics
}

func (t twilioTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	res, err := t.next.RoundTrip(r)
	resource, method := twilioResource(r.URL.Path), methodLabel(r.Method)
	code := 0
	if err == nil {
		code = res.StatusCode
	}
	t.m.twilioCalls.WithLabelValues(resource, method, strconv.Itoa(code)).Inc()
	if err != nil || code >= 400 {
		t.m.twilioErrors.WithLabelValues(resource).Inc()
	}
	return res, err
}

// twilioResource names the API resource of a path such as
// /2010-04-01/Accounts/AC.../Messages.json or .../Recordings/RE....mp3:
// the segment after the account, from a fixed list.
func twilioResource(path string) string {
	_, rest, ok := strings.Cut(path, "/Accounts/")
	if !ok {
		return "other"
	}
	_, rest, ok = strings.Cut(rest, "/")
	if !ok {
		return "account"
	}
	name, _, _ := strings.Cut(rest, "/")
	name = strings.TrimSuffix(name, ".json")
	switch name {
	case "Messages", "Calls", "Recordings", "IncomingPhoneNumbers":
		return name
	}
	return "other"
}
