package alerts_test

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/oncall/pager/app/alerts"
)

// The same problem reported twenty times — concurrently, through two
// replicas — is one alert with one escalation.
func TestDedupTwentyTriggersOneAlert(t *testing.T) {
	dir := t.TempDir()
	clk, rec := newClock(), &recorder{clk: newClock()}
	envs := []*env{
		newEnv(t, newLocal(t, dir), "r1", clk, rec, testSettings(0)),
		newEnv(t, newLocal(t, dir), "r2", clk, rec, testSettings(0)),
	}
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		ids     = map[string]int{}
		created int
	)
	for i := range 20 {
		wg.Go(func() {
			a, c, err := envs[i%2].svc.Trigger(context.Background(), alerts.Event{
				Action: alerts.EventTrigger, DedupKey: "disk-full-db1", Summary: "disk full on db1", RoutingKey: "key-a",
			})
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			defer mu.Unlock()
			ids[a.ID]++
			if c {
				created++
			}
		})
	}
	wg.Wait()
	if len(ids) != 1 || created != 1 {
		t.Fatalf("alerts %v, created %d: want one alert created once", ids, created)
	}
	open, err := envs[0].svc.Open(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(open) != 1 || open[0].Triggers != 20 {
		t.Fatalf("open = %+v; want one alert with 20 triggers", open)
	}
	// Two replicas completing the new alert at once may each claim a code;
	// the loser frees its own, so exactly one short code is held.
	held, err := envs[1].svc.HeldCodes(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !maps.Equal(held, map[string]string{open[0].Code: open[0].ID}) || (open[0].Code != "1" && open[0].Code != "2") {
		t.Errorf("alert has code %q, held codes %v; want 1 (or 2 after a cross-replica race), held once", open[0].Code, held)
	}
	if got := jobIDs(t, envs[0].st); !slices.Equal(got, []string{"esc-" + open[0].ID}) {
		t.Errorf("jobs = %v; want one escalation", got)
	}

	// The same dedup key from another integration (routing key) is another
	// problem, as in PagerDuty.
	b, created2, err := envs[0].svc.Trigger(context.Background(), alerts.Event{DedupKey: "disk-full-db1", Summary: "x", RoutingKey: "key-b"})
	if err != nil || !created2 || b.ID == open[0].ID {
		t.Errorf("other routing key: %v %v %v", b.ID, created2, err)
	}
}

func TestTriggerAfterCloseOpensNewAlert(t *testing.T) {
	clk := newClock()
	e := newEnv(t, newLocal(t, t.TempDir()), "r1", clk, &recorder{clk: clk}, testSettings(0))
	ctx := context.Background()
	a := e.trigger(t, "k", "first")
	if _, err := e.svc.Close(ctx, a.Code, "alice"); err != nil {
		t.Fatal(err)
	}
	b := e.trigger(t, "k", "again")
	if b.ID == a.ID || b.State != alerts.StateTriggered || b.Triggers != 1 {
		t.Fatalf("after close: %+v; want a new triggered alert", b)
	}
	got, err := e.svc.Get(ctx, a.ID)
	if err != nil || got.State != alerts.StateClosed || got.ClosedBy != "alice" {
		t.Fatalf("closed alert = %+v, %v", got, err)
	}
}

// Codes are the lowest free numbers and come back CodeQuiet after an alert
// closes (not before: a late reply must not act on the next alert), also
// for a replica (or a restart) that did not close it.
func TestReplyCodesShortAndReused(t *testing.T) {
	dir := t.TempDir()
	clk := newClock()
	rec := &recorder{clk: clk}
	e := newEnv(t, newLocal(t, dir), "r1", clk, rec, testSettings(0))
	ctx := context.Background()
	var as []alerts.Alert
	for i := range 4 {
		as = append(as, e.trigger(t, fmt.Sprint("k", i), fmt.Sprint("alert ", i)))
	}
	for i, a := range as {
		if a.Code != fmt.Sprint(i+1) {
			t.Fatalf("alert %d has code %q, want %d", i, a.Code, i+1)
		}
	}
	if _, err := e.svc.Close(ctx, "2", "bob"); err != nil {
		t.Fatal(err)
	}
	_, err := e.svc.ByCode(ctx, "2")
	mustNotFound(t, err)
	if q := e.trigger(t, "k-quiet", "quiet"); q.Code != "5" {
		t.Fatalf("new alert got code %q, want 5 while 2 rests", q.Code)
	}
	clk.Set(clk.Now().Add(alerts.CodeQuiet))
	n := e.trigger(t, "k-new", "new")
	if n.Code != "2" {
		t.Fatalf("new alert got code %q, want the rested 2", n.Code)
	}
	if got, err := e.svc.ByCode(ctx, "2"); err != nil || got.ID != n.ID {
		t.Fatalf("ByCode(2) = %v, %v; want the new alert", got.ID, err)
	}

	if _, err := e.svc.Close(ctx, as[0].ID, "bob"); err != nil {
		t.Fatal(err)
	}
	clk.Set(clk.Now().Add(alerts.CodeQuiet))
	fresh := newEnv(t, newLocal(t, dir), "r2", clk, rec, testSettings(0))
	if a := fresh.trigger(t, "k-fresh", "fresh"); a.Code != "1" {
		t.Fatalf("another replica gave code %q, want the rested 1", a.Code)
	}
	if a := fresh.trigger(t, "k-fresh2", "fresh2"); a.Code != "6" {
		t.Fatalf("next code %q, want 6", a.Code)
	}
}

func TestStateNeverMovesBackwards(t *testing.T) {
	clk := newClock()
	e := newEnv(t, newLocal(t, t.TempDir()), "r1", clk, &recorder{clk: clk}, testSettings(0))
	ctx := context.Background()
	a := e.trigger(t, "k", "db down")

	tr, err := e.svc.Ack(ctx, a.Code, "alice")
	if err != nil || tr.Outcome != alerts.OutcomeChanged || tr.Alert.State != alerts.StateAcknowledged {
		t.Fatalf("ack = %+v, %v", tr, err)
	}
	tr, err = e.svc.Ack(ctx, a.ID, "bob")
	if err != nil || tr.Outcome != alerts.OutcomeAlreadyAcknowledged || tr.Alert.AckedBy != "alice" {
		t.Fatalf("second ack = %+v, %v; want already acknowledged by alice", tr.Outcome, err)
	}
	// A late PagerDuty "trigger" neither reopens nor pages.
	again, created, err := e.svc.Trigger(ctx, alerts.Event{DedupKey: "k", Summary: "db down"})
	if err != nil || created || again.State != alerts.StateAcknowledged {
		t.Fatalf("retrigger of acknowledged = %+v %v %v", again.State, created, err)
	}
	tr, err = e.svc.Close(ctx, a.Code, "alice")
	if err != nil || tr.Outcome != alerts.OutcomeChanged {
		t.Fatalf("close = %+v, %v", tr.Outcome, err)
	}
	tr, err = e.svc.Ack(ctx, a.ID, "bob")
	if err != nil || tr.Outcome != alerts.OutcomeAlreadyClosed || tr.Alert.State != alerts.StateClosed {
		t.Fatalf("ack of closed = %+v, %v", tr.Outcome, err)
	}
	tr, err = e.svc.Close(ctx, a.ID, "bob")
	if err != nil || tr.Outcome != alerts.OutcomeAlreadyClosed || tr.Alert.ClosedBy != "alice" {
		t.Fatalf("close of closed = %+v, %v", tr.Outcome, err)
	}
	// The code is free now: it names nothing.
	_, err = e.svc.Ack(ctx, a.Code, "bob")
	mustNotFound(t, err)

	got, _ := e.svc.Get(ctx, a.ID)
	var actions []alerts.EntryAction
	for _, h := range got.History {
		actions = append(actions, h.Action)
	}
	if !slices.Equal(actions, []alerts.EntryAction{alerts.ActionTriggered, alerts.ActionAcknowledged, alerts.ActionClosed}) {
		t.Errorf("history = %v", actions)
	}
}

// PagerDuty-style acknowledge and resolve find the alert by dedup key; one
// for no open alert is dropped.
func TestApplyByDedupKey(t *testing.T) {
	clk := newClock()
	e := newEnv(t, newLocal(t, t.TempDir()), "r1", clk, &recorder{clk: clk}, testSettings(0))
	ctx := context.Background()
	trig := alerts.Event{Action: alerts.EventTrigger, DedupKey: "lag", Summary: "lag", RoutingKey: "rk"}
	tr, err := e.svc.Apply(ctx, trig, "api:grafana")
	if err != nil || tr.Outcome != alerts.OutcomeCreated {
		t.Fatal(tr.Outcome, err)
	}
	if tr, _ = e.svc.Apply(ctx, trig, "api:grafana"); tr.Outcome != alerts.OutcomeDeduplicated {
		t.Fatalf("second trigger: %s", tr.Outcome)
	}
	_, err = e.svc.Apply(ctx, alerts.Event{Action: alerts.EventAcknowledge, DedupKey: "lag", RoutingKey: "other"}, "api:x")
	mustNotFound(t, err)
	tr, err = e.svc.Apply(ctx, alerts.Event{Action: alerts.EventAcknowledge, DedupKey: "lag", RoutingKey: "rk"}, "api:grafana")
	if err != nil || tr.Outcome != alerts.OutcomeChanged || tr.Alert.AckedBy != "api:grafana" {
		t.Fatalf("ack by key: %+v %v", tr, err)
	}
	tr, err = e.svc.Apply(ctx, alerts.Event{Action: alerts.EventResolve, DedupKey: "lag", RoutingKey: "rk"}, "api:grafana")
	if err != nil || tr.Outcome != alerts.OutcomeChanged || tr.Alert.State != alerts.StateClosed {
		t.Fatalf("resolve by key: %+v %v", tr, err)
	}
	_, err = e.svc.Apply(ctx, alerts.Event{Action: alerts.EventResolve, DedupKey: "lag", RoutingKey: "rk"}, "api:grafana")
	mustNotFound(t, err)
}

func TestTriggerRejectsEmptySummary(t *testing.T) {
	clk := newClock()
	e := newEnv(t, newLocal(t, t.TempDir()), "r1", clk, &recorder{clk: clk}, testSettings(0))
	if _, _, err := e.svc.Trigger(context.Background(), alerts.Event{DedupKey: "k"}); err == nil {
		t.Fatal("trigger without summary accepted")
	}
	if _, _, err := e.svc.Trigger(context.Background(), alerts.Event{Action: alerts.EventResolve, Summary: "s"}); err == nil {
		t.Fatal("Trigger accepted a resolve")
	}
}

func TestLatestPagedTo(t *testing.T) {
	clk := newClock()
	rec := &recorder{clk: clk}
	e := newEnv(t, newLocal(t, t.TempDir()), "r1", clk, rec, testSettings(0))
	ctx := context.Background()
	_, err := e.svc.LatestPagedTo(ctx, "alice")
	mustNotFound(t, err)

	a := e.trigger(t, "a", "first")
	e.run(t)
	clk.Set(t0.Add(time.Minute))
	b := e.trigger(t, "b", "second")
	e.run(t)
	got, err := e.svc.LatestPagedTo(ctx, "alice")
	if err != nil || got.ID != b.ID {
		t.Fatalf("latest = %v, %v; want %s", got.ID, err, b.ID)
	}
	// Once the latest closes, a bare ACK means the one before it.
	if _, err := e.svc.Close(ctx, b.Code, "alice"); err != nil {
		t.Fatal(err)
	}
	if got, _ = e.svc.LatestPagedTo(ctx, "alice"); got.ID != a.ID {
		t.Fatalf("latest after close = %s; want %s", got.ID, a.ID)
	}
	if _, err := e.svc.Close(ctx, a.Code, "alice"); err != nil {
		t.Fatal(err)
	}
	if got, _ = e.svc.LatestPagedTo(ctx, "alice"); got.ID != b.ID || got.State != alerts.StateClosed {
		t.Fatalf("latest with all closed = %s %s; want the closed %s", got.ID, got.State, b.ID)
	}
}

func TestParseReply(t *testing.T) {
	tests := []struct {
		in   string
		want alerts.Reply
		ok   bool
	}{
		{"1a", alerts.Reply{Action: alerts.ReplyAck, Code: "1"}, true},
		{"12C", alerts.Reply{Action: alerts.ReplyClose, Code: "12"}, true},
		{" 3 a ", alerts.Reply{Action: alerts.ReplyAck, Code: "3"}, true},
		{"#4 close", alerts.Reply{Action: alerts.ReplyClose, Code: "4"}, true},
		{"ack 1", alerts.Reply{Action: alerts.ReplyAck, Code: "1"}, true},
		{"ACK #7", alerts.Reply{Action: alerts.ReplyAck, Code: "7"}, true},
		{"ack7", alerts.Reply{Action: alerts.ReplyAck, Code: "7"}, true},
		{"Close 2", alerts.Reply{Action: alerts.ReplyClose, Code: "2"}, true},
		{"resolve 2", alerts.Reply{Action: alerts.ReplyClose, Code: "2"}, true},
		{"ACK", alerts.Reply{Action: alerts.ReplyAck}, true},
		{"ack.", alerts.Reply{Action: alerts.ReplyAck}, true},
		{"close", alerts.Reply{Action: alerts.ReplyClose}, true},
		{"Acknowledge", alerts.Reply{Action: alerts.ReplyAck}, true},
		{"c", alerts.Reply{}, false}, // TAKE confirmation
		{"a", alerts.Reply{}, false},
		{"x", alerts.Reply{}, false},
		{"1", alerts.Reply{}, false},
		{"1x", alerts.Reply{}, false},
		{"0a", alerts.Reply{}, false},
		{"ack everything", alerts.Reply{}, false},
		{"take", alerts.Reply{}, false},
		{"", alerts.Reply{}, false},
		{"1234567a", alerts.Reply{}, false},
	}
	for _, tc := range tests {
		got, ok := alerts.ParseReply(tc.in)
		if ok != tc.ok || got != tc.want {
			t.Errorf("ParseReply(%q) = %+v, %v; want %+v, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
	for in, want := range map[string]alerts.OptKeyword{"STOP": alerts.OptOut, "unsubscribe": alerts.OptOut, " Start ": alerts.OptIn, "UNSTOP": alerts.OptIn} {
		if got, ok := alerts.ParseOptKeyword(in); !ok || got != want {
			t.Errorf("ParseOptKeyword(%q) = %q %v", in, got, ok)
		}
	}
	if _, ok := alerts.ParseOptKeyword("stop paging me"); ok {
		t.Error("a sentence is not a keyword (Twilio only acts on single words)")
	}
}
