package retry

import (
	"context"
	"math/rand/v2"
	"time"
)

// Jitter spreads pauses so that callers which failed together (replicas
// that lost the same race, jobs hit by one outage) do not retry together.
type Jitter int

const (
	// NoJitter pauses exactly the computed delay.
	NoJitter Jitter = iota
	// FullJitter pauses a random time in [0, delay).
	FullJitter
	// EqualJitter pauses a random time in [delay/2, delay): spread, yet
	// never much shorter than asked.
	EqualJitter
)

// Policy says how to retry: the pause after the first failure, doubling
// after each further one up to Max, and how many attempts in all.
type Policy struct {
	First time.Duration
	// Max caps a pause; 0 leaves it uncapped.
	Max    time.Duration
	Jitter Jitter
	// Attempts bounds the calls Do makes; 0 tries until ctx ends.
	Attempts int
}

// Delay is the pause after the attempt-th failure (1-based; less than 1
// counts as 1).
func (p Policy) Delay(attempt int) time.Duration {
	d := p.First
	for i := 1; i < attempt && (p.Max <= 0 || d < p.Max) && d < 1<<61; i++ {
		d *= 2
	}
	if p.Max > 0 {
		d = min(d, p.Max)
	}
	if d <= 0 {
		return d
	}
	switch p.Jitter {
	case FullJitter:
		return rand.N(d)
	case EqualJitter:
		return d/2 + rand.N(d-d/2)
	}
	return d
}

// Do calls fn with attempt 1, 2, … until it answers again == false, the
// attempts are used up, or ctx ends (never in the middle of fn: a pause is
// cut short, and no attempt starts after it). It returns fn's last error;
// a caller that must tell why it stopped checks ctx.Err() or its own
// record of the last answer.
func (p Policy) Do(ctx context.Context, fn func(attempt int) (again bool, err error)) error {
	for attempt := 1; ; attempt++ {
		again, err := fn(attempt)
		if !again || attempt == p.Attempts || ctx.Err() != nil {
			return err
		}
		if Sleep(ctx, p.Delay(attempt)) != nil {
			return err
		}
	}
}

// Sleep pauses for d, or until ctx ends (then it returns ctx.Err()).
func Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
