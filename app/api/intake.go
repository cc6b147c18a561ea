package api

import (
	"context"
	"log/slog"

	"github.com/oncall/pager/app/alerts"
)

// The monitoring intake is app/intake, one folder per dialect. What is left
// here are the Twilio callbacks of alert pages (pagecallbacks.go), which
// move to the alert-page package.

// AlertService is the alert domain (alerts.Service).
type AlertService interface {
	Get(ctx context.Context, id string) (alerts.Alert, error)
	Ack(ctx context.Context, ref, actor string) (alerts.Transition, error)
	Close(ctx context.Context, ref, actor string) (alerts.Transition, error)
	RecordDelivery(ctx context.Context, alertID string, d alerts.Delivery) (alerts.DeliveryUpdate, error)
}

// PageCaller calls a person about an alert (notify.Pages).
type PageCaller interface {
	Call(ctx context.Context, a alerts.Alert, userID string) error
	CallTwiML(alertID, userID, summary string) string
}

// IntakeOptions wire the page callbacks.
type IntakeOptions struct {
	Alerts AlertService
	Pages  PageCaller
	Logger *slog.Logger
}

// Intake serves the Twilio callbacks of alert pages.
type Intake struct {
	alerts AlertService
	pages  PageCaller
	log    *slog.Logger
}

// NewIntake returns the page callbacks' handlers.
func NewIntake(o IntakeOptions) *Intake {
	in := &Intake{alerts: o.Alerts, pages: o.Pages, log: o.Logger}
	if in.log == nil {
		in.log = slog.New(slog.DiscardHandler)
	}
	return in
}
