package channel

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Webhook posts a notification to an HTTP endpoint the RedFlash way: form
// fields notification_id and message, POSTed to URL/<notification_id>.
//
// When Secret is set, each request carries
//
//	X-Pager-Timestamp: <unix seconds>
//	X-Pager-Signature: sha256=<hex HMAC-SHA256(Secret, timestamp + "." + body)>
//
// To verify a delivery, a receiver:
//
//  1. reads the raw request body bytes, before any form parsing;
//  2. takes X-Pager-Timestamp verbatim and rejects the request if it is
//     further than a few minutes from its own clock (this, not the
//     signature, is what stops replays);
//  3. computes hex(HMAC-SHA256(key = Secret, message = timestamp + "." + body));
//  4. compares it with X-Pager-Signature minus its "sha256=" prefix using a
//     constant-time comparison (Go: hmac.Equal).
//
// notification_id stays the same across retries, so receivers can drop
// duplicates.
type Webhook struct {
	URL    string
	Secret string
	// Client defaults to one with a 30 s timeout.
	Client *http.Client
	// Now stamps signatures; defaults to time.Now.
	Now func() time.Time
}

var _ Sender = Webhook{}

// Send posts m. 200, 201, 202 and 204 count as delivered.
func (w Webhook) Send(ctx context.Context, m Message) (Receipt, error) {
	target, err := w.target(m.NotificationID)
	if err != nil {
		return Receipt{}, err
	}
	text := plainText(m)
	if text == "" {
		return Receipt{}, permanent(0, "webhook: empty message")
	}
	body := []byte(url.Values{
		"notification_id": {m.NotificationID},
		"message":         {text},
	}.Encode())

	header := http.Header{}
	if w.Secret != "" {
		now := time.Now
		if w.Now != nil {
			now = w.Now
		}
		ts := strconv.FormatInt(now().Unix(), 10)
		header.Set("X-Pager-Timestamp", ts)
		header.Set("X-Pager-Signature", "sha256="+webhookSignature(w.Secret, ts, body))
	}

	res, err := postHTTP(ctx, w.Client, "webhook", target, "application/x-www-form-urlencoded", body, header)
	if err != nil {
		return Receipt{}, err
	}
	switch res.status {
	case http.StatusOK, http.StatusCreated, http.StatusAccepted, http.StatusNoContent:
		return Receipt{Detail: fmt.Sprintf("HTTP %d %s", res.status, http.StatusText(res.status))}, nil
	}
	return Receipt{}, statusError("webhook", res)
}

// target appends the notification id as one escaped path segment, with
// exactly one slash between, keeping any query string of URL intact.
func (w Webhook) target(id string) (string, error) {
	if id == "" || id == "." || id == ".." {
		// The id is the last path segment; "." and ".." would be resolved
		// away by servers and hit a different resource.
		return "", permanent(0, "webhook: notification id %q cannot name a path segment", id)
	}
	u, err := url.Parse(w.URL)
	if err != nil {
		return "", permanent(0, "webhook: invalid URL")
	}
	u.RawPath = strings.TrimSuffix(u.EscapedPath(), "/") + "/" + url.PathEscape(id)
	u.Path = strings.TrimSuffix(u.Path, "/") + "/" + id
	return u.String(), nil
}

func webhookSignature(secret, timestamp string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(timestamp))
	mac.Write([]byte("."))
	mac.Write(body)
	return hex.EncodeToString(mac.Sum(nil))
}
