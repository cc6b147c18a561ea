package harness

import (
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"

	"github.com/oncall/pager/app"
	"github.com/oncall/pager/app/twilio"
	"github.com/oncall/pager/internal/mocktwilio"
	"github.com/oncall/pager/twiml"
)

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
	h.mu.Lock()
	s.ReplicaID = fmt.Sprintf("%s-replica%d", s.ReplicaID, len(h.replicas)+1)
	h.mu.Unlock()
	p := h.launch(s, ln)
	h.mu.Lock()
	h.replicas = append(h.replicas, p)
	h.mu.Unlock()
	h.T.Cleanup(func() { h.stop(p) })
	return p.app
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

// ExpectCall waits for a call the pager placed to this phone whose TwiML
// contains substr and that no earlier ExpectCall matched.
func (p *Phone) ExpectCall(substr string) *PageCall {
	p.h.T.Helper()
	c := p.expect(kindCall, substr).call
	verbs, err := twiml.Parse(c.Twiml)
	if err != nil {
		p.h.T.Fatalf("%s: call TwiML: %v", p.Number, err)
	}
	return &PageCall{p: p, Call: c, Verbs: verbs}
}

// ExpectNoCall waits until the pager has nothing due (WaitIdle) and asserts
// it placed no call to this phone beyond those already expected.
func (p *Phone) ExpectNoCall() {
	p.h.T.Helper()
	p.expectNone(kindCall)
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
	return said(nodes)
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
