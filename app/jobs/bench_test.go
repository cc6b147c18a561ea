package jobs_test

import (
	"context"
	"fmt"
	"runtime"
	"testing"

	"github.com/oncall/pager/app/jobs"
	"github.com/oncall/pager/store"
	"github.com/oncall/pager/store/storetest"
)

func BenchmarkEnqueue(b *testing.B) {
	q := jobs.New(newLocal(b, b.TempDir()), jobs.Options{})
	ctx := context.Background()
	j := jobs.Job{Kind: "voicemail", Payload: []byte(`{"recording":"RE0123456789abcdef","from":"+15551234567"}`),
		Steps: []jobs.Step{{Name: "fetch"}, {Name: "notify", After: []string{"fetch"}}}}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		j.ID = fmt.Sprintf("vm-%d", i)
		if created, err := q.Enqueue(ctx, j); err != nil || !created {
			b.Fatal(created, err)
		}
	}
}

// BenchmarkRunOnce runs 1,000 one-step jobs per RunOnce: scan, claim,
// run, record, move to done/. "mem" isolates the queue's own cost from
// disk I/O.
func BenchmarkRunOnce(b *testing.B) {
	for _, tc := range []struct {
		name string
		st   func(b *testing.B) store.Store
	}{
		{"local", func(b *testing.B) store.Store { return newLocal(b, b.TempDir()) }},
		{"mem", func(*testing.B) store.Store { return storetest.NewMem() }},
	} {
		b.Run(tc.name, func(b *testing.B) {
			const perRun = 1000
			ctx := context.Background()
			q := jobs.New(tc.st(b), jobs.Options{})
			q.Handle("k", "s", func(context.Context, *jobs.Job, *jobs.Step) (any, error) { return "ok", nil })
			var (
				mallocs uint64
				ms      runtime.MemStats
				n       int
			)
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				for range perRun {
					n++
					if _, err := q.Enqueue(ctx, oneStep(fmt.Sprintf("b-%d", n), "k", "s")); err != nil {
						b.Fatal(err)
					}
				}
				runtime.ReadMemStats(&ms)
				before := ms.Mallocs
				b.StartTimer()
				if err := q.RunOnce(ctx); err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				runtime.ReadMemStats(&ms)
				mallocs += ms.Mallocs - before
				b.StartTimer()
			}
			if s := q.Stats(); s.JobsFinished != int64(b.N*perRun) {
				b.Fatalf("finished %d jobs, want %d", s.JobsFinished, b.N*perRun)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*perRun), "ns/job")
			b.ReportMetric(float64(mallocs)/float64(b.N*perRun), "allocs/job")
		})
	}
}
