package twilio

import (
	"context"
	"time"

	api "github.com/twilio/twilio-go/rest/api/v2010"
)

// A send that may already have reached Twilio (its runner crashed before
// recording the answer, or the answer was lost) is looked up before it is
// sent again: the Messages and Calls list resources filter by To and From,
// newest first. Their date filters are not used: Twilio filters messages by
// date_sent and calls by start_time, both empty while a send is queued,
// which is exactly a case to find; date_created, which Twilio sets when it
// takes a send, is compared with the window here instead.

// lookupLimit is how many of the newest matching sends are read: the pager
// sends a person a handful of texts a minute at most, so the one a lost
// answer stands for is among the newest.
const lookupLimit = 50

// Window is when a send being looked up may have been made: Start to End,
// both included. A zero End has no upper bound.
type Window struct {
	Start, End time.Time
}

// has reports whether Twilio's date_created (RFC 1123, second precision)
// falls in w.
func (w Window) has(created string) bool {
	t, err := time.Parse(time.RFC1123Z, created)
	if err != nil || t.Before(w.Start.Truncate(time.Second)) {
		return false
	}
	return w.End.IsZero() || !t.After(w.End)
}

// Sent is a send Twilio has: its SID and status as Twilio last had it.
type Sent struct {
	SID    string
	Status string
}

// FindMessage returns a message from "from" to "to" with this body, created
// within w, that Twilio has not given up on (undelivered, failed or
// canceled: a send that did not reach anyone is no reason not to send).
func (c *Client) FindMessage(ctx context.Context, from, to, body string, w Window) (Sent, bool, error) {
	if c.dryRun {
		return Sent{}, false, nil
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	params := &api.ListMessageParams{}
	params.SetTo(to)
	params.SetFrom(from)
	params.SetPageSize(lookupLimit)
	params.SetLimit(lookupLimit)
	call := c.newAPICall(ctx)
	got, err := call.svc.ListMessage(params)
	if err != nil {
		return Sent{}, false, convertError("twilio: list messages", err, call.ct.status)
	}
	for _, m := range got {
		s := Sent{SID: deref(m.Sid), Status: deref(m.Status)}
		if deref(m.Body) == body && w.has(deref(m.DateCreated)) && s.SID != "" && !StatusOutcome(KindMessage, s.Status, "", "").Failed {
			return s, true, nil
		}
	}
	return Sent{}, false, nil
}

// FindCall returns a call from "from" to "to", created within w, that did
// not fail (busy, no answer, failed or canceled: nobody was reached).
func (c *Client) FindCall(ctx context.Context, from, to string, w Window) (Sent, bool, error) {
	if c.dryRun {
		return Sent{}, false, nil
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	params := &api.ListCallParams{}
	params.SetTo(to)
	params.SetFrom(from)
	params.SetPageSize(lookupLimit)
	params.SetLimit(lookupLimit)
	call := c.newAPICall(ctx)
	got, err := call.svc.ListCall(params)
	if err != nil {
		return Sent{}, false, convertError("twilio: list calls", err, call.ct.status)
	}
	for _, cl := range got {
		s := Sent{SID: deref(cl.Sid), Status: deref(cl.Status)}
		if w.has(deref(cl.DateCreated)) && s.SID != "" && !StatusOutcome(KindCall, s.Status, "", "").Failed {
			return s, true, nil
		}
	}
	return Sent{}, false, nil
}
