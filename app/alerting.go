package app

import (
	"context"
	"log/slog"
	"time"

	"github.com/oncall/pager/app/alerts"
	"github.com/oncall/pager/app/api"
	"github.com/oncall/pager/app/intake"
	"github.com/oncall/pager/app/notify"
	"github.com/oncall/pager/app/server"
	"github.com/oncall/pager/store"
)

// Alert housekeeping periods.
const (
	alertSweepEvery = 5 * time.Minute
	// onceMarkerAge: Twilio stops retrying a webhook within minutes.
	onceMarkerAge = 24 * time.Hour
)

// newAlerts builds the alert service over the outbound path (pages by SMS
// or call, the others told who took an alert, targets resolved from the
// team config) and returns the intake's handlers. Its escalation and digest
// handlers are registered on the queue here, before the runner starts.
func (a *App) newAlerts(st store.Store, now func() time.Time, log *slog.Logger) *api.Intake {
	pages := notify.NewPages(a.Outbound, a.Team, a.Settings.BaseURL, log)
	a.Alerts = alerts.New(st, alerts.Options{
		Jobs:     a.Jobs,
		Pager:    pages,
		Notifier: pages,
		Roster:   pages,
		Settings: func() alerts.Settings { return a.Team.Current().EscalationSettings() },
		Now:      now,
		Logger:   log,
	})
	pages.SetRecorder(a.Alerts)
	a.once = server.NewOnce(st, "", now)
	return api.NewIntake(api.IntakeOptions{
		Config:  a.Team,
		Alerts:  a.Alerts,
		Pages:   pages,
		Limiter: intake.NewRateLimiter(0, 0, now),
		Logger:  log,
	})
}

// sweepAlerts finishes what a crash left half done (see alerts.Sweep), at
// start-up and then periodically, and drops old webhook-delivery markers.
func (a *App) sweepAlerts(ctx context.Context) {
	t := time.NewTicker(alertSweepEvery)
	defer t.Stop()
	for {
		if _, err := a.Alerts.Sweep(ctx); err != nil && ctx.Err() == nil {
			a.Log.Warn("alerts: sweep failed; retried later", "err", err)
		}
		if _, err := a.once.Sweep(ctx, onceMarkerAge); err != nil && ctx.Err() == nil {
			a.Log.Warn("webhook delivery markers not swept", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
