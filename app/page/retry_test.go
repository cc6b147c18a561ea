package page

import (
	"context"
	"errors"
	"maps"
	"sync"
	"testing"
	"time"

	"github.com/oncall/pager/app/alerts"
	"github.com/oncall/pager/app/jobs"
	"github.com/oncall/pager/app/outbound"
	"github.com/oncall/pager/app/team"
	"github.com/oncall/pager/internal/teamtest"
	"github.com/oncall/pager/internal/testclock"
	"github.com/oncall/pager/store/storetest"
)

// sendLog records the texts and calls placed, by number; the next send to
// a number in failOnce fails as Twilio being down does.
type sendLog struct {
	mu       sync.Mutex
	texts    map[string]int
	calls    map[string]int
	failOnce map[string]bool
}

func (l *sendLog) send(to string, sent map[string]int) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.failOnce[to] {
		delete(l.failOnce, to)
		return errors.New("twilio: create: 503 Service Unavailable")
	}
	sent[to]++
	return nil
}

func (l *sendLog) SendText(_ context.Context, t outbound.Text) (string, error) {
	return "SM" + t.To, l.send(t.To, l.texts)
}

func (l *sendLog) StartCall(_ context.Context, c outbound.Call) (string, error) {
	return "CA" + c.To, l.send(c.To, l.calls)
}

func (l *sendLog) count() (texts, calls map[string]int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return maps.Clone(l.texts), maps.Clone(l.calls)
}

// A step paging alice and bob fails when bob's page does, by text or, with
// his SMS off, by call; its retry pages bob alone, so each has the page
// once.
func TestRetriedPageStepPagesEachUserOnce(t *testing.T) {
	for _, tc := range []struct {
		name   string
		patch  []teamtest.Patch
		text   map[string]int // after the retry; calls are the rest
		called map[string]int
	}{
		{name: "text", text: map[string]int{teamtest.Alice: 1, teamtest.Bob: 1}, called: map[string]int{}},
		{name: "call", patch: []teamtest.Patch{teamtest.Set("available_users.users.bob.channels", map[string]any{"sms": map[string]any{"enabled": false}})},
			text: map[string]int{teamtest.Alice: 1}, called: map[string]int{teamtest.Bob: 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			cfg, err := team.Parse(teamtest.Default(tc.patch...).JSON())
			if err != nil {
				t.Fatal(err)
			}
			clk := testclock.New()
			out := &sendLog{texts: map[string]int{}, calls: map[string]int{}, failOnce: map[string]bool{teamtest.Bob: true}}
			pages := New(out, fixedConfig{cfg}, "https://pager.example.test", nil)
			q := jobs.New(storetest.NewMem(), jobs.Options{Now: clk.Now, Backoff: func(int) time.Duration { return time.Minute }})
			set := alerts.Settings{
				Policy: alerts.Policy{Steps: []alerts.PolicyStep{
					{Targets: []alerts.Target{alerts.UserTarget("alice"), alerts.UserTarget("bob")}, Delay: time.Hour},
				}},
				Throttle: alerts.Throttle{MaxPages: 100, Window: 10 * time.Minute},
			}
			svc := alerts.New(storetest.NewMem(), alerts.Options{Jobs: q, Pager: pages, Notifier: pages, Roster: pages,
				Settings: func() alerts.Settings { return set }, Now: clk.Now})
			if _, _, err := svc.Trigger(ctx, alerts.Event{Action: alerts.EventTrigger, DedupKey: "db", Summary: "db1 down", Source: "test"}); err != nil {
				t.Fatal(err)
			}
			run := func() {
				t.Helper()
				if err := q.RunOnce(ctx); err != nil {
					t.Fatal(err)
				}
			}
			run()
			if texts, calls := out.count(); !maps.Equal(texts, map[string]int{teamtest.Alice: 1}) || len(calls) != 0 {
				t.Fatalf("first attempt: texts %v, calls %v; want alice texted alone", texts, calls)
			}
			clk.Advance(time.Minute) // the step's backoff
			run()
			clk.Advance(time.Minute)
			run()
			if texts, calls := out.count(); !maps.Equal(texts, tc.text) || !maps.Equal(calls, tc.called) {
				t.Fatalf("after the retry: texts %v, calls %v; want texts %v, calls %v", texts, calls, tc.text, tc.called)
			}
		})
	}
}
