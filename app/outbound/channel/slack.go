package channel

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
)

// slackMaxText is Slack's recommended ceiling for message text; beyond
// 40000 characters Slack truncates on its own.
const slackMaxText = 4000

// Slack posts to a Slack incoming webhook.
type Slack struct {
	URL    string
	Client *http.Client
}

var _ Sender = Slack{}

// slackEscaper escapes the three characters Slack treats as markup control
// (links, mentions); only these are decoded for display, so escaping more
// would show up literally.
var slackEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")

// Send posts Subject and Body as one message. Slack answers a successful post
// with 200 and the body "ok".
func (s Slack) Send(ctx context.Context, m Message) (Receipt, error) {
	text := plainText(m)
	if text == "" {
		return Receipt{}, permanent(0, "slack: empty message")
	}
	// Trim before escaping so an entity is never cut in half.
	body, err := json.Marshal(struct {
		Text string `json:"text"`
	}{slackEscaper.Replace(Truncate(text, slackMaxText))})
	if err != nil {
		return Receipt{}, permanent(0, "slack: encode: %w", err)
	}
	res, err := postHTTP(ctx, s.Client, "slack", s.URL, "application/json", body, nil)
	if err != nil {
		return Receipt{}, err
	}
	if res.status != http.StatusOK {
		return Receipt{}, statusError("slack", res)
	}
	if strings.TrimSpace(string(res.body)) != "ok" {
		// Not Slack, or a Slack we do not understand. Retrying might post
		// twice, so report it as a permanent misconfiguration.
		return Receipt{}, permanent(res.status, "slack: unexpected answer: %s", answerSnippet(res.body))
	}
	return Receipt{Detail: "posted to Slack"}, nil
}
