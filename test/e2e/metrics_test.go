package e2e

import (
	"io"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/oncall/pager/app"
	"github.com/oncall/pager/internal/harness"
)

// scrape GETs /metrics from the admin listener, as Prometheus would.
func scrape(t *testing.T, h *harness.Harness) map[string]*dto.MetricFamily {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for h.App().AdminAddr() == "" {
		if time.Now().After(deadline) {
			t.Fatal("the admin listener never opened")
		}
		time.Sleep(5 * time.Millisecond)
	}
	res, err := http.Get("http://" + h.App().AdminAddr() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(res.Body)
		t.Fatalf("GET /metrics: HTTP %d %s", res.StatusCode, b)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(res.Body)
	if err != nil {
		t.Fatalf("/metrics is not Prometheus text: %v", err)
	}
	return fams
}

// value is the sample of family name whose labels include want (pairs of
// name, value); 0 when there is none.
func value(fams map[string]*dto.MetricFamily, name string, want ...string) float64 {
	f := fams[name]
	if f == nil {
		return 0
	}
	sum := 0.0
metrics:
	for _, m := range f.GetMetric() {
		labels := map[string]string{}
		for _, l := range m.GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		for i := 0; i+1 < len(want); i += 2 {
			if labels[want[i]] != want[i+1] {
				continue metrics
			}
		}
		switch {
		case m.Counter != nil:
			sum += m.Counter.GetValue()
		case m.Gauge != nil:
			sum += m.Gauge.GetValue()
		case m.Histogram != nil:
			sum += float64(m.Histogram.GetSampleCount())
		}
	}
	return sum
}

// After a team member's text, a forged webhook, an alert paged and
// delivered and an API notification, the counters an operator watches have
// moved, by route template and channel, on the admin listener. (The first
// scrape comes after the traffic: the open-alert count is cached between
// scrapes.)
func TestMetricsAfterRealTraffic(t *testing.T) {
	h := harness.New(t, harness.Options{Config: alertConfig(), Settings: func(s *app.Settings) { s.AdminListenAddr = "127.0.0.1:0" }})
	alice, bob := h.Phone(harness.Alice), h.Phone(harness.Bob)

	alice.Text("WHO").Expect("on call")
	// A forged webhook: no signature.
	res, err := http.PostForm(h.URL()+"/msgcontrol/entry", url.Values{"From": {harness.Stranger}, "Body": {"TAKE"}})
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusForbidden {
		t.Fatalf("unsigned webhook: HTTP %d", res.StatusCode)
	}

	trigger(t, h, "Disk full on db1", "disk-db1")
	page := alice.ExpectSMS("Disk full on db1")
	bob.ExpectSMS("Disk full on db1")
	if st := page.Status("delivered"); st != http.StatusNoContent {
		t.Fatalf("page status callback: HTTP %d", st)
	}
	if st, body := h.API(http.MethodPost, "/contact/alice/", url.Values{"message": {"Backups late"}}, hookKey); st != http.StatusCreated {
		t.Fatalf("POST /contact/alice/: HTTP %d %s", st, body)
	}
	note := alice.ExpectSMS("Backups late")
	// The delivery is recorded by its job step after Twilio took it.
	time.Sleep(100 * time.Millisecond)
	if st := note.Status("delivered"); st != http.StatusNoContent {
		t.Fatalf("notification status callback: HTTP %d", st)
	}

	m := scrape(t, h)
	checks := []struct {
		what string
		got  float64
		min  float64
	}{
		{"WHO answered", value(m, "pager_http_requests_total", "route", "/msgcontrol/entry", "method", "POST", "code", "200"), 1},
		{"WHO timed", value(m, "pager_http_request_duration_seconds", "route", "/msgcontrol/entry"), 2},
		{"forged webhook answered 403", value(m, "pager_http_requests_total", "route", "/msgcontrol/entry", "code", "403"), 1},
		{"forged webhook counted", value(m, "pager_twilio_signature_rejections_total", "route", "/msgcontrol/entry", "reason", "missing"), 1},
		{"alert intake by template", value(m, "pager_http_requests_total", "route", "/alerts", "code", "200"), 1},
		{"notification by template", value(m, "pager_http_requests_total", "route", "/contact/:slug/", "code", "201"), 1},
		{"pages sent by SMS", value(m, "pager_pages_total", "channel", "sms", "outcome", "sent"), 2},
		{"page delivered", value(m, "pager_pages_total", "channel", "sms", "outcome", "delivered"), 1},
		{"notification sent", value(m, "pager_notifications_total", "channel", "sms", "outcome", "sent"), 1},
		{"notification delivered", value(m, "pager_notifications_total", "channel", "sms", "outcome", "delivered"), 1},
		{"open alert triggered", value(m, "pager_alerts_open", "state", "triggered"), 1},
		{"store writes", value(m, "pager_store_calls_total", "op", "put_conditional"), 1},
		{"Twilio messages", value(m, "pager_twilio_api_requests_total", "resource", "Messages", "method", "POST"), 3},
		{"jobs enqueued", value(m, "pager_jobs_enqueued_total"), 2},
		{"config checks", value(m, "pager_config_reloads_total", "outcome", "unchanged") + value(m, "pager_config_reloads_total", "outcome", "loaded"), 2},
		{"config healthy", value(m, "pager_config_healthy"), 1},
	}
	for _, c := range checks {
		if c.got < c.min {
			t.Errorf("%s: %v, want at least %v", c.what, c.got, c.min)
		}
	}
	if v := value(m, "pager_pages_total", "outcome", "failed"); v != 0 {
		t.Errorf("pages failed: %v", v)
	}
	if v := value(m, "pager_store_errors_total"); v != 0 {
		t.Errorf("store errors with a healthy store: %v", v)
	}
	// The shipped dashboard and alerting rules only name metrics the pager
	// exposes.
	name := regexp.MustCompile(`\bpager_[a-z_]+`)
	for _, f := range []string{"../../deploy/grafana-dashboard.json", "../../deploy/prometheus-rules.yml"} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		names := name.FindAllString(string(b), -1)
		if len(names) < 10 {
			t.Fatalf("%s names only %d pager metrics", f, len(names))
		}
		for _, n := range names {
			base := strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(n, "_bucket"), "_sum"), "_count")
			if m[base] == nil {
				t.Errorf("%s uses %s, which /metrics does not expose", f, n)
			}
		}
	}
	// Bounded labels: no raw path reaches a label.
	for _, f := range []string{"pager_http_requests_total", "pager_twilio_signature_rejections_total"} {
		for _, s := range m[f].GetMetric() {
			for _, l := range s.GetLabel() {
				if l.GetName() == "route" && strings.Contains(l.GetValue(), "alice") {
					t.Errorf("%s carries a raw path: %s", f, l.GetValue())
				}
			}
		}
	}
}
