package app_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/oncall/pager/app"
)

// exposedApp is a pager on a listener other machines reach, logging to
// log, on a local folder store in dir.
func exposedApp(t *testing.T, dir string, log *slog.Logger) *app.App {
	t.Helper()
	s, err := app.SettingsFromEnv(env(map[string]string{"BACKING_STORE_DIR": dir, "LISTEN_ADDR": ":8080",
		"TWILIO_ACCOUNT_SID": "AC00000000000000000000000000000000", "TWILIO_AUTH_TOKEN": "secret",
		"ONCALL_APP_BASE_URL": "https://pager.example.com"}))
	if err != nil {
		t.Fatal(err)
	}
	a, err := app.New(context.Background(), s, app.Options{Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// handlerLines are the log lines other than the access lines ("msg=http"):
// what handlers and the refusal trace wrote.
func handlerLines(out string) []string {
	var lines []string
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if l != "" && !strings.Contains(l, "msg=http ") {
			lines = append(lines, l)
		}
	}
	return lines
}

// A stranger trying forged media links leaves the bounded trace every
// refused request does (one line and one audit entry per source and
// minute), not a warning line per request.
func TestForgedMediaLinksLeaveABoundedTrace(t *testing.T) {
	refusedOftenFromOneAddress(t, "forged links", "invalid or expired link", func(i int) *http.Request {
		return httptest.NewRequest(http.MethodGet, fmt.Sprintf("/media/vm-%d.mp3?exp=99999999999&sig=%064d", i, i), nil)
	})
}

// A page on another site posting to the console again and again (every
// visitor's browser does it) leaves the bounded refusal trace, not a
// warning line per request.
func TestCrossSiteConsolePostsLeaveABoundedTrace(t *testing.T) {
	refusedOftenFromOneAddress(t, "cross-site posts", "cross-site request refused", func(i int) *http.Request {
		req := httptest.NewRequest(http.MethodPost, "/ui/signin", strings.NewReader("phone=%2B15555550101"))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Origin", fmt.Sprintf("https://evil-%d.example", i))
		return req
	})
}

// refusedOftenFromOneAddress sends 100 requests made by req from one
// address to an exposed pager, wants each refused (403 naming why), and
// wants them to leave at most one log line besides the access lines and at
// most one audit entry.
func refusedOftenFromOneAddress(t *testing.T, what, why string, req func(i int) *http.Request) {
	t.Helper()
	var buf strings.Builder
	dir := filepath.Join(t.TempDir(), "data")
	a := exposedApp(t, dir, slog.New(slog.NewTextHandler(&syncWriter{w: &buf}, nil)))
	before := len(handlerLines(buf.String()))
	for i := range 100 {
		r := req(i)
		r.RemoteAddr = "203.0.113.9:4000"
		rec := httptest.NewRecorder()
		a.Echo.ServeHTTP(rec, r)
		if rec.Code != http.StatusForbidden || !strings.Contains(rec.Body.String(), why) {
			t.Fatalf("%s: HTTP %d %s, want 403 %q", what, rec.Code, rec.Body, why)
		}
	}
	lines := handlerLines(buf.String())[before:]
	if len(lines) > 1 {
		t.Errorf("100 %s from one address logged %d lines besides the access lines, want at most 1:\n%s",
			what, len(lines), strings.Join(lines[:min(5, len(lines))], "\n"))
	}
	if n := auditEntries(t, dir); n > 1 {
		t.Errorf("100 %s from one address left %d audit entries, want at most 1", what, n)
	}
}

// auditEntries counts the audit entries in the local folder store at dir.
func auditEntries(t *testing.T, dir string) int {
	t.Helper()
	_, by := storeObjects(t, dir)
	n := 0
	for kind, k := range by {
		if strings.HasPrefix(kind, "audit/") {
			n += k
		}
	}
	return n
}
