package team

import (
	"errors"
	"fmt"
	"net/mail"
	"reflect"
	"sort"
	"strings"
	"time"

	"github.com/oncall/pager/app/jsondoc"
)

// Problem is one thing wrong (or suspicious) in a config, at a dotted JSON
// path such as "available_users.users.bob.phone". Path is empty for the
// document as a whole (syntax errors). Messages never quote secrets.
type Problem struct {
	Path    string `json:"path"`
	Message string `json:"message"`
}

func (p Problem) String() string {
	if p.Path == "" {
		return p.Message
	}
	return p.Path + ": " + p.Message
}

// ValidationError lists every problem in a rejected config, so ops can fix
// them all in one edit.
type ValidationError struct {
	Problems []Problem
	// Warnings found along the way, for context; they do not reject a config.
	Warnings []Problem
}

func (e *ValidationError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "team: invalid config (%d problem", len(e.Problems))
	if len(e.Problems) != 1 {
		b.WriteByte('s')
	}
	b.WriteString(")")
	for i, p := range e.Problems {
		if i == 0 {
			b.WriteString(": ")
		} else {
			b.WriteString("; ")
		}
		b.WriteString(p.String())
	}
	return b.String()
}

// Parse decodes and validates a config document. Any problem is reported in
// a *ValidationError listing all of them; a syntax error is the only problem
// reported when the JSON itself is malformed. On success the defaults for
// absent optional settings are filled in.
func Parse(data []byte) (*Config, error) {
	doc, err := jsondoc.Parse(data)
	var notObject *jsondoc.NotObjectError
	switch {
	case errors.As(err, &notObject):
		return nil, &ValidationError{Problems: []Problem{{Message: "config must be a JSON object, not " + notObject.Kind}}}
	case err != nil:
		return nil, &ValidationError{Problems: []Problem{{Message: err.Error()}}}
	}
	return parseDoc(doc)
}

func parseDoc(doc *jsondoc.Doc) (*Config, error) {
	var r report
	for _, p := range doc.Duplicates() {
		r.warnf(p, "appears twice in the same object; the last one is used")
	}
	c := &Config{}
	doc.Decode(c, &r)
	parseWarnings := append([]Problem(nil), r.warnings...)
	c.check(&r)
	r.sort()
	if len(r.problems) > 0 {
		return nil, &ValidationError{Problems: r.problems, Warnings: r.warnings}
	}
	c.parseWarnings = parseWarnings
	c.CurrentConfig.applyDefaults()
	c.applyAlertingDefaults()
	c.compileSchedule()
	c.windows = c.compileWindows()
	c.indexPhones()
	return c, nil
}

// Warnings are things in a valid config that work but look like mistakes,
// such as current_config.oncall_user disagreeing with available_users.
func Warnings(c *Config) []Problem {
	if c == nil {
		return nil
	}
	var r report
	c.check(&r)
	r.sort()
	return append(append([]Problem(nil), c.parseWarnings...), r.warnings...)
}

// validator is a config section that checks itself; at is the section's path.
type validator interface {
	validate(c *Config, at path, r *report)
}

// check runs every section's validator, found by reflection so that a new
// section only needs its field in Config and its own validate method.
func (c *Config) check(r *report) {
	v := reflect.ValueOf(c).Elem()
	t := v.Type()
	for i := range t.NumField() {
		name, ok := jsondoc.FieldName(t.Field(i))
		if !ok {
			continue
		}
		at := path{name}
		switch f := v.Field(i); f.Kind() {
		case reflect.Map:
			if f.Type().Key().Kind() != reflect.String {
				continue
			}
			keys := f.MapKeys()
			sort.Slice(keys, func(i, j int) bool { return keys[i].String() < keys[j].String() })
			for _, k := range keys {
				if s, ok := f.MapIndex(k).Interface().(validator); ok {
					s.validate(c, at.Key(k.String()), r)
				}
			}
		case reflect.Pointer:
			if s, ok := f.Interface().(validator); ok && !f.IsNil() {
				s.validate(c, at, r)
			}
		default:
			if s, ok := f.Addr().Interface().(validator); ok {
				s.validate(c, at, r)
			}
		}
	}
	// A list of names has no type to hang a method on, and the escalation
	// section's type is the alerts package's.
	c.checkDefaultChannels(path{"default_notification_channels"}, r)
	c.checkEscalation(path{"escalation"}, r)
}

