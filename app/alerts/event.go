package alerts

import (
	"strings"
	"time"
)

// EventAction is what an event asks of the alert it names.
type EventAction string

// Event actions, as PagerDuty names them.
const (
	EventTrigger     EventAction = "trigger"
	EventAcknowledge EventAction = "acknowledge"
	EventResolve     EventAction = "resolve"
)

// Valid reports whether a is one of the three actions.
func (a EventAction) Valid() bool {
	switch a {
	case EventTrigger, EventAcknowledge, EventResolve:
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
// alert, whichever dialect it arrived in (app/intake parses them).
type Event struct {
	Action EventAction `json:"action"`
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
