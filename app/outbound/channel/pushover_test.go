package channel_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/oncall/pager/app/outbound/channel"
)

// pushoverAPI mimics api.pushover.net: it validates the request shape the
// way the real API does and answers with its JSON.
func pushoverAPI(t *testing.T, got *url.Values) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.Method != http.MethodPost || r.URL.Path != "/1/messages.json" ||
			r.Header.Get("Content-Type") != "application/x-www-form-urlencoded" {
			w.WriteHeader(http.StatusNotFound)
			_, _ = w.Write([]byte(`{"status":0,"errors":["wrong endpoint"],"request":"r0"}`))
			return
		}
		if err := r.ParseForm(); err != nil {
			t.Errorf("parse form: %v", err)
		}
		*got = r.PostForm
		switch {
		case r.PostForm.Get("token") != "app-token":
			w.WriteHeader(http.StatusBadRequest)
			_, _ = w.Write([]byte(`{"token":"invalid","errors":["application token is invalid"],"status":0,"request":"r1"}`))
		case r.PostForm.Get("user") != "user-key":
			w.WriteHeader(http.StatusBadRequest)
			_, _ = w.Write([]byte(`{"user":"invalid","errors":["user identifier is not a valid user, group, or subscribed user key"],"status":0,"request":"r2"}`))
		default:
			_, _ = w.Write([]byte(`{"status":1,"request":"5042853c-402d-4a18-abcb-168734a801de"}`))
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestPushoverSendsTitleAndMessage(t *testing.T) {
	var got url.Values
	srv := pushoverAPI(t, &got)
	p := channel.Pushover{Token: "app-token", User: "user-key", BaseURL: srv.URL}
	rcpt, err := p.Send(context.Background(), channel.Message{NotificationID: "n1", Subject: "CRITICAL db", Body: "disk 97%"})
	if err != nil {
		t.Fatal(err)
	}
	if rcpt.ID != "5042853c-402d-4a18-abcb-168734a801de" {
		t.Errorf("receipt ID %q", rcpt.ID)
	}
	want := url.Values{"token": {"app-token"}, "user": {"user-key"}, "title": {"CRITICAL db"}, "message": {"disk 97%"}}
	if got.Encode() != want.Encode() {
		t.Errorf("form = %v, want %v", got, want)
	}
}

func TestPushoverSubjectOnlyBecomesMessage(t *testing.T) {
	var got url.Values
	srv := pushoverAPI(t, &got)
	p := channel.Pushover{Token: "app-token", User: "user-key", BaseURL: srv.URL + "/"}
	if _, err := p.Send(context.Background(), channel.Message{Subject: "host booted"}); err != nil {
		t.Fatal(err)
	}
	if got.Get("message") != "host booted" || got.Has("title") {
		t.Errorf("form = %v", got)
	}
}

func TestPushoverTrimsToLimitsOnRuneBoundaries(t *testing.T) {
	var got url.Values
	srv := pushoverAPI(t, &got)
	p := channel.Pushover{Token: "app-token", User: "user-key", BaseURL: srv.URL}
	_, err := p.Send(context.Background(), channel.Message{
		Subject: strings.Repeat("ü", 300),
		Body:    strings.Repeat("é", 1500),
	})
	if err != nil {
		t.Fatal(err)
	}
	msg, title := got.Get("message"), got.Get("title")
	if !utf8.ValidString(msg) || !utf8.ValidString(title) {
		t.Fatal("trimmed text is not valid UTF-8")
	}
	if n := utf8.RuneCountInString(msg); n != 1024 || !strings.HasSuffix(msg, "...") {
		t.Errorf("message has %d runes, suffix %q", n, msg[len(msg)-3:])
	}
	if n := utf8.RuneCountInString(title); n != 250 || !strings.HasSuffix(title, "...") {
		t.Errorf("title has %d runes", n)
	}
}

func TestPushoverRejectionsArePermanentWithReason(t *testing.T) {
	var got url.Values
	srv := pushoverAPI(t, &got)
	_, err := channel.Pushover{Token: "app-token", User: "nobody", BaseURL: srv.URL}.
		Send(context.Background(), channel.Message{Body: "x"})
	var ce *channel.Error
	if !errors.As(err, &ce) || !ce.Permanent || ce.Code != 400 {
		t.Fatalf("err = %v, want permanent 400", err)
	}
	if !strings.Contains(err.Error(), "user identifier is not a valid") {
		t.Errorf("error lacks Pushover's reason: %v", err)
	}
	if strings.Contains(err.Error(), "app-token") {
		t.Errorf("error leaks the token: %v", err)
	}
}

func TestPushoverStatusZeroOn200IsPermanent(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(`{"status":0,"errors":["message cannot be blank"],"request":"r"}`))
	}))
	defer srv.Close()
	_, err := channel.Pushover{Token: "t", User: "u", BaseURL: srv.URL}.Send(context.Background(), channel.Message{Body: "x"})
	if !channel.IsPermanent(err) || !strings.Contains(err.Error(), "message cannot be blank") {
		t.Fatalf("err = %v", err)
	}
}

func TestPushoverServerErrorsAreTemporary(t *testing.T) {
	for _, status := range []int{http.StatusInternalServerError, http.StatusServiceUnavailable, http.StatusTooManyRequests} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(status)
		}))
		_, err := channel.Pushover{Token: "t", User: "u", BaseURL: srv.URL}.Send(context.Background(), channel.Message{Body: "x"})
		srv.Close()
		if err == nil || channel.IsPermanent(err) {
			t.Errorf("%d: err = %v, want temporary", status, err)
		}
	}
}

func TestPushoverDefaultsToRealAPI(t *testing.T) {
	// Without BaseURL the request must go to api.pushover.net; a client
	// whose transport refuses everything lets us see where it went.
	var host string
	client := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		host = r.URL.Scheme + "://" + r.URL.Host + r.URL.Path
		return nil, errors.New("offline")
	})}
	_, err := channel.Pushover{Token: "t", User: "u", Client: client}.Send(context.Background(), channel.Message{Body: "x"})
	if err == nil || channel.IsPermanent(err) {
		t.Fatalf("err = %v, want temporary", err)
	}
	if host != "https://api.pushover.net/1/messages.json" {
		t.Fatalf("request went to %q", host)
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
