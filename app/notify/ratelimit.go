package notify

import (
	"context"
	"sync"
	"time"
)

// Limiter spaces sends per key (a sender number, an account) so the pager
// never exceeds the rate Twilio allows: Twilio queues or rejects above it,
// and carriers block long codes that burst. It reserves slots rather than
// refilling a bucket, so the long-run rate is exact and never above Rate.
//
// The limiter is per process: replicas sharing a number each get the full
// rate, so run one sending replica per number or divide the configured rate.
type Limiter struct {
	rate  float64 // units per second
	now   func() time.Time
	sleep func(ctx context.Context, d time.Duration) error

	mu   sync.Mutex
	next map[string]time.Time
}

// NewLimiter allows rate units per second per key.
func NewLimiter(rate float64, now func() time.Time, sleep func(context.Context, time.Duration) error) *Limiter {
	if rate <= 0 {
		rate = 1
	}
	if now == nil {
		now = time.Now
	}
	if sleep == nil {
		sleep = sleepCtx
	}
	return &Limiter{rate: rate, now: now, sleep: sleep, next: map[string]time.Time{}}
}

// Wait blocks until cost units may be sent for key. A cancelled wait gives
// its slot back only if nobody reserved after it; otherwise the gap stays,
// which errs on the slow side.
func (l *Limiter) Wait(ctx context.Context, key string, cost int) error {
	if cost < 1 {
		cost = 1
	}
	l.mu.Lock()
	now := l.now()
	start := l.next[key]
	if start.Before(now) {
		start = now
	}
	span := time.Duration(float64(cost) / l.rate * float64(time.Second))
	l.next[key] = start.Add(span)
	l.mu.Unlock()
	if d := start.Sub(now); d > 0 {
		if err := l.sleep(ctx, d); err != nil {
			l.mu.Lock()
			if l.next[key].Equal(start.Add(span)) {
				l.next[key] = start
			}
			l.mu.Unlock()
			return err
		}
	}
	return nil
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
