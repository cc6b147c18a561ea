package metrics

import (
	"net/http"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Namespace prefixes every metric the pager defines.
const Namespace = "pager"

// Delivery outcomes, the values of the outcome label of pages and
// notifications.
const (
	Sent      = "sent"      // handed to the provider (Twilio, a mail server, a webhook)
	Delivered = "delivered" // the provider says a person got it
	Failed    = "failed"    // refused or not delivered, for good
)

// Metrics holds the registry and the pager's own collectors. It is built
// once by the wiring; nothing here is package state, so tests build as many
// as they like.
type Metrics struct {
	reg *prometheus.Registry

	httpRequests *prometheus.CounterVec
	httpDuration *prometheus.HistogramVec
	sigRejects   *prometheus.CounterVec
	pages        *prometheus.CounterVec
	notes        *prometheus.CounterVec
	storeCalls   *prometheus.CounterVec
	storeErrors  *prometheus.CounterVec
	storeDur     *prometheus.HistogramVec
	twilioCalls  *prometheus.CounterVec
	twilioErrors *prometheus.CounterVec
}

// New returns Metrics over a fresh registry holding the Go runtime and
// process collectors and the pager's counters.
func New() *Metrics {
	reg := prometheus.NewRegistry()
	m := &Metrics{
		reg: reg,
		httpRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Name: "http_requests_total",
			Help: "HTTP requests answered, by route template, method and status code.",
		}, []string{"route", "method", "code"}),
		httpDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: Namespace, Name: "http_request_duration_seconds",
			Help:    "Time to answer an HTTP request, by route template and method.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 12},
		}, []string{"route", "method"}),
		sigRejects: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Name: "twilio_signature_rejections_total",
			Help: "Twilio webhooks refused with 403 for a missing or wrong X-Twilio-Signature, by route template and reason.",
		}, []string{"route", "reason"}),
		pages: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Name: "pages_total",
			Help: "Alert pages by channel (sms, voice) and outcome (sent, delivered, failed).",
		}, []string{"channel", "outcome"}),
		notes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Name: "notifications_total",
			Help: "API notification deliveries by channel (sms, voice, email, webhook, ...) and outcome (sent, delivered, failed).",
		}, []string{"channel", "outcome"}),
		storeCalls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Name: "store_calls_total",
			Help: "Calls to the backing store (local folder or S3), by operation.",
		}, []string{"op"}),
		storeErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Name: "store_errors_total",
			Help: "Backing store calls that failed (an outage, not an answer such as not found or precondition failed), by operation.",
		}, []string{"op"}),
		storeDur: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: Namespace, Name: "store_call_duration_seconds",
			Help:    "Time of a backing store call, by operation.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"op"}),
		twilioCalls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Name: "twilio_api_requests_total",
			Help: "Requests to Twilio's REST API, by resource (Messages, Calls, Recordings, other), method and status code (0: no answer).",
		}, []string{"resource", "method", "code"}),
		twilioErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Name: "twilio_api_errors_total",
			Help: "Requests to Twilio's REST API that got no answer or an error status, by resource.",
		}, []string{"resource"}),
	}
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.httpRequests, m.httpDuration, m.sigRejects, m.pages, m.notes,
		m.storeCalls, m.storeErrors, m.storeDur, m.twilioCalls, m.twilioErrors,
	)
	// The series alerts are written on exist from the start at 0, so a
	// rate over them means something before the first failure.
	for _, ch := range []string{"sms", "voice"} {
		for _, o := range []string{Sent, Delivered, Failed} {
			m.pages.WithLabelValues(ch, o)
			m.notes.WithLabelValues(ch, o)
		}
	}
	for _, op := range []string{"get", "get_if_changed", "put", "put_conditional", "list", "delete"} {
		m.storeCalls.WithLabelValues(op)
		m.storeErrors.WithLabelValues(op)
	}
	for _, r := range []string{"Messages", "Calls", "Recordings"} {
		m.twilioErrors.WithLabelValues(r)
	}
	return m
}

// Registry is where the wiring registers further collectors.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the registry in Prometheus' text format (GET /metrics).
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// SignatureRejected counts a Twilio webhook refused for its signature.
// reason is the check's own sentence; it is reduced to missing or invalid.
func (m *Metrics) SignatureRejected(route, reason string) {
	r := "invalid"
	if strings.HasPrefix(reason, "missing") {
		r = "missing"
	}
	m.sigRejects.WithLabelValues(routeLabel(route), r).Inc()
}

// Page counts an alert page's outcome on a channel.
func (m *Metrics) Page(channel, outcome string) {
	m.pages.WithLabelValues(channelLabel(channel), outcomeLabel(outcome)).Inc()
}

// Notification counts an API notification delivery's outcome on a channel.
func (m *Metrics) Notification(channel, outcome string) {
	m.notes.WithLabelValues(channelLabel(channel), outcomeLabel(outcome)).Inc()
}

// channelLabel keeps the channel label to the names the config allows
// (sms, voice, email, webhook, pushover, ...): anything else is "other",
// so a caller's typo cannot mint series.
func channelLabel(ch string) string {
	if ch == "" || len(ch) > 16 {
		return "other"
	}
	for _, r := range ch {
		if (r < 'a' || r > 'z') && r != '_' {
			return "other"
		}
	}
	return ch
}

func outcomeLabel(o string) string {
	switch o {
	case Sent, Delivered, Failed:
		return o
	}
	return "other"
}

// methodLabel keeps the method label to the standard methods.
func methodLabel(m string) string {
	switch m {
	case http.MethodGet, http.MethodPost, http.MethodHead, http.MethodPut, http.MethodDelete,
		http.MethodPatch, http.MethodOptions:
		return m
	}
	return "other"
}
