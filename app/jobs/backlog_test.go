package jobs_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/oncall/pager/app/jobs"
	"github.com/oncall/pager/store/local"
)

// The backlog is what the runner saw: the waiting job with its retry time,
// not the finished one; this replica's own enqueues at once.
func TestBacklogIsTheRunnersLastScan(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	now := t0
	st, err := local.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	q := jobs.New(st, jobs.Options{Now: func() time.Time { return now },
		Backoff: func(int) time.Duration { return time.Minute }})
	q.Handle("k", "fail", func(context.Context, *jobs.Job, *jobs.Step) (any, error) {
		return nil, errors.New("provider down")
	})
	q.Handle("k", "ok", func(context.Context, *jobs.Job, *jobs.Step) (any, error) { return nil, nil })
	ctx := context.Background()
	for _, j := range []jobs.Job{
		{ID: "a-old", Kind: "k", Steps: []jobs.Step{{Name: "fail"}}},
		{ID: "b-done", Kind: "k", Steps: []jobs.Step{{Name: "ok"}}},
	} {
		if _, err := q.Enqueue(ctx, j); err != nil {
			t.Fatal(err)
		}
		now = now.Add(time.Second)
	}
	if b := q.Backlog(); b.Queued != 2 {
		t.Fatalf("this replica's own enqueues are known before a scan: %+v", b)
	}
	for range 2 {
		if err := q.RunOnce(ctx); err != nil {
			t.Fatal(err)
		}
	}
	b := q.Backlog()
	if b.Queued != 1 || !b.Oldest.Equal(t0) || b.NextDueJob != "a-old" || !b.NextDue.Equal(now.Add(time.Minute)) {
		t.Fatalf("backlog %+v; want a-old alone, created %v, due %v", b, t0, now.Add(time.Minute))
	}
}
