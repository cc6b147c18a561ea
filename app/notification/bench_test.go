package notification

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/oncall/pager/app/jobs"
	"github.com/oncall/pager/app/outbound"
)

// BenchmarkNotify1000 accepts one event for 1,000 recipients (a text and an
// e-mail each): planning 2,000 deliveries, booking 1,000 rate-limit slots
// and storing the record and the 1,000 recipient jobs, which is what the
// API does before it answers.
func BenchmarkNotify1000(b *testing.B) {
	r := newRig(b, rigOptions{users: 1000})
	n := r.notification(b, "Disk db1 at 97%")
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		n.ID = NewID()
		if err := r.ntf.Notify(ctx, r.q, n); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/1000, "ns/recipient")
}

// BenchmarkQueueOverheadPerMessage drains one notification whose deliveries
// cost nothing (fake Twilio and SMTP, no rate limit): what is left is the
// queue's cost per delivery — claiming, recording each outcome with a
// conditional write of the recipient's job, finishing. A job is as large as
// one recipient, so the cost per message should not depend on how many
// recipients the notification has.
func BenchmarkQueueOverheadPerMessage(b *testing.B) {
	for _, users := range []int{10, 100, 1000} {
		b.Run(fmt.Sprintf("recipients=%d", users), func(b *testing.B) {
			r := newRig(b, rigOptions{users: users, rates: outbound.Rates{SMSPerSecond: 1e9, CallsPerSecond: 1e9}, realClock: true})
			n := r.notification(b, "Disk db1 at 97%")
			ctx := context.Background()
			msgs := 0
			w0, size0 := r.st.Writes()
			for b.Loop() {
				n.ID = NewID()
				if err := r.ntf.Notify(ctx, r.q, n); err != nil {
					b.Fatal(err)
				}
				for {
					if err := r.q.RunOnce(ctx); err != nil {
						b.Fatal(err)
					}
					if active, err := r.st.List(ctx, "jobs/active/"+JobsPrefix(n.ID)); err == nil && len(active) == 0 {
						break
					}
				}
				msgs += 2 * users
			}
			w, size := r.st.Writes()
			if got := len(r.tw.sentMessages()) + r.mail.count(); got != msgs {
				b.Fatalf("%d deliveries, want %d", got, msgs)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(msgs), "ns/msg")
			b.ReportMetric(float64(w-w0)/float64(msgs), "writes/msg")
			b.ReportMetric(float64(size-size0)/float64(msgs), "B_written/msg")
		})
	}
}

// BenchmarkDrainRate queues texts for 200 recipients at an allowed 100
// segments a second and lets the queue drain them on the wall clock (the
// e-mail beside each text goes at once). It reports the achieved rate over
// the allowed one: 1.0 is exactly the rate, never above it.
func BenchmarkDrainRate(b *testing.B) {
	const (
		users = 200
		rate  = 100.0
	)
	for b.Loop() {
		r := newRig(b, rigOptions{users: users, rates: outbound.Rates{SMSPerSecond: rate, CallsPerSecond: rate}, realClock: true})
		// Keep the queue's poll short: the plan spaces texts 10ms apart.
		r.q = jobs.New(r.st, jobs.Options{Poll: 5 * time.Millisecond})
		r.ntf.Register(r.q)
		n := r.notification(b, "Disk db1 at 97%")
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() {
			defer close(done)
			_ = r.q.Run(ctx)
		}()
		if err := r.ntf.Notify(ctx, r.q, n); err != nil {
			b.Fatal(err)
		}
		for {
			if active, err := r.st.List(ctx, "jobs/active/"+JobsPrefix(n.ID)); err == nil && len(active) == 0 {
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
		cancel()
		<-done
		texts := r.tw.sentMessages()
		if len(texts) != users {
			b.Fatalf("%d texts", len(texts))
		}
		// The busiest second, as Twilio saw it (send times carry the
		// scheduler's jitter; the limiter's slots themselves are exact).
		peak := 0
		for i := range texts {
			n := 0
			for j := i; j < len(texts) && texts[j].At.Sub(texts[i].At) < time.Second; j++ {
				n++
			}
			peak = max(peak, n)
		}
		span := texts[len(texts)-1].At.Sub(texts[0].At)
		achieved := float64(users-1) / span.Seconds()
		b.ReportMetric(achieved/rate, "achieved/allowed")
		b.ReportMetric(float64(peak)/rate, "peak_1s/allowed")
	}
}
