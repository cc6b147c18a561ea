package jobs_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/oncall/pager/app/jobs"
	"github.com/oncall/pager/internal/testclock"
	"github.com/oncall/pager/store"
)

func TestEnqueueIsDurableAndIdempotent(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	clk := testclock.New()
	runs := newCounter()
	transcribe := func(_ context.Context, j *jobs.Job, s *jobs.Step) (any, error) {
		runs.inc(j, s)
		var p struct{ N int }
		if err := j.Decode(&p); err != nil {
			return nil, err
		}
		return map[string]int{"n": p.N}, nil
	}

	q := jobs.New(newLocal(t, dir), jobs.Options{Now: clk.Now, Logger: testLogger(t)})
	job := jobs.Job{ID: "vm-RE1", Kind: "voicemail", Payload: json.RawMessage(`{"N":1}`),
		Steps: []jobs.Step{{Name: "transcribe"}}}
	mustEnqueue(t, q, job)

	// A restarted process (new store handle, new queue) sees the job.
	q2 := jobs.New(newLocal(t, dir), jobs.Options{Now: clk.Now, Logger: testLogger(t)})
	q2.Handle("voicemail", "transcribe", transcribe)
	got := mustGet(t, q2, "vm-RE1")
	if s := stepState(t, got, "transcribe"); s.State != jobs.StepPending || string(got.Payload) != `{"N":1}` {
		t.Fatalf("stored job = %+v", got)
	}

	// A duplicate callback with other data changes nothing.
	dup := job
	dup.Payload = json.RawMessage(`{"N":2}`)
	if created, err := q.Enqueue(ctx, dup); created || err != nil {
		t.Fatalf("duplicate Enqueue while active = %v, %v; want false, nil", created, err)
	}
	runOnce(t, q2)
	done := mustGet(t, q2, "vm-RE1")
	if !done.Finished() || string(stepState(t, done, "transcribe").Result) != `{"n":1}` {
		t.Fatalf("after run: %s result %s", fmtSteps(done), stepState(t, done, "transcribe").Result)
	}
	// ...and once done, it is still a duplicate: nothing runs again.
	if created, err := q.Enqueue(ctx, dup); created || err != nil {
		t.Fatalf("duplicate Enqueue after done = %v, %v; want false, nil", created, err)
	}
	q.Handle("voicemail", "transcribe", transcribe)
	runOnce(t, q)
	runOnce(t, q2)
	if n := runs.get("vm-RE1/transcribe"); n != 1 {
		t.Fatalf("transcribe ran %d times, want 1", n)
	}
	if s := q.Stats(); s.Enqueued != 1 || s.Duplicates != 2 {
		t.Fatalf("stats = %+v, want 1 enqueued, 2 duplicates", s)
	}
}

func TestEnqueueRejectsMalformedJobs(t *testing.T) {
	st := newLocal(t, t.TempDir())
	q := jobs.New(st, jobs.Options{})
	step := []jobs.Step{{Name: "a"}}
	for name, j := range map[string]jobs.Job{
		"empty id":      {ID: "", Kind: "k", Steps: step},
		"path":          {ID: "../x", Kind: "k", Steps: step},
		"slash":         {ID: "a/b", Kind: "k", Steps: step},
		"leading dot":   {ID: ".tmp-x", Kind: "k", Steps: step},
		"space":         {ID: "a b", Kind: "k", Steps: step},
		"too long":      {ID: strings.Repeat("x", 129), Kind: "k", Steps: step},
		"no kind":       {ID: "a", Steps: step},
		"no steps":      {ID: "a", Kind: "k"},
		"dup step":      {ID: "a", Kind: "k", Steps: []jobs.Step{{Name: "a"}, {Name: "a"}}},
		"unknown dep":   {ID: "a", Kind: "k", Steps: []jobs.Step{{Name: "a", After: []string{"b"}}}},
		"self dep":      {ID: "a", Kind: "k", Steps: []jobs.Step{{Name: "a", After: []string{"a"}}}},
		"cycle":         {ID: "a", Kind: "k", Steps: []jobs.Step{{Name: "a", After: []string{"b"}}, {Name: "b", After: []string{"a"}}}},
		"bad payload":   {ID: "a", Kind: "k", Steps: step, Payload: json.RawMessage("{")},
		"unknown state": {ID: "a", Kind: "k", Steps: []jobs.Step{{Name: "a", State: "running"}}},
	} {
		created, err := q.Enqueue(context.Background(), j)
		if created || !errors.Is(err, jobs.ErrInvalidJob) {
			t.Errorf("%s: Enqueue = %v, %v; want ErrInvalidJob", name, created, err)
		}
	}
	if infos, err := st.List(context.Background(), ""); err != nil || len(infos) != 0 {
		t.Fatalf("store holds %v (%v); want nothing written", infos, err)
	}
	if _, err := q.Enqueue(context.Background(), oneStep("Ok-1.2_3", "k", "a")); err != nil {
		t.Fatalf("valid id rejected: %v", err)
	}
}

