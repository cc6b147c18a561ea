package pagerline

import (
	"context"
	"encoding/json"
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
	"github.com/oncall/pager/app/audit"
	"github.com/oncall/pager/app/jobs"
	"github.com/oncall/pager/app/outbound"
	"github.com/oncall/pager/app/team"
	"github.com/oncall/pager/app/twilio"
	"github.com/oncall/pager/internal/teamtest"
	"github.com/oncall/pager/internal/testclock"
	"github.com/oncall/pager/store/storetest"
)

// sent is one text or call the fake Twilio took.
type sent struct {
	SID     string
	Message twilio.Message
	Call    twilio.Call
	At      time.Time
}

var _ outbound.SentFinder = (*fakeTwilio)(nil)

// fakeTwilio takes texts and calls, stamping each with the rig's clock, and
// looks them up as Twilio's list resources do (outbound.SentFinder).
type fakeTwilio struct {
	now func() time.Time

	mu       sync.Mutex
	messages []sent
	calls    []sent
	// fails are the errors of the next texts, which Twilio never took.
	fails []error
	// lose: the next text is taken but its answer is lost (a timeout after
	// Twilio took it).
	lose bool
	// taken, when set, is called with each text's SID once Twilio has it
	// and before its answer leaves: Twilio's status callbacks can come
	// first.
	taken func(sid string)
}

func (f *fakeTwilio) SendMessage(_ context.Context, m twilio.Message) (string, error) {
	f.mu.Lock()
	if len(f.fails) > 0 {
		err := f.fails[0]
		f.fails = f.fails[1:]
		f.mu.Unlock()
		return "", err
	}
	sid := fmt.Sprintf("SM%032d", len(f.messages)+1)
	f.messages = append(f.messages, sent{SID: sid, Message: m, At: f.now()})
	lose, taken := f.lose, f.taken
	f.lose = false
	f.mu.Unlock()
	if taken != nil {
		taken(sid)
	}
	if lose {
		return "", fmt.Errorf("twilio: send message: %w", context.DeadlineExceeded)
	}
	return sid, nil
}

func (f *fakeTwilio) StartCall(_ context.Context, c twilio.Call) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	sid := fmt.Sprintf("CA%032d", len(f.calls)+1)
	f.calls = append(f.calls, sent{SID: sid, Call: c, At: f.now()})
	return sid, nil
}

func (f *fakeTwilio) FindMessage(_ context.Context, from, to, body string, w twilio.Window) (twilio.Sent, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i := len(f.messages) - 1; i >= 0; i-- {
		m := f.messages[i]
		if m.Message.From == from && m.Message.To == to && m.Message.Body == body && m.within(w) {
			return twilio.Sent{SID: m.SID, Status: "queued"}, true, nil
		}
	}
	return twilio.Sent{}, false, nil
}

func (f *fakeTwilio) FindCall(_ context.Context, from, to string, w twilio.Window) (twilio.Sent, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i := len(f.calls) - 1; i >= 0; i-- {
		c := f.calls[i]
		if c.Call.From == from && c.Call.To == to && c.within(w) {
			return twilio.Sent{SID: c.SID, Status: "queued"}, true, nil
		}
	}
	return twilio.Sent{}, false, nil
}

func (s sent) within(w twilio.Window) bool {
	return !s.At.Before(w.Start) && (w.End.IsZero() || !s.At.After(w.End))
}

func (f *fakeTwilio) failNext(status int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fails = append(f.fails, fmt.Errorf("twilio: create: %w", &twilio.Error{Status: status, Code: 20000 + status, Message: "injected"}))
}

func (f *fakeTwilio) loseNext() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.lose = true
}

func (f *fakeTwilio) sentMessages() []sent {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]sent(nil), f.messages...)
}

func (f *fakeTwilio) sentCalls() []sent {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]sent(nil), f.calls...)
}

// fakeRecordings serves every recording as the same few bytes.
type fakeRecordings struct{}

func (fakeRecordings) FetchRecording(context.Context, string) ([]byte, string, error) {
	return []byte("ID3 voicemail"), "audio/mpeg", nil
}
func (fakeRecordings) DeleteRecording(context.Context, string) error { return nil }
func (fakeRecordings) ListRecordings(context.Context, time.Time) ([]twilio.Recording, error) {
	return nil, nil
}
func (fakeRecordings) FetchCall(context.Context, string) (twilio.CallInfo, error) {
	return twilio.CallInfo{}, nil
}

// fakeAlerts answers each trigger with trigger's answer, counting them.
type fakeAlerts struct {
	mu      sync.Mutex
	calls   int
	trigger func(n int) (alerts.Alert, error)
}

func (f *fakeAlerts) TriggerWith(context.Context, alerts.Event, alerts.TriggerOptions) (alerts.Alert, bool, error) {
	f.mu.Lock()
	f.calls++
	n := f.calls
	f.mu.Unlock()
	a, err := f.trigger(n)
	return a, err == nil, err
}

func (f *fakeAlerts) triggers() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls
}

type staticConfig struct{ cfg *team.Config }

func (s staticConfig) Current() *team.Config { return s.cfg }

// rig is a pager line on a fake clock, a memory store and a fake Twilio,
// its jobs run by the test (drain).
type rig struct {
	clock *testclock.Clock
	st    *storetest.Mem
	tw    *fakeTwilio
	cfg   staticConfig
	q     *jobs.Queue
	h     *Handler
}

type rigOptions struct {
	// alerts, when set, makes each voicemail an alert.
	alerts *fakeAlerts
}

