package server

import (
	"context"
	"log/slog"
	"net/http"

	"github.com/labstack/echo/v4"
)

// TwilioIdempotencyHeader is the header Twilio repeats on every retry of
// one webhook delivery.
const TwilioIdempotencyHeader = "I-Twilio-Idempotency-Token"

// Once remembers webhook deliveries across restarts and replicas
// (intake.Once).
type Once interface {
	First(ctx context.Context, token string) (bool, error)
	Forget(ctx context.Context, token string) error
}

// WrapTwilioIdempotency makes a webhook that Twilio retries with the same
// I-Twilio-Idempotency-Token act once: a repeat is answered with an empty
// TwiML response and does nothing. When the first delivery fails (an error
// or a 5xx), its token is forgotten so Twilio's retry acts instead; when the
// marker cannot be written the delivery acts anyway. Apply it inside the
// signature check, so forged tokens never reach the store.
func WrapTwilioIdempotency(once Once, log *slog.Logger) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		if once == nil {
			return next
		}
		return func(c echo.Context) error {
			ctx := c.Request().Context()
			token := c.Request().Header.Get(TwilioIdempotencyHeader)
			if token == "" {
				return next(c)
			}
			first, err := once.First(ctx, token)
			if err != nil {
				// Fail open: a pager that acts twice beats one that does not
				// act while its store is briefly down.
				log.Warn("twilio webhook: delivery not recorded; acting anyway", "path", c.Request().URL.Path, "err", err)
				return next(c)
			}
			if !first {
				log.Info("twilio webhook: repeated delivery ignored", "path", c.Request().URL.Path)
				return c.Blob(http.StatusOK, "text/xml; charset=utf-8", []byte(`<?xml version="1.0" encoding="UTF-8"?><Response></Response>`))
			}
			err = next(c)
			if err != nil || c.Response().Status >= http.StatusInternalServerError {
				if ferr := once.Forget(context.WithoutCancel(ctx), token); ferr != nil {
					log.Warn("twilio webhook: failed delivery not forgotten; Twilio's retry will be ignored", "err", ferr)
				}
			}
			return err
		}
	}
}
