package jobs_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/oncall/pager/app/jobs"
	"github.com/oncall/pager/internal/testclock"
	"github.com/oncall/pager/internal/testlog"
	"github.com/oncall/pager/store"
)

func TestStepsRunInDependencyOrder(t *testing.T) {
	clk := testclock.New()
	st := newLocal(t, t.TempDir())
	q := jobs.New(st, jobs.Options{Now: clk.Now, Logger: testLogger(t)})

	var (
		mu    sync.Mutex
		order []string
	)
	// The two notify steps only depend on transcribe, so they run at the
	// same time: each waits (bounded) for the other to start.
	arrived := make(chan struct{}, 2)
	both := func() error {
		arrived <- struct{}{}
		deadline := time.After(5 * time.Second)
		for {
			mu.Lock()
			n := 0
			for _, s := range order {
				if strings.HasPrefix(s, "notify") {
					n++
				}
			}
			mu.Unlock()
			if n == 2 {
				return nil
			}
			select {
			case <-deadline:
				return errors.New("notify steps did not run in parallel")
			case <-time.After(time.Millisecond):
			}
		}
	}
	step := func(ret string) jobs.StepFunc {
		return func(_ context.Context, j *jobs.Job, s *jobs.Step) (any, error) {
			mu.Lock()
			order = append(order, s.Name)
			mu.Unlock()
			switch s.Name {
			case "notify-sms", "notify-email":
				if err := both(); err != nil {
					return nil, jobs.Permanent(err)
				}
			case "archive":
				// Results of earlier steps are visible.
				var text string
				if err := j.Step("transcribe").Decode(&text); err != nil {
					return nil, jobs.Permanent(err)
				}
				return text + "+" + string(j.Step("notify-sms").Result) + string(j.Step("notify-email").Result), nil
			}
			return ret, nil
		}
	}
	for _, name := range []string{"fetch", "transcribe", "notify-sms", "notify-email", "archive"} {
		q.Handle("voicemail", name, step(name+"-ok"))
	}
	mustEnqueue(t, q, jobs.Job{ID: "vm-1", Kind: "voicemail", Steps: []jobs.Step{
		// Listed out of order on purpose.
		{Name: "archive", After: []string{"notify-sms", "notify-email"}},
		{Name: "notify-sms", After: []string{"transcribe"}},
		{Name: "notify-email", After: []string{"transcribe"}},
		{Name: "transcribe", After: []string{"fetch"}},
		{Name: "fetch"},
	}})

	runOnce(t, q)

	j := mustGet(t, q, "vm-1")
	if !j.Finished() || j.Failed() {
		t.Fatalf("job not completed in one pass: %s", fmtSteps(j))
	}
	if !exists(t, st, "jobs/done/vm-1.json") || exists(t, st, "jobs/active/vm-1.json") {
		t.Fatal("finished job not moved from active/ to done/")
	}
	pos := func(s string) int { return slices.Index(order, s) }
	if len(order) != 5 || pos("fetch") != 0 || pos("transcribe") != 1 || pos("archive") != 4 {
		t.Fatalf("order = %v", order)
	}
	var res string
	if err := j.Step("archive").Decode(&res); err != nil || res != `transcribe-ok+"notify-sms-ok""notify-email-ok"` {
		t.Fatalf("archive result = %q, %v", res, err)
	}
}

