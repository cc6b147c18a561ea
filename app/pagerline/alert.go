package pagerline

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/oncall/pager/app/alerts"
	"github.com/oncall/pager/app/jobs"
)

// StepAlert makes the voicemail an alert when that could not be done as the
// recording callback arrived (the alert store was unavailable). It retries
// on its own: the voicemail's text and call never wait for it.
const StepAlert = "alert"

// alertBudget bounds the alert trigger inside the recording callback, which
// must answer Twilio well within its 15 s.
const alertBudget = 4 * time.Second

// VoicemailAlert is what the alert step records.
type VoicemailAlert struct {
	AlertID string `json:"alert_id"`
	Code    string `json:"code,omitempty"`
}

// alertEvent is the voicemail as an alert. The dedup key is the recording's,
// so a retried callback or step finds the same alert while it is open.
func (v Voicemail) alertEvent() alerts.Event {
	return alerts.Event{
		Action:      alerts.EventTrigger,
		DedupKey:    "vm-" + v.RecordingSID,
		Summary:     fmt.Sprintf("Voicemail (%d s) from %s", v.Duration, v.caller()),
		Source:      "pagerline",
		Integration: alerts.IntegrationVoicemail,
		RoutingKey:  "pagerline",
		Details:     map[string]any{"recording_sid": v.RecordingSID, "call_sid": v.CallSID, "key": v.Key},
	}
}

// triggerAlert makes v an alert whose first page to the on-call counts as
// done: the voicemail job texts and calls them itself (see address).
func (h *Handler) triggerAlert(ctx context.Context, v Voicemail) (alerts.Alert, error) {
	if h.alerts == nil {
		return alerts.Alert{}, errors.New("pagerline: no alert service")
	}
	var pre []string
	if v.OnCallID != "" {
		pre = []string{v.OnCallID}
	}
	a, _, err := h.alerts.TriggerWith(ctx, v.alertEvent(), alerts.TriggerOptions{PrePaged: pre})
	return a, err
}

// stepAlert is StepAlert.
func (h *Handler) stepAlert(ctx context.Context, job *jobs.Job, _ *jobs.Step) (any, error) {
	var v Voicemail
	if err := job.Decode(&v); err != nil {
		return nil, jobs.Permanent(err)
	}
	a, err := h.triggerAlert(ctx, v)
	if err != nil {
		return nil, fmt.Errorf("voicemail alert: %w", err)
	}
	h.log.Info("pagerline: voicemail alert triggered after a retry", "job", job.ID, "alert", a.ID)
	return VoicemailAlert{AlertID: a.ID, Code: a.Code}, nil
}

// alertOf is the voicemail's alert as far as known now: from the callback,
// else from a finished alert step.
func alertOf(job *jobs.Job, v Voicemail) VoicemailAlert {
	if v.AlertID != "" {
		return VoicemailAlert{AlertID: v.AlertID, Code: v.AlertCode}
	}
	var va VoicemailAlert
	if s := job.Step(StepAlert); s != nil && s.State == jobs.StepDone {
		_ = s.Decode(&va)
	}
	return va
}
