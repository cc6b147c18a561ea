package twilio

import (
	"context"
	"time"

	api "github.com/twilio/twilio-go/rest/api/v2010"
)

// A send that may already have reached Twilio (its runner crashed before
// recording the answer, or the answer was lost) is looked up before it is
// sent again: the Messages and Calls list resources filter by To and From,
// newest first. No date filter is used: Twilio filters messages by
// date_sent and calls by start_time, both empty while a send is queued,
// which is exactly the case to find; date_created is compared here instead.

// lookupLimit is how many of the newest matching sends are read: the pager
// sends a person a handful of texts a minute at most, so the one a lost
// answer stands for is among the newest.
const lookupLimit = 50

// FindMessage returns the SID of a message from "from" to "to" with this
// body, created at or after since, if Twilio has one.
func (c *Client) FindMessage(ctx context.Context, from, to, body string, since time.Time) (string, bool, error) {
	if c.dryRun {
		return "", false, nil
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
		return "", false, convertError("twilio: list messages", err, call.ct.status)
	}
	for _, m := range got {
		if deref(m.Body) == body && createdSince(deref(m.DateCreated), since) && deref(m.Sid) != "" {
			return deref(m.Sid), true, nil
		}
	}
	return "", false, nil
}

// FindCall returns the SID of a call from "from" to "to" created at or
// after since, if Twilio has one.
func (c *Client) FindCall(ctx context.Context, from, to string, since time.Time) (string, bool, error) {
	if c.dryRun {
		return "", false, nil
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
		return "", false, convertError("twilio: list calls", err, call.ct.status)
	}
	for _, cl := range got {
		if createdSince(deref(cl.DateCreated), since) && deref(cl.Sid) != "" {
			return deref(cl.Sid), true, nil
		}
	}
	return "", false, nil
}

// createdSince: Twilio's date_created (RFC 1123, second precision) is at
// or after since.
func createdSince(created string, since time.Time) bool {
	t, err := time.Parse(time.RFC1123Z, created)
	return err == nil && !t.Before(since.Truncate(time.Second))
}
