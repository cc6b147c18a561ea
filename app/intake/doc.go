// Package intake is what every monitoring dialect's webhook shares: the API
// key check and per-key rate limit (app/keygate's, shared with the API and
// heartbeats), reading a body within MaxBodyBytes, applying the normalized
// alerts.Event to the alert domain, and the answers. Each dialect is a folder of its own
// holding its parser and its handler: pagerduty (Events API v2),
// alertmanager, grafana (Alertmanager-shaped) and generic (the pager's own
// JSON), so the alert domain never learns a vendor's dialect and every
// tool that can page PagerDuty can page us.
//
// The parsers are pure: bytes in, events or a *ValidationError out, built
// with the helpers here.
package intake
