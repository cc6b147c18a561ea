package team

import (
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"time"

	"github.com/oncall/pager/app/schedule"

	// Time zones are validated and used from config; embedding the database
	// keeps that independent of what the host or container image ships.
	_ "time/tzdata"

	"github.com/oncall/pager/app/alerts"
)

// Defaults for optional settings that are absent or 0.
const (
	DefaultSessionLifetime  = 300 // seconds
	DefaultMaxRecordSeconds = 300
	DefaultTimezone         = "UTC"
)

// Config is one parsed, validated team config. Values handed out by Parse and
// Manager are shared snapshots: treat them as read-only.
//
// To add a top-level section, add a field with its json tag here (tag it
// `jsondoc:"required"` if it must be present) and give its type a method
// `validate(c *Config, at path, r *report)` in its own file: Parse decodes and
// validates every field of Config, and unknown keys are kept by Doc until then.
// A map section's entry type has the method instead (on the value, as map
// entries are not addressable) and is called once per key; a pointer section
// is checked when present.
type Config struct {
	AvailableUsers AvailableUsers `json:"available_users" jsondoc:"required"`
	CurrentConfig  CurrentConfig  `json:"current_config" jsondoc:"required"`

	// The alert API's sections (alerting.go, channels.go, apikeys.go), all
	// optional so that a pager-only config stays valid.
	Groups               map[string]Group               `json:"groups,omitempty"`
	Events               map[string]Event               `json:"events,omitempty"`
	APIKeys              map[string]APIKey              `json:"api_keys,omitempty"`
	NotificationChannels map[string]NotificationChannel `json:"notification_channels,omitempty"`
	// DefaultNotificationChannels name notification_channels entries that
	// also get every event that does not list its own channels.
	DefaultNotificationChannels []string `json:"default_notification_channels,omitempty"`
	// Rates are Twilio's sending limits; Parse fills in the defaults.
	Rates *Rates `json:"rates,omitempty"`
	// Escalation is the optional "escalation" section: who an alert pages,
	// in which order and how often, and how many pages one person may get
	// before the rest are bundled (alerts.Settings documents the shape).
	// Absent means alerts.DefaultSettings.
	Escalation *alerts.Settings `json:"escalation,omitempty"`
	// Heartbeats are the jobs and monitors that must check in
	// (heartbeats.go, app/heartbeat), by name.
	Heartbeats map[string]Heartbeat `json:"heartbeats,omitempty"`
	// MaintenanceWindows hold alerts in their scope (maintenance.go).
	MaintenanceWindows map[string]MaintenanceWindow `json:"maintenance_windows,omitempty"`
	// DailySummary, when set, texts the on-call a summary once a day
	// (summary.go, app/summary).
	DailySummary *DailySummary `json:"daily_summary,omitempty"`
	// Schedule is the optional on-call schedule (schedule.go): rotations
	// and overrides that hand the pager over by themselves.
	Schedule *Schedule `json:"schedule,omitempty"`

	// sched is Schedule compiled by Parse, for WHO's hot path.
	sched *schedule.Schedule
	// windows are MaintenanceWindows compiled by Parse, by name.
	windows []compiledWindow
	// phones maps each user's normalised phone to its id, built by Parse
	// (validation has made them unique): every inbound text looks its
	// sender up. A Config built in code has none and is searched.
	phones map[string]string

	// parseWarnings are the decoder's findings (duplicate or misspelt keys),
	// which are only visible while the document is being read.
	parseWarnings []Problem
}

// AvailableUsers are the people allowed to control the pager, by id.
type AvailableUsers struct {
	Users map[string]User `json:"users" jsondoc:"required"`
}

// User is a team member. The map key in available_users.users equals ID.
type User struct {
	ID    string `json:"id"`
	Name  string `json:"name"`
	Phone string `json:"phone"` // E.164
	Email string `json:"email,omitempty"`
	// Enabled lets ops keep a departed or absent member listed without letting
	// them control the pager or be alerted; absent means enabled.
	Enabled *bool `json:"enabled,omitempty"`
	// Admin may start and end maintenance windows by SMS (QUIET), and in
	// the web console edit the config and mint and revoke API keys; every
	// member may act on alerts and on-call.
	Admin bool `json:"admin,omitempty"`

	// Channels are how the alert API reaches the user, by medium, each of
	// which ops can switch off on its own. Absent means SMS to Phone only;
	// present (even empty) means exactly the enabled entries.
	Channels map[Medium]UserChannel `json:"channels,omitempty"`
	// NotificationChannels name notification_channels entries that reach
	// this user too, such as a Pushover channel with their user key.
	NotificationChannels []string `json:"notification_channels,omitempty"`
}

