package twilio

// The HTTP headers Twilio sends with a webhook request.
const (
	// SignatureHeader carries Twilio's webhook signature (Sign).
	SignatureHeader = "X-Twilio-Signature"
	// IdempotencyHeader carries a token Twilio repeats on every retry of
	// one webhook delivery, so a retried request can be recognised.
	IdempotencyHeader = "I-Twilio-Idempotency-Token"
)
