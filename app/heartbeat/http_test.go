package heartbeat

import (
	"strings"
	"testing"
)

func TestCleanStatus(t *testing.T) {
	for in, want := range map[string]string{
		"  ok  ":                            "ok",
		"first line\nsecond":                "first line",
		"caf\u00e9 \u2014 `done`":           "caf? ? ?done?",
		strings.Repeat("x", 500):            strings.Repeat("x", MaxStatus),
		"\u00e9" + strings.Repeat("y", 200): "?" + strings.Repeat("y", MaxStatus-1),
	} {
		if got := cleanStatus(in); got != want {
			t.Errorf("cleanStatus(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestParseBody(t *testing.T) {
	for _, tc := range []struct {
		ct, body, key, status string
	}{
		{"application/x-www-form-urlencoded", "api_key=k&status=3+files", "k", ""},
		{"application/json", `{"status":"firing","alerts":[]}`, "", "firing"},
		{"application/json; charset=utf-8", `{"status":5}`, "", ""},
		{"text/plain", "all good\nmore", "", "all good\nmore"},
		{"application/octet-stream", "xyz", "", ""},
		{"", "", "", ""},
	} {
		form, status := parseBody(tc.ct, []byte(tc.body))
		if form.Get("api_key") != tc.key || status != tc.status {
			t.Errorf("%s %q: key %q status %q, want %q %q", tc.ct, tc.body, form.Get("api_key"), status, tc.key, tc.status)
		}
	}
}