func newRig(t testing.TB, o rigOptions) *rig {
	t.Helper()
	clock := testclock.New()
	cfg, err := team.Parse(teamtest.Default().JSON())
	if err != nil {
		t.Fatal(err)
	}
	r := &rig{clock: clock, st: storetest.NewMem(), tw: &fakeTwilio{now: clock.Now}, cfg: staticConfig{cfg}}
	r.q = jobs.New(r.st, jobs.Options{Now: clock.Now, Workers: 1, Lease: time.Hour,
		Backoff: func(int) time.Duration { return time.Second }})
	out := outbound.New(outbound.Options{Twilio: r.tw, Rates: outbound.Rates{SMSPerSecond: 100, CallsPerSecond: 100},
		Now: clock.Now, Sleep: clock.Sleep, DryRunEmail: true})
	opts := Options{Config: r.cfg, BaseURL: "https://pager.example.test", Store: r.st, Jobs: r.q, Outbound: out,
		Recordings: fakeRecordings{}, Audit: audit.New(r.st, clock.Now, nil), Now: clock.Now}
	if o.alerts != nil {
		opts.Alerts = o.alerts
	}
	r.h = New(opts)
	return r
}

// voicemail queues a voicemail from caller as the recording callback does.
func (r *rig) voicemail(t testing.TB, recordingSID, caller string) string {
	t.Helper()
	v := Voicemail{RecordingSID: recordingSID, RecordingURL: "https://api.twilio.com/recordings/" + recordingSID,
		Duration: 12, CallSID: "CA" + recordingSID, CallerNum: caller, Received: r.clock.Now().UTC()}
	v.address(r.cfg.Current())
	job := r.h.voicemailJob(&v)
	return r.enqueue(t, job, v)
}

// missedCall queues a missed call from caller as the recording callback does.
func (r *rig) missedCall(t testing.TB, callSID, caller string) string {
	t.Helper()
	return r.missedCallAt(t, callSID, caller, r.clock.Now())
}

// missedCallAt queues a missed call received at "at", as the recording
// callback does however late its job is queued.
func (r *rig) missedCallAt(t testing.TB, callSID, caller string, at time.Time) string {
	t.Helper()
	v := Voicemail{CallSID: callSID, CallerNum: caller, Received: at.UTC()}
	v.address(r.cfg.Current())
	return r.enqueue(t, jobs.Job{ID: "missed-" + callSID, Kind: KindMissed, Steps: []jobs.Step{{Name: StepText}}}, v)
}

func (r *rig) enqueue(t testing.TB, job jobs.Job, v Voicemail) string {
	t.Helper()
	job.Payload, _ = json.Marshal(v)
	job.CreatedAt = v.Received
	if _, err := r.q.Enqueue(context.Background(), job); err != nil {
		t.Fatal(err)
	}
	return job.ID
}

// drain runs job id until it finishes, moving the clock to each retry;
// the test fails if it does not finish within a few dozen runs.
func (r *rig) drain(t testing.TB, id string) jobs.Job {
	t.Helper()
	ctx := context.Background()
	var j jobs.Job
	for range 50 {
		if err := r.q.RunOnce(ctx); err != nil {
			t.Fatal(err)
		}
		var err error
		if j, err = r.q.Get(ctx, id); err != nil {
			t.Fatal(err)
		}
		if j.Finished() {
			return j
		}
		// A pending step due now (zero NextAt) waits for another.
		var next time.Time
		for _, s := range j.Steps {
			if s.State == jobs.StepPending && !s.NextAt.IsZero() && (next.IsZero() || s.NextAt.Before(next)) {
				next = s.NextAt
			}
		}
		if next.After(r.clock.Now()) {
			r.clock.Set(next)
		}
	}
	t.Fatalf("job %s did not finish: %s", id, steps(j))
	return j
}

func steps(j jobs.Job) string {
	var b strings.Builder
	for _, s := range j.Steps {
		fmt.Fprintf(&b, "\n  %s: %s after %d attempts (%s) %s", s.Name, s.State, s.Attempts, s.LastError, s.Result)
	}
	return b.String()
}

// delivery is what step name of j recorded.
func delivery(t testing.TB, j jobs.Job, name string) Delivery {
	t.Helper()
	s := j.Step(name)
	if s == nil || s.State != jobs.StepDone {
		t.Fatalf("step %s not done:%s", name, steps(j))
	}
	var d Delivery
	if err := s.Decode(&d); err != nil {
		t.Fatal(err)
	}
	return d
}

// textStatus posts a page text's status callback as Twilio does.
func (r *rig) textStatus(t testing.TB, jobID, sid, status string) {
	t.Helper()
	if err := r.postTextStatus(jobID, sid, status); err != nil {
		t.Fatal(err)
	}
}

// postTextStatus is textStatus for any goroutine: it returns what went wrong.
func (r *rig) postTextStatus(jobID, sid, status string) error {
	form := url.Values{"MessageSid": {sid}, "MessageStatus": {status}}
	req := httptest.NewRequest(http.MethodPost, "/public/mmsstatuscb?job="+url.QueryEscape(jobID), strings.NewReader(form.Encode()))
	req.Header.Set(echo.HeaderContentType, echo.MIMEApplicationForm)
	rec := httptest.NewRecorder()
	if err := r.h.ServeMessageStatus(echo.New().NewContext(req, rec)); err != nil {
		return fmt.Errorf("status callback %s: %w", status, err)
	}
	if rec.Code != http.StatusNoContent {
		return fmt.Errorf("status callback %s: HTTP %d", status, rec.Code)
	}
	return nil
}
