package harness

import (
	"net/http"
	"strings"

	"github.com/oncall/pager/internal/mocktwilio"
	"github.com/oncall/pager/twiml"
)

// Phone is a team member's (or a stranger's) phone.
type Phone struct {
	h      *Harness
	Number string
}

// Phone returns the phone with number.
func (h *Harness) Phone(number string) *Phone { return &Phone{h: h, Number: number} }

// Reply is the pager's answer to one text.
type Reply struct {
	p      *Phone
	Status int
	Bodies []string
}

// Text sends body to the control number and returns the pager's reply.
func (p *Phone) Text(body string) *Reply {
	return p.TextTo("/msgcontrol/entry", Control, body)
}

// TextTo sends body to another number's SMS webhook path.
func (p *Phone) TextTo(path, to, body string) *Reply {
	p.h.T.Helper()
	status, out := p.h.Webhook(Public+path, p.h.Twilio.SMSParams(p.Number, to, body))
	r := &Reply{p: p, Status: status}
	var err error
	if status == http.StatusOK {
		if r.Bodies, err = twiml.Messages(out); err != nil {
			p.h.T.Fatalf("harness: reply to %q is not TwiML: %v\n%s", body, err, out)
		}
	}
	return r
}

// Expect asserts the reply contains substr (case-insensitive).
func (r *Reply) Expect(substr string) *Reply {
	r.p.h.T.Helper()
	if r.Status != http.StatusOK {
		r.p.h.T.Fatalf("%s: pager answered HTTP %d, want a reply containing %q", r.p.Number, r.Status, substr)
	}
	for _, b := range r.Bodies {
		if strings.Contains(strings.ToLower(b), strings.ToLower(substr)) {
			return r
		}
	}
	r.p.h.T.Fatalf("%s: reply %q does not contain %q", r.p.Number, r.Bodies, substr)
	return r
}

// ExpectNoReply asserts the pager answered with an empty TwiML response.
func (r *Reply) ExpectNoReply() *Reply {
	r.p.h.T.Helper()
	if r.Status != http.StatusOK || len(r.Bodies) != 0 {
		r.p.h.T.Fatalf("%s: want no reply, got HTTP %d %q", r.p.Number, r.Status, r.Bodies)
	}
	return r
}

// ThenReply texts body back to the control number.
func (r *Reply) ThenReply(body string) *Reply { return r.p.Text(body) }

// SMS is an outbound message the pager sent through Twilio's API.
type SMS struct {
	p *Phone
	mocktwilio.Message
}

// ExpectSMS waits for an outbound message to this phone whose body
// contains substr (case-insensitive) and that no earlier Expect matched.
// Messages it passes over stay unexpected: the test fails at its end unless
// another ExpectSMS matches them.
func (p *Phone) ExpectSMS(substr string) *SMS {
	p.h.T.Helper()
	return &SMS{p: p, Message: p.expect(kindSMS, substr).msg}
}

// ExpectNoSMS waits until the pager has nothing due (WaitIdle) and asserts
// it sent this phone no message beyond those already expected.
func (p *Phone) ExpectNoSMS() {
	p.h.T.Helper()
	p.expectNone(kindSMS)
}

// ThenReply answers an outbound SMS by texting the control number.
func (s *SMS) ThenReply(body string) *Reply { return s.p.Text(body) }

// Status posts a delivery status callback for this message, signed as
// Twilio signs it.
func (s *SMS) Status(status string) int {
	s.p.h.T.Helper()
	code, _ := s.p.h.Webhook(s.StatusCallback, s.p.h.Twilio.MessageStatusParams(s.Message, status))
	return code
}
