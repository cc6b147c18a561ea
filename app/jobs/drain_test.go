package jobs_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/oncall/pager/internal/testlog"

	"github.com/oncall/pager/app/jobs"
	"github.com/oncall/pager/store/local"
)

// A shutdown that interrupts a running step (one waiting for its send
// slot, say) is the normal end of a drain: the step runs again on the next
// start, and no INFO or louder line about it reads like lost work.
func TestShutdownInterruptingAStepLogsNoLostWork(t *testing.T) {
	st, err := local.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	var logs testlog.Buffer
	q := jobs.New(st, jobs.Options{Poll: time.Hour, Lease: 2 * time.Second, Replica: "r1",
		Logger: slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	started := make(chan struct{})
	q.Handle("k", "wait", func(ctx context.Context, _ *jobs.Job, _ *jobs.Step) (any, error) {
		close(started)
		<-ctx.Done()
		return nil, ctx.Err()
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = q.Run(ctx)
	}()
	if _, err := q.Enqueue(context.Background(), jobs.Job{ID: "slow-1", Kind: "k", Steps: []jobs.Step{{Name: "wait"}}}); err != nil {
		t.Fatal(err)
	}
	<-started
	cancel()
	<-done

	j, err := q.Get(context.Background(), "slow-1")
	if err != nil {
		t.Fatal(err)
	}
	if s := j.Step("wait"); s.State != jobs.StepPending || s.Attempts != 0 {
		t.Fatalf("interrupted step: %+v; want pending, no attempt counted", s)
	}
	interrupted := false
	for _, line := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatal(err)
		}
		msg, _ := rec["msg"].(string)
		if rec["level"] != "DEBUG" && rec["id"] == "slow-1" {
			t.Errorf("a %s line about the interrupted step: %s", rec["level"], line)
		}
		if strings.Contains(msg, "interrupted by shutdown") {
			interrupted = true
		}
	}
	if !interrupted {
		t.Errorf("the interruption is not even at debug level:\n%s", logs.String())
	}

	// The step may have sent before it was cut: its lease is kept, so the
	// restarted replica runs it as a job taken over (the outbound path then
	// looks on Twilio before sending again), not as a fresh one.
	if j.Lease == nil || j.Lease.Owner != q.Owner() {
		t.Fatalf("lease after an interrupted step: %+v; want %s's kept", j.Lease, q.Owner())
	}
	restarted := jobs.New(st, jobs.Options{Poll: time.Hour, Lease: 2 * time.Second, Replica: "r1", Logger: slog.New(slog.DiscardHandler)})
	var taken *jobs.Lease
	restarted.Handle("k", "wait", func(_ context.Context, j *jobs.Job, _ *jobs.Step) (any, error) {
		if j.TakenOver {
			taken = j.TakenFrom
		}
		return "done", nil
	})
	if err := restarted.RunOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	if taken == nil || taken.Owner != q.Owner() {
		t.Fatalf("the restarted replica ran the cut step as taken over from %+v; want from %s", taken, q.Owner())
	}
	if j, err := restarted.Get(context.Background(), "slow-1"); err != nil || !j.Finished() {
		t.Fatalf("after the restart: %v %+v; want the job finished", err, j)
	}
}
