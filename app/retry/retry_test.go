package retry_test

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/oncall/pager/app/retry"
)

func TestDelayDoublesUpToMax(t *testing.T) {
	p := retry.Policy{First: 20 * time.Millisecond, Max: 500 * time.Millisecond}
	want := []time.Duration{20, 20, 40, 80, 160, 320, 500, 500}
	for i, w := range want {
		if got := p.Delay(i); got != w*time.Millisecond {
			t.Errorf("Delay(%d) = %v, want %v", i, got, w*time.Millisecond)
		}
	}
	if got := (retry.Policy{First: time.Second}).Delay(500); got <= 0 {
		t.Errorf("uncapped Delay(500) = %v: overflowed", got)
	}
}

func TestJitterStaysInItsRange(t *testing.T) {
	for _, tc := range []struct {
		j      retry.Jitter
		lo, hi time.Duration
	}{
		{retry.FullJitter, 0, 8 * time.Second},
		{retry.EqualJitter, 4 * time.Second, 8 * time.Second},
	} {
		p := retry.Policy{First: time.Second, Max: time.Minute, Jitter: tc.j}
		seen := map[time.Duration]bool{}
		for range 200 {
			d := p.Delay(4)
			if d < tc.lo || d >= tc.hi {
				t.Fatalf("jitter %d: Delay(4) = %v, want in [%v, %v)", tc.j, d, tc.lo, tc.hi)
			}
			seen[d] = true
		}
		if len(seen) < 10 {
			t.Errorf("jitter %d: only %d distinct delays in 200", tc.j, len(seen))
		}
	}
}

func TestDoPausesBetweenAttemptsUntilDone(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := retry.Policy{First: time.Second, Max: 4 * time.Second}
		start := time.Now()
		var at []time.Duration
		err := p.Do(t.Context(), func(attempt int) (bool, error) {
			at = append(at, time.Since(start))
			if attempt < 5 {
				return true, errors.New("not yet")
			}
			return false, nil
		})
		if err != nil {
			t.Fatal(err)
		}
		want := []time.Duration{0, 1, 3, 7, 11}
		for i := range want {
			want[i] *= time.Second
		}
		if len(at) != len(want) {
			t.Fatalf("attempts at %v, want %v", at, want)
		}
		for i := range want {
			if at[i] != want[i] {
				t.Fatalf("attempts at %v, want %v", at, want)
			}
		}
	})
}

func TestDoStopsAtTheAttemptLimit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		calls := 0
		last := errors.New("still failing")
		err := retry.Policy{First: time.Millisecond, Attempts: 3}.Do(t.Context(), func(int) (bool, error) {
			calls++
			return true, last
		})
		if calls != 3 || !errors.Is(err, last) {
			t.Fatalf("%d calls, err %v; want 3 and the last error", calls, err)
		}
	})
}

func TestDoGivesUpWhenAskedNotToRetry(t *testing.T) {
	permanent := errors.New("bad request")
	calls := 0
	err := retry.Policy{First: time.Hour}.Do(context.Background(), func(int) (bool, error) {
		calls++
		return false, permanent
	})
	if calls != 1 || !errors.Is(err, permanent) {
		t.Fatalf("%d calls, err %v", calls, err)
	}
}

func TestDoStopsWhenTheContextEndsDuringAPause(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
		defer cancel()
		calls := 0
		outage := errors.New("outage")
		start := time.Now()
		err := retry.Policy{First: time.Minute}.Do(ctx, func(int) (bool, error) {
			calls++
			return true, outage
		})
		if calls != 2 || !errors.Is(err, outage) || time.Since(start) != 90*time.Second {
			t.Fatalf("%d calls, err %v after %v; want 2 calls, the last error, at the deadline", calls, err, time.Since(start))
		}
	})
}

func TestSleep(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		if err := retry.Sleep(t.Context(), 3*time.Second); err != nil || time.Since(start) != 3*time.Second {
			t.Fatalf("Sleep: %v after %v", err, time.Since(start))
		}
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		if err := retry.Sleep(ctx, time.Hour); !errors.Is(err, context.Canceled) {
			t.Fatalf("Sleep on a cancelled context: %v", err)
		}
	})
}
