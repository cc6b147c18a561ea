package server

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/oncall/pager/app/retention"
	"github.com/oncall/pager/app/twilio"
	"github.com/oncall/pager/store"
)

// DefaultOncePrefix is where Once keeps its markers (the prefix predates
// Once's move to this package; stored markers keep their keys).
const DefaultOncePrefix = "intake/once/"

// Once makes a webhook that the sender retries (Twilio, with the same
// I-Twilio-Idempotency-Token) act once across restarts and replicas: the
// first delivery creates a marker with a conditional write, a repeat finds
// it.
type Once struct {
	st     store.Store
	prefix string
	now    func() time.Time
}

// NewOnce keeps markers under prefix (default DefaultOncePrefix).
func NewOnce(st store.Store, prefix string, now func() time.Time) *Once {
	if prefix == "" {
		prefix = DefaultOncePrefix
	}
	if !strings.HasSuffix(prefix, "/") {
		prefix += "/"
	}
	if now == nil {
		now = time.Now
	}
	return &Once{st: st, prefix: prefix, now: now}
}

type onceMarker struct {
	At time.Time `json:"at"`
}

// First reports whether this is the first delivery of token. An empty token
// (a sender that sends none) is always first. When acting on a first
// delivery fails, call Forget so the sender's retry acts instead of being
// swallowed.
func (o *Once) First(ctx context.Context, token string) (bool, error) {
	if token == "" {
		return true, nil
	}
	data, _ := json.Marshal(onceMarker{At: o.now().UTC()})
	_, err := o.st.Put(ctx, o.key(token), data, store.Cond{IfNoneMatch: true})
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, store.ErrPrecondition):
		return false, nil
	default:
		return false, fmt.Errorf("server: record delivery: %w", err)
	}
}

// Forget removes token's marker.
func (o *Once) Forget(ctx context.Context, token string) error {
	if token == "" {
		return nil
	}
	if err := o.st.Delete(ctx, o.key(token)); err != nil {
		return fmt.Errorf("server: forget delivery: %w", err)
	}
	return nil
}

// Expiry has the retention pass delete markers older than after. A marker
// is only ever created where none is, so it is deleted unread again.
func (o *Once) Expiry(after time.Duration) retention.Expiry {
	return retention.Expiry{Name: "webhook delivery markers", Prefix: o.prefix, Field: "at", After: after}
}

// key hashes the token: it comes from outside and may hold any character.
func (o *Once) key(token string) string {
	sum := sha256.Sum256([]byte(token))
	return o.prefix + hex.EncodeToString(sum[:16]) + ".json"
}

// WrapTwilioIdempotency makes a webhook that Twilio retries with the same
// I-Twilio-Idempotency-Token act once: a repeat is answered with an empty
// TwiML response and does nothing. When the first delivery fails (an error
// or a 5xx), its token is forgotten so Twilio's retry acts instead; when the
// marker cannot be written the delivery acts anyway. Apply it inside the
// signature check, so forged tokens never reach the store.
//
// key, when it returns something, names the delivery instead of the token:
// a key made of signed fields (the Sids) also stops a replay of a captured
// request under a fresh token, since Twilio's signature has no timestamp.
func WrapTwilioIdempotency(once *Once, log *slog.Logger, key func(echo.Context) string) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		if once == nil {
			return next
		}
		return func(c echo.Context) error {
			ctx := c.Request().Context()
			token := twilio.HeaderValue(c.Request().Header, twilio.IdempotencyHeader)
			if key != nil {
				if k := key(c); k != "" {
					token = k
				}
			}
			if token == "" {
				return next(c)
			}
			first, err := once.First(ctx, token)
			if err != nil {
				// Fail open: a pager that acts twice beats one that does not
				// act while its store is briefly down.
				log.WarnContext(ctx, "twilio webhook: delivery not recorded; acting anyway", "path", c.Request().URL.Path, "err", err)
				return next(c)
			}
			if !first {
				log.InfoContext(ctx, "twilio webhook: repeated delivery ignored", "path", c.Request().URL.Path)
				return c.Blob(http.StatusOK, "text/xml; charset=utf-8", []byte(`<?xml version="1.0" encoding="UTF-8"?><Response></Response>`))
			}
			err = next(c)
			if err != nil || c.Response().Status >= http.StatusInternalServerError {
				fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), DetachedTimeout)
				ferr := once.Forget(fctx, token)
				cancel()
				if ferr != nil {
					log.WarnContext(ctx, "twilio webhook: failed delivery not forgotten; Twilio's retry will be ignored", "err", ferr)
				}
			}
			return err
		}
	}
}

// PageKeyDelivery names a key press on a page call by its signed CallSid
// and key, for the keys that act (1 acknowledges, 2 closes): pressed once
// per call, it acts once, even replayed. Other keys (repeat) may come
// again in one call and fall back to the token.
func PageKeyDelivery(c echo.Context) string {
	sid, d := c.FormValue("CallSid"), c.FormValue("Digits")
	if sid == "" || (d != "1" && d != "2") {
		return ""
	}
	return "pagekey:" + sid + ":" + d + ":" + c.QueryParam("alert")
}
