package outbound

import (
	"context"
	"sync"
	"time"

	"github.com/oncall/pager/app/retry"
)

// Limiter spaces sends per key (a sender number, an account) so the pager
// never exceeds the rate Twilio allows: Twilio queues or rejects above it,
// and carriers block long codes that burst. It reserves slots rather than
// refilling a bucket, so the long-run rate is exact and never above Rate.
//
// Besides the slots actually reserved by senders it keeps a plan: Plan hands
// out the slots queued work will probably get, so a job can schedule each
// step for its turn instead of having it hold a worker while it waits (see
// Outbound.Notify).
//
// The limiter is per process; replicas take turns sending from a number
// (turns.go), so its rate holds across them.
type Limiter struct {
	now   func() time.Time
	sleep func(ctx context.Context, d time.Duration) error

	mu      sync.Mutex
	rate    float64              // units per second
	next    map[string]time.Time // first free slot per key
	planned map[string]time.Time // end of the slots planned per key
	// paced is, per key, when the last send that actually left may be
	// followed: a send woken late must not bring the next closer to it
	// than the rate allows (a late first send and an on-time sixth would
	// otherwise put six of five-a-second in one second).
	paced  map[string]time.Time
	pacers map[string]chan struct{} // one sender at a time per key passes Pace
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
		sleep = retry.Sleep
	}
	return &Limiter{rate: rate, now: now, sleep: sleep, next: map[string]time.Time{}, planned: map[string]time.Time{}, paced: map[string]time.Time{}, pacers: map[string]chan struct{}{}}
}

// SetRate changes the rate for slots reserved from now on; slots already
// handed out keep their spacing, so lowering the rate never lets a burst
// through.
func (l *Limiter) SetRate(rate float64) {
	if rate <= 0 {
		return
	}
	l.mu.Lock()
	l.rate = rate
	l.mu.Unlock()
}

// Rate is the current rate in units per second.
func (l *Limiter) Rate() float64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.rate
}

func (l *Limiter) span(cost int) time.Duration {
	if cost < 1 {
		cost = 1
	}
	return time.Duration(float64(cost) / l.rate * float64(time.Second))
}

// Wait blocks until cost units may be sent for key. A cancelled wait gives
// its slot back only if nobody reserved after it; otherwise the gap stays,
// which errs on the slow side.
func (l *Limiter) Wait(ctx context.Context, key string, cost int) error {
	r, _ := l.reserve(key, cost, -1)
	return r.wait(ctx)
}

// reservation is a slot taken by reserve.
type reservation struct {
	l          *Limiter
	key        string
	start, end time.Time
	delay      time.Duration // from when it was taken until start
}

// reserve takes the next slot for key, unless it starts more than max from
// now (max < 0: whatever the delay). ok is false, and nothing is taken,
// when the slot is too far off; delay then says how far.
func (l *Limiter) reserve(key string, cost int, max time.Duration) (r reservation, ok bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	start := l.next[key]
	if start.Before(now) {
		start = now
	}
	r = reservation{l: l, key: key, start: start, end: start.Add(l.span(cost)), delay: start.Sub(now)}
	if max >= 0 && r.delay > max {
		return r, false
	}
	l.next[key] = r.end
	return r, true
}

// wait sleeps until the slot; on cancellation the slot is given back if it
// is still the last one.
func (r reservation) wait(ctx context.Context) error {
	if r.delay <= 0 {
		return nil
	}
	err := r.l.sleep(ctx, r.delay)
	if err != nil {
		r.l.mu.Lock()
		if r.l.next[r.key].Equal(r.end) {
			r.l.next[r.key] = r.start
		}
		r.l.mu.Unlock()
	}
	return err
}

// Pace holds a send of cost units for key, right before it leaves, until
// the previous one that left is its slot's length behind: slots are exact,
// but a sender woken or held up late (a store call between its slot and its
// send) must not bring the next send closer than the rate allows.
//
// Senders pass one at a time, and each is measured from when the one before
// it actually went, so a late wake-up delays what follows instead of
// crowding it.
func (l *Limiter) Pace(ctx context.Context, key string, cost int) error {
	l.mu.Lock()
	turn, ok := l.pacers[key]
	if !ok {
		turn = make(chan struct{}, 1)
		l.pacers[key] = turn
	}
	l.mu.Unlock()
	select {
	case turn <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-turn }()
	l.mu.Lock()
	d := l.paced[key].Sub(l.now())
	l.mu.Unlock()
	if d > 0 {
		if err := l.sleep(ctx, d); err != nil {
			return err
		}
	}
	l.mu.Lock()
	l.paced[key] = l.now().Add(l.span(cost))
	l.mu.Unlock()
	return nil
}

// Delay is how long a send of one unit for key would wait now.
func (l *Limiter) Delay(key string) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	if d := l.next[key].Sub(l.now()); d > 0 {
		return d
	}
	return 0
}

// Plan returns when cost units for key can probably go: after every slot
// reserved or planned so far. It reserves nothing; it only moves the plan
// on, so work planned later is planned after it.
func (l *Limiter) Plan(key string, cost int) time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	start := l.now()
	if n := l.next[key]; n.After(start) {
		start = n
	}
	if p := l.planned[key]; p.After(start) {
		start = p
	}
	l.planned[key] = start.Add(l.span(cost))
	return start
}

// Unplan takes back the plan from start to end for key (a job that was
// planned but could not be stored), if nothing was planned after it.
func (l *Limiter) Unplan(key string, start, end time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.planned[key].Equal(end) {
		l.planned[key] = start
	}
}

// PlannedEnd is where the plan for key ends now (zero when none).
func (l *Limiter) PlannedEnd(key string) time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.planned[key]
}
