package handover

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oncall/pager/app/audit"
	"github.com/oncall/pager/app/jobs"
	"github.com/oncall/pager/app/team"
	"github.com/oncall/pager/internal/testclock"
	"github.com/oncall/pager/store"
	"github.com/oncall/pager/store/storetest"
)

// texts records what was queued, by id, as the durable text queue would
// keep it: a second text under one id is the duplicate the queue drops,
// and the test fails on it.
type texts struct {
	mu    sync.Mutex
	byID  map[string]string
	order []string
	dups  []string
}

func (x *texts) TextOnce(_ context.Context, id, from, to, body string) error {
	x.mu.Lock()
	defer x.mu.Unlock()
	if _, ok := x.byID[id]; ok {
		x.dups = append(x.dups, id)
		return nil
	}
	x.byID[id] = to + ": " + body
	x.order = append(x.order, id)
	return nil
}

const configKey = "oncall_config.json"

func configJSON(rotationStart string, overrides string) []byte {
	return []byte(`{
  "available_users": {"users": {
    "alice": {"id": "alice", "name": "Alice", "phone": "+19195551001"},
    "bob":   {"id": "bob",   "name": "Bob",   "phone": "+19195551002"},
    "carol": {"id": "carol", "name": "Carol", "phone": "+19195551003"}
  }},
  "current_config": {
    "from_phone": "+19195559876", "pager_phone": "+18002255288",
    "oncall_user": {"id": "alice", "name": "Alice", "phone": "+19195551001"},
    "last_modified_time": 1, "last_modified_user_id": "alice",
    "timezone": "America/New_York", "ops_note": "kept"
  },
  "schedule": {
    "rotations": [{"name": "weekly", "members": ["alice", "bob", "carol"], "start": "` + rotationStart + `", "shift": "1w"}],
    "overrides": [` + overrides + `],
    "reminder": "1h"
  }
}`)
}

// replica is one running pager process.
type replica struct {
	mgr *team.Manager
	q   *jobs.Queue
	svc *Service
}

func newReplica(t *testing.T, st store.Store, clk *testclock.Clock, tx *texts, name string) *replica {
	t.Helper()
	mgr := team.NewManager(st, configKey, team.ManagerOptions{Now: clk.Now})
	if err := mgr.Load(context.Background()); err != nil {
		t.Fatal(err)
	}
	q := jobs.New(st, jobs.Options{Now: clk.Now, Owner: name + fmt.Sprint(time.Now().UnixNano()), Lease: time.Minute})
	svc := New(Options{Config: mgr, Jobs: q, Texter: tx, Audit: audit.New(st, clk.Now, nil), Now: clk.Now})
	return &replica{mgr: mgr, q: q, svc: svc}
}

func (r *replica) tick(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	if err := r.mgr.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if err := r.svc.Plan(ctx); err != nil {
		t.Fatal(err)
	}
	if err := r.q.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
}

