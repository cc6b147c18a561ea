package intake

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/oncall/pager/app/alerts"
)

// Limits from PagerDuty's Events API v2 documentation.
const (
	// PagerDutyRoutingKeyLength is the length of a PagerDuty integration key.
	PagerDutyRoutingKeyLength = 32
	// MaxDedupKeyLength bounds dedup_key.
	MaxDedupKeyLength = 255
	// MaxSummaryLength bounds payload.summary; longer summaries are cut, not
	// refused: a page must not be lost to a verbose monitor.
	MaxSummaryLength = 1024
)

// PagerDutyOptions adjust validation to this pager.
type PagerDutyOptions struct {
	// RoutingKeyLength, when positive, requires routing_key to have exactly
	// this many characters, as PagerDuty requires 32. Zero accepts any
	// non-blank key: ours are API keys of any length, checked by the HTTP
	// layer.
	RoutingKeyLength int
}

// ParsePagerDuty parses one PagerDuty Events API v2 alert event (the body of
// POST /v2/enqueue). A trigger without dedup_key gets a generated one, which
// the 202 answer must return. Problems come back as a *ValidationError
// listing all of them.
func ParsePagerDuty(body []byte, opt PagerDutyOptions) (alerts.Event, error) {
	var top map[string]json.RawMessage
	if err := decodeObject(body, &top); err != nil {
		return alerts.Event{}, &ValidationError{Errors: []string{"Event body is not a valid JSON object"}}
	}
	ve := &ValidationError{}
	ev := alerts.Event{Integration: alerts.IntegrationPagerDuty}

	ev.RoutingKey = str(ve, top, "routing_key", "routing_key")
	switch {
	case strings.TrimSpace(ev.RoutingKey) == "":
		ve.add("'routing_key' is missing or blank")
	case opt.RoutingKeyLength > 0 && utf8.RuneCountInString(ev.RoutingKey) != opt.RoutingKeyLength:
		ve.add(fmt.Sprintf("Length of 'routing_key' is incorrect (should be %d characters)", opt.RoutingKeyLength))
	}

	action := str(ve, top, "event_action", "event_action")
	ev.Action = alerts.EventAction(action)
	switch {
	case action == "":
		ve.add("'event_action' is missing or blank")
	case !ev.Action.Valid():
		ve.add("'event_action' is invalid (must be one of trigger, acknowledge, resolve)")
	}

	ev.DedupKey = str(ve, top, "dedup_key", "dedup_key")
	if len(ev.DedupKey) > MaxDedupKeyLength {
		ve.add(fmt.Sprintf("'dedup_key' is too long (maximum is %d characters)", MaxDedupKeyLength))
	}
	if ev.DedupKey == "" && (ev.Action == alerts.EventAcknowledge || ev.Action == alerts.EventResolve) {
		ve.add("'dedup_key' is required for acknowledge and resolve events")
	}
	ev.Client = str(ve, top, "client", "client")
	ev.ClientURL = str(ve, top, "client_url", "client_url")
	ev.Links = append(ev.Links, pdLinks(ve, top["links"])...)
	ev.Links = append(ev.Links, pdImages(ve, top["images"])...)
	if ev.ClientURL != "" {
		ev.Links = append(ev.Links, alerts.Link{Href: ev.ClientURL, Text: ev.Client})
	}

	// The payload only matters for triggers; acknowledge and resolve may
	// omit it.
	raw, hasPayload := top["payload"]
	if hasPayload && !isNull(raw) {
		var p map[string]json.RawMessage
		if err := decodeObject(raw, &p); err != nil {
			ve.add("'payload' must be an object")
		} else {
			pdPayload(ve, p, &ev)
		}
	} else if ev.Action == alerts.EventTrigger {
		ve.add("'payload' is missing")
	}

	if err := ve.orNil(); err != nil {
		return alerts.Event{}, err
	}
	if ev.Action == alerts.EventTrigger && ev.DedupKey == "" {
		ev.DedupKey = newDedupKey()
	}
	return ev, nil
}

