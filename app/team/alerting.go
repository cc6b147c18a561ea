package team

import (
	"maps"
	"net/url"
	"slices"
	"strings"
)

// Medium is a way of reaching someone. The same names serve as built-in
// channel names in events' channel lists ("sms": each recipient by SMS) and
// as the types of notification_channels entries.
type Medium string

// The media.
const (
	MediumSMS        Medium = "sms"
	MediumVoice      Medium = "voice"
	MediumEmail      Medium = "email"
	MediumWebhook    Medium = "webhook"
	MediumPushover   Medium = "pushover"
	MediumMattermost Medium = "mattermost"
	MediumSlack      Medium = "slack"
	MediumSignal     Medium = "signal"
)

// Media lists every medium in the order routes are produced: the phone
// first, as it is what pages someone awake.
func Media() []Medium {
	return []Medium{MediumSMS, MediumVoice, MediumEmail, MediumWebhook, MediumPushover, MediumMattermost, MediumSlack, MediumSignal}
}

// Valid reports whether m is one of the media.
func (m Medium) Valid() bool { return slices.Contains(Media(), m) }

func mediaList() string {
	var names []string
	for _, m := range Media() {
		names = append(names, string(m))
	}
	return strings.Join(names, ", ")
}

// UserChannel is one user's setting for one medium.
type UserChannel struct {
	// Enabled lets ops switch one person's medium off for a while; absent
	// means enabled.
	Enabled *bool `json:"enabled,omitempty"`
	// Address is the destination: the webhook URL, Pushover user key,
	// Signal number, Mattermost channel ("@alice") or Slack webhook URL.
	// Empty means the user's phone for sms, voice and signal, and the
	// user's email for email.
	Address string `json:"address,omitempty"`
}

// IsEnabled reports whether the medium is switched on.
func (uc UserChannel) IsEnabled() bool { return uc.Enabled == nil || *uc.Enabled }

// Group is a named set of users that the alert API can page at once.
type Group struct {
	Name    string   `json:"name,omitempty"`
	Members []string `json:"members"`
	Enabled *bool    `json:"enabled,omitempty"` // absent means enabled
}

// IsEnabled reports whether the group can be paged.
func (g Group) IsEnabled() bool { return g.Enabled == nil || *g.Enabled }

// Event is an alert that monitoring raises by slug; the API fills Message's
// {{ field }} placeholders from the request.
type Event struct {
	Name     string   `json:"name,omitempty"`
	Message  string   `json:"message"`
	Contacts []string `json:"contacts,omitempty"` // user ids
	Groups   []string `json:"groups,omitempty"`   // group slugs
	// OnCall adds whoever is on call when the event fires.
	OnCall bool `json:"oncall,omitempty"`
	// Channels, when set, decide how the event is delivered: a medium name
	// applies to each recipient, a notification_channels name is delivered
	// to once. When empty, each recipient's own routes are used and the
	// default_notification_channels get it too.
	Channels []string `json:"channels,omitempty"`
	// FromPhone is the number SMS and calls for this event come from, when
	// not the pager's own.
	FromPhone string `json:"from_phone,omitempty"`
	Enabled   *bool  `json:"enabled,omitempty"` // absent means enabled
	// Subject heads e-mail and push notifications; a template like Message.
	Subject string `json:"subject,omitempty"`
	// Page makes the event an alert paged through the escalation policy
	// (acknowledged by reply code, escalating until someone does) instead
	// of a notification to its recipients, which it then needs none of.
	Page bool `json:"page,omitempty"`
}

// IsEnabled reports whether the event can be raised.
func (e Event) IsEnabled() bool { return e.Enabled == nil || *e.Enabled }

// Default sending rates: Twilio's 1 segment per second per US long code and
// its default of 1 call per second per account.
const (
	DefaultSMSPerSecond   = 1.0
	DefaultCallsPerSecond = 1.0
)

