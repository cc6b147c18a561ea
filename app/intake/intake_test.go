package intake_test

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/oncall/pager/app/alerts"
	"github.com/oncall/pager/app/intake"
)

func fixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestPagerDutyTrigger(t *testing.T) {
	ev, err := intake.ParsePagerDuty(fixture(t, "pagerduty_trigger.json"), intake.PagerDutyOptions{RoutingKeyLength: 32})
	if err != nil {
		t.Fatal(err)
	}
	if ev.Action != alerts.EventTrigger || ev.DedupKey != "db-prod-02/replication-lag" ||
		ev.Summary != "Replication lag above 30s on db-prod-02" || ev.Source != "db-prod-02.example.net" ||
		ev.Severity != alerts.SeverityCritical || ev.RoutingKey != "R0UT1NGKEY0123456789abcdefABCDEF" {
		t.Fatalf("event = %+v", ev)
	}
	if ev.Component != "postgres" || ev.Group != "prod-db" || ev.Class != "replication lag" {
		t.Errorf("PD-CEF fields = %q %q %q", ev.Component, ev.Group, ev.Class)
	}
	if want := time.Date(2026, 3, 1, 11, 58, 12, 315e6, time.UTC); !ev.Timestamp.Equal(want) {
		t.Errorf("timestamp = %v, want %v", ev.Timestamp, want)
	}
	if ev.Details["primary"] != "db-prod-01" || ev.Details["lag seconds"] != 42.5 {
		t.Errorf("details = %v", ev.Details)
	}
	var hrefs []string
	for _, l := range ev.Links {
		hrefs = append(hrefs, l.Href)
	}
	for _, want := range []string{"https://wiki.example.net/runbooks/replication-lag", "https://grafana.example.net/render/lag.png", "https://monitoring.example.net"} {
		if !slices.Contains(hrefs, want) {
			t.Errorf("links %v lack %s", hrefs, want)
		}
	}
	// The routing key is a credential: it must not leak into stored JSON.
	b, _ := json.Marshal(ev)
	if strings.Contains(string(b), ev.RoutingKey) {
		t.Errorf("marshalled event contains the routing key: %s", b)
	}
}

func TestPagerDutyGeneratesDedupKey(t *testing.T) {
	body := fixture(t, "pagerduty_trigger_nodedup.json")
	a, err := intake.ParsePagerDuty(body, intake.PagerDutyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := intake.ParsePagerDuty(body, intake.PagerDutyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(a.DedupKey) != 36 || a.DedupKey == b.DedupKey {
		t.Fatalf("generated keys %q and %q: want two distinct UUIDs", a.DedupKey, b.DedupKey)
	}
	resp, _ := json.Marshal(intake.PagerDutyAccepted(a.DedupKey))
	want := `{"status":"success","message":"Event processed","dedup_key":"` + a.DedupKey + `"}`
	if string(resp) != want {
		t.Errorf("202 body = %s, want %s", resp, want)
	}
}

func TestPagerDutyAckResolve(t *testing.T) {
	for name, want := range map[string]alerts.EventAction{
		"pagerduty_acknowledge.json": alerts.EventAcknowledge,
		"pagerduty_resolve.json":     alerts.EventResolve,
	} {
		ev, err := intake.ParsePagerDuty(fixture(t, name), intake.PagerDutyOptions{RoutingKeyLength: 32})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if ev.Action != want || ev.DedupKey != "db-prod-02/replication-lag" {
			t.Errorf("%s: %+v", name, ev)
		}
	}
	// Without a dedup_key there is nothing to acknowledge.
	_, err := intake.ParsePagerDuty([]byte(`{"routing_key":"k","event_action":"resolve"}`), intake.PagerDutyOptions{})
	if !hasError(err, "'dedup_key' is required") {
		t.Errorf("resolve without dedup_key: %v", err)
	}
}

func TestPagerDutyInvalidListsEveryProblem(t *testing.T) {
	_, err := intake.ParsePagerDuty(fixture(t, "pagerduty_invalid.json"), intake.PagerDutyOptions{RoutingKeyLength: 32})
	var ve *intake.ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("err = %v, want *ValidationError", err)
	}
	for _, want := range []string{
		"Length of 'routing_key' is incorrect (should be 32 characters)",
		"'dedup_key' must be a string",
		"'payload.summary' is missing or blank",
		"'payload.source' is missing or blank",
		"'payload.severity' is invalid",
	} {
		if !hasError(err, want) {
			t.Errorf("errors %q lack %q", ve.Errors, want)
		}
	}
	body, _ := json.Marshal(intake.PagerDutyInvalid(err))
	var got struct {
		Status, Message string
		Errors          []string
	}
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatal(err)
	}
	if got.Status != "invalid event" || got.Message != "Event object is invalid" || len(got.Errors) != len(ve.Errors) {
		t.Errorf("400 body = %s", body)
	}
}

