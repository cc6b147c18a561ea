package channel_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/oncall/pager/app/outbound/channel"
)

type capturedRequest struct {
	method, path, query string
	header              http.Header
	body                []byte
}

// recorder answers every request with status and keeps the last one.
func recorder(t *testing.T, status int, answer string) (*httptest.Server, func() capturedRequest) {
	t.Helper()
	reqs := make(chan capturedRequest, 16)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		reqs <- capturedRequest{r.Method, r.URL.EscapedPath(), r.URL.RawQuery, r.Header.Clone(), body}
		w.WriteHeader(status)
		_, _ = io.WriteString(w, answer)
	}))
	t.Cleanup(srv.Close)
	return srv, func() capturedRequest {
		t.Helper()
		select {
		case r := <-reqs:
			return r
		default:
			t.Fatal("no request reached the server")
			return capturedRequest{}
		}
	}
}

// verify is the receiver-side recipe documented on channel.Webhook, written
// out independently of the implementation.
func verify(secret string, r capturedRequest) bool {
	ts := r.header.Get("X-Pager-Timestamp")
	sig, ok := strings.CutPrefix(r.header.Get("X-Pager-Signature"), "sha256=")
	if ts == "" || !ok {
		return false
	}
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(ts + "." + string(r.body)))
	want := hex.EncodeToString(mac.Sum(nil))
	return hmac.Equal([]byte(sig), []byte(want))
}

func TestWebhookPostsFormToIDPathWithSignature(t *testing.T) {
	srv, last := recorder(t, http.StatusCreated, `{"ok":true}`)
	now := time.Unix(1_700_000_000, 0)
	for _, base := range []string{srv.URL + "/hooks/pager", srv.URL + "/hooks/pager/"} {
		w := channel.Webhook{URL: base, Secret: "s3cret", Now: func() time.Time { return now }}
		rcpt, err := w.Send(context.Background(), channel.Message{
			NotificationID: "0123abcd",
			Subject:        "CRITICAL",
			Body:           "db down & out = 100%",
		})
		if err != nil {
			t.Fatalf("%s: %v", base, err)
		}
		if !strings.Contains(rcpt.Detail, "201") {
			t.Errorf("receipt detail %q", rcpt.Detail)
		}
		r := last()
		if r.method != http.MethodPost || r.path != "/hooks/pager/0123abcd" {
			t.Errorf("%s: request %s %s", base, r.method, r.path)
		}
		if ct := r.header.Get("Content-Type"); ct != "application/x-www-form-urlencoded" {
			t.Errorf("content type %q", ct)
		}
		form, err := url.ParseQuery(string(r.body))
		if err != nil {
			t.Fatal(err)
		}
		if len(form) != 2 || form.Get("notification_id") != "0123abcd" || form.Get("message") != "CRITICAL\ndb down & out = 100%" {
			t.Errorf("form = %v", form)
		}
		if ts := r.header.Get("X-Pager-Timestamp"); ts != strconv.FormatInt(now.Unix(), 10) {
			t.Errorf("timestamp header %q", ts)
		}
		if !verify("s3cret", r) {
			t.Errorf("signature %q does not verify with the documented recipe", r.header.Get("X-Pager-Signature"))
		}
		if verify("other", r) {
			t.Error("signature verifies with the wrong secret")
		}
		tampered := r
		tampered.body = []byte(strings.Replace(string(r.body), "100", "0", 1))
		if verify("s3cret", tampered) {
			t.Error("signature verifies a tampered body")
		}
	}
}

func TestWebhookKeepsQueryAndEscapesID(t *testing.T) {
	srv, last := recorder(t, http.StatusOK, "")
	w := channel.Webhook{URL: srv.URL + "/in?team=ops"}
	if _, err := w.Send(context.Background(), channel.Message{NotificationID: "a/b c", Body: "x"}); err != nil {
		t.Fatal(err)
	}
	r := last()
	if r.path != "/in/a%2Fb%20c" || r.query != "team=ops" {
		t.Errorf("path %q query %q", r.path, r.query)
	}
	if r.header.Get("X-Pager-Signature") != "" || r.header.Get("X-Pager-Timestamp") != "" {
		t.Error("unsigned webhook sent signature headers")
	}
}

func TestWebhookStatusClassification(t *testing.T) {
	cases := []struct {
		status    int
		delivered bool
		permanent bool
	}{
		{200, true, false}, {201, true, false}, {202, true, false}, {204, true, false},
		{203, false, true},
		{400, false, true}, {401, false, true}, {404, false, true}, {410, false, true},
		{408, false, false}, {429, false, false},
		{500, false, false}, {502, false, false}, {503, false, false},
	}
	for _, c := range cases {
		srv, _ := recorder(t, c.status, "nope")
		_, err := channel.Webhook{URL: srv.URL}.Send(context.Background(), channel.Message{NotificationID: "n", Body: "x"})
		if c.delivered {
			if err != nil {
				t.Errorf("%d: %v", c.status, err)
			}
			continue
		}
		var ce *channel.Error
		if !errors.As(err, &ce) || ce.Code != c.status || ce.Permanent != c.permanent {
			t.Errorf("%d: err = %v, want permanent=%v", c.status, err, c.permanent)
		}
	}
}

func TestWebhookDoesNotFollowRedirects(t *testing.T) {
	var followed atomic.Int32
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		followed.Add(1)
	}))
	defer target.Close()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, target.URL, http.StatusFound)
	}))
	defer srv.Close()

	_, err := channel.Webhook{URL: srv.URL, Client: srv.Client()}.Send(context.Background(), channel.Message{NotificationID: "n", Body: "x"})
	if !channel.IsPermanent(err) {
		t.Fatalf("err = %v, want permanent", err)
	}
	if followed.Load() != 0 {
		t.Fatal("redirect was followed (a POST would have become a bodiless GET)")
	}
}

func TestWebhookUnreachableIsTemporaryAndHidesPath(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	srv.Close()
	_, err := channel.Webhook{URL: srv.URL + "/secret-token-path"}.Send(context.Background(), channel.Message{NotificationID: "n", Body: "x"})
	if err == nil || channel.IsPermanent(err) {
		t.Fatalf("err = %v, want temporary", err)
	}
	if strings.Contains(err.Error(), "secret-token-path") {
		t.Fatalf("error leaks the URL path: %v", err)
	}
}

func TestWebhookRejectsUnusableInput(t *testing.T) {
	for name, c := range map[string]struct {
		url, id, body string
	}{
		"no id":      {"http://127.0.0.1:1", "", "x"},
		"dot-dot id": {"http://127.0.0.1:1", "..", "x"},
		"no url":     {"", "n", "x"},
		"ftp url":    {"ftp://example.com", "n", "x"},
		"empty":      {"http://127.0.0.1:1", "n", ""},
	} {
		_, err := channel.Webhook{URL: c.url}.Send(context.Background(), channel.Message{NotificationID: c.id, Body: c.body})
		if !channel.IsPermanent(err) {
			t.Errorf("%s: err = %v, want permanent", name, err)
		}
	}
}
