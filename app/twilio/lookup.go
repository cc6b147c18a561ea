package twilio

import (
	"context"
	"regexp"
	"strconv"
	"strings"
	"time"

	api "github.com/twilio/twilio-go/rest/api/v2010"
)

// Recording is one recording as Twilio lists it.
type Recording struct {
	SID         string
	CallSID     string
	Duration    int // seconds; -1 while Twilio is still processing it
	Status      string
	Source      string
	DateCreated time.Time
	// URL is the media's address in the form Twilio posts as RecordingUrl
	// (…/Recordings/RE…, no extension), ready for FetchRecording.
	URL string
}

// CallInfo is what Twilio knows of one call's parties.
type CallInfo struct {
	SID        string
	From       string
	To         string
	CallerName string
	Direction  string
}

var callSIDPattern = regexp.MustCompile(`^CA[0-9a-fA-F]{32}$`)

// ListRecordings lists the account's recordings created since since, every
// page of them. Twilio's DateCreated> filter is coarse (it may compare by
// day), so the result is filtered again here. DryRun lists nothing.
func (c *Client) ListRecordings(ctx context.Context, since time.Time) ([]Recording, error) {
	if c.dryRun {
		return nil, nil
	}
	ctx, cancel := context.WithTimeout(ctx, 6*c.timeout)
	defer cancel()
	call := c.newAPICall(ctx)
	params := &api.ListRecordingParams{}
	if !since.IsZero() {
		params.SetDateCreatedAfter(since.UTC())
	}
	params.SetPageSize(100)
	got, err := call.svc.ListRecording(params)
	if err != nil {
		return nil, convertError("twilio: list recordings", err, call.ct.status)
	}
	out := make([]Recording, 0, len(got))
	for _, r := range got {
		rec := Recording{
			SID:     deref(r.Sid),
			CallSID: deref(r.CallSid),
			Status:  deref(r.Status),
			Source:  deref(r.Source),
		}
		if rec.SID == "" {
			continue
		}
		rec.Duration, _ = strconv.Atoi(deref(r.Duration))
		if t, err := time.Parse(time.RFC1123Z, deref(r.DateCreated)); err == nil {
			rec.DateCreated = t.UTC()
		}
		if !since.IsZero() && !rec.DateCreated.IsZero() && rec.DateCreated.Before(since) {
			continue
		}
		uri := strings.TrimSuffix(deref(r.Uri), ".json")
		if uri == "" {
			uri = "/2010-04-01/Accounts/" + c.accountSID + "/Recordings/" + rec.SID
		}
		rec.URL = "https://" + apiHost + uri
		out = append(out, rec)
	}
	return out, nil
}

// FetchCall reads one call's parties. DryRun returns an empty CallInfo.
func (c *Client) FetchCall(ctx context.Context, callSID string) (CallInfo, error) {
	if !callSIDPattern.MatchString(callSID) {
		return CallInfo{}, invalidf("%q is not a call SID", callSID)
	}
	if c.dryRun {
		return CallInfo{}, nil
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	call := c.newAPICall(ctx)
	got, err := call.svc.FetchCall(callSID, nil)
	if err != nil {
		return CallInfo{}, convertError("twilio: fetch call", err, call.ct.status)
	}
	return CallInfo{SID: deref(got.Sid), From: deref(got.From), To: deref(got.To),
		CallerName: deref(got.CallerName), Direction: deref(got.Direction)}, nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
