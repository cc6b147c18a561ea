package pagerduty_test

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/oncall/pager/app/alerts"
	"github.com/oncall/pager/app/intake"
	"github.com/oncall/pager/app/intake/intaketest"
	"github.com/oncall/pager/app/intake/pagerduty"
)

func TestPagerDutyTrigger(t *testing.T) {
	ev, err := pagerduty.Parse(intaketest.Fixture(t, "pagerduty_trigger.json"))
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
	body := intaketest.Fixture(t, "pagerduty_trigger_nodedup.json")
	a, err := pagerduty.Parse(body)
	if err != nil {
		t.Fatal(err)
	}
	b, err := pagerduty.Parse(body)
	if err != nil {
		t.Fatal(err)
	}
	if len(a.DedupKey) != 36 || a.DedupKey == b.DedupKey {
		t.Fatalf("generated keys %q and %q: want two distinct UUIDs", a.DedupKey, b.DedupKey)
	}
	resp, _ := json.Marshal(pagerduty.Accepted(a.DedupKey))
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
		ev, err := pagerduty.Parse(intaketest.Fixture(t, name))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if ev.Action != want || ev.DedupKey != "db-prod-02/replication-lag" {
			t.Errorf("%s: %+v", name, ev)
		}
	}
	// Without a dedup_key there is nothing to acknowledge.
	_, err := pagerduty.Parse([]byte(`{"routing_key":"k","event_action":"resolve"}`))
	if !intaketest.HasError(err, "'dedup_key' is required") {
		t.Errorf("resolve without dedup_key: %v", err)
	}
}

func TestPagerDutyInvalidListsEveryProblem(t *testing.T) {
	_, err := pagerduty.Parse(intaketest.Fixture(t, "pagerduty_invalid.json"))
	var ve *intake.ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("err = %v, want *ValidationError", err)
	}
	for _, want := range []string{
		"'dedup_key' must be a string",
		"'payload.summary' is missing or blank",
		"'payload.source' is missing or blank",
		"'payload.severity' is invalid",
	} {
		if !intaketest.HasError(err, want) {
			t.Errorf("errors %q lack %q", ve.Errors, want)
		}
	}
	// The routing key is one of our API keys, of any length (not
	// PagerDuty's 32 characters): "short" is for the key check to refuse.
	if intaketest.HasError(err, "routing_key") {
		t.Errorf("errors %q refuse the routing key's form", ve.Errors)
	}
	body, _ := json.Marshal(pagerduty.Invalid(err))
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
			_, err := pagerduty.Parse([]byte(tc.body))
			if !intaketest.HasError(err, tc.want) {
				t.Fatalf("err = %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func TestPagerDutyLenient(t *testing.T) {
	long := strings.Repeat("é", 600) // 1,200 bytes
	body := `{"routing_key":"k","event_action":"trigger","payload":{"summary":"` + long +
		`","source":"h","severity":"CRITICAL","custom_details":"just text"}}`
	ev, err := pagerduty.Parse([]byte(body))
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

// FuzzParse: no body makes Parse panic or break the parsers' contract.
func FuzzParse(f *testing.F) {
	intaketest.AddSeeds(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		ev, err := pagerduty.Parse(body)
		intaketest.CheckParsed(t, []alerts.Event{ev}, err)
	})
}

// The route is open to anyone (the routing key is checked after the
// body): a body full of bad entries gets an answer of a few problems and a
// count, not one line per entry (a 512 KB body answered with megabytes).
func TestPagerDutyInvalidAnswerIsBounded(t *testing.T) {
	body := `{"images":[` + strings.Repeat(`{},`, 150000) + `{}]}`
	if len(body) > intake.MaxBodyBytes {
		t.Fatalf("body of %d bytes is over the limit", len(body))
	}
	_, err := pagerduty.Parse([]byte(body))
	answer, _ := json.Marshal(pagerduty.Invalid(err))
	if len(answer) > 4<<10 {
		t.Errorf("a %d-byte body answered with %d bytes", len(body), len(answer))
	}
	for _, want := range []string{"'routing_key' is missing or blank", "'images[0].src' is missing or blank", "and 149984 more problems"} {
		if !strings.Contains(string(answer), want) {
			t.Errorf("answer lacks %q: %.600s", want, answer)
		}
	}
}