func (a *AvailableUsers) validate(c *Config, at path, r *report) {
	at = at.Key("users")
	if len(a.Users) == 0 {
		r.warnf(at, "no users: nobody can take the pager or ask who is on call")
	}
	ids := make([]string, 0, len(a.Users))
	for id := range a.Users {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	phones := map[string]string{}
	for _, key := range ids {
		u := a.Users[key]
		up := at.Key(key)
		switch {
		case u.ID == "":
			r.errorf(up.Key("id"), "is required and must equal the user's key %q", key)
		case u.ID != key:
			r.errorf(up.Key("id"), "is %q but the user's key is %q; they must be the same", u.ID, key)
		}
		if strings.TrimSpace(u.Name) == "" {
			r.errorf(up.Key("name"), "is required")
		}
		checkPhone(r, up.Key("phone"), u.Phone)
		if u.Email != "" {
			checkEmail(r, up.Key("email"), u.Email)
		}
		u.validateAlerting(c, up, r)
		if n := NormalizePhone(u.Phone); n != "" {
			if other, dup := phones[n]; dup {
				r.errorf(up.Key("phone"), "is also user %q's phone; texts from it could not be told apart", other)
			} else {
				phones[n] = key
			}
		}
	}
}

// Limits on current_config settings.
const (
	maxSessionLifetime  = 86400 // a day: a TAKE left pending longer is forgotten
	maxMaxRecordSeconds = 14400 // Twilio's own cap on a recording
)

func (cc *CurrentConfig) validate(c *Config, at path, r *report) {
	checkPhone(r, at.Key("from_phone"), cc.FromPhone)
	checkPhone(r, at.Key("pager_phone"), cc.PagerPhone)

	oc := cc.OncallUser
	op := at.Key("oncall_user")
	if oc.ID == "" {
		r.errorf(op.Key("id"), "is required")
	} else if u, known := c.AvailableUsers.Users[oc.ID]; !known {
		users := path{"available_users", "users"}
		r.warnf(op.Key("id"), "%q is not in %s; pages go to oncall_user's own name and phone", oc.ID, users)
		checkPhone(r, op.Key("phone"), oc.Phone)
	} else {
		up := path{"available_users", "users", oc.ID}
		if oc.Phone != u.Phone {
			r.warnf(op.Key("phone"), "differs from %s (%s), which is used", up.Key("phone"), u.Phone)
		}
		if oc.Name != u.Name {
			r.warnf(op.Key("name"), "differs from %s, which is used", up.Key("name"))
		}
		if !u.IsEnabled() {
			r.warnf(op.Key("id"), "user %q is on call but disabled", oc.ID)
		}
	}

	if cc.SessionLifetime < 0 || cc.SessionLifetime > maxSessionLifetime {
		r.errorf(at.Key("session_lifetime"), "must be between 0 (default %d) and %d seconds", DefaultSessionLifetime, maxSessionLifetime)
	}
	if cc.MaxRecordSeconds < 0 || cc.MaxRecordSeconds > maxMaxRecordSeconds {
		r.errorf(at.Key("max_record_seconds"), "must be between 0 (default %d) and %d seconds", DefaultMaxRecordSeconds, maxMaxRecordSeconds)
	}
	switch tz := cc.Timezone; {
	case tz == "Local":
		// Would make the pager's replies depend on the host it runs on.
		r.errorf(at.Key("timezone"), "must name a zone such as Europe/Paris, not Local")
	case tz != "":
		if _, err := time.LoadLocation(tz); err != nil {
			r.errorf(at.Key("timezone"), "%q is not an IANA time zone such as America/New_York", tz)
		}
	}
	cc.MailSettings.validate(c, at.Key("mail_settings"), r)
}

func (m *MailSettings) validate(_ *Config, at path, r *report) {
	if m.MailPort != 0 && (m.MailPort < 1 || m.MailPort > 65535) {
		r.errorf(at.Key("mail_port"), "must be a TCP port, 1 to 65535")
	}
	if m.FromEmail != "" {
		checkEmail(r, at.Key("from_email"), m.FromEmail)
	}
	if m.ToEmail != "" {
		checkEmail(r, at.Key("to_email"), m.ToEmail)
	}
	if m.MailServer != "" {
		for _, f := range []struct{ name, v string }{{"from_email", m.FromEmail}, {"to_email", m.ToEmail}} {
			if f.v == "" {
				r.warnf(at.Key(f.name), "is empty, so voicemails are not e-mailed although mail_server is set")
			}
		}
	}
}

func (cc *CurrentConfig) applyDefaults() {
	if cc.SessionLifetime == 0 {
		cc.SessionLifetime = DefaultSessionLifetime
	}
	if cc.MaxRecordSeconds == 0 {
		cc.MaxRecordSeconds = DefaultMaxRecordSeconds
	}
	if cc.Timezone == "" {
		cc.Timezone = DefaultTimezone
	}
	if loc, err := time.LoadLocation(cc.Timezone); err == nil {
		cc.loc = loc
	}
}

func checkPhone(r *report, at path, s string) {
	const want = "an E.164 number: '+', country code and number, 8 to 15 digits, like +19195551001"
	switch {
	case s == "":
		r.errorf(at, "is required (%s)", want)
	case ValidPhone(s):
	case ValidPhone(NormalizePhone(s)):
		r.errorf(at, "must be written without spaces or punctuation: %s", NormalizePhone(s))
	default:
		r.errorf(at, "is not %s", want)
	}
}

func checkEmail(r *report, at path, s string) {
	a, err := mail.ParseAddress(s)
	if err != nil || a.Name != "" || a.Address != s {
		r.errorf(at, "is not a plain e-mail address like sre@example.com")
	}
}

// report collects problems and warnings during one Parse or Validate.
type report struct {
	problems, warnings []Problem
	// bad are paths already reported as missing or of the wrong type: more
	// complaints about what lies under them would only be noise.
	bad []path
}

func (r *report) errorf(at path, format string, args ...any) {
	for _, b := range r.bad {
		if at.Within(b) {
			return
		}
	}
	r.problems = append(r.problems, Problem{Path: at.String(), Message: fmt.Sprintf(format, args...)})
}

// fail reports a problem at path and silences later ones under it.
func (r *report) fail(at path, format string, args ...any) {
	r.errorf(at, format, args...)
	r.bad = append(r.bad, at)
}

func (r *report) warnf(at path, format string, args ...any) {
	r.warnings = append(r.warnings, Problem{Path: at.String(), Message: fmt.Sprintf(format, args...)})
}

// Failf and Warnf make report the decoder's jsondoc.Reporter.
func (r *report) Failf(at path, format string, args ...any) { r.fail(at, format, args...) }

func (r *report) Warnf(at path, format string, args ...any) { r.warnf(at, format, args...) }

func (r *report) sort() {
	sort.SliceStable(r.problems, func(i, j int) bool { return r.problems[i].Path < r.problems[j].Path })
	sort.SliceStable(r.warnings, func(i, j int) bool { return r.warnings[i].Path < r.warnings[j].Path })
}

// path is where in the config document a value lies.
type path = jsondoc.Path

// IsValidationError reports whether err is, or wraps, a rejected config.
func IsValidationError(err error) bool {
	var ve *ValidationError
	return errors.As(err, &ve)
}

// indexPhones builds the sender lookup of a validated config.
func (c *Config) indexPhones() {
	c.phones = make(map[string]string, len(c.AvailableUsers.Users))
	for id, u := range c.AvailableUsers.Users {
		if p := NormalizePhone(u.Phone); p != "" {
			c.phones[p] = id
		}
	}
}
