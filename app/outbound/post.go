package outbound

import (
	"context"
	"fmt"

	"github.com/oncall/pager/app/jobs"
	"github.com/oncall/pager/app/outbound/channel"
	"github.com/oncall/pager/app/team"
)

// Post sends m by webhook, Pushover, Mattermost, Slack or Signal to
// address: with the credentials of the named channel when there is one,
// else (a user's own address) with those of the channel Config.Transport
// names for the medium.
func (o *Outbound) Post(ctx context.Context, medium team.Medium, address string, named *team.NotificationChannel, m channel.Message) (channel.Receipt, error) {
	transport := func() (team.NotificationChannel, error) {
		if named != nil {
			return *named, nil
		}
		var cfg *team.Config
		if o.cfg != nil {
			cfg = o.cfg.Current()
		}
		_, t, ok := cfg.Transport(medium)
		if !ok {
			return t, jobs.Permanent(fmt.Errorf("notify: no enabled %s notification channel supplies the credentials for %s", medium, medium))
		}
		return t, nil
	}
	var sender channel.Sender
	switch medium {
	case team.MediumWebhook:
		w := channel.Webhook{URL: address, Client: o.client, Now: o.now}
		if named != nil {
			w.URL, w.Secret = named.URL, named.Secret
		}
		// RedFlash's receivers expect the message alone.
		m.Subject = ""
		sender = w
	case team.MediumPushover:
		t, terr := transport()
		if terr != nil {
			return channel.Receipt{}, terr
		}
		sender = channel.Pushover{Token: t.Token, User: address, BaseURL: o.pushURL, Client: o.client}
	case team.MediumMattermost:
		t, terr := transport()
		if terr != nil {
			return channel.Receipt{}, terr
		}
		mm := channel.Mattermost{URL: t.URL, Host: t.Host, Token: t.Token, Channel: t.Channel,
			Username: t.Username, IconURL: t.Icon, Client: o.client}
		if named == nil {
			mm.Channel = address // the user's "@alice" or channel name
		}
		sender = mm
	case team.MediumSlack:
		s := channel.Slack{URL: address, Client: o.client}
		if named != nil {
			s.URL = named.URL // the route only knows the host: the URL is a secret
		}
		sender = s
	case team.MediumSignal:
		t, terr := transport()
		if terr != nil {
			return channel.Receipt{}, terr
		}
		sender = channel.Signal{CliPath: t.CliPath, User: t.User, Recipient: address}
	default:
		return channel.Receipt{}, jobs.Permanent(fmt.Errorf("notify: unknown medium %q", medium))
	}
	rc, err := sender.Send(ctx, m)
	if err != nil && channel.IsPermanent(err) {
		return rc, jobs.Permanent(err)
	}
	return rc, err
}
