package alerts_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/oncall/pager/app/alerts"
	"github.com/oncall/pager/app/jobs"
	"github.com/oncall/pager/internal/testclock"
	"github.com/oncall/pager/store"
)

// runAt moves the clock and lets the replicas run what is due.
func runAt(t *testing.T, clk *testclock.Clock, at time.Duration, envs ...*env) {
	t.Helper()
	clk.Set(t0.Add(at))
	for _, e := range envs {
		e.run(t)
	}
}

// Nobody answers: each step pages its targets at its time, not before.
func TestNobodyAnswersNextStepPagesOnTime(t *testing.T) {
	clk := newClock()
	rec := &recorder{clk: clk}
	e := newEnv(t, newLocal(t, t.TempDir()), "r1", clk, rec, testSettings(1))
	a := e.trigger(t, "db", "db down")

	runAt(t, clk, 0, e)
	runAt(t, clk, 5*time.Minute-time.Second, e)
	runAt(t, clk, 5*time.Minute, e)
	runAt(t, clk, 15*time.Minute-time.Second, e)
	runAt(t, clk, 15*time.Minute, e)
	runAt(t, clk, 30*time.Minute, e) // second round, step 1
	runAt(t, clk, 35*time.Minute, e)
	runAt(t, clk, 45*time.Minute, e)
	runAt(t, clk, 3*time.Hour, e) // nothing after the last round

	type want struct {
		at    time.Duration
		users []string
	}
	wants := []want{
		{0, []string{"alice"}},
		{5 * time.Minute, []string{"bob", "dave"}},
		{15 * time.Minute, []string{"alice", "bob", "carol", "dave"}},
		{30 * time.Minute, []string{"alice"}},
		{35 * time.Minute, []string{"bob", "dave"}},
		{45 * time.Minute, []string{"alice", "bob", "carol", "dave"}},
	}
	got := rec.pagesOf(a.ID)
	if len(got) != len(wants) {
		t.Fatalf("got %d pages, want %d: %+v", len(got), len(wants), got)
	}
	for i, w := range wants {
		if !got[i].At.Equal(t0.Add(w.at)) || !slices.Equal(got[i].Users, w.users) {
			t.Errorf("page %d: %v at +%v; want %v at +%v", i, got[i].Users, got[i].At.Sub(t0), w.users, w.at)
		}
		if got[i].Code != "1" {
			t.Errorf("page %d carries code %q", i, got[i].Code)
		}
	}
	if got[0].Ref != "esc-"+a.ID+"/page-0-0" {
		t.Errorf("StepRef = %q", got[0].Ref)
	}
	j, err := e.q.Get(context.Background(), "esc-"+a.ID)
	if err != nil || !j.Finished() {
		t.Fatalf("escalation job finished=%v, %v", j.Finished(), err)
	}
	al, _ := e.svc.Get(context.Background(), a.ID)
	if !slices.Equal(al.PagedUsers, []string{"alice", "bob", "dave", "carol"}) {
		t.Errorf("paged users = %v", al.PagedUsers)
	}
}

