package harness

import (
	"context"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/oncall/pager/app"
	"github.com/oncall/pager/app/twilio"
	"github.com/oncall/pager/internal/mocktwilio"
	"github.com/oncall/pager/twiml"
)

// FakeClock is wall time plus an offset the test moves forward, so the
// pager keeps running (leases, polls) while a test jumps to "five minutes
// later" without waiting. Pass its Now in Options.Now.
type FakeClock struct {
	mu     sync.Mutex
	offset time.Duration
}

// Now is the clock's time.
func (c *FakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.offset)
}

// Advance moves the clock forward by d.
func (c *FakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.offset += d
}

// Replica starts a second pager process on the same store and Twilio, as a
// second replica behind a balancer would run; it stops when the test ends.
func (h *Harness) Replica() *app.App {
	h.T.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		h.T.Fatal(err)
	}
	s := h.settings
	s.ListenAddr = ln.Addr().String()
	a, err := app.New(context.Background(), s, h.appOptions())
	if err != nil {
		h.T.Fatalf("harness: start replica: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := a.Run(ctx, ln); err != nil {
			h.T.Errorf("harness: replica stopped: %v", err)
		}
	}()
	h.T.Cleanup(func() { cancel(); <-done })
	return a
}

// WebhookWithToken posts a signed Twilio webhook carrying the given
// I-Twilio-Idempotency-Token, as Twilio does when it retries a delivery.
func (h *Harness) WebhookWithToken(target string, form url.Values, token string) (int, string) {
	h.T.Helper()
	if !strings.HasPrefix(target, Public) {
		h.T.Fatalf("harness: webhook target %q is not under the public base URL %s", target, Public)
	}
	req, err := http.NewRequest(http.MethodPost, h.url+strings.TrimPrefix(target, Public), strings.NewReader(form.Encode()))
	if err != nil {
		h.T.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set(twilio.SignatureHeader, twilio.Sign(h.Twilio.AuthToken(), target, form))
	req.Header.Set(twilio.IdempotencyHeader, token)
	return h.Do(req)
}

// PageCall is a call the pager placed to a phone (a page), driven the way
// Twilio would.
type PageCall struct {
	p *Phone
	mocktwilio.Call
	Verbs []twiml.Node
}

// ExpectCall waits for the next call the pager placed to this phone whose
// TwiML contains substr.
func (p *Phone) ExpectCall(substr string) *PageCall {
	p.h.T.Helper()
	ctx, cancel := p.h.ctx()
	defer cancel()
	for {
		var mine []mocktwilio.Call
		for _, c := range p.h.Twilio.Calls() {
			if c.To == p.Number {
				mine = append(mine, c)
			}
		}
		for i := p.seenCalls; i < len(mine); i++ {
			if strings.Contains(strings.ToLower(mine[i].Twiml), strings.ToLower(substr)) {
				p.seenCalls = i + 1
				verbs, err := twiml.Parse(mine[i].Twiml)
				if err != nil {
					p.h.T.Fatalf("%s: call TwiML: %v", p.Number, err)
				}
				return &PageCall{p: p, Call: mine[i], Verbs: verbs}
			}
		}
		select {
		case <-ctx.Done():
			p.h.T.Fatalf("%s: no call whose TwiML contains %q; got %d calls", p.Number, substr, len(mine))
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// ExpectNoCall asserts no call beyond those matched was placed to this phone
// within grace.
func (p *Phone) ExpectNoCall(grace time.Duration) {
	p.h.T.Helper()
	time.Sleep(grace)
	n := 0
	for _, c := range p.h.Twilio.Calls() {
		if c.To == p.Number {
			n++
		}
	}
	if n > p.seenCalls {
		p.h.T.Fatalf("%s: unexpected call (%d placed, %d expected)", p.Number, n, p.seenCalls)
	}
}

// Press answers the call's <Gather> with digits and returns what the pager
// said.
func (c *PageCall) Press(digits string) string {
	c.p.h.T.Helper()
	g, ok := twiml.Find(c.Verbs, "Gather")
	if !ok {
		c.p.h.T.Fatalf("%s: page call has no <Gather>: %s", c.p.Number, c.Twiml)
	}
	form := c.p.h.Twilio.VoiceParams(c.From, c.To)
	form.Set("CallSid", c.SID)
	form.Set("Digits", digits)
	status, body := c.p.h.Webhook(g.Attr["action"], form)
	if status != http.StatusOK {
		c.p.h.T.Fatalf("%s: key %s: HTTP %d %s", c.p.Number, digits, status, body)
	}
	nodes, err := twiml.Parse(body)
	if err != nil {
		c.p.h.T.Fatalf("%s: key answer: %v", c.p.Number, err)
	}
	c.Verbs = nodes
	var said []string
	var walk func([]twiml.Node)
	walk = func(ns []twiml.Node) {
		for _, n := range ns {
			if n.Name == "Say" {
				said = append(said, n.Text)
			}
			walk(n.Child)
		}
	}
	walk(nodes)
	return strings.Join(said, " ")
}

// Status posts a call status callback (with answering-machine detection's
// AnsweredBy when set), signed as Twilio signs it.
func (c *PageCall) Status(status, answeredBy string) int {
	c.p.h.T.Helper()
	form := url.Values{"CallSid": {c.SID}, "CallStatus": {status}, "From": {c.From}, "To": {c.To},
		"AccountSid": {c.p.h.Twilio.AccountSID()}, "ApiVersion": {"2010-04-01"}}
	if answeredBy != "" {
		form.Set("AnsweredBy", answeredBy)
	}
	code, _ := c.p.h.Webhook(c.StatusCallback, form)
	return code
}
