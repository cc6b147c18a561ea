package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"testing"

	"github.com/oncall/pager/app"
	"github.com/oncall/pager/app/team"
	"github.com/oncall/pager/internal/harness"
	"github.com/oncall/pager/internal/teamtest"
)

// keyRefusal is what one route answered a refused key, and the refusal it
// recorded (the audit entry's reason, "" for none).
type keyRefusal struct {
	status     int
	body       string
	retryAfter bool
	reason     string
}

// Every route that takes an API key refuses the same way, each in its own
// dialect: the webhook receivers, PagerDuty's Events API, heartbeats and
// the RedFlash API. The statuses, bodies, Retry-After and the refusal
// recorded for each are pinned here word for word, and a heartbeat checks
// its name and the key's permission before the key's budget.
func TestAPIKeyRefusalsOnEveryRoute(t *testing.T) {
	h := harness.New(t, harness.Options{
		Config: edgeConfig().With(teamtest.Merge(`{"heartbeats": {
    "backup": {"every": "1h", "summary": "Backup did not report"},
    "cron":   {"every": "1h", "summary": "Cron is silent", "api_key": "edge"}
}}`)),
		Settings: func(s *app.Settings) {
			s.ListenAddr = ":8080" // exposed: the README's key is refused
			s.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
		},
	})
	n := 0
	do := func(method, path, auth, contentType, body string) keyRefusal {
		t.Helper()
		n++
		source := fmt.Sprintf("203.0.113.%d", n) // one audit entry per source
		req, _ := http.NewRequest(method, h.URL()+path, strings.NewReader(body))
		req.Header.Set("X-Forwarded-For", source)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		if contentType != "" {
			req.Header.Set("Content-Type", contentType)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		data, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		got := keyRefusal{status: resp.StatusCode, body: strings.TrimSpace(string(data))}
		if ra := resp.Header.Get("Retry-After"); ra != "" {
			if s, err := strconv.Atoi(ra); err != nil || s < 1 || s > 60 {
				t.Errorf("%s %s: Retry-After %q, want 1 to 60 seconds", method, path, ra)
			}
			got.retryAfter = true
		}
		for _, e := range rejectedEntries(must(auditEntries(t, h))) {
			if e.Source == source {
				got.reason = strings.TrimSuffix(strings.TrimPrefix(e.Detail, req.URL.Path+": "),
					" (further refusals from this source within a minute are only counted in the log)")
			}
		}
		return got
	}
	const (
		js   = "application/json"
		form = "application/x-www-form-urlencoded"
	)
	alert := `{"summary":"x","dedup_key":"x"}`
	pd := func(key string) string {
		return `{"routing_key":"` + key + `","event_action":"trigger","payload":{"summary":"x","source":"s","severity":"critical"}}`
	}
	const (
		unknownKey    = "pk_unknown_0123456789abcdefghijklmnopqrstuvwxyz"
		exampleWords  = `"EXAMPLE"`
		exampleReason = "the README's example API key on a public listener"
		overLimit     = "over the API key's rate limit"
	)
	type tc struct {
		name                            string
		method, path, auth, ctype, body string
		want                            keyRefusal
	}
	check := func(cases []tc) {
		t.Helper()
		for _, c := range cases {
			got := do(c.method, c.path, c.auth, c.ctype, c.body)
			want := c.want
			// team.ExampleKeyRefused, in each dialect's shape.
			words, _ := json.Marshal(team.ExampleKeyRefused)
			want.body = strings.Replace(want.body, exampleWords, string(words), 1)
			if got != want {
				t.Errorf("%s: got %+v\nwant %+v", c.name, got, want)
			}
		}
	}
	check([]tc{
		{"webhook, example key", "POST", "/alerts", "Bearer " + exampleAK, js, alert,
			keyRefusal{403, `{"message":"EXAMPLE"}`, false, exampleReason}},
		{"webhook, unknown key", "POST", "/alerts", "Bearer " + unknownKey, js, alert,
			keyRefusal{403, `{"message":"Invalid API key for operation"}`, false, "unknown or missing API key"}},
		{"webhook, no key", "POST", "/alerts", "", js, alert,
			keyRefusal{403, `{"message":"Invalid API key for operation"}`, false, "unknown or missing API key"}},
		{"webhook, not Bearer", "POST", "/alerts", "Basic " + edgeKey, js, alert,
			keyRefusal{400, `{"message":"Authorization: want \"Bearer \u003capi key\u003e\""}`, false, ""}},
		{"webhook, key in the query", "POST", "/alerts?api_key=" + unknownKey, "", js, alert,
			keyRefusal{403, `{"message":"Invalid API key for operation"}`, false, "unknown or missing API key"}},
		{"pagerduty, example key", "POST", "/v2/enqueue", "", js, pd(exampleAK),
			keyRefusal{403, `{"status":"invalid event","message":"EXAMPLE"}`, false, exampleReason}},
		{"pagerduty, unknown key", "POST", "/v2/enqueue", "", js, pd(unknownKey),
			keyRefusal{400, `{"status":"invalid event","message":"Event object is invalid","errors":["'routing_key' is not a key of this pager"]}`, false, "unknown routing key"}},
		{"heartbeat, example key", "GET", "/heartbeat/backup?api_key=" + exampleAK, "", "", "",
			keyRefusal{403, `{"message":"EXAMPLE"}`, false, exampleReason}},
		{"heartbeat, unknown key", "GET", "/heartbeat/backup", "Bearer " + unknownKey, "", "",
			keyRefusal{403, `{"message":"missing or unknown API key"}`, false, "unknown or missing API key"}},
		{"heartbeat, unknown key in the form", "POST", "/heartbeat/backup", "", form, "api_key=" + unknownKey,
			keyRefusal{403, `{"message":"missing or unknown API key"}`, false, "unknown or missing API key"}},
		{"heartbeat, no key", "GET", "/heartbeat/backup", "", "", "",
			keyRefusal{403, `{"message":"missing or unknown API key"}`, false, "unknown or missing API key"}},
		{"heartbeat, not Bearer", "GET", "/heartbeat/backup", "Basic " + edgeKey, "", "",
			keyRefusal{400, `{"message":"Authorization: want \"Bearer \u003capi key\u003e\""}`, false, ""}},
		{"api, example key", "POST", "/contact/alice/", "Bearer " + exampleAK, form, "message=hi",
			keyRefusal{403, `{"message":"EXAMPLE"}`, false, exampleReason}},
		{"api, unknown key", "POST", "/contact/alice/", "", form, "message=hi&api_key=" + unknownKey,
			keyRefusal{403, `{"message":"Invalid API key for operation"}`, false, "unknown or disabled API key"}},
		{"api, no key", "POST", "/contact/alice/", "", form, "message=hi",
			keyRefusal{403, `{"message":"Invalid API key for operation"}`, false, "no API key given"}},
		{"api, not Bearer", "POST", "/contact/alice/", "Basic " + edgeKey, form, "message=hi",
			keyRefusal{400, `{"message":"Authorization: want \"Bearer \u003capi key\u003e\""}`, false, "unreadable request"}},
	})
	// Spend the slow key's budget (5 a minute) on beats.
	for i := range 5 {
		if st, body := h.API(http.MethodGet, "/heartbeat/backup", nil, slowKey); st != http.StatusOK {
			t.Fatalf("beat %d: HTTP %d %s", i, st, body)
		}
	}
	check([]tc{
		// A heartbeat's name and the key's permission come before its budget.
		{"heartbeat, unknown name over the limit", "GET", "/heartbeat/nosuch", "Bearer " + slowKey, "", "",
			keyRefusal{404, `{"message":"no heartbeat of that name in the config"}`, false, ""}},
		{"heartbeat, another key's over the limit", "GET", "/heartbeat/cron", "Bearer " + slowKey, "", "",
			keyRefusal{403, `{"message":"this API key may not beat this heartbeat"}`, false, ""}},
		{"heartbeat, over the limit", "GET", "/heartbeat/backup", "Bearer " + slowKey, "", "",
			keyRefusal{429, `{"message":"too many requests for this key; retry after the Retry-After delay"}`, true, overLimit}},
		{"webhook, over the limit", "POST", "/alerts", "Bearer " + slowKey, js, alert,
			keyRefusal{429, `{"message":"too many requests for this key; retry after the Retry-After delay"}`, true, overLimit}},
		{"pagerduty, over the limit", "POST", "/v2/enqueue", "", js, pd(slowKey),
			keyRefusal{429, `{"status":"throttle event","message":"Requests for this routing key are arriving too quickly; retry later"}`, true, overLimit}},
		{"api, over the limit", "POST", "/contact/alice/", "Bearer " + slowKey, form, "message=hi",
			keyRefusal{429, `{"message":"Too many requests for this key (5 a minute); retry after the Retry-After delay"}`, true, overLimit}},
		{"api event, over the limit", "POST", "/event/outage/", "", form, "what=db&api_key=" + slowKey,
			keyRefusal{429, `{"message":"Too many requests for this key (5 a minute); retry after the Retry-After delay"}`, true, overLimit}},
	})
	// Nothing refused went out.
	h.Phone(harness.Alice).ExpectNoSMS()
}
