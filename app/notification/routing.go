package notification

import (
	"errors"
	"fmt"
	"net/url"
	"slices"

	"github.com/oncall/pager/app/team"
)

// ErrUnknown is returned for a contact, group or event that does not exist
// or is disabled: RedFlash answers 404 to both, and so does the API.
var ErrUnknown = errors.New("unknown or disabled")

// Why a Recipient is not reached.
const (
	SkipUserDisabled    = "user disabled"
	SkipNoChannel       = "no enabled channel"
	SkipUnknownUser     = "unknown user"
	SkipChannelDisabled = "channel disabled"
)

// ChannelRecipientPrefix starts the UserID of the pseudo-recipient that
// stands for a notification channel with its own destinations (a team
// mailbox, a chat channel) rather than for a person.
const ChannelRecipientPrefix = "channel:"

// Route is one delivery: a medium and where to. Channel names the
// notification_channels entry to deliver through (its credentials, its
// from_phone); it is empty for a user's own medium, delivered with the
// pager's own means (Twilio, mail_settings) or, for pushover, mattermost and
// signal, through team.Config.Transport.
type Route struct {
	Medium team.Medium `json:"medium"`
	// Address is the destination: a phone number, e-mail address, webhook
	// URL, Pushover user key, Signal number or Mattermost channel. For a
	// Slack or Mattermost channel without a channel name it is the hook's
	// host only: the hook URL is a secret, found with team.Config.Channel.
	Address string `json:"address"`
	Channel string `json:"channel,omitempty"`
}

// Recipient is one person (or channel pseudo-recipient) an alert goes to.
type Recipient struct {
	UserID string  `json:"user_id"`
	Name   string  `json:"name"`
	Routes []Route `json:"routes,omitempty"`
	// Skipped is empty when the recipient is reached, else why not
	// (SkipUserDisabled, SkipNoChannel…). A reached recipient may have no
	// Routes of their own when every one of them is shared with an earlier
	// recipient (a shared mailbox, a team channel), which carries the
	// message once for all.
	Skipped string `json:"skipped,omitempty"`
}

// Routes are the ways u is reached, in Media order then u's
// notification_channels order, none for a disabled user.
//
// With only empty they are u's enabled Channels entries (only SMS to Phone
// when u has no channels setting) and the enabled notification channels u
// lists. With only set (an event's channel list) they are restricted to the
// media and channel names in it, and a medium u has no setting for still
// reaches u when it needs nothing but what every user has: SMS and voice to
// the phone, e-mail to the user's email. A medium switched off for u never
// reaches u, not even through a named sms or voice channel.
//
// default_notification_channels are not part of anyone's routes: they get
// each event without channels once (see ResolveEvent).
func Routes(c *team.Config, u team.User, only []string) []Route {
	if !u.IsEnabled() {
		return nil
	}
	var out []Route
	for _, m := range team.Media() {
		if len(only) > 0 && !slices.Contains(only, string(m)) {
			continue
		}
		_, set := u.Channels[m]
		switch {
		case set:
		case len(only) == 0 && u.Channels == nil:
			if m != team.MediumSMS {
				continue
			}
		case len(only) == 0 || !implicitMedium(m):
			continue
		}
		if addr, ok := mediumAddress(u, m); ok {
			out = append(out, Route{Medium: m, Address: addr})
		}
	}
	for _, name := range u.NotificationChannels {
		ch, ok := c.Channel(name)
		if !ok || !ch.IsEnabled() {
			continue
		}
		for _, r := range channelRoutes(ch, name, &u) {
			if len(only) == 0 || slices.Contains(only, string(r.Medium)) || slices.Contains(only, name) {
				out = append(out, r)
			}
		}
	}
	return dedupeRoutes(out, map[string]bool{})
}

// implicitMedium: media that reach any user with a phone or email without a
// setting of their own.
func implicitMedium(m team.Medium) bool {
	return m == team.MediumSMS || m == team.MediumVoice || m == team.MediumEmail
}

// mediumAddress is where u is reached by m: the address in u's setting for
// m, else the phone (sms, voice, signal) or email. ok is false when m is
// switched off for u or there is no address.
func mediumAddress(u team.User, m team.Medium) (string, bool) {
	uc, set := u.Channels[m]
	if set && !uc.IsEnabled() {
		return "", false
	}
	addr := uc.Address
	if addr == "" {
		switch m {
		case team.MediumSMS, team.MediumVoice:
			addr = u.Phone
		case team.MediumSignal:
			if set {
				addr = u.Phone
			}
		case team.MediumEmail:
			addr = u.Email
		}
	}
	return addr, addr != ""
}

