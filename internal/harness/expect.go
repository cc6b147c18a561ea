package harness

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/oncall/pager/internal/mocktwilio"
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

// What the pager sent through Twilio, as the ledger of expectations sees
// it.
const (
	kindSMS  = "SMS"
	kindCall = "call"
)

type sent struct {
	kind, sid, to string
	content       string // a text's body, a call's TwiML
	msg           mocktwilio.Message
	call          mocktwilio.Call
}

// sentOf lists what was sent of kind ("" for both), texts first.
func (h *Harness) sentOf(kind string) []sent {
	var out []sent
	if kind != kindCall {
		for _, m := range h.Twilio.Messages() {
			out = append(out, sent{kind: kindSMS, sid: m.SID, to: m.To, content: m.Body, msg: m})
		}
	}
	if kind != kindSMS {
		for _, c := range h.Twilio.Calls() {
			out = append(out, sent{kind: kindCall, sid: c.SID, to: c.To, content: c.Twiml, call: c})
		}
	}
	return out
}

// match marks and returns the first of kind sent to number whose content
// contains substr and that no earlier Expect matched.
func (h *Harness) match(kind, number, substr string) (sent, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, s := range h.sentOf(kind) {
		if s.to == number && !h.matched[s.sid] && containsFold(s.content, substr) {
			h.matched[s.sid] = true
			return s, true
		}
	}
	return sent{}, false
}

// expect waits for a match (see match) sent to p.
func (p *Phone) expect(kind, substr string) sent {
	p.h.T.Helper()
	ctx, cancel := p.h.ctx()
	defer cancel()
	for {
		if s, ok := p.h.match(kind, p.Number, substr); ok {
			return s
		}
		select {
		case <-ctx.Done():
			p.h.T.Fatalf("%s: no %s containing %q; not yet expected: %q", p.Number, kind, substr, p.h.unexpected(kind, p.Number))
			return sent{}
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// expectNone waits until the pager has nothing due (WaitIdle) and asserts
// it sent p nothing of kind beyond what was expected.
func (p *Phone) expectNone(kind string) {
	p.h.T.Helper()
	p.h.WaitIdle()
	if left := p.h.unexpected(kind, p.Number); len(left) > 0 {
		p.h.T.Fatalf("%s: unexpected %s", p.Number, strings.Join(left, "; "))
	}
}

// unexpected lists what of kind ("" for both) was sent to number ("" for
// anyone) and not matched.
func (h *Harness) unexpected(kind, number string) []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []string
	for _, s := range h.sentOf(kind) {
		if (number == "" || s.to == number) && !h.matched[s.sid] {
			out = append(out, fmt.Sprintf("%s to %s: %q", s.kind, s.to, s.content))
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
	if left := h.unexpected("", ""); len(left) > 0 {
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
	if left := h.unexpected("", ""); len(left) > 0 {
		h.T.Fatalf("harness: the pager sent what the test did not expect:\n  %s", strings.Join(left, "\n  "))
	}
}
