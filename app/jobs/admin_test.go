package jobs_test

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/oncall/pager/app/jobs"
	"github.com/oncall/pager/internal/testclock"
	"github.com/oncall/pager/store"
)

// An operator lists what is queued and cancels a job that would otherwise
// be retried for ever: nothing more runs for it, and it leaves the queue.
func TestQueuedAndCancel(t *testing.T) {
	clk := testclock.New()
	st := newLocal(t, t.TempDir())
	q := jobs.New(st, jobs.Options{Now: clk.Now, Logger: testLogger(t)})
	runs := newCounter()
	q.Handle("mail", "send", func(ctx context.Context, j *jobs.Job, s *jobs.Step) (any, error) {
		runs.inc(j, s)
		return nil, errors.New("smtp.example.com: no such host")
	})
	q.Handle("mail", "ok", func(ctx context.Context, j *jobs.Job, s *jobs.Step) (any, error) { return "sent", nil })
	mustEnqueue(t, q, jobs.Job{ID: "stuck", Kind: "mail", Steps: []jobs.Step{{Name: "ok"}, {Name: "send"}}})
	clk.Advance(time.Second)
	mustEnqueue(t, q, oneStep("later", "mail", "ok"))
	runOnce(t, q)

	queued, err := q.Queued(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(queued) != 1 || queued[0].ID != "stuck" || queued[0].NextDue().IsZero() {
		t.Fatalf("queued after one run: %+v", queued)
	}
	if stepState(t, queued[0], "ok").State != jobs.StepDone {
		t.Fatalf("steps: %s", fmtSteps(queued[0]))
	}

	j, err := q.Cancel(context.Background(), "stuck", "bad SMTP host")
	if err != nil {
		t.Fatal(err)
	}
	if s := stepState(t, j, "send"); s.State != jobs.StepFailed || !strings.Contains(s.LastError, "bad SMTP host") {
		t.Fatalf("canceled step: %s", fmtSteps(j))
	}
	if stepState(t, j, "ok").State != jobs.StepDone {
		t.Fatalf("a done step changed: %s", fmtSteps(j))
	}
	before := runs.get("stuck/send")
	clk.Advance(time.Hour)
	runOnce(t, q)
	if runs.get("stuck/send") != before {
		t.Fatal("a canceled step ran again")
	}
	if queued, _ := q.Queued(context.Background()); len(queued) != 0 {
		t.Fatalf("still queued after cancel: %+v", queued)
	}
	if _, err := q.Cancel(context.Background(), "nosuchjob", ""); !errors.Is(err, jobs.ErrNotFound) {
		t.Fatalf("cancel unknown job: %v", err)
	}
}

// A step never tried has no NextAt and has been due since the job was
// created: jobs list must not show such a job as due never ("-"), nor as
// due when another of its steps is retried.
func TestNextDueCountsANeverTriedStepAsDue(t *testing.T) {
	created := testclock.StartTime()
	retry := created.Add(time.Hour)
	pending := func(name string, at time.Time) jobs.Step {
		return jobs.Step{Name: name, State: jobs.StepPending, NextAt: at}
	}
	for _, tc := range []struct {
		name  string
		steps []jobs.Step
		want  time.Time
	}{
		{"never tried", []jobs.Step{pending("a", time.Time{})}, created},
		{"never tried, then a retry", []jobs.Step{pending("a", time.Time{}), pending("b", retry)}, created},
		{"a retry, then never tried", []jobs.Step{pending("b", retry), pending("a", time.Time{})}, created},
		{"a retry", []jobs.Step{{Name: "a", State: jobs.StepDone}, pending("b", retry)}, retry},
		{"none pending", []jobs.Step{{Name: "a", State: jobs.StepDone}, {Name: "b", State: jobs.StepFailed}}, time.Time{}},
	} {
		j := jobs.Job{ID: "j", Kind: "k", CreatedAt: created, Steps: tc.steps}
		if got := j.NextDue(); !got.Equal(tc.want) {
			t.Errorf("%s: NextDue() = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// Queued reads a job the runner has seen at the listed version from the
// runner's copy instead of the store, and hands out a copy of its own: an
// operator listing the queue often costs one List, and changing what it
// returned changes nothing queued.
func TestQueuedReusesTheRunnersCopy(t *testing.T) {
	clk := testclock.New()
	fs := &faultStore{Store: newLocal(t, t.TempDir())}
	q := jobs.New(fs, jobs.Options{Now: clk.Now, Logger: testLogger(t)})
	q.Handle("mail", "send", func(context.Context, *jobs.Job, *jobs.Step) (any, error) {
		return nil, errors.New("smtp.example.com: no such host")
	})
	mustEnqueue(t, q, oneStep("stuck", "mail", "send"))
	runOnce(t, q)

	var gets atomic.Int64
	count := func(op, _ string, _ store.Cond) {
		if op == "get" || op == "getifchanged" {
			gets.Add(1)
		}
	}
	fs.before.Store(&count)
	queued, err := q.Queued(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(queued) != 1 || queued[0].ID != "stuck" || stepState(t, queued[0], "send").Attempts != 1 {
		t.Fatalf("queued after one failed attempt: %+v", queued)
	}
	if n := gets.Load(); n != 0 {
		t.Fatalf("Queued made %d Gets for a job the runner had just written", n)
	}

	queued[0].Steps[0].State = jobs.StepDone
	queued[0].Steps[0].NextAt = time.Time{}
	again, err := q.Queued(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(again) != 1 || stepState(t, again[0], "send").State != jobs.StepPending {
		t.Fatalf("a change to Queued's answer reached the queue: %+v", again)
	}
	if b := q.Backlog(); b.Queued != 1 || b.NextDue.IsZero() || !b.NextDue.After(clk.Now()) {
		t.Fatalf("a change to Queued's answer reached the backlog: %+v", b)
	}
}
