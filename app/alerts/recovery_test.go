package alerts

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/oncall/pager/app/jobs"
	"github.com/oncall/pager/internal/testclock"
	"github.com/oncall/pager/store"
	"github.com/oncall/pager/store/local"
)

// Crash recovery needs to reach inside: these tests leave the store as a
// crash at each point would and check the next request repairs it.

type nopRoster struct{}

func (nopRoster) Members(context.Context, Target) ([]string, error) { return []string{"alice"}, nil }

func newInternal(t *testing.T) (*Service, store.Store, *testclock.Clock) {
	t.Helper()
	st, err := local.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	clk := testclock.New()
	q := jobs.New(st, jobs.Options{Owner: "t", Now: clk.Now})
	return New(st, Options{Jobs: q, Roster: nopRoster{}, Now: clk.Now}), st, clk
}

func ev(key string) Event {
	return Event{Action: EventTrigger, DedupKey: key, Summary: "disk full", RoutingKey: "rk"}
}

// Crash after claiming the dedup slot, before writing the alert: the next
// trigger creates the alert the slot names, with code and escalation.
func TestRecoverSlotWithoutAlert(t *testing.T) {
	s, _, _ := newInternal(t)
	ctx := context.Background()
	const id = "a20260301115900-crashed1"
	ref := slotRef{key: s.dedupKey("rk", "k")}
	if err := s.claimSlot(ctx, ref, dedupRecord{DedupKey: "k", AlertID: id}); err != nil {
		t.Fatal(err)
	}
	a, created, err := s.Trigger(ctx, ev("k"))
	if err != nil {
		t.Fatal(err)
	}
	if a.ID != id || !created || a.Code != "1" || a.Escalation != "esc-"+id {
		t.Fatalf("recovered alert = %s created=%v code=%q esc=%q", a.ID, created, a.Code, a.Escalation)
	}
}

// Crash after writing the alert, before its code and escalation: a repeat
// trigger completes it, and so does Sweep.
func TestRecoverAlertWithoutCode(t *testing.T) {
	s, _, clk := newInternal(t)
	ctx := context.Background()
	for _, viaSweep := range []bool{false, true} {
		key := "k-trigger"
		if viaSweep {
			key = "k-sweep"
		}
		ref := slotRef{key: s.dedupKey("rk", key)}
		id := s.newID()
		if err := s.claimSlot(ctx, ref, dedupRecord{DedupKey: key, AlertID: id}); err != nil {
			t.Fatal(err)
		}
		if _, created, err := s.create(ctx, id, ref.key, ev(key)); err != nil || !created {
			t.Fatal(created, err)
		}
		if viaSweep {
			clk.Advance(2 * sweepAge)
			if n, err := s.Sweep(ctx); err != nil || n != 1 {
				t.Fatalf("sweep repaired %d, %v; want 1", n, err)
			}
		} else if _, _, err := s.Trigger(ctx, ev(key)); err != nil {
			t.Fatal(err)
		}
		a, err := s.Get(ctx, id)
		if err != nil || a.Code == "" || a.Escalation == "" {
			t.Fatalf("sweep=%v: alert = %+v, %v; want code and escalation", viaSweep, a, err)
		}
		if _, err := s.q.Get(ctx, a.Escalation); err != nil {
			t.Fatalf("escalation job: %v", err)
		}
	}
}

