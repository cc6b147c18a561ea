package grafana

import (
	"github.com/labstack/echo/v4"

	"github.com/oncall/pager/app/intake"
)

// Handler is POST /grafana, for a webhook contact point whose key is sent as
// Authorization: Bearer or ?api_key= (see intake.Intake.Webhook).
func Handler(in *intake.Intake) echo.HandlerFunc {
	return in.Webhook(Parse)
}