// routes are the deliveries of channel name: to its own destinations, or
// for an sms or voice channel without "to", to u (nil: nobody).
func channelRoutes(ch team.NotificationChannel, name string, u *team.User) []Route {
	one := func(addr string) []Route { return []Route{{Medium: ch.Type, Address: addr, Channel: name}} }
	switch ch.Type {
	case team.MediumSMS, team.MediumVoice:
		if len(ch.To) == 0 {
			if u == nil {
				return nil
			}
			addr, ok := mediumAddress(*u, ch.Type)
			if !ok {
				return nil
			}
			return one(addr)
		}
		var out []Route
		for _, to := range ch.To {
			out = append(out, Route{Medium: ch.Type, Address: to, Channel: name})
		}
		return out
	case team.MediumEmail:
		var out []Route
		for _, to := range ch.Recipients {
			out = append(out, Route{Medium: ch.Type, Address: to, Channel: name})
		}
		return out
	case team.MediumPushover:
		return one(ch.User)
	case team.MediumSignal:
		return one(ch.Recipient)
	case team.MediumWebhook:
		return one(ch.URL)
	case team.MediumMattermost:
		if ch.Channel != "" {
			return one(ch.Channel)
		}
		return one(hostOf(ch.MattermostURL()))
	case team.MediumSlack:
		return one(hostOf(ch.URL))
	}
	return nil
}

func hostOf(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return ""
	}
	return u.Host
}

// routeKey identifies a destination: one message per medium and address.
// Chat channels are only known by name within their server, so the channel
// counts too.
func routeKey(r Route) string {
	k := string(r.Medium) + "\x00" + r.Address
	if r.Medium == team.MediumMattermost || r.Medium == team.MediumSlack {
		k += "\x00" + r.Channel
	}
	return k
}