func pdPayload(ve *ValidationError, p map[string]json.RawMessage, ev *alerts.Event) {
	trigger := ev.Action == alerts.EventTrigger
	ev.Summary = truncate(strings.TrimSpace(str(ve, p, "summary", "payload.summary")), MaxSummaryLength)
	if trigger && ev.Summary == "" {
		ve.add("'payload.summary' is missing or blank")
	}
	ev.Source = strings.TrimSpace(str(ve, p, "source", "payload.source"))
	if trigger && ev.Source == "" {
		ve.add("'payload.source' is missing or blank")
	}
	sev := str(ve, p, "severity", "payload.severity")
	switch s, ok := alerts.ParseSeverity(sev); {
	case ok:
		ev.Severity = s
	case sev == "" && trigger:
		ve.add("'payload.severity' is missing or blank")
	case sev != "":
		ve.add("'payload.severity' is invalid (must be one of critical, error, warning, info)")
	}
	ev.Component = str(ve, p, "component", "payload.component")
	ev.Group = str(ve, p, "group", "payload.group")
	ev.Class = str(ve, p, "class", "payload.class")
	if ts := str(ve, p, "timestamp", "payload.timestamp"); ts != "" {
		t, ok := parseTimestamp(ts)
		if !ok {
			ve.add("'payload.timestamp' is not an ISO 8601 timestamp")
		}
		ev.Timestamp = t
	}
	if raw, ok := p["custom_details"]; ok && !isNull(raw) {
		var v any
		if err := json.Unmarshal(raw, &v); err != nil {
			ve.add("'payload.custom_details' is not valid JSON")
		} else if m, ok := v.(map[string]any); ok {
			ev.Details = m
		} else {
			// PagerDuty shows a non-object custom_details as-is.
			ev.Details = map[string]any{"custom_details": v}
		}
	}
}

func pdLinks(ve *ValidationError, raw json.RawMessage) []alerts.Link {
	if isNull(raw) {
		return nil
	}
	var in []struct {
		Href string `json:"href"`
		Text string `json:"text"`
	}
	if err := json.Unmarshal(raw, &in); err != nil {
		ve.add("'links' must be an array of objects with 'href' and 'text'")
		return nil
	}
	var out []alerts.Link
	for i, l := range in {
		if l.Href == "" {
			ve.add(fmt.Sprintf("'links[%d].href' is missing or blank", i))
			continue
		}
		out = append(out, alerts.Link{Href: l.Href, Text: l.Text})
	}
	return out
}

func pdImages(ve *ValidationError, raw json.RawMessage) []alerts.Link {
	if isNull(raw) {
		return nil
	}
	var in []struct {
		Src  string `json:"src"`
		Href string `json:"href"`
		Alt  string `json:"alt"`
	}
	if err := json.Unmarshal(raw, &in); err != nil {
		ve.add("'images' must be an array of objects with 'src'")
		return nil
	}
	var out []alerts.Link
	for i, im := range in {
		if im.Src == "" {
			ve.add(fmt.Sprintf("'images[%d].src' is missing or blank", i))
			continue
		}
		text := im.Alt
		if text == "" {
			text = "image"
		}
		out = append(out, alerts.Link{Href: im.Src, Text: text})
	}
	return out
}

// PagerDutyResponse is the JSON body PagerDuty's Events API v2 answers with.
type PagerDutyResponse struct {
	Status   string   `json:"status"`
	Message  string   `json:"message"`
	DedupKey string   `json:"dedup_key,omitempty"`
	Errors   []string `json:"errors,omitempty"`
}

// PagerDutyAccepted is the 202 body: the event was stored and will be acted
// on. dedupKey is the event's (possibly generated) key.
func PagerDutyAccepted(dedupKey string) PagerDutyResponse {
	return PagerDutyResponse{Status: "success", Message: "Event processed", DedupKey: dedupKey}
}

// PagerDutyInvalid is the 400 body for err: the problems of a
// *ValidationError, or err's text for anything else.
func PagerDutyInvalid(err error) PagerDutyResponse {
	r := PagerDutyResponse{Status: "invalid event", Message: "Event object is invalid"}
	if ve, ok := err.(*ValidationError); ok {
		r.Errors = append([]string(nil), ve.Errors...)
	} else if err != nil {
		r.Errors = []string{err.Error()}
	}
	return r
}

// PagerDutyThrottled is the 429 body. PagerDuty documents only the status
// code ("retry after some time"); senders look at nothing else.
func PagerDutyThrottled() PagerDutyResponse {
	return PagerDutyResponse{Status: "throttle event", Message: "Requests for this routing key are arriving too quickly; retry later"}
}

// str reads an optional string field, reporting a wrong type under name.
func str(ve *ValidationError, m map[string]json.RawMessage, key, name string) string {
	raw, ok := m[key]
	if !ok || isNull(raw) {
		return ""
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		ve.add(fmt.Sprintf("'%s' must be a string", name))
		return ""
	}
	return s
}

func isNull(raw json.RawMessage) bool {
	return len(bytes.TrimSpace(raw)) == 0 || string(bytes.TrimSpace(raw)) == "null"
}

// decodeObject decodes a JSON object into v, refusing trailing data.
func decodeObject(data []byte, v any) error {
	d := json.NewDecoder(bytes.NewReader(data))
	d.UseNumber()
	if err := d.Decode(v); err != nil {
		return err
	}
	if d.More() {
		return fmt.Errorf("intake: trailing data after JSON object")
	}
	return nil
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
