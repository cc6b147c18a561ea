package intake

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/oncall/pager/app/alerts"
)

// ParseGeneric parses the pager's own plain JSON form, for scripts and tools
// with a configurable webhook:
//
//	{"summary": "disk full on db1", "dedup_key": "db1-disk", "action": "trigger",
//	 "source": "db1", "severity": "critical", "details": {...}, "links": [{"href": "..."}]}
//
// Only summary is required, and only for a trigger. action defaults to
// trigger and also accepts ack/acknowledge, resolve/close and Alertmanager's
// firing/resolved; severity defaults to critical (a caller that wants less
// says so); a trigger without dedup_key gets a generated one.
func ParseGeneric(body []byte) (alerts.Event, error) {
	var top map[string]json.RawMessage
	if err := decodeObject(body, &top); err != nil {
		return alerts.Event{}, &ValidationError{Errors: []string{"body is not a valid JSON object"}}
	}
	ve := &ValidationError{}
	ev := alerts.Event{Integration: alerts.IntegrationGeneric}

	switch a := strings.ToLower(strings.TrimSpace(str(ve, top, "action", "action"))); a {
	case "", "trigger", "firing", "alert":
		ev.Action = alerts.EventTrigger
	case "acknowledge", "ack":
		ev.Action = alerts.EventAcknowledge
	case "resolve", "resolved", "close":
		ev.Action = alerts.EventResolve
	default:
		ve.add(fmt.Sprintf("'action' is %q; want trigger, acknowledge or resolve", a))
	}
	ev.DedupKey = str(ve, top, "dedup_key", "dedup_key")
	if len(ev.DedupKey) > MaxDedupKeyLength {
		ve.add(fmt.Sprintf("'dedup_key' is too long (maximum is %d characters)", MaxDedupKeyLength))
	}
	if ev.DedupKey == "" && (ev.Action == alerts.EventAcknowledge || ev.Action == alerts.EventResolve) {
		ve.add("'dedup_key' is required for acknowledge and resolve")
	}
	ev.Summary = truncate(strings.TrimSpace(str(ve, top, "summary", "summary")), MaxSummaryLength)
	if ev.Summary == "" && ev.Action == alerts.EventTrigger {
		ve.add("'summary' is missing or blank")
	}
	ev.Source = strings.TrimSpace(str(ve, top, "source", "source"))
	if ev.Source == "" {
		ev.Source = string(alerts.IntegrationGeneric)
	}
	ev.Severity = alerts.SeverityCritical
	if sev := str(ve, top, "severity", "severity"); sev != "" {
		s, ok := alerts.ParseSeverity(sev)
		if !ok {
			ve.add("'severity' is invalid (must be one of critical, error, warning, info)")
		}
		ev.Severity = s
	}
	if raw, ok := top["details"]; ok && !isNull(raw) {
		var v any
		if err := json.Unmarshal(raw, &v); err != nil {
			ve.add("'details' is not valid JSON")
		} else if m, ok := v.(map[string]any); ok {
			ev.Details = m
		} else {
			ev.Details = map[string]any{"details": v}
		}
	}
	ev.Links = pdLinks(ve, top["links"])

	if err := ve.orNil(); err != nil {
		return alerts.Event{}, err
	}
	if ev.Action == alerts.EventTrigger && ev.DedupKey == "" {
		ev.DedupKey = newDedupKey()
	}
	return ev, nil
}
