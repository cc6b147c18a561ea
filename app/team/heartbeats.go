package team

import (
	"strings"
	"time"
)

// Heartbeat is one entry of the optional "heartbeats" section: a job or
// monitor that must call POST /heartbeat/<name> at least every Every; when
// Every+Grace pass without a beat, Summary is paged through the escalation
// policy (app/heartbeat).
type Heartbeat struct {
	Every   Duration `json:"every"`
	Grace   Duration `json:"grace,omitempty"`
	Summary string   `json:"summary"`
	// APIKey, when set, names the only api_keys entry that may beat it;
	// otherwise any enabled key may.
	APIKey string `json:"api_key,omitempty"`
}

// Limits on heartbeats: a beat expected more often than every minute is a
// health check, not a heartbeat; a deadline further off than a quarter is
// forgotten, not watched.
const (
	MinHeartbeatEvery   = time.Minute
	MaxHeartbeatEvery   = 92 * 24 * time.Hour
	MaxHeartbeatGrace   = 7 * 24 * time.Hour
	maxHeartbeatName    = 64
	maxHeartbeatSummary = 100
)

// Deadline is how long after a beat the heartbeat is late.
func (h Heartbeat) Deadline() time.Duration { return h.Every.D() + h.Grace.D() }

// Heartbeat returns the configured heartbeat called name.
func (c *Config) Heartbeat(name string) (Heartbeat, bool) {
	if c == nil {
		return Heartbeat{}, false
	}
	h, ok := c.Heartbeats[name]
	return h, ok
}

func (h Heartbeat) validate(c *Config, at path, r *report) {
	name := at[len(at)-1]
	if !validSlug(name) || len(name) > maxHeartbeatName {
		r.errorf(at, "must be a name for the URL /heartbeat/<name>: up to %d letters, digits, '-', '_' and '.', not starting with '.' or '-'", maxHeartbeatName)
	}
	switch e := h.Every.D(); {
	case e == 0:
		r.errorf(at.Key("every"), `is required: how often a beat is expected, e.g. "24h"`)
	case e < MinHeartbeatEvery || e > MaxHeartbeatEvery:
		r.errorf(at.Key("every"), "must be between %s and %s", MinHeartbeatEvery, MaxHeartbeatEvery)
	}
	if g := h.Grace.D(); g < 0 || g > MaxHeartbeatGrace {
		r.errorf(at.Key("grace"), "must be between 0 and %s", MaxHeartbeatGrace)
	}
	sp := at.Key("summary")
	switch s := strings.TrimSpace(h.Summary); {
	case s == "":
		r.errorf(sp, "is required: the text paged when no beat came in time")
	case len(s) > maxHeartbeatSummary:
		r.errorf(sp, "must be at most %d characters: it heads an SMS", maxHeartbeatSummary)
	case !PlainText(s):
		r.errorf(sp, "must be plain ASCII text: it is sent by SMS, where other characters switch the whole text to a costlier encoding")
	}
	if h.APIKey != "" {
		if _, ok := c.APIKeys[h.APIKey]; !ok {
			r.errorf(at.Key("api_key"), "%q is not in api_keys", h.APIKey)
		}
	}
}

// PlainText reports whether s is printable ASCII without the backtick: a
// subset of GSM-7, so a text made of it is never sent as UCS-2.
func PlainText(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '`' {
			return false
		}
	}
	return true
}