// Rates are Twilio's sending limits; 0 means the default.
type Rates struct {
	SMSPerSecond   float64 `json:"sms_per_second,omitempty"`
	CallsPerSecond float64 `json:"calls_per_second,omitempty"`
}

// RateLimits are the configured rates with defaults for what is unset, also
// for a Config built in code.
func (c *Config) RateLimits() Rates {
	var r Rates
	if c != nil && c.Rates != nil {
		r = *c.Rates
	}
	if r.SMSPerSecond <= 0 {
		r.SMSPerSecond = DefaultSMSPerSecond
	}
	if r.CallsPerSecond <= 0 {
		r.CallsPerSecond = DefaultCallsPerSecond
	}
	return r
}

func (rt *Rates) validate(_ *Config, at path, r *report) {
	if rt.SMSPerSecond < 0 {
		r.errorf(at.Key("sms_per_second"), "must be more than 0 (default %g)", DefaultSMSPerSecond)
	}
	if rt.CallsPerSecond < 0 {
		r.errorf(at.Key("calls_per_second"), "must be more than 0 (default %g)", DefaultCallsPerSecond)
	}
}

// applyAlertingDefaults fills in what Parse promises for the alert sections.
func (c *Config) applyAlertingDefaults() {
	r := c.RateLimits()
	c.Rates = &r
	for name, ch := range c.NotificationChannels {
		c.NotificationChannels[name] = ch.withDefaults()
	}
}

// validateAlerting checks the alert API's settings of one user.
func (u User) validateAlerting(c *Config, at path, r *report) {
	cp := at.Key("channels")
	for _, m := range slices.Sorted(maps.Keys(u.Channels)) {
		uc := u.Channels[m]
		mp := cp.Key(string(m))
		if !m.Valid() {
			r.errorf(mp, "is not a medium; want one of %s", mediaList())
			continue
		}
		ap := mp.Key("address")
		switch a := uc.Address; m {
		case MediumSMS, MediumVoice:
			if a != "" {
				checkPhone(r, ap, a)
			}
		case MediumSignal:
			// Empty means the user's phone, which is checked already.
			if a != "" {
				checkPhone(r, ap, a)
			}
		case MediumEmail:
			switch {
			case a != "":
				checkEmail(r, ap, a)
			case u.Email == "":
				r.errorf(ap, "is required when the user has no email")
			}
		case MediumWebhook, MediumSlack:
			checkHTTPURL(r, ap, a)
		case MediumPushover:
			if strings.TrimSpace(a) == "" {
				r.errorf(ap, "is required: the user's Pushover user key")
			}
		case MediumMattermost:
			if strings.TrimSpace(a) == "" {
				r.errorf(ap, "is required: the channel or @user to post to")
			}
		}
		if uc.IsEnabled() && needsTransport(m) {
			if _, _, ok := c.Transport(m); !ok {
				r.warnf(mp, "no enabled notification_channels entry of type %s supplies the credentials to reach it", m)
			}
		}
	}
	np := at.Key("notification_channels")
	for i, name := range u.NotificationChannels {
		if Medium(name).Valid() && !c.hasChannel(name) {
			r.errorf(np.Index(i), "%q is a medium: switch it on under channels.%s instead", name, name)
			continue
		}
		c.checkChannelRef(r, np.Index(i), name, false)
	}
	warnDuplicates(r, np, u.NotificationChannels)
}

func (g Group) validate(c *Config, at path, r *report) {
	checkSlug(r, at)
	mp := at.Key("members")
	if len(g.Members) == 0 {
		r.warnf(mp, "no members: paging the group reaches nobody")
	}
	for i, id := range g.Members {
		c.checkUserRef(r, mp.Index(i), id)
	}
	warnDuplicates(r, mp, g.Members)
}

