package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/oncall/pager/app/audit"
	"github.com/oncall/pager/app/notification"
	"github.com/oncall/pager/app/retry"
)

// alert is a resolved request, ready to be queued.
type alert struct {
	source     string // "group:ops"
	subject    string
	message    string
	fromPhone  string
	recipients []notification.Recipient
	missing    []string // template fields the request did not give
}

// IdempotencyHeader lets a client that retries after a timeout or a 503
// make sure the alert is queued once: the same key (per API key), with the
// same request, within IdempotencyTTL, maps to the same notification; with
// a different request it is refused (422).
const IdempotencyHeader = "Idempotency-Key"

// maxIdempotencyKey bounds the header (Stripe allows 255).
const maxIdempotencyKey = 255

// accept queues a and answers: 201 when every recipient is reached, 202
// when some are skipped (named in the answer), 422 when nobody is, 503
// when the notification could not be stored. The answer comes only after
// the notification (its record and every recipient's job) is durably in
// the store.
func (h *Handler) accept(c echo.Context, cl caller, a alert) error {
	ctx := c.Request().Context()
	var skips []skipped
	reached := 0
	for _, rc := range a.recipients {
		if rc.Skipped != "" {
			skips = append(skips, skipped{Contact: rc.UserID, Reason: rc.Skipped})
			continue
		}
		reached++
	}
	if reached == 0 {
		h.log.WarnContext(ctx, "api: nobody reachable; nothing queued", "source", a.source, "key", cl.keyName, "skipped", skipReasons(skips))
		return reply(c, http.StatusUnprocessableEntity, answer{
			Message: "Nobody reachable: every recipient is disabled or has no enabled channel; nothing was sent",
			Skipped: skips, MissingFields: a.missing})
	}
	id := notification.NewID()
	if idem := strings.TrimSpace(c.Request().Header.Get(IdempotencyHeader)); idem != "" {
		if h.idem == nil {
			return reply(c, http.StatusBadRequest, answer{Message: IdempotencyHeader + " is not supported by this pager"})
		}
		if len(idem) > maxIdempotencyKey {
			return reply(c, http.StatusBadRequest, answer{Message: fmt.Sprintf("%s: at most %d characters", IdempotencyHeader, maxIdempotencyKey)})
		}
		var err error
		id, err = h.idem.claim(ctx, cl.keyName, idem, fingerprint(a.source, cl.req.Fields))
		switch {
		case errors.Is(err, errKeyReused):
			h.log.Warn("api: Idempotency-Key reused for a different request; nothing sent", "source", a.source, "key", cl.keyName)
			return reply(c, http.StatusUnprocessableEntity, answer{Message: "This " + IdempotencyHeader +
				" was used in the last 24 h for a different request; nothing was sent. Use a new key for a new request."})
		case err != nil:
			h.log.Error("api: idempotency key not recorded; answered 503", "source", a.source, "key", cl.keyName, "err", err)
			return reply(c, http.StatusServiceUnavailable, answer{Message: "The notification could not be stored, so it is not queued. Retry later with the same " + IdempotencyHeader + "."})
		}
	}
	n := notification.Notification{
		ID:         id,
		Source:     a.source,
		Subject:    a.subject,
		Message:    a.message,
		FromPhone:  a.fromPhone,
		Recipients: a.recipients,
		APIKey:     cl.keyName,
		Created:    h.now().UTC(),
	}
	err := h.enqueue(ctx, n)
	duplicate := errors.Is(err, notification.ErrDuplicate)
	switch {
	case duplicate:
		h.log.InfoContext(ctx, "api: notification already accepted (same Idempotency-Key); not queued again",
			"notification", n.ID, "source", a.source, "key", cl.keyName)
	case errors.Is(err, notification.ErrNothingToSend):
		h.log.WarnContext(ctx, "api: no route to any recipient; nothing queued", "source", a.source, "key", cl.keyName)
		return reply(c, http.StatusUnprocessableEntity, answer{Message: "Nobody reachable: no recipient has a route; nothing was sent",
			Skipped: skips, MissingFields: a.missing})
	case err != nil:
		h.log.ErrorContext(ctx, "api: notification not stored; answered 503", "notification", n.ID, "source", a.source, "key", cl.keyName, "err", err)
		return reply(c, http.StatusServiceUnavailable, answer{Message: "The notification could not be stored, so it is not queued " +
			"(if the store took it despite the error it will still be sent). Retry later, with an " + IdempotencyHeader +
			" header to be sure it is sent once."})
	default:
		steps := 0
		ids := make([]string, 0, reached)
		for _, rc := range a.recipients {
			if rc.Skipped == "" {
				steps += len(rc.Routes)
				ids = append(ids, rc.UserID)
			}
		}
		h.log.InfoContext(ctx, "api: notification accepted", "notification", n.ID, "source", a.source, "key", cl.keyName,
			"recipients", reached, "deliveries", steps, "skipped", skipReasons(skips), "missing_fields", a.missing)
		h.log.DebugContext(ctx, "api: notification text", "notification", n.ID, "chars", len([]rune(a.message)))
		h.audit.Try(ctx, audit.Entry{Actor: "api:" + cl.keyName, Action: ActionNotification, Source: c.RealIP(),
			Detail: fmt.Sprintf("%s: %d recipient(s), %d delivery(ies), %d skipped", a.source, reached, steps, len(skips)),
			After:  map[string]any{"notification_id": n.ID, "source": a.source, "recipients": ids, "skipped": skips}})
	}
	status, msg := http.StatusCreated, "OK"
	if len(skips) > 0 {
		status, msg = http.StatusAccepted, fmt.Sprintf("Accepted for %d of %d recipients; the others are skipped", reached, len(a.recipients))
	}
	return reply(c, status, answer{Message: msg, NotificationID: n.ID, Recipients: reached, Skipped: skips, MissingFields: a.missing})
}

// enqueue stores n, trying again after a store error. Notify is keyed by
// the notification ID: a retry creates only the recipients' jobs the
// failed try did not store, and one that finds them all stored reports a
// duplicate: accepted once, not twice.
func (h *Handler) enqueue(ctx context.Context, n notification.Notification) error {
	return retry.Policy{First: 100 * time.Millisecond, Attempts: 1 + h.retries}.Do(ctx, func(attempt int) (bool, error) {
		err := h.out.Notify(ctx, h.q, n)
		if attempt > 1 && errors.Is(err, notification.ErrDuplicate) && n.ID != "" {
			return false, nil // the earlier try was stored after all
		}
		return err != nil && !errors.Is(err, notification.ErrNothingToSend) && !errors.Is(err, notification.ErrDuplicate), err
	})
}

func skipReasons(s []skipped) []string {
	out := make([]string, len(s))
	for i, k := range s {
		out[i] = k.Contact + ": " + k.Reason
	}
	return out
}
