package server

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/oncall/pager/app/retention"
	"github.com/oncall/pager/app/twilio"
	"github.com/oncall/pager/internal/testclock"
	"github.com/oncall/pager/store"
	"github.com/oncall/pager/store/local"
)

func TestWrapTwilioIdempotency(t *testing.T) {
	st, err := local.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	once := NewOnce(st, "", nil)
	acted, fail := 0, false
	e := echo.New()
	e.POST("/hook", WrapTwilioIdempotency(once, slog.New(slog.DiscardHandler), nil)(func(c echo.Context) error {
		acted++
		if fail {
			return errors.New("store down")
		}
		return c.String(http.StatusOK, "<Response><Message>done</Message></Response>")
	}))
	post := func(token string) (int, string) {
		req := httptest.NewRequest(http.MethodPost, "/hook", strings.NewReader("Body=1a"))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if token != "" {
			req.Header.Set(twilio.IdempotencyHeader, token)
		}
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, req)
		return rec.Code, rec.Body.String()
	}

	if code, body := post("tok-1"); code != http.StatusOK || !strings.Contains(body, "done") || acted != 1 {
		t.Fatalf("first: %d %q acted %d", code, body, acted)
	}
	if code, body := post("tok-1"); code != http.StatusOK || strings.Contains(body, "done") || acted != 1 {
		t.Fatalf("retry: %d %q acted %d", code, body, acted)
	}
	// Without a token every delivery acts.
	post("")
	post("")
	if acted != 3 {
		t.Fatalf("without token acted %d times, want 3", acted)
	}
	// A failed first delivery is forgotten, so Twilio's retry acts.
	fail = true
	if code, _ := post("tok-2"); code < 500 {
		t.Fatalf("failing handler answered %d", code)
	}
	fail = false
	if code, body := post("tok-2"); code != http.StatusOK || !strings.Contains(body, "done") || acted != 5 {
		t.Fatalf("retry after failure: %d %q acted %d", code, body, acted)
	}
}

func TestOnceActsOnceAcrossReplicas(t *testing.T) {
	dir := t.TempDir()
	// Started at the real time: pruning reads the markers' store times too.
	clock := testclock.At(time.Now())
	ctx := context.Background()
	var firsts sync.WaitGroup
	results := make(chan bool, 10)
	for range 10 {
		firsts.Go(func() {
			st, err := local.New(dir) // each "replica" opens the folder itself
			if err != nil {
				t.Error(err)
				return
			}
			first, err := NewOnce(st, "", clock.Now).First(ctx, "RQ0123456789abcdef")
			if err != nil {
				t.Error(err)
			}
			results <- first
		})
	}
	firsts.Wait()
	close(results)
	n := 0
	for f := range results {
		if f {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("%d deliveries acted, want 1", n)
	}

	st, _ := local.New(dir)
	o := NewOnce(st, "", clock.Now)
	if err := o.Forget(ctx, "RQ0123456789abcdef"); err != nil {
		t.Fatal(err)
	}
	if first, _ := o.First(ctx, "RQ0123456789abcdef"); !first {
		t.Error("after Forget the retry does not act")
	}
	if first, _ := o.First(ctx, ""); !first {
		t.Error("a delivery without a token is not acted on")
	}
	clock.Advance(23 * time.Hour)
	p := retention.New(st, retention.Options{Expiring: []retention.Expiry{o.Expiry(24 * time.Hour)}, Now: clock.Now})
	if removed, err := p.Prune(ctx); err != nil || len(removed) != 0 {
		t.Errorf("pruned %v, %v; the marker is a day old only later", removed, err)
	}
	clock.Advance(25 * time.Hour)
	if removed, err := p.Prune(ctx); err != nil || removed["webhook delivery markers"] != 1 || len(removed) != 1 {
		t.Errorf("pruned %v, %v; want the marker", removed, err)
	}
}

// slowDelete is a store whose Delete answers only when its context ends.
type slowDelete struct {
	store.Store
	deadline chan time.Duration
	ended    chan error
}

func (s slowDelete) Delete(ctx context.Context, key string) error {
	dl, ok := ctx.Deadline()
	if !ok {
		s.deadline <- -1
		return errors.New("no deadline")
	}
	s.deadline <- time.Until(dl)
	<-ctx.Done()
	s.ended <- ctx.Err()
	return ctx.Err()
}

// Forgetting a failed delivery outlives the request's cancellation but not
// a store that does not answer: the failed request must not hang on it.
func TestForgetFailedDeliveryHasADeadline(t *testing.T) {
	st, err := local.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	slow := slowDelete{Store: st, deadline: make(chan time.Duration, 1), ended: make(chan error, 1)}
	e := echo.New()
	e.POST("/hook", WrapTwilioIdempotency(NewOnce(slow, "", nil), slog.New(slog.DiscardHandler), nil)(func(c echo.Context) error {
		return errors.New("store down")
	}))
	ctx, cancel := context.WithCancel(context.Background())
	req := httptest.NewRequest(http.MethodPost, "/hook", strings.NewReader("Body=1a")).WithContext(ctx)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set(twilio.IdempotencyHeader, "tok-slow")
	done := make(chan struct{})
	go func() {
		defer close(done)
		e.ServeHTTP(httptest.NewRecorder(), req)
	}()
	var left time.Duration
	select {
	case left = <-slow.deadline:
	case <-time.After(10 * time.Second):
		t.Fatal("the failed delivery was not forgotten")
	}
	cancel() // the client hangs up: the forgetting must go on
	if left <= 0 || left > DetachedTimeout {
		t.Fatalf("Forget's context has %v left, want a deadline within %v", left, DetachedTimeout)
	}
	select {
	case <-done:
	case <-time.After(DetachedTimeout + 5*time.Second):
		t.Fatal("the request still waits on a store that does not answer")
	}
	if err := <-slow.ended; !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Forget ended by %v, want its own deadline, not the client's hang-up", err)
	}
}