// Acknowledging stops the escalation at once; everyone already paged is
// told who took it; the remaining steps never page.
func TestAckStopsEscalationAndTellsThePaged(t *testing.T) {
	clk := newClock()
	rec := &recorder{clk: clk}
	e := newEnv(t, newLocal(t, t.TempDir()), "r1", clk, rec, testSettings(2))
	ctx := context.Background()
	a := e.trigger(t, "db", "db down")
	runAt(t, clk, 0, e)
	runAt(t, clk, 5*time.Minute, e)
	if n := len(rec.pagesOf(a.ID)); n != 2 {
		t.Fatalf("%d pages before the ack, want 2", n)
	}

	clk.Set(t0.Add(6 * time.Minute))
	tr, err := e.svc.Ack(ctx, a.Code, "dave")
	if err != nil || tr.Outcome != alerts.OutcomeChanged {
		t.Fatal(tr.Outcome, err)
	}
	if !slices.Equal(tr.Told, []string{"alice", "bob"}) {
		t.Errorf("told = %v; want alice and bob (dave took it)", tr.Told)
	}
	for _, at := range []time.Duration{6 * time.Minute, 15 * time.Minute, 30 * time.Minute, 2 * time.Hour, 5 * time.Hour} {
		runAt(t, clk, at, e)
	}
	if n := len(rec.pagesOf(a.ID)); n != 2 {
		t.Fatalf("%d pages after the ack, want still 2", n)
	}
	told := rec.notices()
	if len(told) != 1 || told[0].AlertID != a.ID || !slices.Equal(told[0].Users, []string{"alice", "bob"}) {
		t.Fatalf("notices = %+v; want alice and bob told once", told)
	}
	j, err := e.q.Get(ctx, "esc-"+a.ID)
	if err != nil || !j.Finished() || j.Failed() {
		t.Fatalf("job finished=%v failed=%v %v", j.Finished(), j.Failed(), err)
	}
	cancelled := 0
	for _, s := range j.Steps {
		var r alerts.PageResult
		if s.Decode(&r) == nil && r.Status == alerts.PageCancelled {
			cancelled++
		}
	}
	if cancelled != 7 { // 3 steps × 3 rounds, 2 ran
		t.Errorf("%d steps cancelled, want 7", cancelled)
	}
	// A second ack changes nothing and tells nobody again.
	if tr, _ := e.svc.Ack(ctx, a.Code, "bob"); tr.Outcome != alerts.OutcomeAlreadyAcknowledged {
		t.Errorf("second ack: %s", tr.Outcome)
	}
	runAt(t, clk, 6*time.Hour, e)
	if n := len(rec.notices()); n != 1 {
		t.Errorf("%d notices after a second ack, want 1", n)
	}
}

// Closing an alert nobody acknowledged stops paging and tells the paged.
func TestCloseStopsEscalation(t *testing.T) {
	clk := newClock()
	rec := &recorder{clk: clk}
	e := newEnv(t, newLocal(t, t.TempDir()), "r1", clk, rec, testSettings(0))
	a := e.trigger(t, "db", "db down")
	runAt(t, clk, 0, e)
	if _, err := e.svc.Close(context.Background(), a.ID, "api:prometheus"); err != nil {
		t.Fatal(err)
	}
	runAt(t, clk, time.Hour, e)
	if n := len(rec.pagesOf(a.ID)); n != 1 {
		t.Fatalf("%d pages, want 1", n)
	}
	if told := rec.notices(); len(told) != 1 || !slices.Equal(told[0].Users, []string{"alice"}) {
		t.Fatalf("notices = %+v", told)
	}
}

// A restart mid-escalation (a new queue and service on the same store, the
// old ones gone) pages each remaining step once, on time.
func TestRestartMidEscalation(t *testing.T) {
	dir := t.TempDir()
	clk := newClock()
	rec := &recorder{clk: clk}
	before := newEnv(t, newLocal(t, dir), "before", clk, rec, testSettings(0))
	a := before.trigger(t, "db", "db down")
	runAt(t, clk, 0, before)
	runAt(t, clk, 5*time.Minute, before)

	after := newEnv(t, newLocal(t, dir), "after", clk, rec, testSettings(0))
	for _, at := range []time.Duration{5 * time.Minute, 10 * time.Minute, 15 * time.Minute, 15*time.Minute + time.Second, time.Hour} {
		runAt(t, clk, at, after)
	}
	got := rec.pagesOf(a.ID)
	var refs []string
	for _, p := range got {
		refs = append(refs, fmt.Sprintf("%s@+%v", p.Ref[len(p.Ref)-8:], p.At.Sub(t0)))
	}
	want := []string{"page-0-0@+0s", "page-0-1@+5m0s", "page-0-2@+15m0s"}
	if !slices.Equal(refs, want) {
		t.Fatalf("pages %v, want %v", refs, want)
	}
}

