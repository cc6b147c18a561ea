package alerts_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oncall/pager/app/alerts"
	"github.com/oncall/pager/app/jobs"
	"github.com/oncall/pager/internal/testclock"
	"github.com/oncall/pager/store"
	"github.com/oncall/pager/store/local"
)

var t0 = testclock.StartTime()

func newClock() *testclock.Clock { return testclock.New() }

// page is one call to the fake pager.
type page struct {
	At      time.Time
	AlertID string
	Code    string
	Users   []string
	Ref     string
	Digest  []string // alert ids, for a digest
	More    int
}

// recorder is the Pager and Notifier of the tests: it remembers every call,
// stamped with the fake clock.
type recorder struct {
	clk  *testclock.Clock
	mu   sync.Mutex
	page []page
	told []page
	fail error // returned by Page while set
	// refuse: users whose page SMS Page reports refused at once.
	refuse []string
	// failOnce: users whose next page fails with the error given; the
	// others in the call are paged.
	failOnce map[string]error
}

func (r *recorder) Page(ctx context.Context, a alerts.Alert, users []string) ([]alerts.Delivery, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail != nil {
		return nil, r.fail
	}
	var paged []string
	var errs []error
	for _, u := range users {
		if err, ok := r.failOnce[u]; ok {
			delete(r.failOnce, u)
			errs = append(errs, err)
			continue
		}
		paged = append(paged, u)
	}
	r.page = append(r.page, page{At: r.clk.Now(), AlertID: a.ID, Code: a.Code, Users: paged, Ref: alerts.StepRef(ctx)})
	var refused []alerts.Delivery
	for _, u := range paged {
		if slices.Contains(r.refuse, u) {
			refused = append(refused, alerts.Delivery{SID: "send-" + u, UserID: u, Channel: alerts.ChannelSMS, Status: "failed", Outcome: alerts.DeliveryNotReached, Progress: 4})
		}
	}
	return refused, errors.Join(errs...)
}

func (r *recorder) PageDigest(ctx context.Context, d alerts.Digest) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	ids := []string{}
	for _, a := range d.Alerts {
		ids = append(ids, a.ID)
	}
	r.page = append(r.page, page{At: r.clk.Now(), Users: []string{d.UserID}, Ref: alerts.StepRef(ctx), Digest: ids, More: d.More})
	return nil
}

func (r *recorder) Notify(ctx context.Context, a alerts.Alert, users []string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.told = append(r.told, page{At: r.clk.Now(), AlertID: a.ID, Users: slices.Clone(users), Ref: alerts.StepRef(ctx)})
	return nil
}

func (r *recorder) pages() []page {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.page)
}

func (r *recorder) notices() []page {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.told)
}

// pagesTo lists the single-alert pages of alertID.
func (r *recorder) pagesOf(alertID string) []page {
	var out []page
	for _, p := range r.pages() {
		if p.AlertID == alertID {
			out = append(out, p)
		}
	}
	return out
}

// roster: alice is on call; ops is bob and dave; everyone is all four.
type roster struct{}

func (roster) Members(_ context.Context, t alerts.Target) ([]string, error) {
	switch {
	case t == alerts.TargetOnCall:
		return []string{"alice"}, nil
	case t == alerts.TargetEveryone:
		return []string{"alice", "bob", "carol", "dave"}, nil
	}
	if g, ok := t.Group(); ok && g == "ops" {
		return []string{"bob", "dave"}, nil
	}
	if u, ok := t.User(); ok {
		return []string{u}, nil
	}
	return nil, nil
}

// env is one replica: its own store handle, queue (owner) and service.
type env struct {
	st  store.Store
	q   *jobs.Queue
	svc *alerts.Service
}

func newEnv(t testing.TB, st store.Store, owner string, clk *testclock.Clock, rec *recorder, set alerts.Settings) *env {
	t.Helper()
	q := jobs.New(st, jobs.Options{Owner: owner, Now: clk.Now, Backoff: func(int) time.Duration { return time.Minute }})
	svc := alerts.New(st, alerts.Options{
		Jobs: q, Pager: rec, Notifier: rec, Roster: roster{},
		Settings: func() alerts.Settings { return set },
		Now:      clk.Now,
	})
	return &env{st: st, q: q, svc: svc}
}

func newLocal(t testing.TB, dir string) store.Store {
	t.Helper()
	st, err := local.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func (e *env) run(t testing.TB) {
	t.Helper()
	if err := e.q.RunOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func (e *env) trigger(t testing.TB, key, summary string) alerts.Alert {
	t.Helper()
	a, _, err := e.svc.Trigger(context.Background(), alerts.Event{Action: alerts.EventTrigger, DedupKey: key, Summary: summary, Source: "test"})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// policy: the on-call, then the ops group 5 minutes later, then everyone 10
// minutes after that.
func testSettings(repeat int) alerts.Settings {
	return alerts.Settings{
		Policy: alerts.Policy{
			Steps: []alerts.PolicyStep{
				{Targets: []alerts.Target{alerts.TargetOnCall}, Delay: 5 * time.Minute},
				{Targets: []alerts.Target{alerts.GroupTarget("ops")}, Delay: 10 * time.Minute},
				{Targets: []alerts.Target{alerts.TargetEveryone}, Delay: 15 * time.Minute},
			},
			Repeat: repeat,
		},
		Throttle: alerts.Throttle{MaxPages: 100, Window: 10 * time.Minute},
	}
}

// jobIDs lists the queue's job ids under active/ and done/.
func jobIDs(t testing.TB, st store.Store) []string {
	t.Helper()
	infos, err := st.List(context.Background(), "jobs/")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, in := range infos {
		name := in.Key[strings.LastIndex(in.Key, "/")+1:]
		out = append(out, strings.TrimSuffix(name, ".json"))
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func mustNotFound(t testing.TB, err error) {
	t.Helper()
	if !errors.Is(err, alerts.ErrNotFound) {
		t.Fatalf("err = %v, want ErrNotFound", err)
	}
}
