package intake_test

import (
	"testing"
	"time"

	"github.com/oncall/pager/app/intake"
)

func TestRateLimiter(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	l := intake.NewRateLimiter(3, time.Minute, func() time.Time { return now })
	for i := range 3 {
		if !l.Allow("a") {
			t.Fatalf("call %d refused", i+1)
		}
	}
	if l.Allow("a") {
		t.Fatal("4th call in the window allowed")
	}
	if !l.Allow("b") {
		t.Fatal("another key is limited by the first")
	}
	// At most limit in any window: half a window after a full burst is
	// still too soon (a token bucket refilling at limit per window would
	// already take more).
	now = now.Add(30 * time.Second)
	if l.Allow("a") {
		t.Fatal("a 4th call within one minute allowed")
	}
	now = now.Add(31 * time.Second)
	if !l.Allow("a") {
		t.Fatal("still refused after the window")
	}
}
