package generic

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/oncall/pager/app/alerts"
	"github.com/oncall/pager/app/intake"
)

// Parse parses the pager's own plain JSON form, for scripts and tools
// with a configurable webhook:
//
//	{"summary": "disk full on db1", "dedup_key": "db1-disk", "action": "trigger",
//	 "source": "db1", "severity": "critical", "details": {...}, "links": [{"href": "..."}]}
//
// Only summary is required, and only for a trigger. action defaults to
// trigger and also accepts ack/acknowledge, resolve/close and Alertmanager's
// firing/resolved; severity defaults to critical (a caller that wants less
// says so); a trigger without dedup_key gets a generated one.
func Parse(body []byte) (alerts.Event, error) {
	var top map[string]json.RawMessage
	if err := intake.DecodeObject(body, &top); err != nil {
		return alerts.Event{}, &intake.ValidationError{Errors: []string{"body is not a valid JSON object"}}
	}
	ve := &intake.ValidationError{}
	ev := alerts.Event{Integration: alerts.IntegrationGeneric}

	switch a := strings.ToLower(strings.TrimSpace(intake.Str(ve, top, "action", "action"))); a {
	case "", "trigger", "firing", "alert":
		ev.Action = alerts.EventTrigger
	case "acknowledge", "ack":
		ev.Action = alerts.EventAcknowledge
	case "resolve", "resolved", "close":
		ev.Action = alerts.EventResolve
	default:
		ve.Add(fmt.Sprintf("'action' is %q; want trigger, acknowledge or resolve", a))
	}
	ev.DedupKey = intake.Str(ve, top, "dedup_key", "dedup_key")
	if len(ev.DedupKey) > intake.MaxDedupKeyLength {
		ve.Add(fmt.Sprintf("'dedup_key' is too long (maximum is %d characters)", intake.MaxDedupKeyLength))
	}
	if ev.DedupKey == "" && (ev.Action == alerts.EventAcknowledge || ev.Action == alerts.EventResolve) {
		ve.Add("'dedup_key' is required for acknowledge and resolve")
	}
	ev.Summary = intake.Truncate(strings.TrimSpace(intake.Str(ve, top, "summary", "summary")), intake.MaxSummaryLength)
	if ev.Summary == "" && ev.Action == alerts.EventTrigger {
		ve.Add("'summary' is missing or blank")
	}
	ev.Source = strings.TrimSpace(intake.Str(ve, top, "source", "source"))
	if ev.Source == "" {
		ev.Source = string(alerts.IntegrationGeneric)
	}
	ev.Severity = alerts.SeverityCritical
	if sev := intake.Str(ve, top, "severity", "severity"); sev != "" {
		s, ok := alerts.ParseSeverity(sev)
		if !ok {
			ve.Add("'severity' is invalid (must be one of critical, error, warning, info)")
		}
		ev.Severity = s
	}
	ev.Details = intake.Details(ve, top, "details", "details")
	ev.Links = intake.Links(ve, top["links"])

	if err := ve.OrNil(); err != nil {
		return alerts.Event{}, err
	}
	if ev.Action == alerts.EventTrigger && ev.DedupKey == "" {
		ev.DedupKey = intake.NewDedupKey()
	}
	return ev, nil
}
