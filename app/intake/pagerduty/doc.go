// Package pagerduty takes PagerDuty Events API v2 alert events (POST
// /v2/enqueue), so any tool that can page PagerDuty can page us: Parse
// turns one into an alerts.Event, Handler answers as PagerDuty does.
package pagerduty