func TestFailingStepIsRetriedWithBackoff(t *testing.T) {
	clk := testclock.New()
	t0 := clk.Now()
	st := newLocal(t, t.TempDir())
	var attemptsSeen []int
	q := jobs.New(st, jobs.Options{Now: clk.Now, Logger: testLogger(t),
		Backoff: func(n int) time.Duration {
			attemptsSeen = append(attemptsSeen, n)
			return time.Duration(n) * time.Minute
		}})
	runs := newCounter()
	q.Handle("alert", "sms", func(_ context.Context, j *jobs.Job, s *jobs.Step) (any, error) {
		if n := runs.inc(j, s); n < 3 {
			return nil, fmt.Errorf("provider said no (%d)", n)
		}
		return "SM123", nil
	})
	q.Handle("alert", "email", func(_ context.Context, j *jobs.Job, s *jobs.Step) (any, error) {
		runs.inc(j, s)
		return nil, nil
	})
	q.Handle("alert", "limited", func(_ context.Context, j *jobs.Job, s *jobs.Step) (any, error) {
		runs.inc(j, s)
		return nil, errors.New("always")
	})
	mustEnqueue(t, q, jobs.Job{ID: "al-1", Kind: "alert", Steps: []jobs.Step{
		{Name: "sms"}, {Name: "email"}, {Name: "limited", MaxAttempts: 2},
	}})

	runOnce(t, q)
	j := mustGet(t, q, "al-1")
	sms := stepState(t, j, "sms")
	if sms.State != jobs.StepPending || sms.Attempts != 1 || !sms.NextAt.Equal(t0.Add(time.Minute)) ||
		sms.LastError != "provider said no (1)" {
		t.Fatalf("after first failure: %+v", sms)
	}
	if stepState(t, j, "email").State != jobs.StepDone {
		t.Fatalf("independent step not done: %s", fmtSteps(j))
	}
	if j.Lease != nil {
		t.Fatalf("lease not released: %+v", j.Lease)
	}

	// Not due yet: nothing runs, however often the runner looks.
	runOnce(t, q)
	clk.Advance(59 * time.Second)
	runOnce(t, q)
	if n := runs.get("al-1/sms"); n != 1 {
		t.Fatalf("sms ran %d times before its backoff elapsed", n)
	}

	clk.Advance(time.Second)
	runOnce(t, q)
	j = mustGet(t, q, "al-1")
	if sms := stepState(t, j, "sms"); runs.get("al-1/sms") != 2 || sms.Attempts != 2 ||
		!sms.NextAt.Equal(t0.Add(3*time.Minute)) {
		t.Fatalf("after second failure: %+v", sms)
	}
	if l := stepState(t, j, "limited"); l.State != jobs.StepFailed || l.Attempts != 2 {
		t.Fatalf("MaxAttempts 2 step: %+v", l)
	}

	clk.Advance(2 * time.Minute)
	runOnce(t, q)
	j = mustGet(t, q, "al-1")
	sms = stepState(t, j, "sms")
	if !j.Finished() || sms.State != jobs.StepDone || sms.Attempts != 3 || sms.LastError != "" ||
		string(sms.Result) != `"SM123"` {
		t.Fatalf("after success: %s", fmtSteps(j))
	}
	if !j.Failed() || !exists(t, st, "jobs/done/al-1.json") {
		t.Fatal("job with an exhausted step not finished as failed")
	}
	clk.Advance(time.Hour)
	runOnce(t, q)
	if runs.get("al-1/sms") != 3 || runs.get("al-1/email") != 1 || runs.get("al-1/limited") != 2 {
		t.Fatalf("runs after completion: %v", runs.m)
	}
	if !slices.Equal(attemptsSeen, []int{1, 1, 2}) {
		t.Fatalf("backoff called with %v, want [1 1 2]", attemptsSeen)
	}
	if s := q.Stats(); s.StepsRetried != 3 || s.StepsDone != 2 || s.StepsFailed != 1 || s.JobsFinished != 1 {
		t.Fatalf("stats = %+v", s)
	}
}

func TestPermanentFailureIsNotRetried(t *testing.T) {
	clk := testclock.New()
	st := newLocal(t, t.TempDir())
	q := jobs.New(st, jobs.Options{Now: clk.Now, Logger: testLogger(t)})
	runs := newCounter()
	q.Handle("alert", "sms", func(_ context.Context, j *jobs.Job, s *jobs.Step) (any, error) {
		runs.inc(j, s)
		return nil, jobs.Permanent(errors.New("invalid number"))
	})
	for _, name := range []string{"confirm", "audit"} {
		q.Handle("alert", name, func(_ context.Context, j *jobs.Job, s *jobs.Step) (any, error) {
			runs.inc(j, s)
			return nil, nil
		})
	}
	mustEnqueue(t, q, jobs.Job{ID: "al-2", Kind: "alert", Steps: []jobs.Step{
		{Name: "sms"}, {Name: "confirm", After: []string{"sms"}}, {Name: "audit"},
	}})
	runOnce(t, q)
	j := mustGet(t, q, "al-2")
	if sms := stepState(t, j, "sms"); sms.State != jobs.StepFailed || sms.Attempts != 1 || sms.LastError != "invalid number" {
		t.Fatalf("sms: %+v", sms)
	}
	if c := stepState(t, j, "confirm"); c.State != jobs.StepFailed || !strings.Contains(c.LastError, `"sms"`) {
		t.Fatalf("dependent of a failed step: %+v", c)
	}
	if !j.Finished() || !exists(t, st, "jobs/done/al-2.json") || stepState(t, j, "audit").State != jobs.StepDone {
		t.Fatalf("job not finished: %s", fmtSteps(j))
	}
	clk.Advance(24 * time.Hour)
	runOnce(t, q)
	if runs.get("al-2/sms") != 1 || runs.get("al-2/confirm") != 0 || runs.get("al-2/audit") != 1 {
		t.Fatalf("runs = %v", runs.m)
	}
}

