package notification

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/oncall/pager/app/jobs"
	"github.com/oncall/pager/app/outbound"
	"github.com/oncall/pager/app/outbound/channel"
	"github.com/oncall/pager/app/team"
	"github.com/oncall/pager/app/twilio"
	"github.com/oncall/pager/internal/mocktwilio"
	"github.com/oncall/pager/internal/teamtest"
	"github.com/oncall/pager/internal/testclock"
	"github.com/oncall/pager/store/storetest"
)

var _ outbound.SentFinder = (*fakeTwilio)(nil)

// fakeTwilio accepts texts and calls, stamping each with the clock.
type fakeTwilio struct {
	now func() time.Time

	mu        sync.Mutex
	messages  []sent
	calls     []sent
	fails     []error
	callFails []error
	// lose: the next accepted message's answer is lost (a timeout after
	// Twilio took it).
	lose bool
}

// FindMessage looks the sent messages up as Twilio's list resource does,
// leaving out the failed ones as twilio.Client does.
func (f *fakeTwilio) FindMessage(_ context.Context, from, to, body string, w twilio.Window) (twilio.Sent, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i := len(f.messages) - 1; i >= 0; i-- {
		m := f.messages[i]
		if m.From == from && m.To == to && m.Body == body && m.within(w) && !twilio.StatusOutcome(twilio.KindMessage, m.status(), "", "").Failed {
			return twilio.Sent{SID: m.SID, Status: m.status()}, true, nil
		}
	}
	return twilio.Sent{}, false, nil
}

// FindCall looks the placed calls up as Twilio's list resource does,
// leaving out the failed ones as twilio.Client does.
func (f *fakeTwilio) FindCall(_ context.Context, from, to string, w twilio.Window) (twilio.Sent, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i := len(f.calls) - 1; i >= 0; i-- {
		c := f.calls[i]
		if c.Call.From == from && c.Call.To == to && c.within(w) && !twilio.StatusOutcome(twilio.KindCall, c.status(), "", "").Failed {
			return twilio.Sent{SID: c.SID, Status: c.status()}, true, nil
		}
	}
	return twilio.Sent{}, false, nil
}

func (s sent) within(w twilio.Window) bool {
	return !s.At.Before(w.Start) && (w.End.IsZero() || !s.At.After(w.End))
}

// status is the send's status on Twilio: queued until a test says.
func (s sent) status() string {
	if s.Status == "" {
		return "queued"
	}
	return s.Status
}

type sent struct {
	twilio.Message
	Call   twilio.Call
	SID    string
	At     time.Time
	Status string
}

func (f *fakeTwilio) failNext(status, code int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fails = append(f.fails, fmt.Errorf("twilio: create: %w", &twilio.Error{Status: status, Code: code, Message: "injected"}))
}

func (f *fakeTwilio) SendMessage(_ context.Context, m twilio.Message) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.fails) > 0 {
		err := f.fails[0]
		f.fails = f.fails[1:]
		return "", err
	}
	sid := fmt.Sprintf("SM%032d", len(f.messages)+1)
	f.messages = append(f.messages, sent{Message: m, SID: sid, At: f.now()})
	if f.lose {
		f.lose = false
		return "", fmt.Errorf("twilio: send message: %w", context.DeadlineExceeded)
	}
	return sid, nil
}

func (f *fakeTwilio) failNextCall(status, code int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.callFails = append(f.callFails, fmt.Errorf("twilio: create: %w", &twilio.Error{Status: status, Code: code, Message: "injected"}))
}

// StartCall refuses inline TwiML over Twilio's limit as Twilio does.
func (f *fakeTwilio) StartCall(_ context.Context, c twilio.Call) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.callFails) > 0 {
		err := f.callFails[0]
		f.callFails = f.callFails[1:]
		return "", err
	}
	if utf8.RuneCountInString(c.Twiml) > mocktwilio.MaxInlineTwiml {
		return "", fmt.Errorf("twilio: create: %w", &twilio.Error{Status: 400, Code: 32018, Message: "Twiml exceeds 4000 characters"})
	}
	sid := fmt.Sprintf("CA%032d", len(f.calls)+1)
	f.calls = append(f.calls, sent{Call: c, SID: sid, At: f.now()})
	return sid, nil
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

// staticConfig is a ConfigSource that can be swapped.
type staticConfig struct {
	mu  sync.Mutex
	cfg *team.Config
}

func (s *staticConfig) Current() *team.Config {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cfg
}

func (s *staticConfig) set(c *team.Config) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cfg = c
}

// teamJSON is a team of n users u000… (u000 on call), each reached by SMS
// and e-mail, with patches on top.
func teamJSON(n int, patches ...teamtest.Patch) []byte {
	users := map[string]any{}
	for i := range n {
		id := fmt.Sprintf("u%03d", i)
		u := teamtest.User(id, fmt.Sprintf("User %d", i), fmt.Sprintf("+1555%07d", 1000000+i))
		u["email"] = id + "@example.com"
		u["channels"] = map[string]any{"sms": map[string]any{}, "email": map[string]any{}}
		users[id] = u
	}
	return teamtest.Default(teamtest.Set("available_users.users", users), teamtest.OnCall("u000")).With(patches...).JSON()
}

func parseTeam(t testing.TB, js []byte) *team.Config {
	t.Helper()
	cfg, err := team.Parse(js)
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	return cfg
}

// fakeEmail accepts every e-mail, counting them.
type fakeEmail struct {
	mu   sync.Mutex
	now  func() time.Time
	sent []time.Time
	to   []string
}

