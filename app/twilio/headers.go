package twilio

import "net/http"

// The HTTP headers Twilio sends with a webhook request, in canonical form
// (HeaderValue relies on it).
const (
	// SignatureHeader carries Twilio's webhook signature (Sign).
	SignatureHeader = "X-Twilio-Signature"
	// IdempotencyHeader carries a token Twilio repeats on every retry of
	// one webhook delivery, so a retried request can be recognised.
	IdempotencyHeader = "I-Twilio-Idempotency-Token"
)

// HeaderValue is h.Get(name) for a name already in canonical form, such as
// the constants above: it skips canonicalising the name, which every
// webhook request would otherwise pay for each header it reads.
func HeaderValue(h http.Header, name string) string {
	if v := h[name]; len(v) > 0 {
		return v[0]
	}
	return ""
}
