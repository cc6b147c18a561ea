// Package alertmanager takes Prometheus Alertmanager webhook notifications
// (webhook_config, payload version 4, POST /alertmanager): Parse maps a
// group of alerts to one alerts.Event, Handler serves the route. Grafana's
// webhook is the same shape with more fields, so Message, Decode, Check and
// Event serve app/intake/grafana too.
package alertmanager