type fakeEmailSender struct {
	f  *fakeEmail
	to []string
}

func (s fakeEmailSender) Send(context.Context, channel.Message) (channel.Receipt, error) {
	s.f.mu.Lock()
	defer s.f.mu.Unlock()
	s.f.sent = append(s.f.sent, s.f.now())
	s.f.to = append(s.f.to, s.to...)
	return channel.Receipt{ID: fmt.Sprintf("<%d@test>", len(s.f.sent))}, nil
}

func (f *fakeEmail) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.sent)
}

// rig is an Outbound, a queue and their fakes.
type rig struct {
	clock *testclock.Clock
	st    *storetest.Mem
	tw    *fakeTwilio
	mail  *fakeEmail
	cfg   *staticConfig
	out   *outbound.Outbound
	ntf   *Service
	q     *jobs.Queue
}

type rigOptions struct {
	users       int
	patches     []teamtest.Patch // on the team
	workers     int
	rates       outbound.Rates
	maxRateWait time.Duration
	waiters     int
	st          *storetest.Mem
	clock       *testclock.Clock
	realClock   bool
}

func newRig(t testing.TB, o rigOptions) *rig {
	t.Helper()
	r := &rig{clock: o.clock, st: o.st}
	if r.clock == nil {
		r.clock = testclock.New()
	}
	if r.st == nil {
		r.st = storetest.NewMem()
	}
	now, sleep := r.clock.Now, r.clock.Sleep
	if o.realClock {
		now, sleep = time.Now, nil
	}
	r.tw = &fakeTwilio{now: now}
	r.mail = &fakeEmail{now: now}
	r.cfg = &staticConfig{cfg: parseTeam(t, teamJSON(o.users, o.patches...))}
	var sms, calls *outbound.Limiter
	if o.rates.SMSPerSecond > 0 {
		sms = outbound.NewLimiter(o.rates.SMSPerSecond, now, sleep)
	}
	if o.rates.CallsPerSecond > 0 {
		calls = outbound.NewLimiter(o.rates.CallsPerSecond, now, sleep)
	}
	// Without fixed rates the limiters follow the config, on the rig's clock.
	r.out = outbound.New(outbound.Options{
		Twilio: r.tw, Config: r.cfg, Now: now, Sleep: sleep,
		SMSLimiter: sms, CallLimiter: calls, RateWaiters: o.waiters, MaxRateWait: o.maxRateWait,
		Email: func(e channel.Email) channel.Sender { return fakeEmailSender{f: r.mail, to: e.To} },
	})
	r.ntf = New(r.out, Options{Store: r.st, Config: r.cfg, BaseURL: "https://pager.example.test", Now: now})
	r.q = jobs.New(r.st, jobs.Options{Now: now, Workers: o.workers, Lease: time.Hour,
		Backoff: func(int) time.Duration { return time.Second }})
	r.ntf.Register(r.q)
	return r
}

// notification for every user of the rig's team.
func (r *rig) notification(t testing.TB, msg string) Notification {
	t.Helper()
	cfg := r.cfg.Current()
	var rcs []Recipient
	for _, id := range cfg.UserIDs() {
		rc, err := ResolveContact(cfg, id)
		if err != nil {
			t.Fatal(err)
		}
		rcs = append(rcs, rc)
	}
	return Notification{ID: NewID(), Source: "group:everyone", Message: msg, Recipients: rcs, APIKey: "test"}
}

// drain runs the queue on the fake clock until nothing is pending: each
// round runs what is due, then moves the clock to the next step due.
func (r *rig) drain(t testing.TB, id string) jobs.Job {
	t.Helper()
	ctx := context.Background()
	for range 100000 {
		if err := r.q.RunOnce(ctx); err != nil {
			t.Fatal(err)
		}
		j := r.job(t, id)
		if j.Finished() {
			if err := r.q.RunOnce(ctx); err != nil { // move it to done/
				t.Fatal(err)
			}
			return j
		}
		var next time.Time
		for _, s := range j.Steps {
			if s.State == jobs.StepPending && (next.IsZero() || s.NextAt.Before(next)) {
				next = s.NextAt
			}
		}
		if next.After(r.clock.Now()) {
			r.clock.Set(next)
		}
	}
	t.Fatal("queue did not drain")
	return jobs.Job{}
}

// job is notification id's recipient jobs as one: their steps in the
// recipients' order, finished when all are. The test fails if a job is
// missing.
func (r *rig) job(t testing.TB, id string) jobs.Job {
	t.Helper()
	js, err := r.q.List(context.Background(), JobsPrefix(id))
	if err != nil {
		t.Fatal(err)
	}
	obj, err := r.st.Get(context.Background(), recordKey(id))
	if err != nil {
		t.Fatalf("notification record: %v", err)
	}
	var rec record
	if err := json.Unmarshal(obj.Data, &rec); err != nil {
		t.Fatal(err)
	}
	if len(js) != rec.Jobs {
		t.Fatalf("%d jobs for notification %s, want %d", len(js), id, rec.Jobs)
	}
	all := jobs.Job{ID: JobsPrefix(id), Kind: KindNotification}
	for _, j := range js {
		all.Steps = append(all.Steps, j.Steps...)
	}
	return all
}

func smsLimiter(o *outbound.Outbound) *outbound.Limiter {
	l, _ := o.Limiters()
	return l
}

func callLimiter(o *outbound.Outbound) *outbound.Limiter {
	_, l := o.Limiters()
	return l
}