func stored(t *testing.T, st store.Store) *team.Config {
	t.Helper()
	obj, err := st.Get(context.Background(), configKey)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := team.Parse(obj.Data)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// TestWeekOfHandOvers runs a week (and a bit) of a three-person weekly
// rotation with an override, on two replicas sharing one store, both down
// across one boundary, with an ops upload that moves the rotation mid-week.
func TestWeekOfHandOvers(t *testing.T) {
	ny, _ := time.LoadLocation("America/New_York")
	at := func(s string) time.Time {
		v, err := time.ParseInLocation("2006-01-02 15:04", s, ny)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	st := storetest.NewMem()
	// Carol covers Wednesday 12:00-18:00 (bob's week).
	override := `{"member": "carol", "from": "2026-12-09T12:00", "to": "2026-12-09T18:00"}`
	if _, err := st.Put(context.Background(), configKey, configJSON("2026-11-30T09:00", override), store.Cond{}); err != nil {
		t.Fatal(err)
	}
	clk := testclock.At(at("2026-12-07 06:00"))
	tx := &texts{byID: map[string]string{}}
	a := newReplica(t, st, clk, tx, "a")
	b := newReplica(t, st, clk, tx, "b")

	// Each step: both replicas plan and run their jobs; then the stored
	// config must name whom the schedule names.
	step := 5 * time.Minute
	var changes []string
	prev := stored(t, st).CurrentConfig.OncallUser.ID
	run := func(until time.Time, reps ...*replica) {
		for clk.Now().Before(until) {
			clk.Set(clk.Now().Add(step))
			for _, r := range reps {
				r.tick(t)
			}
			cfg := stored(t, st)
			got := cfg.CurrentConfig.OncallUser.ID
			s, _ := cfg.OnCallSchedule()
			want, _ := s.Who(clk.Now())
			if got != want && len(reps) > 0 {
				t.Fatalf("%s: stored config names %s, schedule %s", clk.Now().In(ny), got, want)
			}
			if got != prev {
				changes = append(changes, fmt.Sprintf("%s %s->%s by %s", clk.Now().In(ny).Format("Mon 15:04"), prev, got, cfg.CurrentConfig.LastModifiedUserID))
				prev = got
			}
		}
	}
	run(at("2026-12-09 15:00"), a, b)

	// Ops move the rotation's start a day later (hand-overs on Tuesdays);
	// the override stays.
	if _, err := st.Put(context.Background(), configKey, configJSON("2026-12-01T09:00", override), store.Cond{}); err != nil {
		t.Fatal(err)
	}
	// The upload made the stored oncall_user "alice" again (ops' file);
	// the schedule says carol (override) until 18:00, then bob.
	prev = "alice"
	run(at("2026-12-14 07:00"), a, b)

	// Both replicas down across Tuesday 09:00; a new process comes back at
	// 11:00 and applies it late.
	clk.Set(at("2026-12-15 11:00"))
	c := newReplica(t, st, clk, tx, "c")
	run(at("2026-12-15 12:00"), c)

	want := []string{
		"Mon 09:00 alice->bob by schedule",
		"Wed 12:00 bob->carol by schedule",
		"Wed 15:05 alice->carol by schedule", // the upload reset oncall_user; the planner catches up
		"Wed 18:00 carol->bob by schedule",
		"Tue 11:05 bob->carol by schedule",
	}
	if strings.Join(changes, "\n") != strings.Join(want, "\n") {
		t.Errorf("hand-overs:\n%s\nwant:\n%s", strings.Join(changes, "\n"), strings.Join(want, "\n"))
	}
	if len(tx.dups) > 0 {
		t.Errorf("texts queued twice: %v", tx.dups)
	}
	var got []string
	for _, id := range tx.order {
		got = append(got, tx.byID[id])
	}
	all := strings.Join(got, "\n")
	for _, w := range []string{
		"+19195551001: Alice, reminder: you are on call from", // not: alice is on call already at 06:00
		"+19195551002: Bob, reminder: you are on call from Mon 7 Dec 09:00 until Wed 9 Dec 12:00.",
		"+19195551002: Bob, you are on call until Wed 9 Dec 12:00, then Carol. Text WHO for details.",
		"+19195551001: Alice, your on-call shift has ended: Bob is on call until Wed 9 Dec 12:00.",
		"+19195551001: Alice, your on-call shift has ended: Carol is on call until Wed 9 Dec 18:00. (applied after a config upload that named another on-call)",
		"+19195551003: Carol, you are on call until Tue 22 Dec 09:00, then Alice. Text WHO for details. (late: the hand-over was due Tue 15 Dec 09:00, when the pager was not running)",
	} {
		if strings.HasPrefix(w, "+19195551001: Alice, reminder") {
			if strings.Contains(all, w) {
				t.Errorf("alice reminded of a shift she was already on:\n%s", all)
			}
			continue
		}
		if !strings.Contains(all, w) {
			t.Errorf("missing text %q in:\n%s", w, all)
		}
	}
	for _, s := range got {
		for _, r := range s {
			if r > 127 {
				t.Errorf("non-ASCII text %q", s)
			}
		}
	}
	if cfg := stored(t, st); cfg.CurrentConfig.Timezone != "America/New_York" {
		t.Error("config damaged")
	}
	obj, _ := st.Get(context.Background(), configKey)
	if !strings.Contains(string(obj.Data), `"ops_note": "kept"`) {
		t.Error("unknown key lost")
	}
	t.Logf("texts:\n%s", all)
}

// TestApplyRerunAfterCrash: an apply step that wrote the config but was
// cut off before its outcome was stored runs again; it writes nothing more
// and queues the same texts under the same ids (which the durable text
// queue drops).
func TestApplyRerunAfterCrash(t *testing.T) {
	ny, _ := time.LoadLocation("America/New_York")
	st := storetest.NewMem()
	ctx := context.Background()
	if _, err := st.Put(ctx, configKey, configJSON("2026-11-30T09:00", ""), store.Cond{}); err != nil {
		t.Fatal(err)
	}
	b := time.Date(2026, 12, 7, 9, 0, 0, 0, ny)
	clk := testclock.At(b.Add(time.Second))
	tx := &texts{byID: map[string]string{}}
	r := newReplica(t, st, clk, tx, "a")
	job := jobs.Job{ID: HandOverID(b), Kind: KindHandOver, Payload: []byte(fmt.Sprintf(`{"boundary": %d}`, b.Unix())),
		Steps: []jobs.Step{{Name: stepPlan, Result: []byte(`{"from": "alice"}`)}, {Name: stepApply}}}
	if _, err := r.svc.apply(ctx, &job, job.Step(stepApply)); err != nil {
		t.Fatal(err)
	}
	first, _ := st.Get(ctx, configKey)
	ids := append([]string(nil), tx.order...)
	clk.Set(b.Add(time.Minute))
	res, err := r.svc.apply(ctx, &job, job.Step(stepApply))
	if err != nil {
		t.Fatal(err)
	}
	second, _ := st.Get(ctx, configKey)
	if first.ETag != second.ETag {
		t.Error("the re-run wrote the config again")
	}
	if a := res.(applied); !a.Changed || a.From != "alice" || a.To != "bob" {
		t.Errorf("re-run result %+v", a)
	}
	if len(ids) != 2 || strings.Join(tx.dups, ",") != strings.Join(ids, ",") {
		t.Errorf("texts first %v, re-queued %v", ids, tx.dups)
	}
}

// TestDownAcrossSeveralBoundaries: a daily rotation, the only pager down
// for two and a half days: when it is back the old timer changes nothing
// and the present shift is handed over once, late.
func TestDownAcrossSeveralBoundaries(t *testing.T) {
	ny, _ := time.LoadLocation("America/New_York")
	st := storetest.NewMem()
	ctx := context.Background()
	// alice's day is Sunday 29 November, bob's Monday, carol's Tuesday.
	data := strings.Replace(string(configJSON("2026-11-23T09:00", "")), `"shift": "1w"`, `"shift": "1d"`, 1)
	if _, err := st.Put(ctx, configKey, []byte(data), store.Cond{}); err != nil {
		t.Fatal(err)
	}
	// Monday 08:00: alice's day is ending; the timer for 09:00 is queued.
	// The pager then stops for a day and a half.
	clk := testclock.At(time.Date(2026, 11, 30, 8, 0, 0, 0, ny))
	tx := &texts{byID: map[string]string{}}
	r := newReplica(t, st, clk, tx, "a")
	r.tick(t)
	if got := stored(t, st).CurrentConfig.OncallUser.ID; got != "alice" {
		t.Fatalf("on call %s", got)
	}
	// Back on Tuesday 21:00 (carol's day since 09:00), as a new process.
	clk.Set(time.Date(2026, 12, 1, 21, 0, 0, 0, ny))
	r = newReplica(t, st, clk, tx, "b")
	for range 3 {
		r.tick(t)
	}
	if got := stored(t, st).CurrentConfig.OncallUser.ID; got != "carol" {
		t.Fatalf("on call %s, want carol", got)
	}
	// Bob was reminded at 08:00 Monday, before the pager stopped.
	if len(tx.order) != 3 || !strings.HasPrefix(tx.order[0], "reminder-") || len(tx.dups) != 0 {
		t.Fatalf("texts %v dups %v", tx.order, tx.dups)
	}
	tx.order = tx.order[1:]
	in := tx.byID[tx.order[0]] + tx.byID[tx.order[1]]
	if !strings.Contains(in, "Carol, you are on call until Wed 2 Dec 09:00") || !strings.Contains(in, "late: the hand-over was due Tue 1 Dec 09:00") ||
		!strings.Contains(in, "Alice, your on-call shift has ended") {
		t.Errorf("texts:\n%s", strings.Join([]string{tx.byID[tx.order[0]], tx.byID[tx.order[1]]}, "\n"))
	}
	old, err := r.q.Get(ctx, HandOverID(time.Date(2026, 11, 30, 9, 0, 0, 0, ny)))
	if err != nil {
		t.Fatal(err)
	}
	var a applied
	if err := old.Step(stepApply).Decode(&a); err != nil || a.Changed {
		t.Errorf("Monday's timer: %+v %v", a, err)
	}
}

// TestNoHandOverToADisabledMember: the pager stays with whoever has it.
func TestNoHandOverToADisabledMember(t *testing.T) {
	ny, _ := time.LoadLocation("America/New_York")
	st := storetest.NewMem()
	data := strings.Replace(string(configJSON("2026-11-30T09:00", "")),
		`"phone": "+19195551003"}`, `"phone": "+19195551003", "enabled": false}`, 1)
	if _, err := st.Put(context.Background(), configKey, []byte(data), store.Cond{}); err != nil {
		t.Fatal(err)
	}
	clk := testclock.At(time.Date(2026, 12, 14, 8, 0, 0, 0, ny))
	tx := &texts{byID: map[string]string{}}
	r := newReplica(t, st, clk, tx, "a")
	for _, at := range []string{"08:00", "09:00", "09:05"} {
		hm, _ := time.Parse("15:04", at)
		clk.Set(time.Date(2026, 12, 14, hm.Hour(), hm.Minute(), 0, 0, ny))
		r.tick(t)
	}
	// Bob (caught up at 08:00: his week began on the 7th) keeps it.
	if got := stored(t, st).CurrentConfig.OncallUser.ID; got != "bob" {
		t.Errorf("on call %s", got)
	}
	for _, id := range tx.order {
		if strings.Contains(tx.byID[id], "+19195551003") {
			t.Errorf("disabled member texted: %s", tx.byID[id])
		}
	}
}

// TestReminderForAnyMemberID: a member id that a job id may not hold
// ("bob@example.com", a very long one) is reminded and handed over to like
// any other; an id that fits names its reminder as before.
func TestReminderForAnyMemberID(t *testing.T) {
	ny, _ := time.LoadLocation("America/New_York")
	b := time.Date(2026, 12, 7, 9, 0, 0, 0, ny)
	long := strings.Repeat("x", 120)
	for _, id := range []string{"bob@example.com", "Bob Roberts", long} {
		t.Run(id[:min(len(id), 20)], func(t *testing.T) {
			st := storetest.NewMem()
			data := strings.ReplaceAll(string(configJSON("2026-11-30T09:00", "")), `"bob"`, `"`+id+`"`)
			if _, err := st.Put(context.Background(), configKey, []byte(data), store.Cond{}); err != nil {
				t.Fatal(err)
			}
			clk := testclock.At(b.Add(-2 * time.Hour))
			tx := &texts{byID: map[string]string{}}
			r := newReplica(t, st, clk, tx, "a")
			for _, at := range []time.Duration{-2 * time.Hour, -time.Hour, 0, time.Minute} {
				clk.Set(b.Add(at))
				r.tick(t) // fails on a planning error
			}
			var got []string
			for _, tid := range tx.order {
				got = append(got, tx.byID[tid])
			}
			all := strings.Join(got, "\n")
			if !strings.Contains(all, "+19195551002: Bob, reminder: you are on call from Mon 7 Dec 09:00 until Mon 14 Dec 09:00.") {
				t.Errorf("no reminder in:\n%s", all)
			}
			if got := stored(t, st).CurrentConfig.OncallUser.ID; got != id {
				t.Errorf("on call %q", got)
			}
		})
	}
	if got, want := reminderID(b, "bob"), fmt.Sprintf("reminder-%d-bob", b.Unix()); got != want {
		t.Errorf("reminder id %q, want %q as before", got, want)
	}
	if reminderID(b, "bob@example.com") == reminderID(b, "bob@example.org") {
		t.Error("two members, one reminder id")
	}
}

// TestNoCatchUpLoop: a schedule that names a disabled member (config
// validation only warns) leaves the pager where it is, and planning on two
// replicas for a day neither queues a job per tick (the shift started
// before any lookback could see) nor asks the store on every tick (it
// started within one).
func TestNoCatchUpLoop(t *testing.T) {
	ny, _ := time.LoadLocation("America/New_York")
	for _, tc := range []struct{ name, from string }{
		{"long ago", "2026-10-01T09:00"},
		{"recently", "2026-12-10T09:00"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mem := storetest.NewMem()
			st := storetest.Faulty(mem)
			// Carol, disabled, covers until the end of the year.
			data := strings.Replace(string(configJSON("2026-11-30T09:00", `{"member": "carol", "from": "`+tc.from+`", "to": "2026-12-31T09:00"}`)),
				`"phone": "+19195551003"}`, `"phone": "+19195551003", "enabled": false}`, 1)
			if _, err := st.Put(context.Background(), configKey, []byte(data), store.Cond{}); err != nil {
				t.Fatal(err)
			}
			clk := testclock.At(time.Date(2026, 12, 14, 8, 0, 0, 0, ny))
			tx := &texts{byID: map[string]string{}}
			a := newReplica(t, st, clk, tx, "a")
			b := newReplica(t, st, clk, tx, "b")
			for range 24 * 6 {
				clk.Advance(10 * time.Minute)
				a.tick(t)
				b.tick(t)
			}
			jobs, err := a.q.List(context.Background(), "handover-")
			if err != nil {
				t.Fatal(err)
			}
			var ids []string
			for _, j := range jobs {
				ids = append(ids, j.ID)
			}
			// The end of the override's own timer, nothing else.
			if want := HandOverID(time.Date(2026, 12, 31, 9, 0, 0, 0, ny)); len(ids) != 1 || ids[0] != want {
				t.Errorf("%d hand-over jobs %v, want %s alone", len(ids), ids[:min(len(ids), 5)], want)
			}
			st.ResetRequests()
			for _, r := range []*replica{a, b} {
				if err := r.svc.Plan(context.Background()); err != nil {
					t.Fatal(err)
				}
			}
			if n := st.Total(); n != 0 {
				t.Errorf("a planning tick asked the store %v", st.Requests())
			}
			if got := stored(t, mem).CurrentConfig.OncallUser.ID; got != "alice" {
				t.Errorf("on call %s", got)
			}
			if len(tx.order) != 0 {
				t.Errorf("texts %v", tx.order)
			}
		})
	}
}

// TestCatchUpOfALongShift: a config that names another on-call than a
// shift running for two months is caught up by one job, named after the
// shift's real start whenever and wherever it is planned, and told late
// from that start.
func TestCatchUpOfALongShift(t *testing.T) {
	ny, _ := time.LoadLocation("America/New_York")
	st := storetest.NewMem()
	ctx := context.Background()
	if _, err := st.Put(ctx, configKey, configJSON("2026-11-30T09:00", `{"member": "carol", "from": "2026-10-12T09:00", "to": "2026-12-31T09:00"}`), store.Cond{}); err != nil {
		t.Fatal(err)
	}
	start := time.Date(2026, 10, 12, 9, 0, 0, 0, ny)
	clk := testclock.At(time.Date(2026, 12, 14, 8, 0, 0, 0, ny))
	tx := &texts{byID: map[string]string{}}
	a := newReplica(t, st, clk, tx, "a")
	b := newReplica(t, st, clk, tx, "b")
	// Both plan, seconds apart, before either runs a job.
	for _, r := range []*replica{a, b, a, b} {
		clk.Advance(7 * time.Second)
		if err := r.svc.Plan(ctx); err != nil {
			t.Fatal(err)
		}
	}
	jobs, err := a.q.List(ctx, "handover-")
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, j := range jobs {
		ids = append(ids, j.ID)
	}
	if want := []string{HandOverID(start), HandOverID(time.Date(2026, 12, 31, 9, 0, 0, 0, ny))}; strings.Join(ids, " ") != strings.Join(want, " ") {
		t.Fatalf("hand-over jobs %v, want %v", ids, want)
	}
	a.tick(t)
	b.tick(t)
	if got := stored(t, st).CurrentConfig.OncallUser.ID; got != "carol" {
		t.Fatalf("on call %s", got)
	}
	var got []string
	for _, id := range tx.order {
		got = append(got, tx.byID[id])
	}
	if all := strings.Join(got, "\n"); len(got) != 2 || !strings.Contains(all, "late: the hand-over was due Mon 12 Oct 09:00") || len(tx.dups) != 0 {
		t.Errorf("texts (dups %v):\n%s", tx.dups, all)
	}
}

// TestOneJobPerBoundaryOnTwoReplicas: the replica that did not apply a
// hand-over plans with its config from before it until its next refresh;
// that config disagrees with the schedule, but the hand-over is done and
// needs no catch-up job.
func TestOneJobPerBoundaryOnTwoReplicas(t *testing.T) {
	ny, _ := time.LoadLocation("America/New_York")
	mem := storetest.NewMem()
	st := storetest.Faulty(mem)
	ctx := context.Background()
	data := strings.Replace(string(configJSON("2026-11-23T09:00", "")), `"shift": "1w"`, `"shift": "1d"`, 1)
	if _, err := st.Put(ctx, configKey, []byte(data), store.Cond{}); err != nil {
		t.Fatal(err)
	}
	clk := testclock.At(time.Date(2026, 11, 30, 6, 0, 0, 0, ny))
	tx := &texts{byID: map[string]string{}}
	a := newReplica(t, st, clk, tx, "a")
	b := newReplica(t, st, clk, tx, "b")
	a.tick(t)
	b.tick(t)
	var gets int
	for range 3 * 24 * 12 {
		clk.Advance(5 * time.Minute)
		a.tick(t)
		// b refreshes only after planning and running.
		st.ResetRequests()
		if err := b.svc.Plan(ctx); err != nil {
			t.Fatal(err)
		}
		gets += st.Requests()["Get"]
		if err := b.q.RunOnce(ctx); err != nil {
			t.Fatal(err)
		}
		if err := b.mgr.Refresh(ctx); err != nil {
			t.Fatal(err)
		}
	}
	jobs, err := a.q.List(ctx, "handover-")
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, j := range jobs {
		ids = append(ids, j.ID)
	}
	// 30 November, 1 and 2 December 09:00, and the timer for the 3rd;
	// no catch-up (its id has a second dash).
	if len(ids) != 4 || strings.Count(strings.Join(ids, " "), "-") != 4 {
		t.Errorf("hand-over jobs %v", ids)
	}
	if len(tx.dups) != 0 || len(tx.order) != 3*3 {
		t.Errorf("texts %v dups %v", tx.order, tx.dups)
	}
	// At each of the three boundaries, a look at its job (active/, then
	// done/) and a check that the next boundary's timer and reminder are
	// stored; nothing more.
	if gets > 3*4 {
		t.Errorf("b's planning read the store %d times", gets)
	}
}

// TestPendingCatchUpCostsNoStoreCall: once the catch-up of an upload that
// named another on-call is queued, planning ticks until it runs (a busy
// runner, a retried write) do not look it up again.
func TestPendingCatchUpCostsNoStoreCall(t *testing.T) {
	ny, _ := time.LoadLocation("America/New_York")
	mem := storetest.NewMem()
	st := storetest.Faulty(mem)
	ctx := context.Background()
	if _, err := st.Put(ctx, configKey, configJSON("2026-11-30T09:00", ""), store.Cond{}); err != nil {
		t.Fatal(err)
	}
	b := time.Date(2026, 12, 7, 9, 0, 0, 0, ny)
	clk := testclock.At(b.Add(-time.Hour))
	tx := &texts{byID: map[string]string{}}
	r := newReplica(t, st, clk, tx, "a")
	r.tick(t)
	clk.Set(b.Add(time.Minute))
	r.tick(t)
	if got := stored(t, mem).CurrentConfig.OncallUser.ID; got != "bob" {
		t.Fatalf("on call %s", got)
	}
	// Ops upload a file naming alice; the schedule says bob.
	clk.Advance(time.Hour)
	if _, err := st.Put(ctx, configKey, configJSON("2026-11-30T09:00", ""), store.Cond{}); err != nil {
		t.Fatal(err)
	}
	if err := r.mgr.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	var gets []int
	for range 4 {
		clk.Advance(10 * time.Second)
		st.ResetRequests()
		if err := r.svc.Plan(ctx); err != nil {
			t.Fatal(err)
		}
		gets = append(gets, st.Requests()["Get"])
	}
	// The first tick finds the boundary's job finished and queues the
	// catch-up; the others ask nothing.
	if gets[0] == 0 || gets[1]+gets[2]+gets[3] != 0 {
		t.Errorf("GETs per planning tick: %v", gets)
	}
	if err := r.q.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if got := stored(t, mem).CurrentConfig.OncallUser.ID; got != "bob" {
		t.Errorf("on call %s after the catch-up", got)
	}
}
