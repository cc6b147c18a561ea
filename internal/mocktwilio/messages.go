package mocktwilio

import (
	"cmp"
	"context"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"time"
)

// Message is a message the mock accepted (POST Messages.json).
type Message struct {
	SID            string
	From           string
	To             string
	Body           string
	MediaURL       []string
	StatusCallback string
	// Params is the whole form as sent.
	Params url.Values
	// Created is when the mock accepted it (its date_created, and its
	// date_sent once it left the queue).
	Created time.Time
	// Status is what the list resource reports: "sent" (the mock sends at
	// once) unless SetStatus said otherwise.
	Status string
}

func (s *Server) createMessage(w http.ResponseWriter, form url.Values) {
	m := Message{
		SID:            "SM" + randHex(16),
		From:           form.Get("From"),
		To:             form.Get("To"),
		Body:           form.Get("Body"),
		MediaURL:       slices.Clone(form["MediaUrl"]),
		StatusCallback: form.Get("StatusCallback"),
		Params:         form,
		Created:        s.clock(),
	}
	s.mu.Lock()
	s.messages = append(s.messages, m)
	s.notifyLocked()
	s.mu.Unlock()
	s.pause()
	writeJSON(w, http.StatusCreated, s.messageJSON(m, "queued"))
}

func (s *Server) messageJSON(m Message, status string) map[string]any {
	now := twilioTime(m.Created)
	var sent any
	if hasSent(status) {
		sent = now
	}
	uri := "/2010-04-01/Accounts/" + s.accountSID + "/Messages/" + m.SID
	return map[string]any{
		"account_sid":           s.accountSID,
		"api_version":           "2010-04-01",
		"body":                  m.Body,
		"date_created":          now,
		"date_sent":             sent,
		"date_updated":          now,
		"direction":             "outbound-api",
		"error_code":            nil,
		"error_message":         nil,
		"from":                  m.From,
		"messaging_service_sid": nil,
		"num_media":             strconv.Itoa(len(m.MediaURL)),
		"num_segments":          "1",
		"price":                 nil,
		"price_unit":            "USD",
		"sid":                   m.SID,
		"status":                status,
		"subresource_uris":      map[string]string{"media": uri + "/Media.json"},
		"to":                    m.To,
		"uri":                   uri + ".json",
	}
}

// hasSent reports whether a message of this status has a date_sent: not
// while Twilio still holds it.
func hasSent(status string) bool {
	switch status {
	case "queued", "accepted", "scheduled", "canceled":
		return false
	}
	return true
}

// listMessages is GET Messages.json with Twilio's filters: To, From and
// DateSent (a day, or with < / > on and before / after it; a message not
// sent yet has no date_sent and matches none), most recent first, paged.
func (s *Server) listMessages(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	on, before, after := dateFilter(q, "DateSent")
	dated := q.Has("DateSent") || q.Has("DateSent<") || q.Has("DateSent>")
	s.mu.Lock()
	var items []map[string]any
	for i := len(s.messages) - 1; i >= 0; i-- {
		m := s.messages[i]
		status := cmp.Or(m.Status, "sent")
		if (q.Has("To") && m.To != q.Get("To")) || (q.Has("From") && m.From != q.Get("From")) ||
			(dated && !hasSent(status)) || !inDay(m.Created, on, before, after) {
			continue
		}
		items = append(items, s.messageJSON(m, status))
	}
	s.mu.Unlock()
	s.writePage(w, q, "Messages.json", "messages", items)
}

// Messages returns the messages accepted so far, in order.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.messages)
}

// WaitMessages blocks until at least n messages were accepted, then returns
// them all; it returns ctx's error if ctx ends first.
func (s *Server) WaitMessages(ctx context.Context, n int) ([]Message, error) {
	var out []Message
	err := s.waitFor(ctx, func() bool {
		if len(s.messages) < n {
			return false
		}
		out = slices.Clone(s.messages)
		return true
	})
	return out, err
}
