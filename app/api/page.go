package api

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/oncall/pager/app/alerts"
	"github.com/oncall/pager/app/audit"
)

// ActionEventAlert is the audit action of an event that paged.
const ActionEventAlert audit.Action = "event_alert"

// pageEvent raises the alert of an event configured to page ("page": true)
// instead of notifying its recipients: it pages through the escalation
// policy until someone acknowledges. The dedup key is the request's
// dedup_key field, else the event and the filled message, so a monitor
// repeating itself pages once while the alert is open. Answers 201 for a
// new alert, 202 for a repeat counted on the open one, with the alert id
// and reply code.
func (h *Handler) pageEvent(c echo.Context, cl caller, slug, msg string, missing []string) error {
	if h.alerts == nil {
		h.log.ErrorContext(c.Request().Context(), "api: event configured to page but no alert service", "event", slug)
		return reply(c, http.StatusServiceUnavailable, answer{Message: "Paging is unavailable; retry shortly"})
	}
	dedup := strings.TrimSpace(cl.req.Fields["dedup_key"])
	if dedup == "" {
		sum := sha256.Sum256([]byte(msg))
		dedup = slug + ":" + hex.EncodeToString(sum[:8])
	}
	ev := alerts.Event{
		Action:      alerts.EventTrigger,
		DedupKey:    dedup,
		Summary:     msg,
		Source:      "event:" + slug,
		Integration: alerts.IntegrationEvent,
		// Dedup keys are scoped by the event, whoever's key raised it.
		RoutingKey: "event:" + slug,
	}
	a, created, err := h.alerts.Trigger(c.Request().Context(), ev)
	switch {
	case errors.Is(err, alerts.ErrInvalid):
		return reply(c, http.StatusBadRequest, answer{Message: err.Error()})
	case err != nil:
		h.log.ErrorContext(c.Request().Context(), "api: event alert not recorded", "event", slug, "key", cl.keyName, "err", err)
		return reply(c, http.StatusServiceUnavailable, answer{Message: "The alert could not be stored; retry shortly"})
	}
	status, out, text := http.StatusCreated, alerts.OutcomeCreated, "Alert created; paging by the escalation policy"
	if !created {
		status, out, text = http.StatusAccepted, alerts.OutcomeDeduplicated, "Alert already open; counted on it, nobody paged again"
	}
	h.log.InfoContext(c.Request().Context(), "api: event paged", "event", slug, "key", cl.keyName, "alert", a.ID, "outcome", out)
	h.audit.Try(c.Request().Context(), audit.Entry{Actor: "api:" + cl.keyName, Action: ActionEventAlert, Source: c.RealIP(),
		Detail: "event:" + slug + " alert " + a.ID + " " + string(out)})
	return reply(c, status, answer{Message: text, AlertID: a.ID, Code: a.Code, DedupKey: dedup, Outcome: out, MissingFields: missing})
}
