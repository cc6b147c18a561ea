package outbound_test

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/oncall/pager/app/outbound"
	"github.com/oncall/pager/app/twilio"
	"github.com/oncall/pager/store/local"
)

// sendLog is Twilio as far as timing goes: when each text arrived.
type sendLog struct {
	mu sync.Mutex
	at []time.Time
}

func (s *sendLog) SendMessage(context.Context, twilio.Message) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.at = append(s.at, time.Now())
	return fmt.Sprintf("SM%032d", len(s.at)), nil
}

func (s *sendLog) StartCall(context.Context, twilio.Call) (string, error) { return "CA0", nil }

// busiest is the most sends in any one-second window.
func (s *sendLog) busiest() int {
	s.mu.Lock()
	at := append([]time.Time(nil), s.at...)
	s.mu.Unlock()
	sort.Slice(at, func(i, j int) bool { return at[i].Before(at[j]) })
	most := 0
	for i := range at {
		n := 0
		for j := i; j < len(at) && at[j].Sub(at[i]) < time.Second; j++ {
			n++
		}
		most = max(most, n)
	}
	return most
}

// Issue 9 item 13: two replicas sharing a sender number and a store keep
// the configured rate together: the busiest second of their sends holds no
// more than the rate.
func TestTwoReplicasKeepTheRateTogether(t *testing.T) {
	const rate, each = 5, 10
	dir := t.TempDir()
	tw := &sendLog{}
	var outs []*outbound.Outbound
	for i := range 2 {
		st, err := local.New(dir)
		if err != nil {
			t.Fatal(err)
		}
		outs = append(outs, outbound.New(outbound.Options{Twilio: tw, Rates: outbound.Rates{SMSPerSecond: rate, CallsPerSecond: 1},
			Store: st, Owner: fmt.Sprintf("replica-%d", i)}))
	}
	ctx := context.Background()
	var wg sync.WaitGroup
	for _, o := range outs {
		for i := range each {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, err := o.SendText(ctx, outbound.Text{From: "+15555550100", To: fmt.Sprintf("+1555100%04d", i), Body: "db1 down"}); err != nil {
					t.Error(err)
				}
			}()
		}
	}
	wg.Wait()
	got := tw.busiest()
	t.Logf("two replicas, %d texts each at %d/s from one number: busiest second %d", each, rate, got)
	if got > rate {
		t.Fatalf("busiest second had %d texts; configured %d/s", got, rate)
	}
}

// On clocks that disagree (here: one that does not move at all), a turn
// still passes: a lease its holder has not renewed while the next replica
// waited it out by its own timer is over.
func TestTurnPassesWhenTheHolderStopsRenewing(t *testing.T) {
	dir := t.TempDir()
	frozen := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	tw := &sendLog{}
	var outs []*outbound.Outbound
	for i := range 2 {
		st, err := local.New(dir)
		if err != nil {
			t.Fatal(err)
		}
		outs = append(outs, outbound.New(outbound.Options{Twilio: tw, Rates: outbound.Rates{SMSPerSecond: 100, CallsPerSecond: 1},
			Store: st, Owner: fmt.Sprintf("replica-%d", i), SenderLease: 100 * time.Millisecond,
			Now: func() time.Time { return frozen }}))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for i, o := range outs {
		if _, err := o.SendText(ctx, outbound.Text{From: "+15555550100", To: fmt.Sprintf("+1555100%04d", i), Body: "db1 down"}); err != nil {
			t.Fatalf("replica %d: %v", i, err)
		}
	}
}