func TestPagerDutyValidation(t *testing.T) {
	tests := []struct {
		name, body, want string
	}{
		{"not json", `{"routing_key":`, "not a valid JSON object"},
		{"array", `[]`, "not a valid JSON object"},
		{"trailing", `{"routing_key":"k","event_action":"resolve","dedup_key":"d"} {}`, "not a valid JSON object"},
		{"no action", `{"routing_key":"k"}`, "'event_action' is missing or blank"},
		{"bad action", `{"routing_key":"k","event_action":"explode"}`, "'event_action' is invalid"},
		{"no key", `{"event_action":"resolve","dedup_key":"d"}`, "'routing_key' is missing or blank"},
		{"trigger without payload", `{"routing_key":"k","event_action":"trigger"}`, "'payload' is missing"},
		{"payload not object", `{"routing_key":"k","event_action":"trigger","payload":"x"}`, "'payload' must be an object"},
		{"long dedup", `{"routing_key":"k","event_action":"resolve","dedup_key":"` + strings.Repeat("d", 256) + `"}`, "'dedup_key' is too long"},
		{"bad timestamp", `{"routing_key":"k","event_action":"trigger","payload":{"summary":"s","source":"h","severity":"info","timestamp":"yesterday"}}`, "'payload.timestamp'"},
		{"link without href", `{"routing_key":"k","event_action":"trigger","links":[{"text":"x"}],"payload":{"summary":"s","source":"h","severity":"info"}}`, "'links[0].href'"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := intake.ParsePagerDuty([]byte(tc.body), intake.PagerDutyOptions{})
			if !hasError(err, tc.want) {
				t.Fatalf("err = %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func TestPagerDutyLenient(t *testing.T) {
	long := strings.Repeat("é", 600) // 1,200 bytes
	body := `{"routing_key":"k","event_action":"trigger","payload":{"summary":"` + long +
		`","source":"h","severity":"CRITICAL","custom_details":"just text"}}`
	ev, err := intake.ParsePagerDuty([]byte(body), intake.PagerDutyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(ev.Summary) > intake.MaxSummaryLength || !strings.HasPrefix(long, ev.Summary) || !json.Valid([]byte(`"`+ev.Summary+`"`)) {
		t.Errorf("summary cut to %d bytes, not at a rune boundary or not a prefix", len(ev.Summary))
	}
	if ev.Severity != alerts.SeverityCritical {
		t.Errorf("severity = %q", ev.Severity)
	}
	if ev.Details["custom_details"] != "just text" {
		t.Errorf("details = %v", ev.Details)
	}
}

func TestAlertmanagerGroup(t *testing.T) {
	evs, err := intake.ParseAlertmanager(fixture(t, "alertmanager_firing.json"), intake.WebhookOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 1 {
		t.Fatalf("got %d events, want one per group", len(evs))
	}
	ev := evs[0]
	if ev.Action != alerts.EventTrigger || ev.Severity != alerts.SeverityCritical || ev.Integration != alerts.IntegrationAlertmanager {
		t.Errorf("event = %+v", ev)
	}
	if ev.DedupKey != `alertmanager:{}/{severity="critical"}:{alertname="ProbeFailure"}` {
		t.Errorf("dedup key = %q", ev.DedupKey)
	}
	if ev.Summary != "[FIRING:2] ProbeFailure" {
		t.Errorf("summary = %q", ev.Summary)
	}
	if ev.Source != "alertmanager alertmanager.example.net:9093" {
		t.Errorf("source = %q", ev.Source)
	}
	if want := time.Date(2026, 3, 1, 11, 49, 30, 0, time.UTC); !ev.Timestamp.Equal(want) {
		t.Errorf("timestamp = %v, want earliest start %v", ev.Timestamp, want)
	}
	if ev.Details["firing"] != 2 {
		t.Errorf("details = %v", ev.Details)
	}

	res, err := intake.ParseAlertmanager(fixture(t, "alertmanager_resolved.json"), intake.WebhookOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if res[0].Action != alerts.EventResolve || res[0].DedupKey != ev.DedupKey {
		t.Errorf("resolved = %+v; want resolve of %q", res[0], ev.DedupKey)
	}
}

func TestAlertmanagerPerAlert(t *testing.T) {
	evs, err := intake.ParseAlertmanager(fixture(t, "alertmanager_firing.json"), intake.WebhookOptions{PerAlert: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 2 {
		t.Fatalf("got %d events, want 2", len(evs))
	}
	if evs[0].DedupKey == evs[1].DedupKey || !strings.HasSuffix(evs[0].DedupKey, "/4f7c1d2e9a0b3c5d") {
		t.Errorf("dedup keys %q %q", evs[0].DedupKey, evs[1].DedupKey)
	}
	if evs[0].Summary != "Probe failing: https://shop.example.net" {
		t.Errorf("summary = %q", evs[0].Summary)
	}
	res, _ := intake.ParseAlertmanager(fixture(t, "alertmanager_resolved.json"), intake.WebhookOptions{PerAlert: true})
	for i := range res {
		if res[i].Action != alerts.EventResolve || res[i].DedupKey != evs[i].DedupKey {
			t.Errorf("resolved[%d] = %s %q, want resolve %q", i, res[i].Action, res[i].DedupKey, evs[i].DedupKey)
		}
	}
	// Without a fingerprint (old Alertmanager) the labels stand in for it.
	noFP := strings.ReplaceAll(string(fixture(t, "alertmanager_firing.json")), `"fingerprint"`, `"fp_was"`)
	a, err := intake.ParseAlertmanager([]byte(noFP), intake.WebhookOptions{PerAlert: true})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := intake.ParseAlertmanager([]byte(noFP), intake.WebhookOptions{PerAlert: true})
	if a[0].DedupKey != b[0].DedupKey || a[0].DedupKey == a[1].DedupKey {
		t.Errorf("label fingerprints not stable and distinct: %q %q %q", a[0].DedupKey, b[0].DedupKey, a[1].DedupKey)
	}
}

func TestAlertmanagerInvalid(t *testing.T) {
	tests := map[string]string{
		`{"version":"3","status":"firing","groupKey":"g","alerts":[{"status":"firing"}]}`:  "version 4",
		`{"version":"4","status":"pending","groupKey":"g","alerts":[{"status":"firing"}]}`: "'status'",
		`{"version":"4","status":"firing","groupKey":"g","alerts":[]}`:                     "'alerts' is missing",
		`{"version":"4","status":"firing","alerts":[{"status":"firing"}]}`:                 "'groupKey'",
		`{"version":4}`: "field",
		`nope`:          "invalid JSON",
	}
	for body, want := range tests {
		if _, err := intake.ParseAlertmanager([]byte(body), intake.WebhookOptions{}); !hasError(err, want) {
			t.Errorf("%s: err = %v, want %q", body, err, want)
		}
	}
}

func TestGrafana(t *testing.T) {
	evs, err := intake.ParseGrafana(fixture(t, "grafana_firing.json"), intake.WebhookOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ev := evs[0]
	if ev.Action != alerts.EventTrigger || ev.Integration != alerts.IntegrationGrafana ||
		ev.DedupKey != `grafana:1:{}:{alertname="High memory usage"}` ||
		ev.Summary != "High memory usage in zone eu-1" || ev.Severity != alerts.SeverityError {
		t.Errorf("event = %+v", ev)
	}
	hasSilence := false
	for _, l := range ev.Links {
		hasSilence = hasSilence || l.Text == "silence"
	}
	if !hasSilence {
		t.Errorf("links %v lack the silence URL", ev.Links)
	}
	res, err := intake.ParseGrafana(fixture(t, "grafana_resolved.json"), intake.WebhookOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if res[0].Action != alerts.EventResolve || res[0].DedupKey != ev.DedupKey {
		t.Errorf("resolved = %+v", res[0])
	}
	per, _ := intake.ParseGrafana(fixture(t, "grafana_firing.json"), intake.WebhookOptions{PerAlert: true})
	if per[0].DedupKey != ev.DedupKey+"/c6eadffa33fcdf37" || per[0].Details["values"] == nil {
		t.Errorf("per alert = %+v", per[0])
	}
}

func TestGeneric(t *testing.T) {
	ev, err := intake.ParseGeneric(fixture(t, "generic_trigger.json"))
	if err != nil {
		t.Fatal(err)
	}
	if ev.Action != alerts.EventTrigger || ev.DedupKey != "cert-shop" || ev.Severity != alerts.SeverityWarning ||
		ev.Source != "cert-checker" || ev.Details["issuer"] != "Example CA" || len(ev.Links) != 1 {
		t.Errorf("event = %+v", ev)
	}
	min, err := intake.ParseGeneric([]byte(`{"summary":"it broke"}`))
	if err != nil {
		t.Fatal(err)
	}
	if min.Action != alerts.EventTrigger || min.Severity != alerts.SeverityCritical || min.DedupKey == "" || min.Source != "generic" {
		t.Errorf("defaults = %+v", min)
	}
	ack, err := intake.ParseGeneric([]byte(`{"action":"ack","dedup_key":"cert-shop"}`))
	if err != nil || ack.Action != alerts.EventAcknowledge {
		t.Errorf("ack = %+v, %v", ack, err)
	}
	for body, want := range map[string]string{
		`{}`:                             "'summary' is missing",
		`{"summary":"x","action":"zap"}`: "'action'",
		`{"action":"resolve"}`:           "'dedup_key' is required",
		`{"summary":"x","severity":"z"}`: "'severity' is invalid",
		`{"summary":5}`:                  "'summary' must be a string",
	} {
		if _, err := intake.ParseGeneric([]byte(body)); !hasError(err, want) {
			t.Errorf("%s: err = %v, want %q", body, err, want)
		}
	}
}

func TestRateLimiter(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	l := intake.NewRateLimiter(3, time.Minute, func() time.Time { return now })
	for i := range 3 {
		if !l.Allow("a") {
			t.Fatalf("call %d refused", i+1)
		}
	}
	if l.Allow("a") {
		t.Fatal("4th call in the window allowed")
	}
	if !l.Allow("b") {
		t.Fatal("another key is limited by the first")
	}
	now = now.Add(61 * time.Second)
	if !l.Allow("a") {
		t.Fatal("still refused after the window")
	}
}

func hasError(err error, substr string) bool {
	var ve *intake.ValidationError
	if !errors.As(err, &ve) {
		return false
	}
	for _, e := range ve.Errors {
		if strings.Contains(e, substr) {
			return true
		}
	}
	return false
}
