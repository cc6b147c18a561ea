// Package grafana takes Grafana alerting webhook contact point
// notifications (POST /grafana). They are Alertmanager's shape with more
// fields, so Parse reuses app/intake/alertmanager's decoding and mapping
// and adds Grafana's own: group keys scoped by organisation.
package grafana
