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
	"github.com/oncall/pager/store"
	"github.com/oncall/pager/store/storetest"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

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

func newReplica(t *testing.T, st store.Store, clk *clock, tx *texts, name string) *replica {
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
	clk := &clock{t: at("2026-12-07 06:00")}
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
