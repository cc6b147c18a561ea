package keygate_test

import (
	"testing"
	"time"

	"github.com/oncall/pager/app/keygate"
	"github.com/oncall/pager/internal/testclock"
)

func TestRateLimiter(t *testing.T) {
	clk := testclock.New()
	l := keygate.NewRateLimiter(time.Minute, clk.Now)
	for i := range 3 {
		if !allow(l, "a") {
			t.Fatalf("call %d refused", i+1)
		}
	}
	if allow(l, "a") {
		t.Fatal("4th call in the window allowed")
	}
	if !allow(l, "b") {
		t.Fatal("another key is limited by the first")
	}
	// At most limit in any window: half a window after a full burst is
	// still too soon (a token bucket refilling at limit per window would
	// already take more).
	clk.Advance(30 * time.Second)
	if allow(l, "a") {
		t.Fatal("a 4th call within one minute allowed")
	}
	clk.Advance(31 * time.Second)
	if !allow(l, "a") {
		t.Fatal("still refused after the window")
	}
}

func allow(l *keygate.RateLimiter, key string) bool {
	ok, _ := l.AllowN(key, 3)
	return ok
}
