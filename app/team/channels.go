package team

import (
	"fmt"
	"log/slog"
	"maps"
	"net/url"
	"reflect"
	"slices"
	"strings"

	"github.com/oncall/pager/app/jsondoc"
)

// Channel defaults that Parse fills in.
const (
	DefaultSignalCLI = "signal-cli"
	DefaultSMTPPort  = 587
)

// NotificationChannel is a named delivery channel defined once under
// notification_channels and referenced by name from events, users and
// default_notification_channels. Which fields apply depends on Type; Parse
// checks each type's required fields.
type NotificationChannel struct {
	Type    Medium `json:"type"`
	Enabled *bool  `json:"enabled,omitempty"` // absent means enabled

	// email
	Recipients   []string `json:"recipients,omitempty"`
	Sender       string   `json:"sender,omitempty"`
	SMTPServer   string   `json:"smtp_server,omitempty"`
	SMTPPort     int      `json:"smtp_port,omitempty"` // Parse sets DefaultSMTPPort when 0
	SMTPUser     string   `json:"smtp_user,omitempty"`
	SMTPPassword string   `json:"smtp_password,omitempty"` // never logged
	// UseTLS requires TLS; absent means required.
	UseTLS *bool `json:"use_tls,omitempty"`

	// pushover: Token is the application token, User the user or group key.
	// mattermost: Token is the incoming-webhook token used with Host.
	Token string `json:"token,omitempty"` // never logged
	// pushover: the user key. signal: the sending account's number.
	User string `json:"user,omitempty"`

	// mattermost: URL, or Host and Token; Channel, Username and Icon
	// override the webhook's defaults.
	Host     string `json:"host,omitempty"`
	Channel  string `json:"channel,omitempty"`
	Username string `json:"username,omitempty"`
	Icon     string `json:"icon,omitempty"`
	// mattermost, slack, webhook: where to post. Slack and Mattermost hook
	// URLs are secrets and are never logged whole.
	URL string `json:"url,omitempty"`

	// signal
	CliPath   string `json:"cli_path,omitempty"` // Parse sets DefaultSignalCLI when empty
	Recipient string `json:"recipient,omitempty"`

	// webhook: Secret signs each request.
	Secret string `json:"secret,omitempty"` // never logged

	// sms, voice: FromPhone is the Twilio number to send from. To are fixed
	// recipients; without them the channel reaches each user it is used for.
	FromPhone string   `json:"from_phone,omitempty"`
	To        []string `json:"to,omitempty"`
}

// IsEnabled reports whether the channel delivers.
func (ch NotificationChannel) IsEnabled() bool { return ch.Enabled == nil || *ch.Enabled }

// TLS reports whether e-mail must go over TLS.
func (ch NotificationChannel) TLS() bool { return ch.UseTLS == nil || *ch.UseTLS }

// MattermostURL is the incoming-webhook URL: URL, else built from Host and
// Token as https://host/hooks/token. It is a secret.
func (ch NotificationChannel) MattermostURL() string {
	if ch.URL != "" {
		return ch.URL
	}
	host := strings.TrimSuffix(ch.Host, "/")
	if !strings.Contains(host, "://") {
		host = "https://" + host
	}
	return host + "/hooks/" + url.PathEscape(ch.Token)
}

func (ch NotificationChannel) withDefaults() NotificationChannel {
	switch ch.Type {
	case MediumSignal:
		if ch.CliPath == "" {
			ch.CliPath = DefaultSignalCLI
		}
	case MediumEmail:
		if ch.SMTPPort == 0 {
			ch.SMTPPort = DefaultSMTPPort
		}
	}
	return ch
}

// FixedDestinations reports whether the channel goes to the same place
// whoever it is used for; sms and voice channels without "to" reach each
// user they are used for instead.
func (ch NotificationChannel) FixedDestinations() bool {
	return (ch.Type != MediumSMS && ch.Type != MediumVoice) || len(ch.To) > 0
}

// channelFields are the keys each type uses, besides type and enabled.
var channelFields = map[Medium][]string{
	MediumEmail:      {"recipients", "sender", "smtp_server", "smtp_port", "smtp_user", "smtp_password", "use_tls"},
	MediumPushover:   {"token", "user"},
	MediumMattermost: {"url", "host", "token", "channel", "username", "icon"},
	MediumSlack:      {"url"},
	MediumSignal:     {"cli_path", "user", "recipient"},
	MediumWebhook:    {"url", "secret"},
	MediumSMS:        {"from_phone", "to"},
	MediumVoice:      {"from_phone", "to"},
}

