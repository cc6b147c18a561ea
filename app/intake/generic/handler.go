package generic

import (
	"github.com/labstack/echo/v4"

	"github.com/oncall/pager/app/alerts"
	"github.com/oncall/pager/app/intake"
)

// Handler is POST /alerts, the pager's own JSON, its key sent as
// Authorization: Bearer or ?api_key= (see intake.Intake.Webhook).
func Handler(in *intake.Intake) echo.HandlerFunc {
	return in.Webhook(func(b []byte) ([]alerts.Event, error) {
		ev, err := Parse(b)
		return []alerts.Event{ev}, err
	})
}
