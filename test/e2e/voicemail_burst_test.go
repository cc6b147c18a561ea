package e2e

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oncall/pager/internal/harness"
)

// A burst of voicemails while texts can go out only slowly: the recordings
// are all stored well before the texts are through, because a text waiting
// for its rate slot gives its worker back (issue 10: before, every worker
// sat in the rate limiter and recordings waited behind the texts).
// Deterministic without timing: at the moment the last recording is
// stored, most texts must still be queued behind the rate.
func TestVoicemailBurstStoredAheadOfRateLimitedTexts(t *testing.T) {
	const n = 24 // three times the queue's workers
	// 1 segment/s: the voicemail texts (2 segments each) need 48 s.
	h := harness.New(t, harness.Options{SMSPerSecond: 1})
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			call := h.Call("+1212555" + strings.Repeat("0", 3) + string(rune('0'+i/10)) + string(rune('0'+i%10)))
			call.Expect("Press 1").Press("1").Expect("after the tone")
			call.Record(fakeMP3()[:1024], 5)
		}()
	}
	wg.Wait()

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for {
		infos, err := h.Store.List(ctx, "recordings/")
		if err != nil {
			t.Fatal(err)
		}
		texts := textsTo(h, harness.Alice)
		if len(infos) == 2*n { // an mp3 and its json each
			if texts > n/2 {
				t.Errorf("%d of %d texts were sent before the last recording was stored: recordings waited behind the rate limit", texts, n)
			}
			stopAndAcceptAll(h)
			return
		}
		if texts == n {
			t.Fatalf("all %d texts went out before the recordings were stored (%d objects)", n, len(infos))
		}
		select {
		case <-ctx.Done():
			t.Fatalf("only %d of %d recording objects stored", len(infos), 2*n)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// textsTo counts the texts the fake Twilio accepted for the on-call.
func textsTo(h *harness.Harness, number string) int {
	n := 0
	for _, m := range h.Twilio.Messages() {
		if m.To == number {
			n++
		}
	}
	return n
}

// stopAndAcceptAll stops the pager and marks whatever it sent the on-call
// as expected: these tests count texts, they do not read them.
func stopAndAcceptAll(h *harness.Harness) {
	h.Stop()
	alice := h.Phone(harness.Alice)
	for _, m := range h.Twilio.Messages() {
		if m.To == harness.Alice {
			alice.ExpectSMS(m.Body)
		}
	}
	for _, c := range h.Twilio.Calls() {
		if c.To == harness.Alice {
			alice.ExpectCall(c.Twiml)
		}
	}
}
