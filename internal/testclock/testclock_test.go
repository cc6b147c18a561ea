package testclock_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/oncall/pager/internal/testclock"
)

func TestClockMovesOnlyWhenTold(t *testing.T) {
	c := testclock.New()
	if got := c.Now(); !got.Equal(testclock.StartTime()) {
		t.Fatalf("new clock at %v, want %v", got, testclock.StartTime())
	}
	c.Advance(90 * time.Second)
	if got, want := c.Now(), testclock.StartTime().Add(90*time.Second); !got.Equal(want) {
		t.Fatalf("after Advance: %v, want %v", got, want)
	}
	at := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	c.Set(at)
	if got := c.Now(); !got.Equal(at) {
		t.Fatalf("after Set: %v, want %v", got, at)
	}
	if err := c.Sleep(context.Background(), time.Minute); err != nil {
		t.Fatal(err)
	}
	if got := c.Now(); !got.Equal(at.Add(time.Minute)) {
		t.Fatalf("after Sleep: %v, want %v", got, at.Add(time.Minute))
	}
	if err := c.Sleep(context.Background(), -time.Minute); err != nil || !c.Now().Equal(at.Add(time.Minute)) {
		t.Fatalf("a negative sleep moved the clock to %v (err %v)", c.Now(), err)
	}
}

func TestSleepOnEndedContextFails(t *testing.T) {
	c := testclock.New()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := c.Sleep(ctx, time.Second); err == nil {
		t.Fatal("Sleep on a cancelled context returned nil")
	}
	if !c.Now().Equal(testclock.StartTime()) {
		t.Fatalf("a failed sleep moved the clock to %v", c.Now())
	}
}

func TestConcurrentAdvancesAllCount(t *testing.T) {
	c := testclock.New()
	var wg sync.WaitGroup
	for range 50 {
		wg.Go(func() {
			c.Advance(time.Second)
			_ = c.Now()
		})
	}
	wg.Wait()
	if got, want := c.Now(), testclock.StartTime().Add(50*time.Second); !got.Equal(want) {
		t.Fatalf("after 50 concurrent advances: %v, want %v", got, want)
	}
}
