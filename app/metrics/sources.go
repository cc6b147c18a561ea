package metrics

import (
	"context"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/oncall/pager/app/alerts"
	"github.com/oncall/pager/app/jobs"
	"github.com/oncall/pager/app/team"
)

// JobQueue is the durable job queue as metrics read it (jobs.Queue).
type JobQueue interface {
	Stats() jobs.Stats
	Backlog() jobs.Backlog
}

// Jobs registers the job queue's gauges and counters, read at scrape time
// from what the queue keeps in memory (no store call). now is the clock
// ages are measured on (the queue's).
func (m *Metrics) Jobs(q JobQueue, now func() time.Time) {
	if now == nil {
		now = time.Now
	}
	counter := func(name, help string, f func(jobs.Stats) int64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Namespace: Namespace, Name: name, Help: help},
			func() float64 { return float64(f(q.Stats())) })
	}
	gauge := func(name, help string, f func(jobs.Backlog, time.Time) float64) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: Namespace, Name: name, Help: help},
			func() float64 { return f(q.Backlog(), now()) })
	}
	m.reg.MustRegister(
		gauge("jobs_queued", "Jobs with a step still to run, as of the runner's last scan.",
			func(b jobs.Backlog, _ time.Time) float64 { return float64(b.Queued) }),
		gauge("jobs_oldest_age_seconds", "Age of the oldest job with a step still to run (0 when none).",
			func(b jobs.Backlog, now time.Time) float64 { return ageOf(b.Oldest, now) }),
		gauge("jobs_overdue_seconds", "How long the earliest due step has been waiting past its time (0 when nothing is overdue): a runner that keeps up holds this near 0.",
			func(b jobs.Backlog, now time.Time) float64 { return ageOf(b.NextDue, now) }),
		counter("jobs_enqueued_total", "Jobs created.", func(s jobs.Stats) int64 { return s.Enqueued }),
		counter("jobs_steps_done_total", "Job steps done.", func(s jobs.Stats) int64 { return s.StepsDone }),
		counter("jobs_step_retries_total", "Failed job step attempts scheduled again.", func(s jobs.Stats) int64 { return s.StepsRetried }),
		counter("jobs_steps_failed_total", "Job steps failed for good (permanent error or attempts exhausted).", func(s jobs.Stats) int64 { return s.StepsFailed }),
		counter("jobs_finished_total", "Jobs with every step done or failed.", func(s jobs.Stats) int64 { return s.JobsFinished }),
		counter("jobs_corrupt_total", "Job objects that could not be read, moved aside.", func(s jobs.Stats) int64 { return s.Corrupt }),
	)
}

func ageOf(t, now time.Time) float64 {
	if t.IsZero() || !now.After(t) {
		return 0
	}
	return now.Sub(t).Seconds()
}

// Config is the team config manager as metrics read it (team.Manager).
type Config interface {
	Status() team.Status
	Reloads() team.Reloads
}

// Config registers the config's reload counts and state.
func (m *Metrics) Config(c Config) {
	reloads := prometheus.NewDesc(prometheus.BuildFQName(Namespace, "config", "reloads_total"),
		"Reads of the stored team config by outcome: unchanged, loaded (a new valid config taken up), rejected (invalid; the last good one stays), failed (store error or object gone).",
		[]string{"outcome"}, nil)
	m.reg.MustRegister(
		collectorFunc{desc: reloads, collect: func(ch chan<- prometheus.Metric) {
			r := c.Reloads()
			for _, v := range []struct {
				outcome string
				n       int64
			}{{"unchanged", r.Unchanged}, {"loaded", r.Loaded}, {"rejected", r.Rejected}, {"failed", r.Failed}} {
				ch <- prometheus.MustNewConstMetric(reloads, prometheus.CounterValue, float64(v.n), v.outcome)
			}
		}},
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: Namespace, Name: "config_degraded",
			Help: "1 while the stored config is invalid or gone and the pager runs on the last good one."},
			func() float64 { return boolValue(c.Status().Degraded) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: Namespace, Name: "config_healthy",
			Help: "1 when the store answered the last config check and a good config is loaded."},
			func() float64 { return boolValue(c.Status().Healthy) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: Namespace, Name: "config_loaded_timestamp_seconds",
			Help: "When the config in use was taken up (Unix time)."},
			func() float64 { return unix(c.Status().LoadedAt) }),
	)
}

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func unix(t time.Time) float64 {
	if t.IsZero() {
		return 0
	}
	return float64(t.UnixNano()) / 1e9
}

// OpenAlerts lists the open alerts (alerts.Service).
type OpenAlerts interface {
	Open(ctx context.Context) ([]alerts.Alert, error)
}

// Alerts registers the open alerts by state. Listing them reads every open
// alert from the store, so the count is taken at most once per every and
// served from memory in between; a failed listing keeps the last count and
// is counted itself.
func (m *Metrics) Alerts(src OpenAlerts, every time.Duration) {
	c := &openAlerts{src: src, every: every,
		desc: prometheus.NewDesc(prometheus.BuildFQName(Namespace, "alerts", "open"),
			"Open alerts by state (triggered, acknowledged).", []string{"state"}, nil),
		errs: prometheus.NewCounter(prometheus.CounterOpts{Namespace: Namespace, Name: "alerts_count_errors_total",
			Help: "Failed listings of the open alerts for the alerts_open gauge."}),
	}
	m.reg.MustRegister(c, c.errs)
}

type openAlerts struct {
	src   OpenAlerts
	every time.Duration
	desc  *prometheus.Desc
	errs  prometheus.Counter

	mu     sync.Mutex
	at     time.Time
	counts map[alerts.State]int
}

func (o *openAlerts) Describe(ch chan<- *prometheus.Desc) { ch <- o.desc }

func (o *openAlerts) Collect(ch chan<- prometheus.Metric) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.counts == nil || time.Since(o.at) >= o.every {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		open, err := o.src.Open(ctx)
		cancel()
		if err != nil {
			o.errs.Inc()
		} else {
			o.counts = map[alerts.State]int{}
			for _, a := range open {
				o.counts[a.State]++
			}
			o.at = time.Now()
		}
	}
	for _, s := range []alerts.State{alerts.StateTriggered, alerts.StateAcknowledged} {
		ch <- prometheus.MustNewConstMetric(o.desc, prometheus.GaugeValue, float64(o.counts[s]), string(s))
	}
}

// collectorFunc is a collector of one family computed at scrape time.
type collectorFunc struct {
	desc    *prometheus.Desc
	collect func(ch chan<- prometheus.Metric)
}

func (c collectorFunc) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }
func (c collectorFunc) Collect(ch chan<- prometheus.Metric) { c.collect(ch) }