func (ch NotificationChannel) validate(_ *Config, at path, r *report) {
	name := at[len(at)-1]
	if Medium(name).Valid() {
		// Events name media and channels in one list.
		r.errorf(at, "%q is a medium's name; give the channel another name", name)
	}
	tp := at.Key("type")
	if ch.Type == "" {
		r.errorf(tp, "is required: one of %s", mediaList())
		return
	}
	if !ch.Type.Valid() {
		r.errorf(tp, "is not a channel type; want one of %s", mediaList())
		return
	}
	required := func(key, v, what string) bool {
		if strings.TrimSpace(v) == "" {
			r.errorf(at.Key(key), "is required for %s channels: %s", ch.Type, what)
			return false
		}
		return true
	}
	switch ch.Type {
	case MediumEmail:
		rp := at.Key("recipients")
		if len(ch.Recipients) == 0 {
			r.errorf(rp, "is required for email channels: the addresses to send to")
		}
		for i, a := range ch.Recipients {
			checkEmail(r, rp.Index(i), a)
		}
		if required("sender", ch.Sender, "the From address") {
			checkEmail(r, at.Key("sender"), ch.Sender)
		}
		required("smtp_server", ch.SMTPServer, "the SMTP server's host name")
		if ch.SMTPPort < 0 || ch.SMTPPort > 65535 {
			r.errorf(at.Key("smtp_port"), "must be a TCP port, 1 to 65535 (default %d)", DefaultSMTPPort)
		}
		if ch.SMTPPassword != "" && ch.SMTPUser == "" {
			r.warnf(at.Key("smtp_user"), "is empty, so smtp_password is not used")
		}
	case MediumPushover:
		required("token", ch.Token, "the Pushover application token")
		required("user", ch.User, "the Pushover user or group key")
	case MediumMattermost:
		if ch.URL != "" {
			checkHTTPURL(r, at.Key("url"), ch.URL)
		} else {
			if required("host", ch.Host, "the server's host name (or give url)") {
				checkHost(r, at.Key("host"), ch.Host)
			}
			required("token", ch.Token, "the incoming webhook's token (or give url)")
		}
		if ch.Icon != "" {
			checkHTTPURL(r, at.Key("icon"), ch.Icon)
		}
	case MediumSlack:
		checkHTTPURL(r, at.Key("url"), ch.URL)
	case MediumSignal:
		if required("user", ch.User, "the registered signal-cli account's number") {
			checkPhone(r, at.Key("user"), ch.User)
		}
		if required("recipient", ch.Recipient, "the number to send to") {
			checkPhone(r, at.Key("recipient"), ch.Recipient)
		}
	case MediumWebhook:
		checkHTTPURL(r, at.Key("url"), ch.URL)
	case MediumSMS, MediumVoice:
		checkPhone(r, at.Key("from_phone"), ch.FromPhone)
		for i, p := range ch.To {
			checkPhone(r, at.Key("to").Index(i), p)
		}
	}
	// A key of another type is almost always a type mixed up or a field
	// in the wrong channel.
	v := reflect.ValueOf(ch)
	for i := range v.NumField() {
		key, _ := jsondoc.FieldName(v.Type().Field(i))
		if key == "type" || key == "enabled" || v.Field(i).IsZero() {
			continue
		}
		if !slices.Contains(channelFields[ch.Type], key) {
			r.warnf(at.Key(key), "is not used by %s channels and is ignored", ch.Type)
		}
	}
}

