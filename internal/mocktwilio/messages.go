package mocktwilio

import (
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
	}
	s.mu.Lock()
	s.messages = append(s.messages, m)
	s.notifyLocked()
	s.mu.Unlock()

	now := twilioTime(time.Now())
	uri := "/2010-04-01/Accounts/" + s.accountSID + "/Messages/" + m.SID
	writeJSON(w, http.StatusCreated, map[string]any{
		"account_sid":           s.accountSID,
		"api_version":           "2010-04-01",
		"body":                  m.Body,
		"date_created":          now,
		"date_sent":             nil,
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
		"status":                "queued",
		"subresource_uris":      map[string]string{"media": uri + "/Media.json"},
		"to":                    m.To,
		"uri":                   uri + ".json",
	})
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
