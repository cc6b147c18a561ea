package alerts

import (
	"errors"
	"slices"
	"time"
)

// State is where an alert stands. It only moves forward.
type State string

// States, in order.
const (
	StateTriggered    State = "triggered"
	StateAcknowledged State = "acknowledged"
	StateClosed       State = "closed"
)

func (s State) rank() int {
	switch s {
	case StateTriggered:
		return 1
	case StateAcknowledged:
		return 2
	case StateClosed:
		return 3
	}
	return 0
}

// Open reports whether the alert still wants attention (not closed).
func (s State) Open() bool { return s == StateTriggered || s == StateAcknowledged }

// EntryAction names what a history entry records.
type EntryAction string

// History actions.
const (
	ActionTriggered    EntryAction = "triggered"
	ActionPaged        EntryAction = "paged"
	ActionThrottled    EntryAction = "throttled"
	ActionDigest       EntryAction = "digest"
	ActionNobody       EntryAction = "nobody"
	ActionAcknowledged EntryAction = "acknowledged"
	ActionClosed       EntryAction = "closed"
	ActionDelivery     EntryAction = "delivery"
	ActionTold         EntryAction = "told"
)

// Entry is one line of an alert's history.
type Entry struct {
	Time   time.Time   `json:"time"`
	Actor  string      `json:"actor,omitempty"`
	Action EntryAction `json:"action"`
	Detail string      `json:"detail,omitempty"`
	// Ref identifies the job step that wrote the entry, so a step that runs
	// again does not record itself twice.
	Ref string `json:"ref,omitempty"`
}

// Alert is one problem, however many times it was reported.
type Alert struct {
	ID       string      `json:"id"`
	Summary  string      `json:"summary"`
	Source   string      `json:"source,omitempty"`
	Severity Severity    `json:"severity,omitempty"`
	Origin   Integration `json:"origin,omitempty"`
	DedupKey string      `json:"dedup_key"`
	// DedupSlot is the store key of the alert's dedup index entry, which
	// Close frees (it is hashed from the routing key, which is not kept).
	DedupSlot string `json:"dedup_slot"`
	State     State  `json:"state"`
	// Code is the short reply code ("1a" acknowledges alert 1); given to
	// another alert CodeQuiet after this one closes. Empty only for a moment after creation.
	Code    string         `json:"code,omitempty"`
	Details map[string]any `json:"details,omitempty"`
	Links   []Link         `json:"links,omitempty"`

	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
	// Triggers counts trigger events for this alert, the first included.
	Triggers        int       `json:"triggers"`
	LastTriggeredAt time.Time `json:"last_triggered_at"`

	AckedBy  string    `json:"acked_by,omitempty"`
	AckedAt  time.Time `json:"acked_at,omitzero"`
	ClosedBy string    `json:"closed_by,omitempty"`
	ClosedAt time.Time `json:"closed_at,omitzero"`

	// PagedUsers are everyone paged so far, in order; they are told who
	// took the alert.
	PagedUsers []string  `json:"paged_users,omitempty"`
	LastPaged  time.Time `json:"last_paged,omitzero"`
	// PrePaged were paged by the alert's source itself (TriggerOptions);
	// the first round of the escalation leaves them out.
	PrePaged   []string   `json:"pre_paged,omitempty"`
	Deliveries []Delivery `json:"deliveries,omitempty"`
	// Escalation is the id of the escalation job once it is enqueued.
	Escalation string `json:"escalation,omitempty"`
	// Route is where the alert came from, as maintenance windows match it:
	// "key:<API key name>", "event:<slug>", "pagerline", "heartbeat".
	Route string `json:"route,omitempty"`
	// Held is set while a maintenance window holds the alert's escalation
	// back, and kept after its release.
	Held    *Hold   `json:"held,omitempty"`
	History []Entry `json:"history"`
}

// MaxHistory bounds an alert's history; the oldest entries after the first
// are dropped beyond it, so a flapping alert stays a small object.
const MaxHistory = 200

// MaxDeliveries bounds the delivery records kept per alert.
const MaxDeliveries = 100

func (a *Alert) log(e Entry) {
	if e.Ref != "" && slices.ContainsFunc(a.History, func(h Entry) bool { return h.Ref == e.Ref && h.Action == e.Action }) {
		return
	}
	a.History = append(a.History, e)
	if n := len(a.History); n > MaxHistory {
		a.History = append(a.History[:1], a.History[n-MaxHistory+1:]...)
	}
}

func (a *Alert) addPaged(users []string) {
	for _, u := range users {
		if !slices.Contains(a.PagedUsers, u) {
			a.PagedUsers = append(a.PagedUsers, u)
		}
	}
}

func (a *Alert) clone() Alert {
	c := *a
	c.PagedUsers = slices.Clone(a.PagedUsers)
	c.PrePaged = slices.Clone(a.PrePaged)
	c.Deliveries = slices.Clone(a.Deliveries)
	c.History = slices.Clone(a.History)
	c.Links = slices.Clone(a.Links)
	if a.Held != nil {
		h := *a.Held
		c.Held = &h
	}
	return c
}

// Errors.
var (
	// ErrNotFound: no alert with that id, code or dedup key.
	ErrNotFound = errors.New("alerts: no such alert")
	// ErrInvalid wraps a malformed request (empty summary, bad policy).
	ErrInvalid = errors.New("alerts: invalid")
	// ErrCorrupt wraps a stored object that cannot be parsed.
	ErrCorrupt = errors.New("alerts: corrupt object")
)
