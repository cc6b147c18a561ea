// Package metrics is the pager's Prometheus instrumentation: one registry
// built by the wiring and served on the admin listener, counters the
// wiring threads through small interfaces (HTTP routes, Twilio signature
// rejections, pages and notifications by channel, store and Twilio API
// calls), and gauges read at scrape time from what the pager already keeps
// (job backlog, config status, open alerts). Label values are bounded:
// route templates, fixed operation names, known channels.
package metrics
