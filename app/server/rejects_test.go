package server

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
)

// A flood of refusals from one source leaves one detailed line, one audit
// call and one summary line per interval; another interval starts afresh.
func TestRejectionsBounded(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, nil))
	now := time.Date(2026, 12, 1, 6, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	audited := 0
	r := NewRejections(log, func(context.Context, string, string, string) { mu.Lock(); audited++; mu.Unlock() },
		func() time.Time { return now })
	e := echo.New()
	reject := func(remote string) {
		req := httptest.NewRequest(http.MethodPost, "/msgcontrol/entry?"+strings.Repeat("x", 5000), nil)
		req.RemoteAddr = remote + ":1234"
		r.Reject(e.NewContext(req, httptest.NewRecorder()), "missing X-Twilio-Signature")
	}
	for i := 0; i < 1000; i++ {
		reject("192.0.2.1")
	}
	reject("192.0.2.2")
	now = now.Add(RejectInterval)
	reject("192.0.2.1") // a new interval: flushes the summary, then logs again
	r.Flush()
	out := buf.String()
	if n := strings.Count(out, "request refused (more"); n != 3 {
		t.Errorf("%d detail lines, want 3 (two sources, then one in the next interval):\n%s", n, out)
	}
	if n := strings.Count(out, "msg=\"requests refused\""); n != 2 {
		t.Errorf("%d summary lines, want 2:\n%s", n, out)
	}
	if !strings.Contains(out, "count=1001") || !strings.Contains(out, "sources=2") {
		t.Errorf("summary does not count every refusal:\n%s", out)
	}
	if audited != 3 {
		t.Errorf("%d audit entries, want 3", audited)
	}
	if len(out) > 4096 {
		t.Errorf("log grew to %d bytes for 1002 refusals", len(out))
	}
}

func TestBoundedLogs(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(BoundedLogs(slog.NewTextHandler(&buf, nil), 100))
	long := strings.Repeat("a", 10000)
	log.With("with", long).Warn("x", "s", long, "g", slog.GroupValue(slog.String("in", long)), "err", &echo.HTTPError{Message: long})
	if buf.Len() > 1000 {
		t.Fatalf("line of %d bytes: %s", buf.Len(), buf.String())
	}
	// Lines of plain values only (the access line's kind) are cut too.
	for _, line := range []func(){
		func() { log.Warn(long, "n", 1) },
		func() { log.Info("y", "short", "ok", "s", long, "d", time.Second) },
	} {
		buf.Reset()
		line()
		if buf.Len() > 300 {
			t.Errorf("line of %d bytes: %s", buf.Len(), buf.String())
		}
	}
}

// The audit write outlives a client that hung up, but not a store that does
// not answer: a refused request must not wait on it for ever.
func TestRejectionsAuditHasADeadline(t *testing.T) {
	var got context.Context
	var gotErr error
	r := NewRejections(nil, func(ctx context.Context, _, _, _ string) { got, gotErr = ctx, ctx.Err() }, nil)
	ctx, cancel := context.WithCancel(context.Background())
	req := httptest.NewRequest(http.MethodPost, "/msgcontrol/entry", nil).WithContext(ctx)
	cancel() // the client is gone before the refusal is audited
	r.Reject(echo.New().NewContext(req, httptest.NewRecorder()), "missing X-Twilio-Signature")
	if got == nil {
		t.Fatal("not audited")
	}
	dl, ok := got.Deadline()
	if left := time.Until(dl); !ok || left > DetachedTimeout || DetachedTimeout > 5*time.Second {
		t.Fatalf("audit context deadline in %v (set: %v), want within %v", left, ok, DetachedTimeout)
	}
	if gotErr != nil {
		t.Fatalf("audit context ended with the request: %v", gotErr)
	}
}

// RejectFrom keys the bound on the source it is given, cut short.
func TestRejectFromBoundsBySource(t *testing.T) {
	var sources []string
	r := NewRejections(nil, func(_ context.Context, source, _, _ string) { sources = append(sources, source) }, nil)
	e := echo.New()
	refuse := func(from string) {
		req := httptest.NewRequest(http.MethodPost, "/msgcontrol/entry", nil)
		r.RejectFrom(e.NewContext(req, httptest.NewRecorder()), from, "text from a stranger")
	}
	for range 50 {
		refuse("+15555550999")
	}
	refuse("+15555550998")
	refuse(strings.Repeat("9", 10000))
	if len(sources) != 3 || sources[0] != "+15555550999" || sources[1] != "+15555550998" {
		t.Fatalf("audited sources %.200q, want each sender once", sources)
	}
	if len(sources[2]) > 100 {
		t.Fatalf("a source of %d bytes audited", len(sources[2]))
	}
}

// One host usually holds a whole IPv6 /64: refusals from its addresses are
// one source, or a single client could leave a detailed line and an audit
// entry (kept for ever by default) for every address it picks, up to the
// interval's cap.
func TestRejectionsCountIPv6BySlash64(t *testing.T) {
	var buf bytes.Buffer
	var sources []string
	r := NewRejections(slog.New(slog.NewTextHandler(&buf, nil)),
		func(_ context.Context, source, _, _ string) { sources = append(sources, source) }, nil)
	e := echo.New()
	reject := func(remote string) {
		req := httptest.NewRequest(http.MethodPost, "/alerts", nil)
		req.RemoteAddr = remote
		r.Reject(e.NewContext(req, httptest.NewRecorder()), "unknown or missing API key")
	}
	for i := range 100 {
		reject(fmt.Sprintf("[2001:db8:1:2::%x]:1234", i+1))
	}
	reject("[2001:db8:1:3::1]:1234") // the next /64: another source
	reject("192.0.2.1:1234")
	if len(sources) != 3 || sources[0] != "2001:db8:1:2::/64" || sources[1] != "2001:db8:1:3::/64" || sources[2] != "192.0.2.1" {
		t.Fatalf("audited sources %q, want one per /64 and the IPv4 address", sources)
	}
	if n := strings.Count(buf.String(), "request refused (more"); n != 3 {
		t.Errorf("%d detail lines, want 3:\n%s", n, buf.String())
	}
}