// A duplicate arriving while the original completes must neither run again
// nor leave an active copy: completion writes done/ before deleting active/,
// and Enqueue checks done/ again after creating.
func TestEnqueueRacingCompletionIsDuplicate(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	clk := testclock.New()
	runs := newCounter()
	handle := func(_ context.Context, j *jobs.Job, s *jobs.Step) (any, error) {
		runs.inc(j, s)
		return nil, nil
	}
	runner := jobs.New(newLocal(t, dir), jobs.Options{Now: clk.Now, Owner: "runner", Logger: testLogger(t)})
	runner.Handle("alert", "page", handle)
	mustEnqueue(t, runner, oneStep("al-1", "alert", "page"))

	fs := &faultStore{Store: newLocal(t, dir)}
	racer := jobs.New(fs, jobs.Options{Now: clk.Now, Owner: "racer", Logger: testLogger(t)})
	racer.Handle("alert", "page", handle)
	fired := false
	hook := func(op, key string, cond store.Cond) {
		// The racer has seen no done/ object and is about to create
		// active/: the original finishes right now.
		if op == "put" && cond.IfNoneMatch && strings.HasSuffix(key, "active/al-1.json") && !fired {
			fired = true
			runOnce(t, runner)
		}
	}
	fs.before.Store(&hook)
	created, err := racer.Enqueue(ctx, oneStep("al-1", "alert", "page"))
	if !fired {
		t.Fatal("hook did not fire")
	}
	if created || err != nil {
		t.Fatalf("racing Enqueue = %v, %v; want false, nil", created, err)
	}
	if exists(t, fs.Store, "jobs/active/al-1.json") {
		t.Fatal("duplicate left in active/")
	}
	runOnce(t, racer)
	runOnce(t, runner)
	if n := runs.get("al-1/page"); n != 1 {
		t.Fatalf("page ran %d times, want 1", n)
	}
}

// finishingStore stands for another replica so fast that the job just
// created is run to the end, moved to done/ and deleted from active/ before
// its Put returns to Enqueue.
type finishingStore struct {
	store.Store
}

func (f finishingStore) Put(ctx context.Context, key string, data []byte, c store.Cond) (string, error) {
	etag, err := f.Store.Put(ctx, key, data, c)
	if err != nil || !strings.HasPrefix(key, "jobs/active/") {
		return etag, err
	}
	done := "jobs/done/" + strings.TrimPrefix(key, "jobs/active/")
	if _, err := f.Store.Put(ctx, done, data, store.Cond{}); err != nil {
		return "", err
	}
	return etag, f.Store.Delete(ctx, key)
}

// A new job finished by another replica before Enqueue's own check is
// still reported created (app/jobs flake: TestTwoReplicasRunEachStepOnce
// saw created=false for a new id under load); an older job with that ID is
// still a duplicate.
func TestEnqueueJobFinishedAtOnceIsCreated(t *testing.T) {
	st := finishingStore{newLocal(t, t.TempDir())}
	q := jobs.New(st, jobs.Options{Owner: "a"})
	created, err := q.Enqueue(context.Background(), oneStep("fast-1", "k", "s"))
	if err != nil || !created {
		t.Fatalf("Enqueue = %v, %v; want created", created, err)
	}
	created, err = q.Enqueue(context.Background(), oneStep("fast-1", "k", "s"))
	if err != nil || created {
		t.Fatalf("second Enqueue = %v, %v; want a duplicate", created, err)
	}
}
