package testclock

import (
	"context"
	"sync"
	"time"
)

// StartTime is where a New clock starts: a fixed instant, so a failing test
// prints the same times on every run.
func StartTime() time.Time { return time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC) }

// Clock is a fake clock, safe for concurrent use. The zero value is not
// usable: build one with New or At.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// New returns a clock standing at StartTime.
func New() *Clock { return At(StartTime()) }

// At returns a clock standing at t.
func At(t time.Time) *Clock { return &Clock{now: t} }

// Now is the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward by d (a negative d moves it back, for a
// test of a clock that jumps).
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// Set puts the clock at t.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

// Sleep returns at once, having moved the clock forward by d (never back):
// a limiter or a retry loop that sleeps on the clock then sees the time it
// waited for, without the test waiting. Sleepers in parallel each move the
// clock, so use it where sleeps do not overlap (one worker). It fails only
// when ctx has ended, as a sleep cut short would.
func (c *Clock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if d > 0 {
		c.Advance(d)
	}
	return nil
}
