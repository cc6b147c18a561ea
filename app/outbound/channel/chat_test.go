package channel_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/oncall/pager/app/outbound/channel"
)

// hookServer accepts JSON posts on path and answers like Slack and
// Mattermost do: 200 with body "ok".
func hookServer(t *testing.T, tls bool, path string, got *map[string]any) *httptest.Server {
	t.Helper()
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.EscapedPath() != path {
			http.Error(w, "no_service", http.StatusNotFound)
			return
		}
		if ct := r.Header.Get("Content-Type"); ct != "application/json" {
			http.Error(w, "invalid_payload", http.StatusBadRequest)
			return
		}
		body, _ := io.ReadAll(r.Body)
		*got = nil
		if err := json.Unmarshal(body, got); err != nil {
			http.Error(w, "invalid_payload", http.StatusBadRequest)
			return
		}
		_, _ = io.WriteString(w, "ok")
	})
	var srv *httptest.Server
	if tls {
		srv = httptest.NewTLSServer(h)
	} else {
		srv = httptest.NewServer(h)
	}
	t.Cleanup(srv.Close)
	return srv
}

func TestMattermostHostAndTokenOverHTTPS(t *testing.T) {
	var got map[string]any
	srv := hookServer(t, true, "/hooks/abc%2F123", &got)
	mm := channel.Mattermost{
		Host:     strings.TrimPrefix(srv.URL, "https://"),
		Token:    "abc/123",
		Channel:  "devops-alerts",
		Username: "heartbeat-bot",
		IconURL:  "https://example.com/icon.png",
		Client:   srv.Client(),
	}
	if _, err := mm.Send(context.Background(), channel.Message{Subject: "prod-web-01 booted", Body: "uptime 3s"}); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"text":     "prod-web-01 booted\nuptime 3s",
		"channel":  "devops-alerts",
		"username": "heartbeat-bot",
		"icon_url": "https://example.com/icon.png",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("payload = %v, want %v", got, want)
	}
}

func TestMattermostFullURLOmitsUnsetFieldsAndTrims(t *testing.T) {
	var got map[string]any
	srv := hookServer(t, false, "/hooks/xyz", &got)
	mm := channel.Mattermost{URL: srv.URL + "/hooks/xyz", Host: "ignored.invalid", Token: "ignored"}
	if _, err := mm.Send(context.Background(), channel.Message{Body: strings.Repeat("✓", 5000)}); err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 {
		t.Fatalf("payload = %v, want only text", got)
	}
	text, _ := got["text"].(string)
	if n := utf8.RuneCountInString(text); n != 4000 || !strings.HasSuffix(text, "...") {
		t.Errorf("text has %d runes", n)
	}
}

func TestMattermostRejections(t *testing.T) {
	var got map[string]any
	srv := hookServer(t, false, "/hooks/right", &got)
	_, err := channel.Mattermost{URL: srv.URL + "/hooks/wrong"}.Send(context.Background(), channel.Message{Body: "x"})
	if !channel.IsPermanent(err) {
		t.Fatalf("unknown hook: err = %v, want permanent", err)
	}
	if strings.Contains(err.Error(), "/hooks/wrong") {
		t.Errorf("error leaks the hook token: %v", err)
	}
	if _, err := (channel.Mattermost{Host: "chat.example.com"}).Send(context.Background(), channel.Message{Body: "x"}); !channel.IsPermanent(err) {
		t.Errorf("missing token: err = %v, want permanent", err)
	}
}

func TestSlackPostsEscapedText(t *testing.T) {
	var got map[string]any
	srv := hookServer(t, false, "/services/T0/B0/XXXX", &got)
	s := channel.Slack{URL: srv.URL + "/services/T0/B0/XXXX"}
	if _, err := s.Send(context.Background(), channel.Message{Subject: "latency <p99> & errors", Body: "see <https://x>"}); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"text": "latency &lt;p99&gt; &amp; errors\nsee &lt;https://x&gt;"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("payload = %v, want %v", got, want)
	}
}

func TestSlackTrimsBeforeEscaping(t *testing.T) {
	var got map[string]any
	srv := hookServer(t, false, "/h", &got)
	if _, err := (channel.Slack{URL: srv.URL + "/h"}).Send(context.Background(), channel.Message{Body: strings.Repeat("&", 5000)}); err != nil {
		t.Fatal(err)
	}
	text := got["text"].(string)
	if want := strings.Repeat("&amp;", 3997) + "..."; text != want {
		t.Errorf("text = %d bytes ending %q", len(text), text[len(text)-8:])
	}
}

func TestSlackAnswers(t *testing.T) {
	cases := []struct {
		status    int
		body      string
		ok        bool
		permanent bool
	}{
		{200, "ok", true, false},
		{200, "ok\n", true, false},
		{200, `{"ok":false}`, false, true},
		{400, "invalid_payload", false, true},
		{403, "action_prohibited", false, true},
		{404, "channel_not_found", false, true},
		{410, "channel_is_archived", false, true},
		{429, "rate_limited", false, false},
		{500, "rollup_error", false, false},
	}
	for _, c := range cases {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(c.status)
			_, _ = io.WriteString(w, c.body)
		}))
		_, err := channel.Slack{URL: srv.URL}.Send(context.Background(), channel.Message{Body: "x"})
		srv.Close()
		if c.ok != (err == nil) || channel.IsPermanent(err) != c.permanent {
			t.Errorf("%d %q: err = %v, want ok=%v permanent=%v", c.status, c.body, err, c.ok, c.permanent)
		}
		if err != nil && !strings.Contains(err.Error(), strings.TrimSpace(c.body)) {
			t.Errorf("%d: error lacks Slack's reason: %v", c.status, err)
		}
	}
}
