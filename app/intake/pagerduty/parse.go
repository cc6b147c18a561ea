package pagerduty

import (
	"cmp"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/oncall/pager/app/alerts"
	"github.com/oncall/pager/app/intake"
)

// Parse parses one PagerDuty Events API v2 alert event (the body of POST
// /v2/enqueue). A trigger without dedup_key gets a generated one, which the
// 202 answer must return. Problems come back as an *intake.ValidationError
// listing all of them. The routing_key only has to be non-blank: it is one
// of our API keys, of any length (not PagerDuty's 32 characters), which
// the HTTP layer checks.
func Parse(body []byte) (alerts.Event, error) {
	var top map[string]json.RawMessage
	if err := intake.DecodeObject(body, &top); err != nil {
		return alerts.Event{}, &intake.ValidationError{Errors: []string{"Event body is not a valid JSON object"}}
	}
	ve := &intake.ValidationError{}
	ev := alerts.Event{Integration: alerts.IntegrationPagerDuty}

	ev.RoutingKey = intake.Str(ve, top, "routing_key", "routing_key")
	if strings.TrimSpace(ev.RoutingKey) == "" {
		ve.Add("'routing_key' is missing or blank")
	}

	action := intake.Str(ve, top, "event_action", "event_action")
	ev.Action = alerts.EventAction(action)
	switch {
	case action == "":
		ve.Add("'event_action' is missing or blank")
	case !ev.Action.Valid():
		ve.Add("'event_action' is invalid (must be one of trigger, acknowledge, resolve)")
	}

	ev.DedupKey = intake.Str(ve, top, "dedup_key", "dedup_key")
	if len(ev.DedupKey) > intake.MaxDedupKeyLength {
		ve.Add(fmt.Sprintf("'dedup_key' is too long (maximum is %d characters)", intake.MaxDedupKeyLength))
	}
	if ev.DedupKey == "" && (ev.Action == alerts.EventAcknowledge || ev.Action == alerts.EventResolve) {
		ve.Add("'dedup_key' is required for acknowledge and resolve events")
	}
	ev.Client = intake.Str(ve, top, "client", "client")
	ev.ClientURL = intake.Str(ve, top, "client_url", "client_url")
	ev.Links = append(ev.Links, intake.Links(ve, top["links"])...)
	ev.Links = append(ev.Links, images(ve, top["images"])...)
	if ev.ClientURL != "" {
		ev.Links = append(ev.Links, alerts.Link{Href: ev.ClientURL, Text: ev.Client})
	}

	// The payload only matters for triggers; acknowledge and resolve may
	// omit it.
	raw, hasPayload := top["payload"]
	if hasPayload && !intake.IsNull(raw) {
		var p map[string]json.RawMessage
		if err := intake.DecodeObject(raw, &p); err != nil {
			ve.Add("'payload' must be an object")
		} else {
			payload(ve, p, &ev)
		}
	} else if ev.Action == alerts.EventTrigger {
		ve.Add("'payload' is missing")
	}

	if err := ve.OrNil(); err != nil {
		return alerts.Event{}, err
	}
	if ev.Action == alerts.EventTrigger && ev.DedupKey == "" {
		ev.DedupKey = intake.NewDedupKey()
	}
	return ev, nil
}

func payload(ve *intake.ValidationError, p map[string]json.RawMessage, ev *alerts.Event) {
	trigger := ev.Action == alerts.EventTrigger
	ev.Summary = intake.Truncate(strings.TrimSpace(intake.Str(ve, p, "summary", "payload.summary")), intake.MaxSummaryLength)
	if trigger && ev.Summary == "" {
		ve.Add("'payload.summary' is missing or blank")
	}
	ev.Source = strings.TrimSpace(intake.Str(ve, p, "source", "payload.source"))
	if trigger && ev.Source == "" {
		ve.Add("'payload.source' is missing or blank")
	}
	sev := intake.Str(ve, p, "severity", "payload.severity")
	switch s, ok := alerts.ParseSeverity(sev); {
	case ok:
		ev.Severity = s
	case sev == "" && trigger:
		ve.Add("'payload.severity' is missing or blank")
	case sev != "":
		ve.Add("'payload.severity' is invalid (must be one of critical, error, warning, info)")
	}
	ev.Component = intake.Str(ve, p, "component", "payload.component")
	ev.Group = intake.Str(ve, p, "group", "payload.group")
	ev.Class = intake.Str(ve, p, "class", "payload.class")
	if ts := intake.Str(ve, p, "timestamp", "payload.timestamp"); ts != "" {
		t, ok := parseTimestamp(ts)
		if !ok {
			ve.Add("'payload.timestamp' is not an ISO 8601 timestamp")
		}
		ev.Timestamp = t
	}
	ev.Details = intake.Details(ve, p, "custom_details", "payload.custom_details")
}

func images(ve *intake.ValidationError, raw json.RawMessage) []alerts.Link {
	if intake.IsNull(raw) {
		return nil
	}
	var in []struct {
		Src  string `json:"src"`
		Href string `json:"href"`
		Alt  string `json:"alt"`
	}
	if err := json.Unmarshal(raw, &in); err != nil {
		ve.Add("'images' must be an array of objects with 'src'")
		return nil
	}
	var out []alerts.Link
	for i, im := range in {
		if im.Src == "" {
			ve.Add(fmt.Sprintf("'images[%d].src' is missing or blank", i))
			continue
		}
		text := cmp.Or(im.Alt, "image")
		out = append(out, alerts.Link{Href: im.Src, Text: text})
	}
	return out
}

// Response is the JSON body PagerDuty's Events API v2 answers with.
type Response struct {
	Status   string   `json:"status"`
	Message  string   `json:"message"`
	DedupKey string   `json:"dedup_key,omitempty"`
	Errors   []string `json:"errors,omitempty"`
}

// Accepted is the 202 body: the event was stored and will be acted on.
// dedupKey is the event's (possibly generated) key.
func Accepted(dedupKey string) Response {
	return Response{Status: "success", Message: "Event processed", DedupKey: dedupKey}
}

// Invalid is the 400 body for err: the problems of an
// *intake.ValidationError, or err's text for anything else.
func Invalid(err error) Response {
	r := Response{Status: "invalid event", Message: "Event object is invalid"}
	if ve, ok := err.(*intake.ValidationError); ok {
		r.Errors = append([]string(nil), ve.Errors...)
	} else if err != nil {
		r.Errors = []string{err.Error()}
	}
	return r
}

// Throttled is the 429 body. PagerDuty documents only the status code
// ("retry after some time"); senders look at nothing else.
func Throttled() Response {
	return Response{Status: "throttle event", Message: "Requests for this routing key are arriving too quickly; retry later"}
}

// parseTimestamp accepts RFC 3339 and the ISO 8601 variant without a colon
// in the offset that PagerDuty's own examples use
// ("2015-07-17T08:42:58.315+0000").
func parseTimestamp(s string) (time.Time, bool) {
	for _, layout := range []string{
		time.RFC3339Nano,
		"2006-01-02T15:04:05.999999999Z0700",
		"2006-01-02T15:04:05Z0700",
	} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), true
		}
	}
	return time.Time{}, false
}