func TestPanickingHandlerIsRetried(t *testing.T) {
	clk := testclock.New()
	q := jobs.New(newLocal(t, t.TempDir()), jobs.Options{Now: clk.Now, Logger: testLogger(t),
		Backoff: func(int) time.Duration { return time.Second }})
	runs := newCounter()
	q.Handle("k", "s", func(_ context.Context, j *jobs.Job, s *jobs.Step) (any, error) {
		if runs.inc(j, s) == 1 {
			panic("nil map")
		}
		return nil, nil
	})
	mustEnqueue(t, q, oneStep("p-1", "k", "s"))
	runOnce(t, q)
	if s := stepState(t, mustGet(t, q, "p-1"), "s"); s.State != jobs.StepPending || !strings.Contains(s.LastError, "nil map") {
		t.Fatalf("after panic: %+v", s)
	}
	clk.Advance(time.Second)
	runOnce(t, q)
	if j := mustGet(t, q, "p-1"); !j.Finished() || j.Failed() {
		t.Fatalf("after retry: %s", fmtSteps(j))
	}
}

// A replica without a handler for a step leaves the job alone (no lease
// taken) for a replica that has one.
func TestStepWithoutHandlerIsLeftForAnotherReplica(t *testing.T) {
	clk := testclock.New()
	dir := t.TempDir()
	old := jobs.New(newLocal(t, dir), jobs.Options{Now: clk.Now, Owner: "old"})
	mustEnqueue(t, old, oneStep("n-1", "new-kind", "s"))
	runOnce(t, old)
	if j := mustGet(t, old, "n-1"); j.Lease != nil || j.Version != 1 {
		t.Fatalf("replica without handler touched the job: %+v", j)
	}
	upgraded := jobs.New(newLocal(t, dir), jobs.Options{Now: clk.Now, Owner: "new"})
	upgraded.Handle("new-kind", "s", func(context.Context, *jobs.Job, *jobs.Step) (any, error) { return nil, nil })
	runOnce(t, upgraded)
	if j := mustGet(t, old, "n-1"); !j.Finished() {
		t.Fatalf("not run by the replica with the handler: %s", fmtSteps(j))
	}
}

func TestCorruptObjectIsMovedAside(t *testing.T) {
	ctx := context.Background()
	clk := testclock.New()
	st := newLocal(t, t.TempDir())
	var logs testlog.Buffer
	q := jobs.New(st, jobs.Options{Now: clk.Now, Logger: bufLogger(&logs)})
	runs := newCounter()
	q.Handle("k", "s", func(_ context.Context, j *jobs.Job, s *jobs.Step) (any, error) {
		runs.inc(j, s)
		return nil, nil
	})
	garbage := []byte(`{"id":"bad","steps":[{"name":`)
	if _, err := st.Put(ctx, "jobs/active/bad.json", garbage, store.Cond{}); err != nil {
		t.Fatal(err)
	}
	mustEnqueue(t, q, oneStep("good", "k", "s"))

	runOnce(t, q)

	if runs.get("good/s") != 1 {
		t.Fatal("a corrupt object blocked the valid job")
	}
	if exists(t, st, "jobs/active/bad.json") {
		t.Fatal("corrupt object still in active/")
	}
	obj, err := st.Get(ctx, "jobs/corrupt/bad.json")
	if err != nil || string(obj.Data) != string(garbage) {
		t.Fatalf("corrupt/bad.json = %q, %v; want the original bytes", obj.Data, err)
	}
	if out := logs.String(); !strings.Contains(out, "level=ERROR") || !strings.Contains(out, "jobs/active/bad.json") {
		t.Fatalf("not logged at error level:\n%s", out)
	}
	if _, err := q.Get(ctx, "bad"); !errors.Is(err, jobs.ErrNotFound) {
		t.Fatalf("Get(bad) = %v, want ErrNotFound", err)
	}
	if q.Stats().Corrupt != 1 {
		t.Fatalf("stats = %+v", q.Stats())
	}
}

// Run picks up a new job at once, not at the next poll. In a bubble: the
// one-hour poll and the ten-second limit are on the fake clock.
func TestRunStartsEnqueuedJobWithoutWaitingForPoll(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		q := jobs.New(newLocal(t, t.TempDir()), jobs.Options{Poll: time.Hour, Logger: testLogger(t)})
		ran := make(chan string, 1)
		q.Handle("k", "s", func(_ context.Context, j *jobs.Job, _ *jobs.Step) (any, error) {
			ran <- j.ID
			return nil, nil
		})
		ctx, cancel := context.WithCancel(context.Background())
		stopped := make(chan error)
		go func() { stopped <- q.Run(ctx) }()
		defer func() {
			cancel()
			if err := <-stopped; !errors.Is(err, context.Canceled) {
				t.Errorf("Run returned %v", err)
			}
		}()
		synctest.Wait() // the first (empty) scan has passed: Run waits
		mustEnqueue(t, q, oneStep("w-1", "k", "s"))
		select {
		case id := <-ran:
			if id != "w-1" {
				t.Fatalf("ran %s", id)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("job did not start before the (one hour) poll")
		}
	})
}