// checkHost accepts a host name with an optional port or http(s) scheme, as
// Mattermost hosts are written.
func checkHost(r *report, at path, s string) {
	raw := s
	if !strings.Contains(s, "://") {
		raw = "https://" + s
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || strings.Trim(u.Path, "/") != "" || u.RawQuery != "" || u.User != nil {
		r.errorf(at, "is not a host name like chat.example.com (put a full webhook URL in url instead)")
	}
}

// Channel looks up a notification_channels entry, enabled or not.
func (c *Config) Channel(name string) (NotificationChannel, bool) {
	if c == nil {
		return NotificationChannel{}, false
	}
	ch, ok := c.NotificationChannels[name]
	return ch, ok
}

// Transport is the channel whose credentials deliver a user's own route of
// medium m where the route itself has none: the Pushover application token
// for a user key, the Mattermost webhook for "@alice", the signal-cli
// account for a Signal number. It is the enabled channel of that type with
// the lowest name. SMS, voice and e-mail have the pager's own (Twilio,
// mail_settings) and webhooks need none, so only pushover, mattermost and
// signal are looked up.
func (c *Config) Transport(m Medium) (name string, ch NotificationChannel, ok bool) {
	if c == nil || !needsTransport(m) {
		return "", NotificationChannel{}, false
	}
	for _, n := range slices.Sorted(maps.Keys(c.NotificationChannels)) {
		if ch := c.NotificationChannels[n]; ch.Type == m && ch.IsEnabled() {
			return n, ch, true
		}
	}
	return "", NotificationChannel{}, false
}

func needsTransport(m Medium) bool {
	return m == MediumPushover || m == MediumMattermost || m == MediumSignal
}

// LogValue describes the channel with its secrets (tokens, passwords,
// webhook secrets, the secret part of hook URLs) redacted. Log a channel or
// the Config, not the notification_channels map: slog's JSON handler
// marshals a map with encoding/json, which does not call LogValue.
func (ch NotificationChannel) LogValue() slog.Value {
	return slog.GroupValue(ch.attrs()...)
}

// String keeps the secrets out of fmt output (%v, %s, %+v).
func (ch NotificationChannel) String() string {
	var b strings.Builder
	b.WriteByte('{')
	for i, a := range ch.attrs() {
		if i > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%s:%v", a.Key, a.Value)
	}
	b.WriteByte('}')
	return b.String()
}

// GoString keeps the secrets out of %#v output.
func (ch NotificationChannel) GoString() string { return "team.NotificationChannel" + ch.String() }

func (ch NotificationChannel) attrs() []slog.Attr {
	attrs := []slog.Attr{slog.String("type", string(ch.Type)), slog.Bool("enabled", ch.IsEnabled())}
	str := func(k, v string) {
		if v != "" {
			attrs = append(attrs, slog.String(k, v))
		}
	}
	secret := func(k, v string) {
		if v != "" {
			attrs = append(attrs, slog.String(k, redacted))
		}
	}
	if len(ch.Recipients) > 0 {
		attrs = append(attrs, slog.String("recipients", strings.Join(ch.Recipients, ",")))
	}
	str("sender", ch.Sender)
	str("smtp_server", ch.SMTPServer)
	if ch.SMTPPort != 0 {
		attrs = append(attrs, slog.Int("smtp_port", ch.SMTPPort))
	}
	str("smtp_user", ch.SMTPUser)
	secret("smtp_password", ch.SMTPPassword)
	if ch.UseTLS != nil {
		attrs = append(attrs, slog.Bool("use_tls", *ch.UseTLS))
	}
	secret("token", ch.Token)
	str("user", ch.User)
	str("host", ch.Host)
	str("channel", ch.Channel)
	str("username", ch.Username)
	str("icon", ch.Icon)
	str("url", redactURL(ch.URL, ch.Type == MediumSlack || ch.Type == MediumMattermost))
	str("cli_path", ch.CliPath)
	str("recipient", ch.Recipient)
	secret("secret", ch.Secret)
	str("from_phone", ch.FromPhone)
	if len(ch.To) > 0 {
		attrs = append(attrs, slog.String("to", strings.Join(ch.To, ",")))
	}
	return attrs
}

// redactURL drops credentials and query values from a URL for logs, and the
// whole path when the path is the secret (Slack and Mattermost hooks).
func redactURL(s string, secretPath bool) string {
	if s == "" {
		return ""
	}
	u, err := url.Parse(s)
	if err != nil || u.Host == "" {
		return redacted
	}
	out := u.Scheme + "://" + u.Host
	switch {
	case secretPath && u.Path != "" && u.Path != "/":
		out += "/" + redacted
	default:
		out += u.EscapedPath()
	}
	if u.RawQuery != "" {
		out += "?" + redacted
	}
	return out
}
