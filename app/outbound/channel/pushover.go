package channel

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// Pushover limits, in characters (runes), from the message API.
const (
	pushoverMaxMessage = 1024
	pushoverMaxTitle   = 250
)

// Pushover sends a push notification through the Pushover message API.
type Pushover struct {
	// Token is the application's API token, User the recipient's user or
	// group key.
	Token, User string
	// BaseURL defaults to https://api.pushover.net.
	BaseURL string
	Client  *http.Client
}

var _ Sender = Pushover{}

type pushoverAnswer struct {
	Status  int      `json:"status"`
	Request string   `json:"request"`
	Errors  []string `json:"errors"`
}

// Send posts m with Subject as the title. Receipt.ID is Pushover's request id.
func (p Pushover) Send(ctx context.Context, m Message) (Receipt, error) {
	if p.Token == "" || p.User == "" {
		return Receipt{}, permanent(0, "pushover: token and user are required")
	}
	form := url.Values{"token": {p.Token}, "user": {p.User}}
	switch {
	case m.Body != "":
		form.Set("message", Truncate(m.Body, pushoverMaxMessage))
		if m.Subject != "" {
			form.Set("title", Truncate(m.Subject, pushoverMaxTitle))
		}
	case m.Subject != "":
		// Pushover requires a message; a title repeating it adds nothing.
		form.Set("message", Truncate(m.Subject, pushoverMaxMessage))
	default:
		return Receipt{}, permanent(0, "pushover: empty message")
	}

	base := p.BaseURL
	if base == "" {
		base = "https://api.pushover.net"
	}
	res, err := postHTTP(ctx, p.Client, "pushover", strings.TrimSuffix(base, "/")+"/1/messages.json",
		"application/x-www-form-urlencoded", []byte(form.Encode()), nil)
	if err != nil {
		return Receipt{}, err
	}

	var ans pushoverAnswer
	parseErr := json.Unmarshal(res.body, &ans)
	if res.status != http.StatusOK {
		e := statusError("pushover", res)
		if parseErr == nil && len(ans.Errors) > 0 {
			e.Err = fmt.Errorf("pushover: HTTP %d: %s", res.status, strings.Join(ans.Errors, "; "))
		}
		return Receipt{}, e
	}
	if parseErr != nil {
		// Pushover documents 200 as "accepted"; an unreadable body does not
		// undo that, and reporting a failure would cause a duplicate page.
		return Receipt{Detail: "accepted by Pushover (unreadable answer)"}, nil
	}
	if ans.Status != 1 {
		msg := strings.Join(ans.Errors, "; ")
		if msg == "" {
			msg = answerSnippet(res.body)
		}
		return Receipt{}, permanent(res.status, "pushover: rejected (status %d): %s", ans.Status, msg)
	}
	return Receipt{ID: ans.Request, Detail: "accepted by Pushover"}, nil
}
