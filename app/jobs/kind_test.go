package jobs_test

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/oncall/pager/app/jobs"
	"github.com/oncall/pager/internal/testclock"
	"github.com/oncall/pager/store/storetest"
)

// Steps named at run time (one per recipient) run by their kind's handler;
// a step with a handler of its own keeps it, and another kind's steps are
// not picked up by the fallback.
func TestHandleKindRunsStepsWithoutTheirOwnHandler(t *testing.T) {
	q := jobs.New(storetest.NewMem(), jobs.Options{Now: testclock.New().Now, Logger: testLogger(t)})
	var (
		mu  sync.Mutex // steps of one job run in parallel
		ran []string
	)
	record := func(s string) {
		mu.Lock()
		ran = append(ran, s)
		mu.Unlock()
	}
	q.HandleKind("notification", func(_ context.Context, j *jobs.Job, s *jobs.Step) (any, error) {
		record("kind:" + j.ID + ":" + s.Name)
		return nil, nil
	})
	q.Handle("notification", "summary", func(_ context.Context, j *jobs.Job, s *jobs.Step) (any, error) {
		record("own:" + j.ID + ":" + s.Name)
		return nil, nil
	})
	mustEnqueue(t, q, jobs.Job{ID: "ntf-1", Kind: "notification", Steps: []jobs.Step{
		{Name: "alice/sms"}, {Name: "bob/email"}, {Name: "summary", After: []string{"alice/sms", "bob/email"}}}})
	mustEnqueue(t, q, oneStep("other-1", "other", "alice/sms"))
	runOnce(t, q)
	runOnce(t, q)
	got := strings.Join(ran, " ")
	for _, want := range []string{"kind:ntf-1:alice/sms", "kind:ntf-1:bob/email", "own:ntf-1:summary"} {
		if !strings.Contains(got, want) {
			t.Errorf("ran %q, want %s", got, want)
		}
	}
	if len(ran) != 3 {
		t.Errorf("ran %q, want 3 steps (the other kind has no handler)", got)
	}
	if j := mustGet(t, q, "ntf-1"); !j.Finished() || j.Failed() {
		t.Errorf("ntf-1: %s", fmtSteps(j))
	}
	if j := mustGet(t, q, "other-1"); j.Finished() {
		t.Errorf("other-1 ran without a handler: %s", fmtSteps(j))
	}
}

// List reads back the jobs sharing an ID prefix, active or done, once each.
func TestListByIDPrefix(t *testing.T) {
	st := storetest.NewMem()
	q := jobs.New(st, jobs.Options{Now: testclock.New().Now, Logger: testLogger(t)})
	q.Handle("k", "s", func(context.Context, *jobs.Job, *jobs.Step) (any, error) { return "ok", nil })
	mustEnqueue(t, q, oneStep("ntf-a-0002", "k", "s"))
	mustEnqueue(t, q, oneStep("ntf-a-0001", "k", "s"))
	runOnce(t, q)                                          // both done
	mustEnqueue(t, q, oneStep("ntf-a-0003", "k", "never")) // stays active
	mustEnqueue(t, q, oneStep("ntf-ab-0001", "k", "s"))
	// A done job reopened by Update is in active/ and done/ at once.
	if _, err := q.Update(context.Background(), "ntf-a-0001", func(j *jobs.Job) error { return j.Reopen("s") }); err != nil {
		t.Fatal(err)
	}
	got, err := q.List(context.Background(), "ntf-a-")
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, j := range got {
		ids = append(ids, j.ID+"="+string(j.Steps[0].State))
	}
	if s := strings.Join(ids, " "); s != "ntf-a-0001=pending ntf-a-0002=done ntf-a-0003=pending" {
		t.Fatalf("List = %s", s)
	}
	if _, err := q.List(context.Background(), "../x"); err == nil {
		t.Fatal("List accepted a prefix that escapes the queue")
	}
}