// IsEnabled reports whether the user may control the pager.
func (u User) IsEnabled() bool { return u.Enabled == nil || *u.Enabled }

// OncallUser is the copy of the on-call user stored in current_config. The
// entry in available_users is authoritative (see Config.OnCall).
type OncallUser struct {
	ID    string `json:"id"`
	Name  string `json:"name"`
	Phone string `json:"phone"`
}

// MailSettings configure the e-mail copy of each voicemail.
type MailSettings struct {
	FromEmail    string `json:"from_email"`
	MailPassword string `json:"mail_password"` // never logged: see LogValue
	MailPort     int    `json:"mail_port"`
	MailServer   string `json:"mail_server"`
	MailUseTLS   bool   `json:"mail_use_tls"`
	MailUsername string `json:"mail_username"`
	ToEmail      string `json:"to_email"`
}

const redacted = "REDACTED"

// LogValue keeps the SMTP password out of logs.
func (m MailSettings) LogValue() slog.Value {
	attrs := []slog.Attr{
		slog.String("from_email", m.FromEmail),
		slog.String("to_email", m.ToEmail),
		slog.String("mail_server", m.MailServer),
		slog.Int("mail_port", m.MailPort),
		slog.Bool("mail_use_tls", m.MailUseTLS),
		slog.String("mail_username", m.MailUsername),
	}
	if m.MailPassword != "" {
		attrs = append(attrs, slog.String("mail_password", redacted))
	}
	return slog.GroupValue(attrs...)
}

// String keeps the SMTP password out of fmt output (%v, %s, %+v).
func (m MailSettings) String() string {
	pw := ""
	if m.MailPassword != "" {
		pw = redacted
	}
	return fmt.Sprintf("{from_email:%s to_email:%s mail_server:%s mail_port:%d mail_use_tls:%t mail_username:%s mail_password:%s}",
		m.FromEmail, m.ToEmail, m.MailServer, m.MailPort, m.MailUseTLS, m.MailUsername, pw)
}

// GoString keeps the SMTP password out of %#v output.
func (m MailSettings) GoString() string { return "team.MailSettings" + m.String() }

// CurrentConfig is the pager's state and settings.
type CurrentConfig struct {
	FromPhone string `json:"from_phone"` // control line (SMS)
	// LastModifiedTime is epoch seconds; fractional values are truncated.
	LastModifiedTime   int64        `json:"last_modified_time" jsondoc:"truncate"`
	LastModifiedUserID string       `json:"last_modified_user_id"`
	MailSettings       MailSettings `json:"mail_settings"`
	OncallUser         OncallUser   `json:"oncall_user" jsondoc:"required"`
	PagerPhone         string       `json:"pager_phone"` // pager line (voice)
	// SessionLifetime is the TAKE confirmation window in seconds; Parse sets
	// DefaultSessionLifetime when it is 0 or absent.
	SessionLifetime int `json:"session_lifetime"`

	// Pager-line options, all optional.

	// Greeting replaces the pager line's spoken greeting when set.
	Greeting string `json:"greeting"`
	// MaxRecordSeconds caps a voicemail; Parse sets DefaultMaxRecordSeconds
	// when it is 0 or absent.
	MaxRecordSeconds          int  `json:"max_record_seconds"`
	RecordWithoutKeypress     bool `json:"record_without_keypress"`
	DeleteRecordingAfterStore bool `json:"delete_recording_after_store"`
	// Timezone is the IANA name used to display times; Parse sets
	// DefaultTimezone when it is empty.
	Timezone string `json:"timezone"`

	loc *time.Location // loaded once by Parse
}

// Location is Timezone loaded, UTC when empty or unknown.
func (c CurrentConfig) Location() *time.Location {
	if c.loc != nil {
		return c.loc
	}
	if loc, err := time.LoadLocation(c.Timezone); err == nil {
		return loc
	}
	return time.UTC
}