// A replica that dies holding the job (its lease) mid-step: another takes
// over after the lease expires and the step is paged (at least once: the
// dead one never reached the pager).
func TestReplicaDiesHoldingTheJob(t *testing.T) {
	dir := t.TempDir()
	clk := newClock()
	rec := &recorder{clk: clk}
	dead := newEnv(t, newLocal(t, dir), "dead", clk, rec, testSettings(0))
	a := dead.trigger(t, "db", "db down")
	// Simulate the crash: the dead replica's lease on the job, no outcome.
	writeLease(t, dead, "esc-"+a.ID, "dead", t0.Add(time.Minute))

	alive := newEnv(t, newLocal(t, dir), "alive", clk, rec, testSettings(0))
	runAt(t, clk, 30*time.Second, alive)
	if n := len(rec.pagesOf(a.ID)); n != 0 {
		t.Fatalf("paged under another replica's live lease")
	}
	runAt(t, clk, time.Minute+time.Second, alive)
	got := rec.pagesOf(a.ID)
	if len(got) != 1 || !slices.Equal(got[0].Users, []string{"alice"}) {
		t.Fatalf("pages = %+v; want alice once after the lease expired", got)
	}
}

// Two replicas on one store, running at the same moments: every escalation
// step fires exactly once.
func TestTwoReplicasEachStepOnce(t *testing.T) {
	dir := t.TempDir()
	clk := newClock()
	rec := &recorder{clk: clk}
	r1 := newEnv(t, newLocal(t, dir), "r1", clk, rec, testSettings(1))
	r2 := newEnv(t, newLocal(t, dir), "r2", clk, rec, testSettings(1))
	const n = 6
	var ids []string
	for i := range n {
		e := []*env{r1, r2}[i%2]
		ids = append(ids, e.trigger(t, fmt.Sprint("problem-", i), fmt.Sprint("problem ", i)).ID)
	}
	for _, at := range []time.Duration{0, time.Second, 5 * time.Minute, 15 * time.Minute, 30 * time.Minute, 35 * time.Minute, 45 * time.Minute, 2 * time.Hour} {
		clk.Set(t0.Add(at))
		for range 2 { // twice per moment, both replicas at once
			var wg sync.WaitGroup
			for _, e := range []*env{r1, r2} {
				wg.Go(func() {
					if err := e.q.RunOnce(context.Background()); err != nil {
						t.Error(err)
					}
				})
			}
			wg.Wait()
		}
	}
	count := map[string]int{}
	for _, p := range rec.pages() {
		count[p.Ref]++
	}
	for _, id := range ids {
		for r := range 2 {
			for s := range 3 {
				ref := fmt.Sprintf("esc-%s/page-%d-%d", id, r, s)
				if count[ref] != 1 {
					t.Errorf("%s paged %d times, want 1", ref, count[ref])
				}
				delete(count, ref)
			}
		}
	}
	if len(count) != 0 {
		t.Errorf("unexpected pages: %v", count)
	}
}

// A page that fails (outbound path down) is retried; the escalation does
// not wait for it.
func TestFailedPageIsRetried(t *testing.T) {
	clk := newClock()
	rec := &recorder{clk: clk, fail: errors.New("twilio down")}
	e := newEnv(t, newLocal(t, t.TempDir()), "r1", clk, rec, testSettings(0))
	a := e.trigger(t, "db", "db down")
	runAt(t, clk, 0, e)
	rec.mu.Lock()
	rec.fail = nil
	rec.mu.Unlock()
	runAt(t, clk, time.Minute, e) // test backoff is one minute
	got := rec.pagesOf(a.ID)
	if len(got) != 1 || !got[0].At.Equal(t0.Add(time.Minute)) {
		t.Fatalf("pages = %+v; want one retry at +1m", got)
	}
	al, _ := e.svc.Get(context.Background(), a.ID)
	paged := 0
	for _, h := range al.History {
		if h.Action == alerts.ActionPaged {
			paged++
		}
	}
	if paged != 1 {
		t.Errorf("history records the page %d times, want once", paged)
	}
}

