package harness

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/oncall/pager/twiml"
)

// Call is a customer's call to the pager line, driven the way Twilio drives
// it: each step posts to the URL the previous TwiML named.
type Call struct {
	h      *Harness
	From   string
	params url.Values
	Verbs  []twiml.Node
}

// Call rings the pager line from number and returns the first answer.
func (h *Harness) Call(from string) *Call {
	h.T.Helper()
	c := &Call{h: h, From: from, params: h.Twilio.VoiceParams(from, PagerPhone)}
	// Known to the REST API too, as on Twilio, for the reconciliation sweep.
	h.Twilio.AddInboundCall(c.CallSID(), from, PagerPhone)
	c.post(Public+"/public/answer", nil)
	return c
}

// CallSID is the call's Twilio id.
func (c *Call) CallSID() string { return c.params.Get("CallSid") }

// SetParam sets a field Twilio sends with every webhook of this call (e.g.
// CallerName when caller-name lookup is on).
func (c *Call) SetParam(k, v string) *Call { c.params.Set(k, v); return c }

func (c *Call) post(target string, extra url.Values) {
	c.h.T.Helper()
	form := url.Values{}
	for k, v := range c.params {
		form[k] = v
	}
	for k, v := range extra {
		form[k] = v
	}
	status, body := c.h.Webhook(target, form)
	var err error
	if status != http.StatusOK {
		c.h.T.Fatalf("harness: call webhook %s: HTTP %d %s", target, status, body)
	}
	if c.Verbs, err = twiml.Parse(body); err != nil {
		c.h.T.Fatalf("harness: call webhook %s: %v\n%s", target, err, body)
	}
}

// Said is everything the pager said in its last answer.
func (c *Call) Said() string { return said(c.Verbs) }

// said joins the text of every <Say> in nodes, nested ones included.
func said(nodes []twiml.Node) string {
	var parts []string
	var walk func([]twiml.Node)
	walk = func(ns []twiml.Node) {
		for _, n := range ns {
			if n.Name == "Say" {
				parts = append(parts, n.Text)
			}
			walk(n.Child)
		}
	}
	walk(nodes)
	return strings.Join(parts, " ")
}

// Expect asserts the last answer said substr (case-insensitive).
func (c *Call) Expect(substr string) *Call {
	c.h.T.Helper()
	if !strings.Contains(strings.ToLower(c.Said()), strings.ToLower(substr)) {
		c.h.T.Fatalf("call from %s: pager said %q, want %q", c.From, c.Said(), substr)
	}
	return c
}

// ExpectHangup asserts the last answer ends the call.
func (c *Call) ExpectHangup() *Call {
	c.h.T.Helper()
	if _, ok := twiml.Find(c.Verbs, "Hangup"); !ok {
		c.h.T.Fatalf("call from %s: answer does not hang up: %+v", c.From, c.Verbs)
	}
	return c
}

// Verb returns the first verb named name in the last answer.
func (c *Call) Verb(name string) twiml.Node {
	c.h.T.Helper()
	n, ok := twiml.Find(c.Verbs, name)
	if !ok {
		c.h.T.Fatalf("call from %s: no <%s> in answer %+v", c.From, name, c.Verbs)
	}
	return n
}

// Press answers the current <Gather> with digits ("" for a timeout).
func (c *Call) Press(digits string) *Call {
	c.h.T.Helper()
	g := c.Verb("Gather")
	c.post(g.Attr["action"], url.Values{"Digits": {digits}})
	return c
}

// Recording is a finished voicemail.
type Recording struct {
	SID string
	URL string
}

// Record leaves a message of audio lasting seconds: Twilio posts the
// Record action, then the recording status callback.
func (c *Call) Record(audio []byte, seconds int) Recording {
	c.h.T.Helper()
	rec := c.Verb("Record")
	sid, recURL := c.h.Twilio.AddRecordingFor(c.CallSID(), audio, seconds)
	c.post(rec.Attr["action"], url.Values{"RecordingUrl": {recURL}, "RecordingDuration": {strconv.Itoa(seconds)}, "RecordingSid": {sid}, "Digits": {"hangup"}})
	c.RecordingCallback(rec.Attr["recordingStatusCallback"], c.h.Twilio.RecordingParams(c.CallSID(), recURL, seconds))
	return Recording{SID: sid, URL: recURL}
}

// RecordingCallback posts a recording status callback to target as Twilio
// would (used to replay duplicates).
func (c *Call) RecordingCallback(target string, form url.Values) int {
	c.h.T.Helper()
	status, body := c.h.Webhook(target, form)
	if status >= 300 {
		c.h.T.Fatalf("harness: recording callback: HTTP %d %s", status, body)
	}
	return status
}