// Crash after marking the alert closed, before freeing its code and dedup
// slot: the alert no longer pages, Sweep finishes the close, and the code
// and key are usable again.
func TestRecoverHalfClosed(t *testing.T) {
	s, _, clk := newInternal(t)
	ctx := context.Background()
	a, _, err := s.Trigger(ctx, ev("k"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.modify(ctx, a.ID, func(x *Alert) (bool, error) {
		x.State, x.ClosedBy = StateClosed, "alice"
		return true, nil
	}); err != nil {
		t.Fatal(err)
	}
	clk.Advance(2 * sweepAge)
	if n, err := s.Sweep(ctx); err != nil || n != 1 {
		t.Fatalf("sweep repaired %d, %v", n, err)
	}
	if _, err := s.st.Get(ctx, s.openKey(a.ID)); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("still in open/: %v", err)
	}
	held, err := s.HeldCodes(ctx)
	if err != nil || len(held) != 0 {
		t.Fatalf("held codes %v, %v; want none", held, err)
	}
	b, created, err := s.Trigger(ctx, ev("k"))
	if err != nil || !created || b.Code != "2" {
		t.Fatalf("new alert after recovery: created=%v code=%q %v; want 2 while 1 rests", created, b.Code, err)
	}
	j, err := s.q.Get(ctx, "esc-"+a.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range j.Steps {
		if st.State == jobs.StepPending {
			t.Errorf("step %s of the closed alert still pending", st.Name)
		}
	}
}

// Code slots left held by an alert that is gone, or by an alert that got
// another code, are freed by Sweep and reused.
func TestSweepFreesStaleCodes(t *testing.T) {
	s, _, clk := newInternal(t)
	ctx := context.Background()
	old := clk.Now()
	if err := s.claimSlot(ctx, slotRef{key: s.codeKey("1")}, codeRecord{Code: "1", AlertID: "a20200101000000-gone0000", At: old}); err != nil {
		t.Fatal(err)
	}
	other, _, err := s.Trigger(ctx, ev("other"))
	if err != nil || other.Code != "2" {
		t.Fatalf("code %q, %v; want 2 while 1 looks held", other.Code, err)
	}
	// The alert holding 2 also holds 3 from an attempt that crashed.
	if err := s.claimSlot(ctx, slotRef{key: s.codeKey("3")}, codeRecord{Code: "3", AlertID: other.ID, At: old}); err != nil {
		t.Fatal(err)
	}
	clk.Advance(2 * sweepAge)
	if n, err := s.Sweep(ctx); err != nil || n != 2 {
		t.Fatalf("sweep freed %d, %v; want 2", n, err)
	}
	held, _ := s.HeldCodes(ctx)
	if len(held) != 1 || held["2"] != other.ID {
		t.Fatalf("held after sweep = %v", held)
	}
	a, _, err := s.Trigger(ctx, ev("k"))
	if err != nil || a.Code != "4" {
		t.Fatalf("code %q, %v; want 4 while the stale 1 and 3 rest", a.Code, err)
	}
	clk.Advance(CodeQuiet)
	b, _, err := s.Trigger(ctx, ev("k2"))
	if err != nil || b.Code != "1" {
		t.Fatalf("code %q, %v; want the stale 1 taken over once rested", b.Code, err)
	}
}

// An unreadable dedup slot does not block the problem from paging.
func TestCorruptSlotReused(t *testing.T) {
	s, st, _ := newInternal(t)
	ctx := context.Background()
	if _, err := st.Put(ctx, s.dedupKey("rk", "k"), []byte("{not json"), store.Cond{}); err != nil {
		t.Fatal(err)
	}
	if _, created, err := s.Trigger(ctx, ev("k")); err != nil || !created {
		t.Fatalf("created=%v %v", created, err)
	}
	var rec dedupRecord
	if _, held, _ := s.readSlot(ctx, s.dedupKey("rk", "k"), &rec); !held {
		t.Fatal("slot not reclaimed")
	}
}

type countPager struct {
	mu sync.Mutex
	n  int
}

func (p *countPager) Page(context.Context, Alert, []string) ([]Delivery, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.n++
	return nil, nil
}

func (p *countPager) PageDigest(ctx context.Context, _ Digest) error {
	_, err := p.Page(ctx, Alert{}, nil)
	return err
}

// An acknowledgement that lands before the escalation is even enqueued
// (the trigger's completion raced it) finds no job to stop; the steps that
// run later see the alert taken and page nobody.
func TestAckBeforeEscalationEnqueued(t *testing.T) {
	s, _, _ := newInternal(t)
	pg := &countPager{}
	s.pager = pg
	ctx := context.Background()
	ref := slotRef{key: s.dedupKey("rk", "k")}
	id := s.newID()
	if err := s.claimSlot(ctx, ref, dedupRecord{DedupKey: "k", AlertID: id}); err != nil {
		t.Fatal(err)
	}
	a, _, err := s.create(ctx, id, ref.key, ev("k"))
	if err != nil {
		t.Fatal(err)
	}
	if tr, err := s.ack(ctx, id, "alice"); err != nil || tr.Outcome != OutcomeChanged {
		t.Fatal(tr.Outcome, err)
	}
	if a, err = s.complete(ctx, a); err != nil || a.Escalation == "" {
		t.Fatalf("escalation %q, %v", a.Escalation, err)
	}
	if err := s.q.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if pg.n != 0 {
		t.Fatalf("%d pages for an acknowledged alert", pg.n)
	}
	j, _ := s.q.Get(ctx, a.Escalation)
	var r PageResult
	if err := j.Steps[0].Decode(&r); err != nil || r.Status != PageSkipped || r.Reason != string(StateAcknowledged) {
		t.Fatalf("first step = %+v, %v; want skipped (acknowledged)", r, err)
	}
}

// getLog records the keys read, to tell which objects a sweep looks at.
type getLog struct {
	store.Store
	mu   sync.Mutex
	keys []string
}

func (g *getLog) Get(ctx context.Context, key string) (store.Object, error) {
	g.mu.Lock()
	g.keys = append(g.keys, key)
	g.mu.Unlock()
	return g.Store.Get(ctx, key)
}

// take returns the keys read since the last take.
func (g *getLog) take() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	k := g.keys
	g.keys = nil
	return k
}

// A closed alert's code rests untouched by Sweep, which does not look up
// the closed alert; once rested Sweep empties it, later sweeps no longer
// read it, and it is given out again. Sweeps run every few minutes on
// every replica, so reads per released code add up.
func TestSweepEmptiesRestedCodes(t *testing.T) {
	base, err := local.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	st := &getLog{Store: base}
	clk := testclock.New()
	q := jobs.New(st, jobs.Options{Owner: "t", Now: clk.Now})
	s := New(st, Options{Jobs: q, Roster: nopRoster{}, Now: clk.Now})
	ctx := context.Background()

	a, _, err := s.Trigger(ctx, ev("k"))
	if err != nil || a.Code != "1" {
		t.Fatalf("code %q, %v; want 1", a.Code, err)
	}
	if _, err := s.Close(ctx, a.ID, "alice"); err != nil {
		t.Fatal(err)
	}
	clk.Advance(2 * sweepAge)
	st.take()
	if n, err := s.Sweep(ctx); err != nil || n != 0 {
		t.Fatalf("sweep repaired %d, %v; want nothing to repair", n, err)
	}
	for _, k := range st.take() {
		if k == s.openKey(a.ID) {
			t.Fatalf("sweep looked up the alert of a released code (%s)", k)
		}
	}
	b, _, err := s.Trigger(ctx, ev("k2"))
	if err != nil || b.Code != "2" {
		t.Fatalf("code %q, %v; want 2 while 1 rests", b.Code, err)
	}
	if _, err := s.Close(ctx, b.ID, "alice"); err != nil {
		t.Fatal(err)
	}

	// 1 has rested, 2 rests for another minute.
	clk.Advance(CodeQuiet - sweepAge)
	if n, err := s.Sweep(ctx); err != nil || n != 0 {
		t.Fatalf("sweep repaired %d, %v; want nothing to repair", n, err)
	}
	if obj, err := base.Get(ctx, s.codeKey("1")); err != nil || len(obj.Data) != 0 {
		t.Fatalf("rested code slot = %q, %v; want emptied", obj.Data, err)
	}
	var rec codeRecord
	if _, held, err := s.readSlot(ctx, s.codeKey("2"), &rec); err != nil || !held || !rec.resting(clk.Now()) {
		t.Fatalf("resting code 2 = %+v held=%v, %v; want left resting", rec, held, err)
	}
	st.take()
	if _, err := s.Sweep(ctx); err != nil {
		t.Fatal(err)
	}
	for _, k := range st.take() {
		if k == s.codeKey("1") || strings.HasPrefix(k, s.prefix+"open/") {
			t.Fatalf("sweep read %s; want only the resting code read", k)
		}
	}
	c, _, err := s.Trigger(ctx, ev("k3"))
	if err != nil || c.Code != "1" {
		t.Fatalf("code %q, %v; want the rested 1 while 2 rests", c.Code, err)
	}
}

// lostReply lands the next conditional update of an alert in open/ but
// reports it failed, as a timeout after the store applied it does.
type lostReply struct {
	store.Store
	mu    sync.Mutex
	armed bool
}

func (l *lostReply) Put(ctx context.Context, key string, data []byte, cond store.Cond) (string, error) {
	etag, err := l.Store.Put(ctx, key, data, cond)
	l.mu.Lock()
	defer l.mu.Unlock()
	if err == nil && l.armed && cond.IfMatch != "" && strings.Contains(key, "/open/") {
		l.armed = false
		return "", errors.New("timeout")
	}
	return etag, err
}

// When recording the code in the alert reports a failure, the write may
// have landed anyway: found stored, the code is the alert's, never freed
// for the next alert to get the same one.
func TestCodeKeptWhenItsWriteMayHaveLanded(t *testing.T) {
	base, err := local.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	st := &lostReply{Store: base, armed: true}
	clk := testclock.New()
	q := jobs.New(st, jobs.Options{Owner: "t", Now: clk.Now})
	s := New(st, Options{Jobs: q, Roster: nopRoster{}, Now: clk.Now})
	ctx := context.Background()

	if a, _, err := s.Trigger(ctx, ev("k")); err != nil || a.Code != "1" {
		t.Fatalf("trigger: code %q, %v; want 1, its write found stored", a.Code, err)
	}
	var rec dedupRecord
	if _, held, err := s.readSlot(ctx, s.dedupKey("rk", "k"), &rec); err != nil || !held {
		t.Fatalf("dedup slot held=%v, %v", held, err)
	}
	a, err := s.Get(ctx, rec.AlertID)
	if err != nil || a.Code != "1" {
		t.Fatalf("alert code %q, %v; want 1 (the write landed)", a.Code, err)
	}
	if held, err := s.HeldCodes(ctx); err != nil || held["1"] != a.ID {
		t.Fatalf("held codes %v, %v; want 1 held by %s", held, err, a.ID)
	}
	b, _, err := s.Trigger(ctx, ev("k2"))
	if err != nil || b.Code != "2" {
		t.Fatalf("next alert code %q, %v; want 2", b.Code, err)
	}
}