// One user's page failing fails the step, but its retry pages only that
// user: the others already have the page.
func TestRetriedPageSkipsUsersAlreadyPaged(t *testing.T) {
	clk := newClock()
	rec := &recorder{clk: clk, failOnce: map[string]error{"dave": &alerts.PageError{UserID: "dave", Err: errors.New("twilio: 503")}}}
	set := testSettings(0)
	set.Policy.Steps = set.Policy.Steps[1:] // the ops group first: bob, then dave
	e := newEnv(t, newLocal(t, t.TempDir()), "r1", clk, rec, set)
	a := e.trigger(t, "db", "db down")
	runAt(t, clk, 0, e)
	runAt(t, clk, time.Minute, e) // test backoff is one minute
	runAt(t, clk, 2*time.Minute, e)

	count := map[string]int{}
	for _, p := range rec.pagesOf(a.ID) {
		for _, u := range p.Users {
			count[u]++
		}
	}
	if count["bob"] != 1 || count["dave"] != 1 || len(count) != 2 {
		t.Fatalf("pages per user %v (%+v); want bob and dave once each", count, rec.pagesOf(a.ID))
	}
	j, err := e.q.Get(context.Background(), "esc-"+a.ID)
	if err != nil {
		t.Fatal(err)
	}
	st := j.Step("page-0-0")
	var res alerts.PageResult
	if st == nil || st.State != jobs.StepDone || st.Attempts != 2 || st.Decode(&res) != nil || !slices.Equal(res.Users, []string{"bob", "dave"}) {
		t.Fatalf("step %+v; want done on the second attempt, paging bob and dave", st)
	}
}

// An error that names no user leaves unknown who was paged: the retry
// pages everyone again rather than risk leaving someone out.
func TestRetriedPageRepagesAllOnAnUnattributedError(t *testing.T) {
	clk := newClock()
	rec := &recorder{clk: clk, failOnce: map[string]error{"dave": errors.New("twilio: 503")}}
	set := testSettings(0)
	set.Policy.Steps = set.Policy.Steps[1:]
	e := newEnv(t, newLocal(t, t.TempDir()), "r1", clk, rec, set)
	a := e.trigger(t, "db", "db down")
	runAt(t, clk, 0, e)
	runAt(t, clk, time.Minute, e)

	got := rec.pagesOf(a.ID)
	if len(got) != 2 || !slices.Equal(got[0].Users, []string{"bob"}) || !slices.Equal(got[1].Users, []string{"bob", "dave"}) {
		t.Fatalf("pages = %+v; want bob, then bob and dave on the retry", got)
	}
}

