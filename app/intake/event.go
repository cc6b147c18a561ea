package intake

import (
	"crypto/rand"
	"encoding/hex"
	"strings"
	"time"
)

// MaxBodyBytes is the largest webhook body accepted: PagerDuty's documented
// size limit for an Events API v2 payload (512 KB), applied to every dialect.
const MaxBodyBytes = 512 << 10

// Action is what an event asks of the alert it names.
type Action string

// Actions, as PagerDuty names them.
const (
	ActionTrigger     Action = "trigger"
	ActionAcknowledge Action = "acknowledge"
	ActionResolve     Action = "resolve"
)

// Valid reports whether a is one of the three actions.
func (a Action) Valid() bool {
	switch a {
	case ActionTrigger, ActionAcknowledge, ActionResolve:
		return true
	}
	return false
}

// Severity is PagerDuty's severity scale, which every dialect is mapped onto.
type Severity string

// Severities, most severe first.
const (
	SeverityCritical Severity = "critical"
	SeverityError    Severity = "error"
	SeverityWarning  Severity = "warning"
	SeverityInfo     Severity = "info"
)

// ParseSeverity accepts the four PagerDuty severities in any case.
func ParseSeverity(s string) (Severity, bool) {
	switch sv := Severity(strings.ToLower(strings.TrimSpace(s))); sv {
	case SeverityCritical, SeverityError, SeverityWarning, SeverityInfo:
		return sv, true
	}
	return "", false
}

// Integration names the dialect an event arrived in.
type Integration string

// Integrations.
const (
	IntegrationPagerDuty    Integration = "pagerduty"
	IntegrationAlertmanager Integration = "alertmanager"
	IntegrationGrafana      Integration = "grafana"
	IntegrationGeneric      Integration = "generic"
	// Alerts raised inside the pager: a voicemail on the pager line, a
	// team event configured to page.
	IntegrationVoicemail Integration = "voicemail"
	IntegrationEvent     Integration = "event"
)

// Link is a URL worth showing with the alert (a runbook, a dashboard, the
// rule that fired).
type Link struct {
	Href string `json:"href"`
	Text string `json:"text,omitempty"`
}

// Event is one normalized request to trigger, acknowledge or resolve an
// alert.
type Event struct {
	Action Action `json:"action"`
	// DedupKey identifies the problem: events with the same key (and
	// RoutingKey) while an alert is open apply to that alert.
	DedupKey string   `json:"dedup_key"`
	Summary  string   `json:"summary,omitempty"`
	Source   string   `json:"source,omitempty"`
	Severity Severity `json:"severity,omitempty"`
	// Component, Group and Class are PagerDuty's optional PD-CEF fields.
	Component string         `json:"component,omitempty"`
	Group     string         `json:"group,omitempty"`
	Class     string         `json:"class,omitempty"`
	Details   map[string]any `json:"details,omitempty"`
	Links     []Link         `json:"links,omitempty"`
	// Timestamp is when the sender detected the problem; zero if not given.
	Timestamp time.Time `json:"timestamp,omitzero"`
	// RoutingKey is the credential the event came with (PagerDuty's
	// routing_key). It scopes dedup keys, as PagerDuty does, and is a
	// secret: it is never marshalled.
	RoutingKey  string      `json:"-"`
	Integration Integration `json:"integration"`
	// Client and ClientURL name the sending tool (PagerDuty's client and
	// client_url).
	Client    string `json:"client,omitempty"`
	ClientURL string `json:"client_url,omitempty"`
}

// ValidationError lists everything wrong with a payload, so the sender can
// fix it in one round trip. The HTTP layer answers it with 400.
type ValidationError struct {
	Errors []string
}

func (e *ValidationError) Error() string {
	return "intake: invalid event: " + strings.Join(e.Errors, "; ")
}

func (e *ValidationError) add(msg string) { e.Errors = append(e.Errors, msg) }

// orNil returns e when it holds problems.
func (e *ValidationError) orNil() error {
	if len(e.Errors) == 0 {
		return nil
	}
	return e
}

// newDedupKey is a random UUID (version 4), the form PagerDuty generates for
// a trigger without a dedup_key.
func newDedupKey() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// truncate cuts s to at most n bytes without splitting a UTF-8 sequence.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && n < len(s) && s[n]&0xc0 == 0x80 {
		n--
	}
	return s[:n]
}