func (e Event) validate(c *Config, at path, r *report) {
	checkSlug(r, at)
	if strings.TrimSpace(e.Message) == "" {
		r.errorf(at.Key("message"), "is required: the text sent, with {{ field }} for the request's fields")
	}
	cp := at.Key("contacts")
	for i, id := range e.Contacts {
		c.checkUserRef(r, cp.Index(i), id)
	}
	warnDuplicates(r, cp, e.Contacts)
	gp := at.Key("groups")
	for i, slug := range e.Groups {
		if _, ok := c.Groups[slug]; !ok {
			r.errorf(gp.Index(i), "%q is not in groups", slug)
		}
	}
	warnDuplicates(r, gp, e.Groups)
	chp := at.Key("channels")
	fixed := false
	for i, name := range e.Channels {
		c.checkChannelRef(r, chp.Index(i), name, true)
		if ch, ok := c.Channel(name); ok && ch.FixedDestinations() {
			fixed = true
		}
	}
	warnDuplicates(r, chp, e.Channels)
	if e.FromPhone != "" {
		checkPhone(r, at.Key("from_phone"), e.FromPhone)
	}
	if len(e.Contacts) == 0 && len(e.Groups) == 0 && !e.OnCall && !fixed {
		r.warnf(at, "has no contacts, groups, oncall or channel with its own destination: it reaches nobody")
	}
}

func (c *Config) checkDefaultChannels(at path, r *report) {
	for i, name := range c.DefaultNotificationChannels {
		if Medium(name).Valid() && !c.hasChannel(name) {
			r.errorf(at.Index(i), "%q is a medium; defaults name notification_channels entries (media are chosen per user under channels)", name)
			continue
		}
		if !c.checkChannelRef(r, at.Index(i), name, false) {
			continue
		}
		if ch := c.NotificationChannels[name]; !ch.FixedDestinations() {
			r.warnf(at.Index(i), "%s channel %q has no \"to\" numbers, so as a default it reaches nobody", ch.Type, name)
		}
	}
	warnDuplicates(r, at, c.DefaultNotificationChannels)
}

func (c *Config) checkUserRef(r *report, at path, id string) {
	if _, ok := c.AvailableUsers.Users[id]; !ok {
		r.errorf(at, "%q is not a user in available_users.users", id)
	}
}

// checkChannelRef reports a name that is neither a notification_channels
// entry nor, where media are allowed, a medium. It reports whether the name
// is a notification_channels entry.
func (c *Config) checkChannelRef(r *report, at path, name string, media bool) bool {
	if c.hasChannel(name) {
		return true
	}
	if media && Medium(name).Valid() {
		return false
	}
	if media {
		r.errorf(at, "%q is neither in notification_channels nor a medium (%s)", name, mediaList())
	} else {
		r.errorf(at, "%q is not in notification_channels", name)
	}
	return false
}

func (c *Config) hasChannel(name string) bool {
	_, ok := c.NotificationChannels[name]
	return ok
}

func warnDuplicates(r *report, at path, names []string) {
	seen := map[string]bool{}
	for i, n := range names {
		if seen[n] {
			r.warnf(at.Index(i), "%q is listed twice", n)
		}
		seen[n] = true
	}
}

// checkSlug checks the last key of at, which becomes part of an API URL.
func checkSlug(r *report, at path) {
	if !validSlug(at[len(at)-1]) {
		r.errorf(at, "must be a slug for the API's URLs: letters, digits, '-', '_' and '.', not starting with '.' or '-'")
	}
}

func validSlug(s string) bool {
	if s == "" || s[0] == '.' || s[0] == '-' {
		return false
	}
	for _, c := range s {
		if !(c == '_' || c == '-' || c == '.' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			return false
		}
	}
	return true
}

// checkHTTPURL requires an absolute http or https URL. The message never
// quotes the URL: webhook URLs often carry a secret.
func checkHTTPURL(r *report, at path, s string) {
	if s == "" {
		r.errorf(at, "is required: an http or https URL")
		return
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		r.errorf(at, "is not an http or https URL")
	}
}
