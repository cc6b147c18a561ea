package grafana

import (
	"fmt"

	"github.com/oncall/pager/app/alerts"
	"github.com/oncall/pager/app/intake"
	"github.com/oncall/pager/app/intake/alertmanager"
)

// Parse parses a Grafana alerting webhook contact point notification
// (unified alerting). Its shape is Alertmanager's plus orgId, title, state,
// message and per-alert URLs and values; group keys are scoped by orgId.
func Parse(body []byte) ([]alerts.Event, error) {
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
	return []alerts.Event{m.Event(alerts.IntegrationGrafana, prefix)}, nil
}
