package alertmanager

import (
	"cmp"
	"encoding/json"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/oncall/pager/app/alerts"
	"github.com/oncall/pager/app/intake"
)

// Alert is one alert of an Alertmanager (webhook_config, version 4) or
// Grafana (webhook contact point) notification; Grafana adds fields.
type Alert struct {
	Status       string            `json:"status"`
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`
	StartsAt     time.Time         `json:"startsAt"`
	EndsAt       time.Time         `json:"endsAt"`
	GeneratorURL string            `json:"generatorURL"`
	Fingerprint  string            `json:"fingerprint"`
	// Grafana only.
	SilenceURL   string `json:"silenceURL"`
	DashboardURL string `json:"dashboardURL"`
	PanelURL     string `json:"panelURL"`
	ImageURL     string `json:"imageURL"`
}

// Message is the notification body shared by Alertmanager and Grafana.
type Message struct {
	Version           string            `json:"version"`
	GroupKey          string            `json:"groupKey"`
	TruncatedAlerts   int               `json:"truncatedAlerts"`
	Status            string            `json:"status"`
	Receiver          string            `json:"receiver"`
	GroupLabels       map[string]string `json:"groupLabels"`
	CommonLabels      map[string]string `json:"commonLabels"`
	CommonAnnotations map[string]string `json:"commonAnnotations"`
	ExternalURL       string            `json:"externalURL"`
	Alerts            []Alert           `json:"alerts"`
	// Grafana only.
	OrgID   *int64 `json:"orgId"`
	Title   string `json:"title"`
	State   string `json:"state"`
	Message string `json:"message"`
}

// Parse parses a Prometheus Alertmanager webhook notification
// (webhook_config, payload version 4): a group of alerts, firing or
// resolved. The group is one event keyed by its group key, as
// Alertmanager's own PagerDuty receiver does: the team tunes grouping in
// Alertmanager, and a group that flaps or grows pages once.
func Parse(body []byte) ([]alerts.Event, error) {
	m, err := Decode(body, "an Alertmanager")
	if err != nil {
		return nil, err
	}
	ve := &intake.ValidationError{}
	if m.Version != "" && m.Version != "4" {
		ve.Add(fmt.Sprintf("'version' is %q; this receiver understands version 4", m.Version))
	}
	m.Check(ve)
	if err := ve.OrNil(); err != nil {
		return nil, err
	}
	return []alerts.Event{m.Event(alerts.IntegrationAlertmanager, "alertmanager:")}, nil
}

// Decode reads an Alertmanager-shaped notification body; sender names the
// dialect in the answer to a body that is not one ("an Alertmanager").
func Decode(body []byte, sender string) (*Message, error) {
	var m Message
	if err := intake.DecodeObject(body, &m); err != nil {
		return nil, &intake.ValidationError{Errors: []string{"body is not " + sender + " webhook message: " + jsonProblem(err)}}
	}
	return &m, nil
}

// Check adds to ve what is wrong with m for both dialects.
func (m *Message) Check(ve *intake.ValidationError) {
	if _, ok := statusAction(m.Status); !ok {
		ve.Add(fmt.Sprintf("'status' is %q; want firing or resolved", m.Status))
	}
	if len(m.Alerts) == 0 {
		ve.Add("'alerts' is missing or empty")
	}
	for i := range m.Alerts {
		if _, ok := statusAction(m.Alerts[i].Status); !ok {
			ve.Add(fmt.Sprintf("'alerts[%d].status' is %q; want firing or resolved", i, m.Alerts[i].Status))
		}
	}
	if m.GroupKey == "" {
		ve.Add("'groupKey' is missing or blank")
	}
}

func statusAction(s string) (alerts.EventAction, bool) {
	switch s {
	case "firing":
		return alerts.EventTrigger, true
	case "resolved":
		return alerts.EventResolve, true
	}
	return "", false
}

// Event maps m, the whole group, to one event of integ, its dedup key the
// group key scoped by prefix.
func (m *Message) Event(integ alerts.Integration, prefix string) alerts.Event {
	action, _ := statusAction(m.Status)
	firing := 0
	for i := range m.Alerts {
		if m.Alerts[i].Status == "firing" {
			firing++
		}
	}
	ev := alerts.Event{
		Action:      action,
		DedupKey:    prefix + m.GroupKey,
		Summary:     m.groupSummary(firing),
		Source:      m.source(integ),
		Severity:    severityFrom(m.CommonLabels),
		Integration: integ,
		Class:       m.CommonLabels["alertname"],
		Timestamp:   m.earliestStart(),
		Details: map[string]any{
			"receiver":      m.Receiver,
			"group_labels":  m.GroupLabels,
			"common_labels": m.CommonLabels,
			"firing":        firing,
			"resolved":      len(m.Alerts) - firing,
			"alerts":        m.alertDetails(),
		},
	}
	if m.TruncatedAlerts > 0 {
		ev.Details["truncated_alerts"] = m.TruncatedAlerts
	}
	if len(m.CommonAnnotations) > 0 {
		ev.Details["common_annotations"] = m.CommonAnnotations
	}
	for i := range m.Alerts {
		ev.Links = appendAlertLinks(ev.Links, &m.Alerts[i])
	}
	if m.ExternalURL != "" {
		ev.Links = appendLink(ev.Links, m.ExternalURL, string(integ))
	}
	return ev
}

// groupSummary prefers what the rule author wrote, then falls back to the
// title Alertmanager itself would use: "[FIRING:2] HighLatency (api prod)".
func (m *Message) groupSummary(firing int) string {
	if s := cmp.Or(strings.TrimSpace(m.CommonAnnotations["summary"]), strings.TrimSpace(m.CommonAnnotations["description"])); s != "" {
		return intake.Truncate(s, intake.MaxSummaryLength)
	}
	if len(m.Alerts) == 1 {
		if s := alertSummary(&m.Alerts[0]); s != "" {
			return s
		}
	}
	if m.Title != "" {
		return intake.Truncate(strings.Join(strings.Fields(m.Title), " "), intake.MaxSummaryLength)
	}
	status := "FIRING"
	n := firing
	if m.Status == "resolved" {
		status, n = "RESOLVED", len(m.Alerts)
	}
	s := fmt.Sprintf("[%s:%d]", status, n)
	if name := m.GroupLabels["alertname"]; name != "" {
		s += " " + name
	} else if name := m.CommonLabels["alertname"]; name != "" {
		s += " " + name
	}
	var rest []string
	for _, k := range slices.Sorted(maps.Keys(m.GroupLabels)) {
		if k != "alertname" {
			rest = append(rest, m.GroupLabels[k])
		}
	}
	if len(rest) > 0 {
		s += " (" + strings.Join(rest, " ") + ")"
	}
	return intake.Truncate(s, intake.MaxSummaryLength)
}

func alertSummary(a *Alert) string {
	s := cmp.Or(strings.TrimSpace(a.Annotations["summary"]), strings.TrimSpace(a.Annotations["description"]), strings.TrimSpace(a.Labels["alertname"]))
	return intake.Truncate(s, intake.MaxSummaryLength)
}

func (m *Message) source(integ alerts.Integration) string {
	if m.ExternalURL != "" {
		if u, err := url.Parse(m.ExternalURL); err == nil && u.Host != "" {
			return string(integ) + " " + u.Host
		}
	}
	return string(integ)
}

func (m *Message) earliestStart() time.Time {
	var t time.Time
	for i := range m.Alerts {
		s := m.Alerts[i].StartsAt
		if !s.IsZero() && (t.IsZero() || s.Before(t)) {
			t = s
		}
	}
	return t.UTC()
}

// alertDetails keeps what a responder needs per alert; the full labels are
// in the sender's UI.
func (m *Message) alertDetails() []map[string]any {
	out := make([]map[string]any, 0, len(m.Alerts))
	for i := range m.Alerts {
		a := &m.Alerts[i]
		d := map[string]any{"status": a.Status, "labels": a.Labels}
		if s := alertSummary(a); s != "" {
			d["summary"] = s
		}
		if a.Fingerprint != "" {
			d["fingerprint"] = a.Fingerprint
		}
		out = append(out, d)
	}
	return out
}

func appendAlertLinks(links []alerts.Link, a *Alert) []alerts.Link {
	links = appendLink(links, a.Annotations["runbook_url"], "runbook")
	links = appendLink(links, a.GeneratorURL, "source")
	links = appendLink(links, a.DashboardURL, "dashboard")
	links = appendLink(links, a.PanelURL, "panel")
	links = appendLink(links, a.ImageURL, "image")
	links = appendLink(links, a.SilenceURL, "silence")
	return links
}

// maxLinks keeps a 500-alert group from making a 1,500-link alert.
const maxLinks = 20

func appendLink(links []alerts.Link, href, text string) []alerts.Link {
	if href == "" || len(links) >= maxLinks {
		return links
	}
	for _, l := range links {
		if l.Href == href {
			return links
		}
	}
	return append(links, alerts.Link{Href: href, Text: text})
}

// severityFrom maps the conventional "severity" label onto PagerDuty's
// scale; anything else is "error", Alertmanager's PagerDuty default.
func severityFrom(labels map[string]string) alerts.Severity {
	if s, ok := alerts.ParseSeverity(labels["severity"]); ok {
		return s
	}
	switch strings.ToLower(labels["severity"]) {
	case "page", "high", "fatal", "emergency", "alert":
		return alerts.SeverityCritical
	case "warn", "medium":
		return alerts.SeverityWarning
	case "low", "none", "informational":
		return alerts.SeverityInfo
	}
	return alerts.SeverityError
}

// jsonProblem names a decode error without echoing the body.
func jsonProblem(err error) string {
	switch e := err.(type) {
	case *json.SyntaxError:
		return fmt.Sprintf("invalid JSON at offset %d", e.Offset)
	case *json.UnmarshalTypeError:
		return fmt.Sprintf("field %q should be %s, not %s", e.Field, e.Type, e.Value)
	}
	return "invalid JSON"
}
