package mocktwilio

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"time"
)

// Call is a call the mock accepted (POST Calls.json).
type Call struct {
	SID                  string
	From                 string
	To                   string
	Twiml                string
	URL                  string
	StatusCallback       string
	StatusCallbackEvents []string
	MachineDetection     string
	// Timeout is the ring timeout sent, 0 when none was.
	Timeout int
	// Params is the whole form as sent.
	Params url.Values
}

func (s *Server) createCall(w http.ResponseWriter, form url.Values) {
	c := Call{
		SID:                  "CA" + randHex(16),
		From:                 form.Get("From"),
		To:                   form.Get("To"),
		Twiml:                form.Get("Twiml"),
		URL:                  form.Get("Url"),
		StatusCallback:       form.Get("StatusCallback"),
		StatusCallbackEvents: slices.Clone(form["StatusCallbackEvent"]),
		MachineDetection:     form.Get("MachineDetection"),
		Params:               form,
	}
	c.Timeout, _ = strconv.Atoi(form.Get("Timeout")) // the spec check vouches for it
	s.mu.Lock()
	s.calls = append(s.calls, c)
	s.notifyLocked()
	s.mu.Unlock()

	now := twilioTime(time.Now())
	uri := "/2010-04-01/Accounts/" + s.accountSID + "/Calls/" + c.SID
	writeJSON(w, http.StatusCreated, map[string]any{
		"account_sid":      s.accountSID,
		"annotation":       nil,
		"answered_by":      nil,
		"api_version":      "2010-04-01",
		"caller_name":      nil,
		"date_created":     now,
		"date_updated":     now,
		"direction":        "outbound-api",
		"duration":         nil,
		"end_time":         nil,
		"forwarded_from":   nil,
		"from":             c.From,
		"from_formatted":   c.From,
		"group_sid":        nil,
		"parent_call_sid":  nil,
		"phone_number_sid": nil,
		"price":            nil,
		"price_unit":       "USD",
		"sid":              c.SID,
		"start_time":       nil,
		"status":           "queued",
		"subresource_uris": map[string]string{
			"recordings":    uri + "/Recordings.json",
			"notifications": uri + "/Notifications.json",
		},
		"to":           c.To,
		"to_formatted": c.To,
		"trunk_sid":    nil,
		"uri":          uri + ".json",
		"queue_time":   "0",
	})
}

// Calls returns the calls accepted so far, in order.
func (s *Server) Calls() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.calls)
}

// WaitCalls blocks until at least n calls were accepted, then returns them
// all; it returns ctx's error if ctx ends first.
func (s *Server) WaitCalls(ctx context.Context, n int) ([]Call, error) {
	var out []Call
	err := s.waitFor(ctx, func() bool {
		if len(s.calls) < n {
			return false
		}
		out = slices.Clone(s.calls)
		return true
	})
	return out, err
}
