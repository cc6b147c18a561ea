package jobs_test

import (
	"context"
	"errors"
	"testing"

	"github.com/oncall/pager/app/jobs"
	"github.com/oncall/pager/internal/testclock"
)

// A delivery status callback reports that a notification already marked
// done failed: Update reopens the step of the finished job, which runs once
// more and the job finishes again.
func TestUpdateReopensStepOfFinishedJob(t *testing.T) {
	ctx := context.Background()
	clk := testclock.New()
	st := newLocal(t, t.TempDir())
	q := jobs.New(st, jobs.Options{Now: clk.Now, Logger: testLogger(t)})
	runs := newCounter()
	var previous []string
	q.Handle("alert", "sms", func(_ context.Context, j *jobs.Job, s *jobs.Step) (any, error) {
		n := runs.inc(j, s)
		previous = append(previous, string(s.Result))
		if n == 1 {
			return "SM-first", nil
		}
		return "SM-second", nil
	})
	q.Handle("alert", "log", func(_ context.Context, j *jobs.Job, s *jobs.Step) (any, error) {
		runs.inc(j, s)
		return nil, nil
	})
	mustEnqueue(t, q, jobs.Job{ID: "al-3", Kind: "alert", Steps: []jobs.Step{{Name: "sms"}, {Name: "log"}}})
	runOnce(t, q)
	first := mustGet(t, q, "al-3")
	if !first.Finished() || exists(t, st, "jobs/active/al-3.json") {
		t.Fatalf("not finished: %s", fmtSteps(first))
	}

	// No change: nothing written.
	same, err := q.Update(ctx, "al-3", func(*jobs.Job) error { return nil })
	if err != nil || same.Version != first.Version || exists(t, st, "jobs/active/al-3.json") {
		t.Fatalf("no-op Update = v%d, %v (was v%d)", same.Version, err, first.Version)
	}

	reopened, err := q.Update(ctx, "al-3", func(j *jobs.Job) error { return j.Reopen("sms") })
	if err != nil {
		t.Fatal(err)
	}
	if s := stepState(t, reopened, "sms"); s.State != jobs.StepPending || reopened.Version <= first.Version ||
		!reopened.FinishedAt.IsZero() {
		t.Fatalf("reopened = v%d %s", reopened.Version, fmtSteps(reopened))
	}
	if got := mustGet(t, q, "al-3"); got.Finished() || !exists(t, st, "jobs/active/al-3.json") {
		t.Fatalf("Get after reopen = %s; want the active, reopened job", fmtSteps(got))
	}
	if created, err := q.Enqueue(ctx, oneStep("al-3", "alert", "sms")); created || err != nil {
		t.Fatalf("Enqueue of a reopened job = %v, %v; want duplicate", created, err)
	}

	runOnce(t, q)
	runOnce(t, q)
	again := mustGet(t, q, "al-3")
	if !again.Finished() || exists(t, st, "jobs/active/al-3.json") {
		t.Fatalf("reopened job not finished again: %s", fmtSteps(again))
	}
	if runs.get("al-3/sms") != 2 || runs.get("al-3/log") != 1 {
		t.Fatalf("runs = %v; want sms twice, log once", runs.m)
	}
	if string(stepState(t, again, "sms").Result) != `"SM-second"` || previous[1] != `"SM-first"` {
		t.Fatalf("result %s, handler saw previous %q", stepState(t, again, "sms").Result, previous)
	}

	if _, err := q.Update(ctx, "nope", func(*jobs.Job) error { return nil }); !errors.Is(err, jobs.ErrNotFound) {
		t.Fatalf("Update(unknown) = %v, want ErrNotFound", err)
	}
	boom := errors.New("boom")
	if _, err := q.Update(ctx, "al-3", func(*jobs.Job) error { return boom }); !errors.Is(err, boom) {
		t.Fatalf("Update with failing fn = %v", err)
	}
}

// An Update that changes a step while it runs wins over that run's outcome;
// the step runs again under its new settings.
func TestUpdateDuringRunWins(t *testing.T) {
	ctx := context.Background()
	clk := testclock.New()
	q := jobs.New(newLocal(t, t.TempDir()), jobs.Options{Now: clk.Now, Logger: testLogger(t)})
	runs := newCounter()
	started, release := make(chan struct{}), make(chan struct{})
	q.Handle("k", "s", func(_ context.Context, j *jobs.Job, s *jobs.Step) (any, error) {
		if runs.inc(j, s) == 1 {
			close(started)
			<-release
			return "stale", nil
		}
		return s.MaxAttempts, nil
	})
	mustEnqueue(t, q, oneStep("u-1", "k", "s"))
	done := make(chan struct{})
	go func() {
		defer close(done)
		runOnce(t, q)
	}()
	<-started
	if _, err := q.Update(ctx, "u-1", func(j *jobs.Job) error {
		j.Step("s").MaxAttempts = 5
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	close(release)
	<-done
	j := mustGet(t, q, "u-1")
	if s := stepState(t, j, "s"); s.State != jobs.StepPending || s.MaxAttempts != 5 {
		t.Fatalf("stale outcome recorded over the update: %s", fmtSteps(j))
	}
	runOnce(t, q)
	j = mustGet(t, q, "u-1")
	if s := stepState(t, j, "s"); !j.Finished() || string(s.Result) != "5" || runs.get("u-1/s") != 2 {
		t.Fatalf("after rerun: %s result %s", fmtSteps(j), s.Result)
	}
	if q.Stats().StepsDiscarded != 1 {
		t.Fatalf("stats = %+v", q.Stats())
	}
}
