package page

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/oncall/pager/app/alerts"
	"github.com/oncall/pager/app/jobs"
	"github.com/oncall/pager/app/outbound"
	"github.com/oncall/pager/app/team"
	"github.com/oncall/pager/internal/teamtest"
	"github.com/oncall/pager/internal/testclock"
	"github.com/oncall/pager/store/storetest"
)

// fakeAlerts holds alerts by id. Every failed or undelivered report
// decides "not reached" (as a first one does), so a repeated callback
// reaches the fallback again.
type fakeAlerts struct {
	mu     sync.Mutex
	alerts map[string]alerts.Alert
}

func (f *fakeAlerts) Get(_ context.Context, id string) (alerts.Alert, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	a, ok := f.alerts[id]
	if !ok {
		return alerts.Alert{}, fmt.Errorf("%w: %s", alerts.ErrNotFound, id)
	}
	return a, nil
}

func (f *fakeAlerts) setState(id string, s alerts.State) {
	f.mu.Lock()
	defer f.mu.Unlock()
	a := f.alerts[id]
	a.State = s
	f.alerts[id] = a
}

func (f *fakeAlerts) Ack(context.Context, string, string) (alerts.Transition, error) {
	return alerts.Transition{}, errors.New("not in this test")
}

func (f *fakeAlerts) Close(context.Context, string, string) (alerts.Transition, error) {
	return alerts.Transition{}, errors.New("not in this test")
}

func (f *fakeAlerts) RecordDelivery(ctx context.Context, alertID string, d alerts.Delivery) (alerts.DeliveryUpdate, error) {
	if _, err := f.Get(ctx, alertID); err != nil {
		return alerts.DeliveryUpdate{}, err
	}
	return alerts.DeliveryUpdate{Delivery: d, Changed: true, Decided: d.Outcome != ""}, nil
}

// callLog records the calls placed; the first fail calls fail as Twilio
// being down does.
type callLog struct {
	mu    sync.Mutex
	calls []outbound.Call
	fail  int
}

func (l *callLog) SendText(context.Context, outbound.Text) (string, error) { return "SM0", nil }

func (l *callLog) StartCall(_ context.Context, c outbound.Call) (string, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.fail > 0 {
		l.fail--
		return "", errors.New("twilio: create: 503 Service Unavailable")
	}
	l.calls = append(l.calls, c)
	return fmt.Sprintf("CA%d", len(l.calls)), nil
}

func (l *callLog) placed() []outbound.Call {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]outbound.Call(nil), l.calls...)
}

type fixedConfig struct{ c *team.Config }

func (f fixedConfig) Current() *team.Config { return f.c }

type callbackRig struct {
	clock  *testclock.Clock
	q      *jobs.Queue
	alerts *fakeAlerts
	out    *callLog
	e      *echo.Echo
}

func newCallbackRig(t *testing.T) *callbackRig {
	t.Helper()
	cfg, err := team.Parse(teamtest.Default().JSON())
	if err != nil {
		t.Fatal(err)
	}
	r := &callbackRig{clock: testclock.New(), out: &callLog{},
		alerts: &fakeAlerts{alerts: map[string]alerts.Alert{"a1": {ID: "a1", Summary: "db1 down", State: alerts.StateTriggered}}}}
	r.q = jobs.New(storetest.NewMem(), jobs.Options{Now: r.clock.Now, Backoff: func(int) time.Duration { return time.Minute }})
	in := NewCallbacks(r.alerts, New(r.out, fixedConfig{cfg}, "https://pager.example.test", nil), r.q, nil)
	r.e = echo.New()
	r.e.POST("/public/alertstatus", in.ServeAlertStatus)
	return r
}

// status posts a page text's status callback.
func (r *callbackRig) status(t *testing.T, alertID, userID, sid, status string) int {
	t.Helper()
	form := url.Values{"MessageSid": {sid}, "MessageStatus": {status}}
	req := httptest.NewRequest(http.MethodPost, "/public/alertstatus?"+url.Values{"alert": {alertID}, "user": {userID}, "ch": {"sms"}}.Encode(),
		strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	w := httptest.NewRecorder()
	r.e.ServeHTTP(w, req)
	return w.Code
}

func (r *callbackRig) run(t *testing.T) {
	t.Helper()
	if err := r.q.RunOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// The call after an undelivered page text is a job: the callback is
// answered once it is stored, without waiting for the call rate or for
// Twilio, and the call is retried from the queue. A repeated callback
// about the same text calls once.
func TestUndeliveredPageTextQueuesOneCall(t *testing.T) {
	r := newCallbackRig(t)
	r.out.fail = 1
	for i := range 2 {
		if code := r.status(t, "a1", "alice", "SM1", "undelivered"); code != http.StatusNoContent {
			t.Fatalf("callback %d: HTTP %d, want 204", i+1, code)
		}
	}
	if got := r.out.placed(); len(got) != 0 {
		t.Fatalf("callback placed %d calls itself, want them left to the queue", len(got))
	}
	id := FallbackCallID("a1", "alice", "SM1")
	if j, err := r.q.Get(context.Background(), id); err != nil || j.Kind != KindFallbackCall {
		t.Fatalf("fallback call job %s: %+v, %v", id, j, err)
	}
	r.run(t) // Twilio down: retried
	if got := r.out.placed(); len(got) != 0 {
		t.Fatalf("%d calls placed while Twilio failed", len(got))
	}
	r.clock.Advance(time.Minute)
	r.run(t)
	r.clock.Advance(time.Minute)
	r.run(t)
	got := r.out.placed()
	if len(got) != 1 || got[0].To != teamtest.Alice || !got[0].MachineDetection || !strings.Contains(got[0].Twiml, "db1 down") {
		t.Fatalf("calls placed: %+v, want one to alice about db1 down", got)
	}
	j, err := r.q.Get(context.Background(), id)
	if err != nil || !j.Finished() || j.Failed() {
		t.Fatalf("fallback call job: %+v, %v", j, err)
	}
	var res FallbackResult
	if err := j.Step(stepFallbackCall).Decode(&res); err != nil || res.Status != FallbackCalled {
		t.Fatalf("fallback call result %+v, %v", res, err)
	}
}

// An alert taken (or closed) between the callback and the call is not
// called about.
func TestFallbackCallSkippedOnceAlertTaken(t *testing.T) {
	r := newCallbackRig(t)
	if code := r.status(t, "a1", "bob", "SM2", "failed"); code != http.StatusNoContent {
		t.Fatalf("callback: HTTP %d", code)
	}
	r.alerts.setState("a1", alerts.StateAcknowledged)
	r.run(t)
	if got := r.out.placed(); len(got) != 0 {
		t.Fatalf("called about a taken alert: %+v", got)
	}
	j, err := r.q.Get(context.Background(), FallbackCallID("a1", "bob", "SM2"))
	var res FallbackResult
	if err != nil || j.Step(stepFallbackCall).Decode(&res) != nil || res.Status != FallbackSkipped || res.Reason != string(alerts.StateAcknowledged) {
		t.Fatalf("fallback call job %+v (%+v), %v", j, res, err)
	}
	// Delivered texts queue nothing.
	if code := r.status(t, "a1", "carol", "SM3", "delivered"); code != http.StatusNoContent {
		t.Fatalf("delivered callback: HTTP %d", code)
	}
	if _, err := r.q.Get(context.Background(), FallbackCallID("a1", "carol", "SM3")); !errors.Is(err, jobs.ErrNotFound) {
		t.Fatalf("delivered text queued a call: %v", err)
	}
}
