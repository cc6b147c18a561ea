package jobs_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/oncall/pager/app/jobs"
	"github.com/oncall/pager/internal/testclock"
)

func mustIdle(t *testing.T, q *jobs.Queue, want bool, when string) {
	t.Helper()
	got, err := q.Idle(context.Background())
	if err != nil {
		t.Fatalf("%s: Idle: %v", when, err)
	}
	if got != want {
		t.Fatalf("%s: Idle = %v, want %v", when, got, want)
	}
}

func TestIdleMeansNothingRunningAndNothingDue(t *testing.T) {
	clk := testclock.New()
	st := newLocal(t, t.TempDir())
	q := jobs.New(st, jobs.Options{Now: clk.Now, Logger: testLogger(t), Backoff: func(int) time.Duration { return time.Minute }})
	release := make(chan struct{})
	started := make(chan struct{}, 1)
	fails := true
	q.Handle("k", "send", func(ctx context.Context, _ *jobs.Job, _ *jobs.Step) (any, error) {
		started <- struct{}{}
		<-release
		if fails {
			return nil, errors.New("provider down")
		}
		return nil, nil
	})
	mustIdle(t, q, true, "empty queue")

	mustEnqueue(t, q, oneStep("j1", "k", "send"))
	mustIdle(t, q, false, "a job due now")

	done := make(chan error, 1)
	go func() { done <- q.RunOnce(context.Background()) }()
	<-started
	mustIdle(t, q, false, "a step running")
	release <- struct{}{}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	mustIdle(t, q, true, "the retry is a minute away")

	clk.Advance(time.Minute)
	mustIdle(t, q, false, "the retry is due")
	fails = false
	go func() { done <- q.RunOnce(context.Background()) }()
	<-started
	release <- struct{}{}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if j := mustGet(t, q, "j1"); !j.Finished() {
		t.Fatalf("job not finished: %s", fmtSteps(j))
	}
	mustIdle(t, q, true, "the job is done")
}

func TestIdleIgnoresStepsWithoutHandlerHere(t *testing.T) {
	st := newLocal(t, t.TempDir())
	q := jobs.New(st, jobs.Options{Now: testclock.New().Now, Logger: testLogger(t)})
	mustEnqueue(t, q, oneStep("j1", "elsewhere", "send"))
	mustIdle(t, q, true, "a step only another replica runs")
}
