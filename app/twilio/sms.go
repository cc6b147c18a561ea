package twilio

import (
	"context"
	"errors"

	api "github.com/twilio/twilio-go/rest/api/v2010"
)

// Message is one outgoing SMS, or MMS when MediaURL is set.
type Message struct {
	From string
	To   string
	Body string
	// MediaURL lists publicly fetchable media (Twilio fetches each one);
	// Twilio accepts up to ten.
	MediaURL []string
	// StatusCallback, if set, receives Twilio's delivery status updates.
	StatusCallback string
}

func (m Message) check() error {
	switch {
	case m.To == "":
		return invalidf("message has no To")
	case m.From == "":
		return invalidf("message has no From")
	case m.Body == "" && len(m.MediaURL) == 0:
		return invalidf("message has neither Body nor MediaURL")
	case len(m.MediaURL) > 10:
		return invalidf("message has %d media URLs; Twilio accepts at most 10", len(m.MediaURL))
	}
	return nil
}

// SendMessage asks Twilio to send m and returns the Message SID. Twilio
// only queues it: delivery is reported later to m.StatusCallback.
func (c *Client) SendMessage(ctx context.Context, m Message) (sid string, err error) {
	if err := m.check(); err != nil {
		return "", err
	}
	if c.dryRun {
		sid = fakeSID("SM")
		c.log.InfoContext(ctx, "twilio dry run: message not sent",
			"sid", sid, "to", m.To, "from", m.From,
			"body", m.Body, "media_count", len(m.MediaURL),
			"status_callback", m.StatusCallback != "")
		return sid, nil
	}

	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	params := &api.CreateMessageParams{}
	params.SetTo(m.To)
	params.SetFrom(m.From)
	if m.Body != "" {
		params.SetBody(m.Body)
	}
	if len(m.MediaURL) > 0 {
		params.SetMediaUrl(m.MediaURL)
	}
	if m.StatusCallback != "" {
		params.SetStatusCallback(m.StatusCallback)
	}
	call := c.newAPICall(ctx)
	resp, err := call.svc.CreateMessage(params)
	if err != nil {
		return "", convertError("twilio: send message", err, call.ct.status)
	}
	if resp.Sid == nil || *resp.Sid == "" {
		return "", errors.New("twilio: send message: response carried no sid")
	}
	c.log.DebugContext(ctx, "twilio message queued", "sid", *resp.Sid, "media_count", len(m.MediaURL))
	return *resp.Sid, nil
}
