package harness

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/oncall/pager/app/twilio/mocktwilio"
)

// Every text and call the pager sends through Twilio must be expected by
// the test (ExpectSMS, ExpectCall): one left over when the test ends fails
// it, so a test cannot pass while the pager texts someone it should not.
// Matching is by content, not order, since jobs send in parallel; a message
// matched once is never matched again, whichever Phone value asks.

// WaitIdle waits until every running pager of the harness has nothing to
// do now: no job step running and none due by the pager's clock. With a
// test clock, what the pager will send before the clock moves has then
// been sent.
func (h *Harness) WaitIdle() {
	h.T.Helper()
	if err := h.waitIdle(); err != nil {
		h.T.Fatalf("harness: %v", err)
	}
}

func (h *Harness) waitIdle() error {
	ctx, cancel := h.ctx()
	defer cancel()
	// Twice in a row: a step handing work to a new job is seen by one look
	// or the next.
	for quiet := 0; quiet < 2; {
		idle, err := h.idle(ctx)
		switch {
		case err != nil && ctx.Err() == nil:
			// A store hiccup: look again.
		case err != nil:
			return fmt.Errorf("job queue still busy after %v: %w", waitLimit, err)
		case idle:
			quiet++
		default:
			quiet = 0
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("job queue still busy after %v", waitLimit)
		case <-time.After(5 * time.Millisecond):
		}
	}
	return nil
}

// idle asks every running pager's queue.
func (h *Harness) idle(ctx context.Context) (bool, error) {
	for _, p := range h.running() {
		if ok, err := p.app.Jobs.Idle(ctx); err != nil || !ok {
			return false, err
		}
	}
	return true, nil
}

// matchSMS marks and returns the first message to number containing substr
// not matched before.
func (h *Harness) matchSMS(number, substr string) (mocktwilio.Message, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, m := range h.Twilio.Messages() {
		if m.To == number && !h.matched[m.SID] && containsFold(m.Body, substr) {
			h.matched[m.SID] = true
			return m, true
		}
	}
	return mocktwilio.Message{}, false
}

// matchCall is matchSMS for calls, by their TwiML.
func (h *Harness) matchCall(number, substr string) (mocktwilio.Call, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, c := range h.Twilio.Calls() {
		if c.To == number && !h.matched[c.SID] && containsFold(c.Twiml, substr) {
			h.matched[c.SID] = true
			return c, true
		}
	}
	return mocktwilio.Call{}, false
}

// unexpectedSMS lists the texts to number ("" for everyone) not matched.
func (h *Harness) unexpectedSMS(number string) []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []string
	for _, m := range h.Twilio.Messages() {
		if (number == "" || m.To == number) && !h.matched[m.SID] {
			out = append(out, fmt.Sprintf("SMS to %s: %q", m.To, m.Body))
		}
	}
	return out
}

// unexpectedCalls lists the calls to number ("" for everyone) not matched.
func (h *Harness) unexpectedCalls(number string) []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []string
	for _, c := range h.Twilio.Calls() {
		if (number == "" || c.To == number) && !h.matched[c.SID] {
			out = append(out, fmt.Sprintf("call to %s: %q", c.To, c.Twiml))
		}
	}
	return out
}

// checkNothingLeft fails the test for texts and calls it did not expect,
// once the pager has sent what was due. A test that failed already is not
// told again.
func (h *Harness) checkNothingLeft() {
	if h.T.Failed() || h.T.Skipped() {
		return
	}
	if err := h.waitIdle(); err != nil {
		h.T.Errorf("harness: at the end of the test: %v", err)
		return
	}
	if left := append(h.unexpectedSMS(""), h.unexpectedCalls("")...); len(left) > 0 {
		h.T.Errorf("harness: the pager sent what the test did not expect:\n  %s", strings.Join(left, "\n  "))
	}
}

func containsFold(s, substr string) bool {
	return strings.Contains(strings.ToLower(s), strings.ToLower(substr))
}

// ExpectNoMore waits until the pager has nothing due (WaitIdle) and asserts
// it sent no text and placed no call, to anyone, beyond those expected.
func (h *Harness) ExpectNoMore() {
	h.T.Helper()
	h.WaitIdle()
	if left := append(h.unexpectedSMS(""), h.unexpectedCalls("")...); len(left) > 0 {
		h.T.Fatalf("harness: the pager sent what the test did not expect:\n  %s", strings.Join(left, "\n  "))
	}
}
