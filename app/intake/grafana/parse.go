package grafana

import (
	"fmt"

	"github.com/oncall/pager/app/alerts"
	"github.com/oncall/pager/app/intake"
	"github.com/oncall/pager/app/intake/alertmanager"
)

// Options choose how a notification maps to events, as for Alertmanager.
type Options = alertmanager.Options

// Parse parses a Grafana alerting webhook contact point notification
// (unified alerting). Its shape is Alertmanager's plus orgId, title, state,
// message and per-alert URLs and values; group keys are scoped by orgId.
func Parse(body []byte, opt Options) ([]alerts.Event, error) {
	m, err := alertmanager.Decode(body, "a Grafana")
	if err != nil {
		return nil, err
	}
	ve := &intake.ValidationError{}
	m.Check(ve)
	if err := ve.OrNil(); err != nil {
		return nil, err
	}
	prefix := "grafana:"
	if m.OrgID != nil {
		prefix = fmt.Sprintf("grafana:%d:", *m.OrgID)
	}
	return m.Events(alerts.IntegrationGrafana, prefix, opt), nil
}
