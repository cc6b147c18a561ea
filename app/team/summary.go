package team

import (
	"fmt"
	"time"
)

// DailySummary is the optional "daily_summary" section: at At (local time
// in current_config.timezone) the on-call engineer gets a short text of
// open alerts, the last day's alerts and heartbeats in trouble, and with
// Email the team (mail_settings.to_email) gets it by email too.
type DailySummary struct {
	At    string `json:"at"`
	Email bool   `json:"email,omitempty"`
}

// Clock is At as hour and minute.
func (d DailySummary) Clock() (hour, minute int, err error) {
	t, err := time.Parse("15:04", d.At)
	if err != nil {
		return 0, 0, fmt.Errorf(`%q is not a time of day: want "HH:MM", e.g. "08:30"`, d.At)
	}
	return t.Hour(), t.Minute(), nil
}

// Next is the first summary time after t: today's or tomorrow's At in loc
// (a time skipped by a DST change moves forward with the clock).
func (d DailySummary) Next(t time.Time, loc *time.Location) (time.Time, error) {
	h, m, err := d.Clock()
	if err != nil {
		return time.Time{}, err
	}
	lt := t.In(loc)
	next := time.Date(lt.Year(), lt.Month(), lt.Day(), h, m, 0, 0, loc)
	if !next.After(t) {
		next = time.Date(lt.Year(), lt.Month(), lt.Day()+1, h, m, 0, 0, loc)
	}
	return next, nil
}

func (d *DailySummary) validate(c *Config, at path, r *report) {
	if _, _, err := d.Clock(); err != nil {
		r.errorf(at.Key("at"), "%v", err)
	}
	if d.Email && c.CurrentConfig.MailSettings.ToEmail == "" {
		r.errorf(at.Key("email"), "needs current_config.mail_settings.to_email")
	}
}