// A flapping source: the on-call gets MaxPages pages in the window, the
// rest in one digest when it reopens; no alert is left out, even one
// acknowledged meanwhile.
func TestThrottleBundlesNeverDrops(t *testing.T) {
	clk := newClock()
	rec := &recorder{clk: clk}
	set := alerts.Settings{
		Policy:   alerts.Policy{Steps: []alerts.PolicyStep{{Targets: []alerts.Target{alerts.TargetOnCall}}}},
		Throttle: alerts.Throttle{MaxPages: 3, Window: 10 * time.Minute},
	}
	e := newEnv(t, newLocal(t, t.TempDir()), "r1", clk, rec, set)
	ctx := context.Background()
	var ids []string
	for i := range 7 {
		clk.Set(t0.Add(time.Duration(i) * time.Minute))
		ids = append(ids, e.trigger(t, fmt.Sprint("flap-", i), fmt.Sprint("flap ", i)).ID)
		e.run(t)
	}
	direct := 0
	for _, p := range rec.pages() {
		if p.Digest == nil {
			direct++
		}
	}
	if direct != 3 {
		t.Fatalf("%d pages went out in the window, want 3", direct)
	}
	// One held alert is acknowledged before the digest: still listed.
	if _, err := e.svc.Ack(ctx, ids[4], "bob"); err != nil {
		t.Fatal(err)
	}
	runAt(t, clk, 10*time.Minute-time.Second, e)
	if n := len(rec.pages()); n != 3 {
		t.Fatalf("digest before the window reopened (%d pages)", n)
	}
	runAt(t, clk, 10*time.Minute, e)
	pages := rec.pages()
	if len(pages) != 4 || !slices.Equal(pages[3].Digest, ids[3:]) || !pages[3].At.Equal(t0.Add(10*time.Minute)) {
		t.Fatalf("pages = %+v; want a digest of %v at +10m", pages, ids[3:])
	}
	covered := map[string]bool{}
	for _, p := range pages {
		covered[p.AlertID] = true
		for _, id := range p.Digest {
			covered[id] = true
		}
	}
	for _, id := range ids {
		if !covered[id] {
			t.Errorf("alert %s never reached the on-call", id)
		}
	}
	al, _ := e.svc.Get(ctx, ids[5])
	if !slices.ContainsFunc(al.History, func(h alerts.Entry) bool { return h.Action == alerts.ActionThrottled }) ||
		!slices.ContainsFunc(al.History, func(h alerts.Entry) bool { return h.Action == alerts.ActionDigest }) {
		t.Errorf("history of a held alert lacks throttled/digest: %+v", al.History)
	}

	// The window has room again: the digest counts as one page.
	clk.Set(t0.Add(11 * time.Minute))
	more := e.trigger(t, "after", "after the digest")
	e.run(t)
	if got := rec.pagesOf(more.ID); len(got) != 1 {
		t.Fatalf("page after the digest: %+v", got)
	}
	runAt(t, clk, time.Hour, e)
	if n := len(rec.pages()); n != 5 {
		t.Errorf("%d pages in all, want 5", n)
	}
}

// writeLease puts owner's lease on a job, as a runner that claimed it and
// died would leave it.
func writeLease(t *testing.T, e *env, id, owner string, until time.Time) {
	t.Helper()
	ctx := context.Background()
	key := "jobs/active/" + id + ".json"
	obj, err := e.st.Get(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	var j jobs.Job
	if err := json.Unmarshal(obj.Data, &j); err != nil {
		t.Fatal(err)
	}
	j.Lease = &jobs.Lease{Owner: owner, Until: until}
	j.Version++
	data, _ := json.Marshal(&j)
	if _, err := e.st.Put(ctx, key, data, store.Cond{IfMatch: obj.ETag}); err != nil {
		t.Fatal(err)
	}
}

// A flood beyond what one digest lists is counted, not dropped.
func TestThrottleFloodCounted(t *testing.T) {
	clk := newClock()
	rec := &recorder{clk: clk}
	set := alerts.Settings{
		Policy:   alerts.Policy{Steps: []alerts.PolicyStep{{Targets: []alerts.Target{alerts.TargetOnCall}}}},
		Throttle: alerts.Throttle{MaxPages: 1, Window: time.Minute},
	}
	e := newEnv(t, newLocal(t, t.TempDir()), "r1", clk, rec, set)
	const n = 1 + alerts.MaxHeld + 3
	for i := range n {
		e.trigger(t, fmt.Sprint("flood-", i), "flood")
	}
	e.run(t)
	runAt(t, clk, time.Minute, e)
	pages := rec.pages()
	if len(pages) != 2 {
		t.Fatalf("%d pages, want one page and one digest", len(pages))
	}
	d := pages[1]
	if len(d.Digest) != alerts.MaxHeld || d.More != 3 {
		t.Fatalf("digest lists %d and counts %d more; want %d and 3", len(d.Digest), d.More, alerts.MaxHeld)
	}
	runAt(t, clk, time.Hour, e)
	if len(rec.pages()) != 2 {
		t.Errorf("a second digest followed: %+v", rec.pages()[2:])
	}
}
