package pagerline

import (
	"context"
	"errors"
	"fmt"

	"github.com/oncall/pager/app/alerts"
	"github.com/oncall/pager/app/jobs"
)

// StepAlert makes the voicemail an alert (reply code, escalation past the
// on-call). It is the job's first step, not part of the recording
// callback, so Twilio gets its answer once the job is durable; the text and
// call wait for it to name the code, and it is retried like any step.
const StepAlert = "alert"

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

// maxAlertAttempts bounds how long the voicemail's text and call wait for
// its alert: they name its reply code, but the engineer must hear of the
// voicemail even when it cannot become an alert. With the queue's default
// backoff the last attempt is at most about half a minute after the first.
const maxAlertAttempts = 6

// stepAlert is StepAlert. An alert that cannot be raised ends the step
// without one, neither failed nor retried on and on: the text and call wait
// for it, and a failed step would fail them too.
func (h *Handler) stepAlert(ctx context.Context, job *jobs.Job, step *jobs.Step) (any, error) {
	var v Voicemail
	if err := job.Decode(&v); err != nil {
		return nil, jobs.Permanent(err)
	}
	if held, err := h.heldBack(ctx, job, v); err != nil {
		return nil, err
	} else if held {
		// Past the caller's limit: kept and emailed, bundled into the
		// window's one text, and no alert to page the team about it.
		return VoicemailAlert{}, nil
	}
	a, err := h.triggerAlert(ctx, v)
	switch {
	case err == nil:
	case errors.Is(err, alerts.ErrInvalid) || errors.Is(err, alerts.ErrCorrupt) || jobs.IsPermanent(err):
		// The alert can never be raised (a bug, or a stored object that
		// stays unreadable until someone repairs it), so retrying would
		// only hold the pages back: the voicemail is paged without a
		// reply code.
		h.log.ErrorContext(ctx, "pagerline: voicemail alert not raised; paging without a reply code", "job", job.ID, "err", err)
		return VoicemailAlert{}, nil
	case ctx.Err() == nil && step.Attempts+1 >= maxAlertAttempts:
		// Not an outage that ends in time for this voicemail: the pages
		// go out now, without a reply code. (A run cut short by shutdown
		// says nothing about the alert and is retried.)
		h.log.ErrorContext(ctx, "pagerline: voicemail alert still not raised; paging without a reply code",
			"job", job.ID, "attempts", step.Attempts+1, "err", err)
		return VoicemailAlert{}, nil
	default:
		return nil, fmt.Errorf("voicemail alert: %w", err)
	}
	h.log.InfoContext(ctx, "pagerline: voicemail alert triggered", "job", job.ID, "alert", a.ID, "code", a.Code)
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
