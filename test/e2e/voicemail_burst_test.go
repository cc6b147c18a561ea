package e2e

import (
	"context"
	"os"
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

// BenchmarkVoicemailBurst posts 600 recording callbacks at once (as after
// an outage of a busy pager line) with texts limited to a US long code's 1
// segment per second, and reports how long until every recording is stored,
// how many were stored 30 s after the burst, and how many texts had gone
// out by then. Run it with -benchtime 1x: one op is the whole burst.
func BenchmarkVoicemailBurst(b *testing.B) {
	if os.Getenv("BENCH_BURST") == "" {
		b.Skip("a minute or more: set BENCH_BURST=1 (bench/run.sh burst)")
	}
	const n = 600
	for b.Loop() {
		h := harness.New(b, harness.Options{SMSPerSecond: 1})
		audio := fakeMP3()[:2048]
		target := harness.Public + "/public/recordingcb?caller_num=%2B12125550123"
		sem := make(chan struct{}, 16)
		var wg sync.WaitGroup
		for i := 0; i < n; i++ {
			callSID := "CA" + strings.Repeat("0", 28) + string("0123456789abcdef"[i/256%16]) + string("0123456789abcdef"[i/16%16]) + string("0123456789abcdef"[i%16]) + "f"
			_, recURL := h.Twilio.AddRecordingFor(callSID, audio, 5)
			form := h.Twilio.RecordingParams(callSID, recURL, 5)
			wg.Add(1)
			sem <- struct{}{}
			go func() {
				defer func() { <-sem; wg.Done() }()
				if code, body := h.Webhook(target, form); code != 204 {
					b.Errorf("callback: %d %s", code, body)
				}
			}()
		}
		wg.Wait()
		burst := time.Now()
		storedAt30, textsAtStored := -1, -1
		for {
			infos, err := h.Store.List(context.Background(), "recordings/")
			if err != nil {
				b.Fatal(err)
			}
			stored := len(infos) / 2
			if storedAt30 < 0 && time.Since(burst) >= 30*time.Second {
				storedAt30 = stored
			}
			if stored == n {
				texts := textsTo(h, harness.Alice)
				textsAtStored = texts
				break
			}
			if time.Since(burst) > 10*time.Minute {
				b.Fatalf("only %d of %d stored after 10 minutes", stored, n)
			}
			time.Sleep(100 * time.Millisecond)
		}
		took := time.Since(burst)
		if storedAt30 < 0 {
			storedAt30 = n
		}
		b.ReportMetric(took.Seconds(), "s-to-store-all")
		b.ReportMetric(float64(storedAt30), "stored-at-30s")
		b.ReportMetric(float64(textsAtStored), "texts-sent-then")
		stopAndAcceptAll(h)
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
