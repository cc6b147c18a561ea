package alerts_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"runtime"
	"testing"
	"time"

	"github.com/oncall/pager/app/alerts"
	"github.com/oncall/pager/internal/testclock"
	"github.com/oncall/pager/store"
	"github.com/oncall/pager/store/storetest"
)

// stores the benchmarks run on: the local folder (what a single node
// uses, fsync per write) and memory (the domain's own cost).
var benchStores = []struct {
	name string
	new  func(b *testing.B) store.Store
}{
	{"local", func(b *testing.B) store.Store { return newLocal(b, b.TempDir()) }},
	{"mem", func(*testing.B) store.Store { return storetest.NewMem() }},
}

func benchEnv(b *testing.B, st store.Store) (*env, *testclock.Clock) {
	clk := newClock()
	set := testSettings(0)
	set.Throttle = alerts.Throttle{} // the defaults: a flood is held for digests
	return newEnv(b, st, "bench", clk, &recorder{clk: clk}, set), clk
}

// BenchmarkTrigger: alerts processed per second. "new" opens an alert per
// event (dedup slot, alert, reply code, escalation job); "dedup" counts a
// repeat of an open problem.
func BenchmarkTrigger(b *testing.B) {
	for _, sc := range benchStores {
		for _, kind := range []string{"new", "dedup"} {
			b.Run(sc.name+"/"+kind, func(b *testing.B) {
				e, _ := benchEnv(b, sc.new(b))
				ctx := context.Background()
				ev := alerts.Event{Action: alerts.EventTrigger, Summary: "disk full on db1", Source: "db1", DedupKey: "same"}
				b.ReportAllocs()
				i := 0
				for b.Loop() {
					if kind == "new" {
						ev.DedupKey = fmt.Sprint("k", i)
					}
					if _, _, err := e.svc.Trigger(ctx, ev); err != nil {
						b.Fatal(err)
					}
					i++
				}
				b.ReportMetric(float64(i)/b.Elapsed().Seconds(), "alerts/s")
			})
		}
	}
}

// BenchmarkEscalate: alerts escalated per second — the first step of each
// escalation (check state, resolve targets, record, throttle, page).
func BenchmarkEscalate(b *testing.B) {
	for _, sc := range benchStores {
		b.Run(sc.name, func(b *testing.B) {
			const batch = 200
			ctx := context.Background()
			e, _ := benchEnv(b, sc.new(b))
			n := 0
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				for range batch {
					if _, _, err := e.svc.Trigger(ctx, alerts.Event{DedupKey: fmt.Sprint("k", n), Summary: "s"}); err != nil {
						b.Fatal(err)
					}
					n++
				}
				b.StartTimer()
				if err := e.q.RunOnce(ctx); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "alerts/s")
		})
	}
}

// BenchmarkOpenAlerts10k: a replica with 10,000 open alerts (each paged
// once, escalation pending): heap held by the service and queue, the cost
// of one queue scan, and triggers per second (dedup hits and new alerts)
// at that size. The local store keeps nothing in memory, so the heap
// figure is the process's own.
func BenchmarkOpenAlerts10k(b *testing.B) {
	const open = 10000
	ctx := context.Background()
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)

	e, clk := benchEnv(b, newLocal(b, b.TempDir()))
	ids := make([]string, 0, open)
	for i := range open {
		a, _, err := e.svc.Trigger(ctx, alerts.Event{DedupKey: fmt.Sprint("open-", i), Summary: fmt.Sprint("problem ", i)})
		if err != nil {
			b.Fatal(err)
		}
		ids = append(ids, a.DedupKey)
	}
	if err := e.q.RunOnce(ctx); err != nil { // pages step 1 of each
		b.Fatal(err)
	}
	clk.Set(t0.Add(time.Minute)) // nothing due: the next steps are at +5m
	scanStart := time.Now()
	if err := e.q.RunOnce(ctx); err != nil {
		b.Fatal(err)
	}
	scan := time.Since(scanStart)
	runtime.GC()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	heapMB := float64(int64(after.HeapAlloc)-int64(before.HeapAlloc)) / (1 << 20)

	listStart := time.Now()
	all, err := e.svc.Open(ctx)
	if err != nil || len(all) != open {
		b.Fatalf("open = %d, %v", len(all), err)
	}
	list := time.Since(listStart)
	all = nil

	b.ResetTimer()
	n := 0
	for b.Loop() {
		ev := alerts.Event{Summary: "again", DedupKey: ids[rand.IntN(open)]}
		if n%10 == 9 {
			ev.DedupKey = fmt.Sprint("more-", n) // one new alert in ten
		}
		if _, _, err := e.svc.Trigger(ctx, ev); err != nil {
			b.Fatal(err)
		}
		n++
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "alerts/s")
	b.ReportMetric(heapMB, "heap-MB")
	b.ReportMetric(float64(scan.Milliseconds()), "scan-ms")
	b.ReportMetric(float64(list.Milliseconds()), "list-ms")
}