// Session is the TAKE confirmation window.
func (c CurrentConfig) Session() time.Duration {
	s := c.SessionLifetime
	if s <= 0 {
		s = DefaultSessionLifetime
	}
	return time.Duration(s) * time.Second
}

// LogValue summarises the settings without the SMTP password.
func (c CurrentConfig) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("from_phone", c.FromPhone),
		slog.String("pager_phone", c.PagerPhone),
		slog.String("oncall_user", c.OncallUser.ID),
		slog.Int64("last_modified_time", c.LastModifiedTime),
		slog.String("last_modified_user_id", c.LastModifiedUserID),
		slog.Int("session_lifetime", c.SessionLifetime),
		slog.Int("max_record_seconds", c.MaxRecordSeconds),
		slog.String("timezone", c.Timezone),
		slog.Any("mail_settings", c.MailSettings),
	)
}

// LogValue summarises the config without secrets.
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(
		slog.Int("users", len(c.AvailableUsers.Users)),
		slog.Any("current_config", c.CurrentConfig),
		slog.Int("groups", len(c.Groups)),
		slog.Int("events", len(c.Events)),
		slog.Int("api_keys", len(c.APIKeys)),
		slog.Int("notification_channels", len(c.NotificationChannels)),
	)
}

// UserByID looks a user up by id.
func (c *Config) UserByID(id string) (User, bool) {
	if c == nil || id == "" {
		return User{}, false
	}
	u, ok := c.AvailableUsers.Users[id]
	return u, ok
}

// UserByPhone finds the user whose phone is phone, after removing the
// formatting people type (spaces, dashes, dots, parentheses). It returns
// disabled users too: the caller decides what they may do.
func (c *Config) UserByPhone(phone string) (User, bool) {
	if c == nil {
		return User{}, false
	}
	want := NormalizePhone(phone)
	if want == "" {
		return User{}, false
	}
	if c.phones != nil {
		id, ok := c.phones[want]
		if !ok {
			return User{}, false
		}
		u, ok := c.AvailableUsers.Users[id]
		return u, ok
	}
	var found User
	ok := false
	for _, u := range c.AvailableUsers.Users {
		// Validation rejects shared phones; the lowest id keeps a hand-built
		// Config deterministic anyway.
		if NormalizePhone(u.Phone) == want && (!ok || u.ID < found.ID) {
			found, ok = u, true
		}
	}
	return found, ok
}

// OnCall is the on-call user. The entry in available_users wins over the copy
// in current_config.oncall_user (which the original sample got wrong); when
// the id is not a known user the copy is all there is.
func (c *Config) OnCall() (User, bool) {
	if c == nil {
		return User{}, false
	}
	oc := c.CurrentConfig.OncallUser
	if oc.ID == "" {
		return User{}, false
	}
	if u, ok := c.AvailableUsers.Users[oc.ID]; ok {
		return u, true
	}
	if oc.Phone == "" {
		return User{}, false
	}
	return User{ID: oc.ID, Name: oc.Name, Phone: oc.Phone}, true
}

// UserIDs are the ids of all users, sorted.
func (c *Config) UserIDs() []string {
	if c == nil {
		return nil
	}
	ids := make([]string, 0, len(c.AvailableUsers.Users))
	for id := range c.AvailableUsers.Users {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

// NormalizePhone strips the formatting people type around a phone number
// ("+1 (919) 555-1001" → "+19195551001"). It does not validate; see ValidPhone.
func NormalizePhone(s string) string {
	if isE164Chars(s) {
		return s // the usual case, on every inbound text: nothing to strip
	}
	return strings.Map(func(r rune) rune {
		switch r {
		case ' ', '-', '.', '(', ')', '\t':
			return -1
		}
		return r
	}, strings.TrimSpace(s))
}

// isE164Chars: s holds only '+' and digits, which NormalizePhone keeps.
func isE164Chars(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c != '+' && (c < '0' || c > '9') {
			return false
		}
	}
	return true
}

// ValidPhone reports whether s is an E.164 number: '+', then 8 to 15 digits
// with no leading 0. Any country.
func ValidPhone(s string) bool {
	if len(s) < 9 || len(s) > 16 || s[0] != '+' || s[1] == '0' {
		return false
	}
	for i := 1; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
