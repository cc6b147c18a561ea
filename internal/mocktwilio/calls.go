package mocktwilio

import (
	"cmp"
	"context"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"
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
	// Created is when the mock accepted it; it starts at once.
	Created time.Time
	// Status is what the list resource reports: "completed" unless
	// SetStatus said otherwise.
	Status string
}

var callSIDPattern = regexp.MustCompile(`^CA[0-9a-fA-F]{32}$`)

// AddInboundCall registers a call from a caller to one of the account's
// numbers, as Twilio knows it once the call rang in; sid "" makes a fresh
// SID. It returns the SID. GET Calls/{Sid}.json then finds it.
func (s *Server) AddInboundCall(sid, from, to string) string {
	s.t.Helper()
	if sid == "" {
		sid = "CA" + randHex(16)
	}
	if !callSIDPattern.MatchString(sid) {
		s.t.Fatalf("mocktwilio: %q is not a call SID (CA and 32 hex digits)", sid)
	}
	s.mu.Lock()
	s.inbound[sid] = Call{SID: sid, From: from, To: to}
	s.mu.Unlock()
	return sid
}

// fetchCall is GET Calls/{Sid}.json, for inbound calls added with
// AddInboundCall and the outbound calls the mock placed.
func (s *Server) fetchCall(w http.ResponseWriter, r *http.Request, sid string) {
	s.mu.Lock()
	c, ok := s.inbound[sid]
	direction := "inbound"
	if !ok {
		for _, oc := range s.calls {
			if oc.SID == sid {
				c, ok, direction = oc, true, "outbound-api"
				break
			}
		}
	}
	s.mu.Unlock()
	if !ok {
		writeNotFound(w, r)
		return
	}
	writeJSON(w, http.StatusOK, s.callJSON(c, direction, "completed"))
}

func (s *Server) callJSON(c Call, direction, status string) map[string]any {
	created := c.Created
	if created.IsZero() {
		created = s.clock()
	}
	now := twilioTime(created)
	var started any
	if status != "queued" && status != "canceled" {
		started = now
	}
	uri := "/2010-04-01/Accounts/" + s.accountSID + "/Calls/" + c.SID
	return map[string]any{
		"account_sid":      s.accountSID,
		"annotation":       nil,
		"answered_by":      nil,
		"api_version":      "2010-04-01",
		"caller_name":      nil,
		"date_created":     now,
		"date_updated":     now,
		"direction":        direction,
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
		"start_time":       started,
		"status":           status,
		"subresource_uris": map[string]string{
			"recordings":    uri + "/Recordings.json",
			"notifications": uri + "/Notifications.json",
		},
		"to":           c.To,
		"to_formatted": c.To,
		"trunk_sid":    nil,
		"uri":          uri + ".json",
		"queue_time":   "0",
	}
}

func (s *Server) createCall(w http.ResponseWriter, form url.Values) {
	if utf8.RuneCountInString(form.Get("Twiml")) > MaxInlineTwiml {
		writeError(w, http.StatusBadRequest, 32018, "Twiml exceeds the 4000 character limit")
		return
	}
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
		Created:              s.clock(),
	}
	c.Timeout, _ = strconv.Atoi(form.Get("Timeout")) // the spec check vouches for it
	s.mu.Lock()
	s.calls = append(s.calls, c)
	s.notifyLocked()
	s.mu.Unlock()
	s.pause()

	writeJSON(w, http.StatusCreated, s.callJSON(c, "outbound-api", "queued"))
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

// listCalls is GET Calls.json with Twilio's filters: To, From, Status and
// StartTime (a day, or with < / > on and before / after it; a call not
// started yet has no start_time and matches none), most recent first,
// paged. Outbound calls only: the ones the pager placed.
func (s *Server) listCalls(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	on, before, after := dateFilter(q, "StartTime")
	dated := q.Has("StartTime") || q.Has("StartTime<") || q.Has("StartTime>")
	s.mu.Lock()
	var items []map[string]any
	for i := len(s.calls) - 1; i >= 0; i-- {
		c := s.calls[i]
		status := cmp.Or(c.Status, "completed")
		if (q.Has("To") && c.To != q.Get("To")) || (q.Has("From") && c.From != q.Get("From")) ||
			(q.Has("Status") && q.Get("Status") != status) || (dated && (status == "queued" || status == "canceled")) ||
			!inDay(c.Created, on, before, after) {
			continue
		}
		items = append(items, s.callJSON(c, "outbound-api", status))
	}
	s.mu.Unlock()
	s.writePage(w, q, "Calls.json", "calls", items)
}
