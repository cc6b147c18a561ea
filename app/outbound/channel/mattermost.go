package channel

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// mattermostMaxText keeps posts readable; Mattermost itself accepts up to
// 16383 characters.
const mattermostMaxText = 4000

// Mattermost posts to a Mattermost incoming webhook.
type Mattermost struct {
	// URL is the full incoming-webhook URL. When empty it is built as
	// https://<Host>/hooks/<Token>.
	URL         string
	Host, Token string
	// Channel, Username and IconURL override the webhook's defaults when
	// the server allows it.
	Channel  string
	Username string
	IconURL  string
	Client   *http.Client
}

var _ Sender = Mattermost{}

type mattermostPost struct {
	Text     string `json:"text"`
	Channel  string `json:"channel,omitempty"`
	Username string `json:"username,omitempty"`
	IconURL  string `json:"icon_url,omitempty"`
}

// Send posts Subject and Body as one message.
func (mm Mattermost) Send(ctx context.Context, m Message) (Receipt, error) {
	target, err := mm.hookURL()
	if err != nil {
		return Receipt{}, err
	}
	text := plainText(m)
	if text == "" {
		return Receipt{}, permanent(0, "mattermost: empty message")
	}
	body, err := json.Marshal(mattermostPost{
		Text:     Truncate(text, mattermostMaxText),
		Channel:  mm.Channel,
		Username: mm.Username,
		IconURL:  mm.IconURL,
	})
	if err != nil {
		return Receipt{}, permanent(0, "mattermost: encode: %w", err)
	}
	res, err := postHTTP(ctx, mm.Client, "mattermost", target, "application/json", body, nil)
	if err != nil {
		return Receipt{}, err
	}
	if res.status != http.StatusOK {
		return Receipt{}, statusError("mattermost", res)
	}
	return Receipt{Detail: fmt.Sprintf("posted to Mattermost (%s)", answerSnippet(res.body))}, nil
}

func (mm Mattermost) hookURL() (string, error) {
	if mm.URL != "" {
		return mm.URL, nil
	}
	if mm.Host == "" || mm.Token == "" {
		return "", permanent(0, "mattermost: either URL or host and token are required")
	}
	host := strings.TrimSuffix(mm.Host, "/")
	if !strings.Contains(host, "://") {
		host = "https://" + host
	}
	return host + "/hooks/" + url.PathEscape(mm.Token), nil
}
