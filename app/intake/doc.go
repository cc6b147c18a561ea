// Package intake turns what monitoring tools send — PagerDuty Events API v2,
// Prometheus Alertmanager and Grafana alerting webhooks, a plain JSON form —
// into one normalized Event, so the alert domain (app/alerts) never learns a
// vendor's dialect and every tool that can page PagerDuty can page us.
//
// The parsers are pure: bytes in, events or a *ValidationError out. The HTTP
// layer authenticates (RoutingKey against our API keys), limits the body
// (MaxBodyBytes), rate-limits per key (RateLimiter) and answers with the
// bodies built here.
package intake