// dedupeRoutes drops the routes to destinations in seen, and adds the rest.
func dedupeRoutes(rs []Route, seen map[string]bool) []Route {
	out := rs[:0]
	for _, r := range rs {
		if k := routeKey(r); !seen[k] {
			seen[k] = true
			out = append(out, r)
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// recipient is u with routes, or why u is skipped.
func recipient(u team.User, routes []Route) Recipient {
	rc := Recipient{UserID: u.ID, Name: u.Name, Routes: routes}
	switch {
	case !u.IsEnabled():
		rc.Routes, rc.Skipped = nil, SkipUserDisabled
	case len(routes) == 0:
		rc.Skipped = SkipNoChannel
	}
	return rc
}

// ResolveContact is user id, as the API's contact slug, and how to reach
// them. An unknown or disabled user is ErrUnknown; a user with no enabled
// route is returned with Skipped set.
func ResolveContact(c *team.Config, id string) (Recipient, error) {
	u, ok := c.UserByID(id)
	if !ok || !u.IsEnabled() {
		return Recipient{}, fmt.Errorf("team: contact %q: %w", id, ErrUnknown)
	}
	return recipient(u, Routes(c, u, nil)), nil
}

// ResolveGroup is the group slug (Name defaulting to the slug) and its
// members in order, each once, by their own routes. A disabled or unknown
// group is ErrUnknown; disabled members are returned with Skipped set, so
// the caller can say who was left out.
func ResolveGroup(c *team.Config, slug string) (team.Group, []Recipient, error) {
	var g team.Group
	ok := false
	if c != nil {
		g, ok = c.Groups[slug]
	}
	if !ok || !g.IsEnabled() {
		return team.Group{}, nil, fmt.Errorf("team: group %q: %w", slug, ErrUnknown)
	}
	if g.Name == "" {
		g.Name = slug
	}
	seen := map[string]bool{}
	var out []Recipient
	for _, id := range uniq(g.Members) {
		out = append(out, userRecipient(c, id, seen))
	}
	return g, out, nil
}

// ResolveEvent is the event slug (Name defaulting to the slug) and its
// recipients: its contacts, the members of its enabled groups and, with
// OnCall, whoever is on call, each once, in that order; then one
// pseudo-recipient (UserID ChannelRecipientPrefix+name) per notification
// channel with its own destinations that the event uses.
//
// When the event lists channels they decide: media apply to each person
// (see Routes), an sms or voice channel without "to" reaches each person
// from its number, and the other channels are delivered to once. Otherwise
// each person is reached by their own routes and the enabled
// default_notification_channels are delivered to once.
//
// Each destination gets one message even when several recipients share it.
// A disabled or unknown event is ErrUnknown.
func ResolveEvent(c *team.Config, slug string) (team.Event, []Recipient, error) {
	var ev team.Event
	ok := false
	if c != nil {
		ev, ok = c.Events[slug]
	}
	if !ok || !ev.IsEnabled() {
		return team.Event{}, nil, fmt.Errorf("team: event %q: %w", slug, ErrUnknown)
	}
	if ev.Name == "" {
		ev.Name = slug
	}

	ids := slices.Clone(ev.Contacts)
	for _, gs := range ev.Groups {
		if g, ok := c.Groups[gs]; ok && g.IsEnabled() {
			ids = append(ids, g.Members...)
		}
	}
	var oncall team.User
	hasOnCall := false
	if ev.OnCall {
		if oncall, hasOnCall = c.OnCall(); hasOnCall {
			ids = append(ids, oncall.ID)
		}
	}

	// What the event's channel list asks of each person, and the channels
	// delivered to once.
	var media, perPerson, once []string
	for _, name := range ev.Channels {
		ch, named := c.Channel(name)
		switch {
		case !named && team.Medium(name).Valid():
			media = append(media, name)
		case named && !ch.FixedDestinations():
			perPerson = append(perPerson, name)
		default:
			once = append(once, name)
		}
	}
	custom := len(ev.Channels) > 0

	seen := map[string]bool{}
	var out []Recipient
	for _, id := range uniq(ids) {
		u, known := c.UserByID(id)
		if !known && hasOnCall && id == oncall.ID {
			u, known = oncall, true // the oncall_user copy is all there is
		}
		if !known {
			out = append(out, Recipient{UserID: id, Skipped: SkipUnknownUser})
			continue
		}
		var routes []Route
		switch {
		case !custom:
			routes = Routes(c, u, nil)
		case len(media) > 0:
			routes = Routes(c, u, media)
		}
		if u.IsEnabled() {
			for _, name := range perPerson {
				if ch := c.NotificationChannels[name]; ch.IsEnabled() {
					routes = append(routes, channelRoutes(ch, name, &u)...)
				}
			}
		}
		out = append(out, sharedRecipient(u, routes, seen))
	}

	if !custom {
		for _, name := range c.DefaultNotificationChannels {
			if ch, ok := c.Channel(name); ok && ch.IsEnabled() {
				once = append(once, name)
			}
		}
	}
	for _, name := range uniq(once) {
		ch, ok := c.Channel(name)
		rc := Recipient{UserID: ChannelRecipientPrefix + name, Name: name}
		switch {
		case !ok:
			rc.Skipped = SkipNoChannel
		case !ch.IsEnabled():
			rc.Skipped = SkipChannelDisabled
		default:
			had := channelRoutes(ch, name, nil)
			rc.Routes = dedupeRoutes(had, seen)
			if len(had) == 0 {
				rc.Skipped = SkipNoChannel
			}
		}
		out = append(out, rc)
	}
	return ev, out, nil
}

// userRecipient resolves user id by their own routes, dropping
// destinations already in seen.
func userRecipient(c *team.Config, id string, seen map[string]bool) Recipient {
	u, ok := c.UserByID(id)
	if !ok {
		return Recipient{UserID: id, Skipped: SkipUnknownUser}
	}
	return sharedRecipient(u, Routes(c, u, nil), seen)
}

// sharedRecipient is u with the routes not already taken by an earlier
// recipient. One whose routes were all taken is still reached.
func sharedRecipient(u team.User, routes []Route, seen map[string]bool) Recipient {
	rc := recipient(u, routes)
	if rc.Skipped == "" {
		rc.Routes = dedupeRoutes(rc.Routes, seen)
	}
	return rc
}

func uniq(ids []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, id := range ids {
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out
}

// ResolveChannel is the pseudo-recipient for a named notification channel
// on its own (`pager notify test CHANNEL`): its fixed destinations. An sms
// or voice channel without "to" has none of its own (it reaches the people
// of an event), so it resolves to nobody.
func ResolveChannel(c *team.Config, name string) (Recipient, error) {
	ch, ok := c.Channel(name)
	if !ok || !ch.IsEnabled() {
		return Recipient{}, fmt.Errorf("channel %q: %w", name, ErrUnknown)
	}
	r := Recipient{UserID: ChannelRecipientPrefix + name, Name: name, Routes: channelRoutes(ch, name, nil)}
	if len(r.Routes) == 0 {
		r.Skipped = SkipNoChannel
	}
	return r, nil
}
