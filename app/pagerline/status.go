package pagerline

import (
	"encoding/json"
	"errors"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/oncall/pager/app/audit"
	"github.com/oncall/pager/app/jobs"
	"github.com/oncall/pager/app/twilio"
	"github.com/oncall/pager/store"
)

// outcome reads a page step's status in Twilio's words.
func outcome(stepName, status, code, answeredBy string) twilio.Outcome {
	kind := twilio.KindMessage
	if stepName == StepCall {
		kind = twilio.KindCall
	}
	return twilio.StatusOutcome(kind, status, code, answeredBy)
}

// ServeMessageStatus is POST /public/mmsstatuscb, the page text's status
// callback.
func (h *Handler) ServeMessageStatus(c echo.Context) error {
	return h.status(c, StepText, c.FormValue("MessageSid"), c.FormValue("MessageStatus"), c.FormValue("ErrorCode"), "")
}

// ServeCallStatus is POST /public/callstatus, the page call's status callback.
func (h *Handler) ServeCallStatus(c echo.Context) error {
	return h.status(c, StepCall, c.FormValue("CallSid"), c.FormValue("CallStatus"), c.FormValue("ErrorCode"), c.FormValue("AnsweredBy"))
}

func (h *Handler) status(c echo.Context, stepName, sid, status, code, answeredBy string) error {
	ctx := c.Request().Context()
	id := c.QueryParam("job")
	if id == "" || status == "" {
		return echo.NewHTTPError(http.StatusBadRequest, "status callback without job or status")
	}
	got := outcome(stepName, status, code, answeredBy)
	lvl := h.log.Info
	if got.Failed {
		lvl = h.log.Error
	}
	lvl("pagerline: delivery status", "job", id, "step", stepName, "sid", sid, "status", status, "error_code", code, "answered_by", answeredBy)

	other := StepCall
	if stepName == StepCall {
		other = StepText
	}
	var fallback bool
	record := func(j *jobs.Job) error {
		fallback = false
		s := j.Step(stepName)
		if s == nil {
			return errStale
		}
		var d Delivery
		_ = json.Unmarshal(s.Result, &d)
		if d.SID != sid && s.State == jobs.StepPending {
			// Twilio can call back (a carrier refusing the MMS) before the
			// step has recorded its send; dropped, the page's other path
			// would never be tried. The running step is not touched.
			return errNotRecordedYet
		}
		was := outcome(stepName, d.Status, "", "")
		if d.SID != sid || got.Rank < was.Rank || (was.Final && got.Rank == was.Rank) {
			// A callback for an earlier attempt, an older state, or the
			// final one again (Twilio's retry): acting on a repeat would
			// retry the other path once more.
			return errStale
		}
		d.Status, d.ErrorCode = status, code
		if got.Final && !got.Reached {
			o := j.Step(other)
			var od Delivery
			if o != nil {
				_ = json.Unmarshal(o.Result, &od)
			}
			// The other path is retried unless it already reached the
			// engineer; a failed MMS is retried as plain SMS.
			switch {
			case stepName == StepText && d.MMS && d.Fallbacks < maxFallbacks:
				d.SMSOnly = true
				d.Fallbacks++
				fallback = true
				_ = j.Reopen(stepName)
			case o != nil && !outcome(other, od.Status, "", "").Reached && d.Fallbacks < maxFallbacks:
				d.Fallbacks++
				fallback = true
				od.Fallbacks = d.Fallbacks
				o.Result, _ = json.Marshal(od)
				_ = j.Reopen(other)
			}
		}
		s.Result, _ = json.Marshal(d)
		return nil
	}
	err := jobs.AwaitRecord(ctx, errNotRecordedYet, func(attempt int) error {
		_, err := h.q.Update(ctx, id, record)
		if errors.Is(err, errNotRecordedYet) && attempt == 1 {
			h.log.DebugContext(ctx, "pagerline: status callback before its send was recorded; waiting for the step", "job", id, "step", stepName, "sid", sid)
		}
		return err
	})
	switch {
	case errors.Is(err, errNotRecordedYet):
		h.log.WarnContext(ctx, "pagerline: status callback for a send still not recorded; dropped", "job", id, "step", stepName, "sid", sid, "status", status)
	case errors.Is(err, errStale):
	case errors.Is(err, jobs.ErrNotFound), errors.Is(err, store.ErrNotFound), errors.Is(err, jobs.ErrInvalidJob):
		// Nothing to record; a 4xx ends Twilio's retries, where a 5xx
		// made it call again and again.
		h.log.DebugContext(ctx, "pagerline: status callback for an unknown job", "job", id)
		return echo.NewHTTPError(http.StatusNotFound, "unknown job")
	case err != nil:
		// Twilio does not retry status callbacks; the page itself went out.
		h.log.ErrorContext(ctx, "pagerline: delivery status not recorded", "job", id, "err", err)
		return echo.NewHTTPError(http.StatusServiceUnavailable, "status not recorded")
	}
	if got.Final {
		detail := stepName + " " + sid + " " + status
		if fallback {
			detail += "; retrying by the other path"
		}
		h.audit.Try(ctx, audit.Entry{Actor: "twilio", Action: audit.ActionPage, Detail: detail})
	}
	return c.NoContent(http.StatusNoContent)
}

var (
	errStale          = errors.New("stale status callback")
	errNotRecordedYet = errors.New("pagerline: send not recorded yet")
)
