package jobs_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/oncall/pager/app/jobs"
	"github.com/oncall/pager/internal/testclock"
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
