package team

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/oncall/pager/app/jsondoc"
	"github.com/oncall/pager/app/schedule"
)

// Schedule is the optional top-level "schedule" section: rotations and
// overrides that decide who is on call, which the pager writes into
// current_config.oncall_user at each hand-over (app/schedule computes;
// this is only the config's shape and checks). Times are wall-clock times
// in current_config.timezone.
type Schedule struct {
	Rotations []ScheduleRotation `json:"rotations"`
	Overrides []ScheduleOverride `json:"overrides,omitempty"`
	// Reminder is how long before a shift starts its member is texted:
	// a Go duration ("1h", the default when absent, "30m"), or "off".
	Reminder string `json:"reminder,omitempty"`
	// CalendarTokens let calendar apps fetch the shifts
	// (GET /calendar/<token>.ics), by name; only the token's SHA-256 is kept.
	CalendarTokens map[string]CalendarToken `json:"calendar_tokens,omitempty"`
}

// ScheduleRotation hands the pager round Members in order.
type ScheduleRotation struct {
	Name    string   `json:"name,omitempty"`
	Members []string `json:"members"`
	// Start is a local date and time, "2026-11-30T09:00": the first shift's.
	Start string `json:"start"`
	// Shift is each member's turn on the wall clock: "12h", "1d", "1w".
	Shift  string          `json:"shift"`
	Window *ScheduleWindow `json:"window,omitempty"`
}

// ScheduleWindow restricts a rotation to From-To on Days; To at or before
// From runs past midnight.
type ScheduleWindow struct {
	Days []string `json:"days"`
	From string   `json:"from"`
	To   string   `json:"to"`
}

// ScheduleOverride puts Member on call from From to To, over the rotations.
// Times are local ("2026-12-02T09:00") or carry their offset (RFC 3339).
type ScheduleOverride struct {
	Member string `json:"member"`
	From   string `json:"from"`
	To     string `json:"to"`
	// By records who added it (a TAKE, the CLI), for ops reading the file.
	By string `json:"by,omitempty"`
}

// CalendarToken is one calendar feed: the team's, or User's shifts only.
type CalendarToken struct {
	SHA256 string `json:"sha256"`
	User   string `json:"user,omitempty"`
}

// DefaultReminder is how long before a shift its member is reminded.
const DefaultReminder = time.Hour

// Limits on the section, so a typo cannot make every hand-over slow.
const (
	maxRotations   = 20
	maxMembers     = 200
	maxOverrides   = 1000
	maxReminder    = 7 * 24 * time.Hour
	minShiftLength = time.Hour
)

// ScheduleActor names the schedule as the author of a hand-over in
// last_modified_user_id and the audit log.
const ScheduleActor = "schedule"

// OnCallSchedule is the schedule section compiled for computation, with
// current_config.oncall_user as the fallback; false when there is none.
func (c *Config) OnCallSchedule() (*schedule.Schedule, bool) {
	if c == nil || c.sched == nil {
		return nil, false
	}
	return c.sched, true
}

// ReminderBefore is how long before a shift its member is told; 0 is off.
func (c *Config) ReminderBefore() time.Duration {
	if c == nil || c.Schedule == nil {
		return 0
	}
	d, _ := parseReminder(c.Schedule.Reminder)
	return d
}

func parseReminder(s string) (time.Duration, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "":
		return DefaultReminder, nil
	case "off", "0":
		return 0, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < time.Minute || d > maxReminder {
		return 0, fmt.Errorf("must be a duration from 1m to 168h (like 1h or 30m), or \"off\"")
	}
	return d, nil
}

// compileSchedule builds the computation's form of a validated section.
func (c *Config) compileSchedule() {
	if c.Schedule == nil {
		return
	}
	loc := c.CurrentConfig.Location()
	rots, _ := c.Schedule.rotations(nil, nil)
	ovs, _ := c.Schedule.overrides(loc, nil, nil)
	c.sched = schedule.New(loc, rots, ovs, c.CurrentConfig.OncallUser.ID)
}

// rotations converts the section's rotations, reporting problems under at
// when r is not nil.
func (s *Schedule) rotations(at path, r *report) ([]schedule.Rotation, bool) {
	ok := true
	bad := func(p path, format string, args ...any) {
		ok = false
		if r != nil {
			r.errorf(p, format, args...)
		}
	}
	out := make([]schedule.Rotation, 0, len(s.Rotations))
	for i, sr := range s.Rotations {
		rp := at.Key("rotations").Index(i)
		rot := schedule.Rotation{Name: sr.Name, Members: sr.Members}
		if rot.Name == "" {
			rot.Name = fmt.Sprintf("rotation %d", i+1)
		}
		var err error
		if rot.Start, err = schedule.ParseCivil(sr.Start); err != nil {
			bad(rp.Key("start"), "%v", err)
		}
		if rot.Shift, err = schedule.ParseLength(sr.Shift); err != nil {
			bad(rp.Key("shift"), "%v", err)
		} else if rot.Shift.Unit == schedule.Hours && time.Duration(rot.Shift.N)*time.Hour < minShiftLength {
			bad(rp.Key("shift"), "is shorter than an hour")
		}
		if w := sr.Window; w != nil {
			wp := rp.Key("window")
			win := &schedule.Window{}
			if len(w.Days) == 0 {
				bad(wp.Key("days"), "is required: the days the window opens (mon, ..., weekdays, weekends, all)")
			} else if win.Days, err = schedule.ParseDays(w.Days); err != nil {
				bad(wp.Key("days"), "%v", err)
			}
			if win.From, err = schedule.ParseClock(w.From); err != nil {
				bad(wp.Key("from"), "%v", err)
			}
			if win.To, err = schedule.ParseClock(w.To); err != nil {
				bad(wp.Key("to"), "%v", err)
			}
			if win.From == win.To && w.From != "" && w.To != "" {
				bad(wp.Key("to"), "equals from: the window would be empty (00:00 to 24:00 is a whole day)")
			}
			rot.Window = win
		}
		out = append(out, rot)
	}
	return out, ok
}

// overrides converts the section's overrides in loc.
func (s *Schedule) overrides(loc *time.Location, at path, r *report) ([]schedule.Override, bool) {
	ok := true
	bad := func(p path, format string, args ...any) {
		ok = false
		if r != nil {
			r.errorf(p, format, args...)
		}
	}
	out := make([]schedule.Override, 0, len(s.Overrides))
	for i, so := range s.Overrides {
		op := at.Key("overrides").Index(i)
		from, ferr := schedule.ParseInstant(so.From, loc)
		if ferr != nil {
			bad(op.Key("from"), "%v", ferr)
		}
		to, terr := schedule.ParseInstant(so.To, loc)
		if terr != nil {
			bad(op.Key("to"), "%v", terr)
		}
		if ferr == nil && terr == nil && !to.After(from) {
			bad(op.Key("to"), "is not after from: the override would last no time")
		}
		out = append(out, schedule.Override{Member: so.Member, From: from, To: to})
	}
	return out, ok
}

func (s *Schedule) validate(c *Config, at path, r *report) {
	if len(s.Rotations) == 0 && len(s.Overrides) == 0 {
		r.warnf(at, "has no rotations and no overrides: current_config.oncall_user stays on call")
	}
	if len(s.Rotations) > maxRotations {
		r.errorf(at.Key("rotations"), "has %d rotations; at most %d", len(s.Rotations), maxRotations)
	}
	if len(s.Overrides) > maxOverrides {
		r.errorf(at.Key("overrides"), "has %d overrides; at most %d (remove past ones)", len(s.Overrides), maxOverrides)
	}
	checkMember := func(p path, id string) {
		switch u, ok := c.UserByID(id); {
		case id == "":
			r.errorf(p, "is required: a user id from available_users")
		case !ok:
			r.errorf(p, "%q is not in available_users", id)
		case !u.IsEnabled():
			r.warnf(p, "user %q is disabled but scheduled: the pager is not handed to them (whoever has it keeps it)", id)
		}
	}
	names := map[string]int{}
	for i, sr := range s.Rotations {
		rp := at.Key("rotations").Index(i)
		if sr.Name != "" {
			if j, dup := names[sr.Name]; dup {
				r.errorf(rp.Key("name"), "%q is also rotations[%d]'s name", sr.Name, j)
			}
			names[sr.Name] = i
		}
		switch {
		case len(sr.Members) == 0:
			r.errorf(rp.Key("members"), "is required: the user ids taking turns, in order")
		case len(sr.Members) > maxMembers:
			r.errorf(rp.Key("members"), "has %d members; at most %d", len(sr.Members), maxMembers)
		}
		for j, m := range sr.Members {
			checkMember(rp.Key("members").Index(j), m)
		}
	}
	s.rotations(at, r)
	ovs, _ := s.overrides(c.CurrentConfig.Location(), at, r)
	for i, so := range s.Overrides {
		checkMember(at.Key("overrides").Index(i).Key("member"), so.Member)
	}
	// Overlaps: sorted by start, each against the one before that ends
	// latest, so every overlapping override is named.
	idx := make([]int, 0, len(ovs))
	for i, o := range ovs {
		if o.To.After(o.From) {
			idx = append(idx, i)
		}
	}
	sort.SliceStable(idx, func(a, b int) bool { return ovs[idx[a]].From.Before(ovs[idx[b]].From) })
	latest := -1
	for _, i := range idx {
		if latest >= 0 && ovs[i].From.Before(ovs[latest].To) {
			r.errorf(at.Key("overrides").Index(i), "overlaps overrides[%d] (%s to %s): say who is on call once", latest, s.Overrides[latest].From, s.Overrides[latest].To)
		}
		if latest < 0 || ovs[i].To.After(ovs[latest].To) {
			latest = i
		}
	}
	if _, err := parseReminder(s.Reminder); err != nil {
		r.errorf(at.Key("reminder"), "%v", err)
	}
	tnames := make([]string, 0, len(s.CalendarTokens))
	for n := range s.CalendarTokens {
		tnames = append(tnames, n)
	}
	sort.Strings(tnames)
	seen := map[string]string{}
	for _, n := range tnames {
		tok := s.CalendarTokens[n]
		tp := at.Key("calendar_tokens").Key(n)
		if !validSHA256(tok.SHA256) {
			r.errorf(tp.Key("sha256"), "must be the 64 hex digits of the token's SHA-256 (`oncall-pager schedule token new` makes one)")
		} else if other, dup := seen[strings.ToLower(tok.SHA256)]; dup {
			r.errorf(tp.Key("sha256"), "is also calendar_tokens[%q]'s", other)
		} else {
			seen[strings.ToLower(tok.SHA256)] = n
		}
		if tok.User != "" {
			if _, ok := c.UserByID(tok.User); !ok {
				r.errorf(tp.Key("user"), "%q is not in available_users", tok.User)
			}
		}
	}
}

// CoverageHorizon is how far ahead ScheduleWarnings looks for gaps.
const CoverageHorizon = 30 * 24 * time.Hour

// ScheduleWarnings are the schedule's gaps in the next CoverageHorizon
// from now: stretches no rotation or override covers, during which
// whoever current_config.oncall_user names stays on call. They depend on
// the time, so they are separate from Warnings.
func ScheduleWarnings(c *Config, now time.Time) []Problem {
	s, ok := c.OnCallSchedule()
	if !ok {
		return nil
	}
	bare := schedule.New(s.Location(), s.Rotations(), s.Overrides(), "")
	var out []Problem
	const maxGaps = 10
	shifts := bare.Shifts(now, 1000, now.Add(CoverageHorizon))
	gaps := 0
	for _, sh := range shifts {
		if sh.Member != "" {
			continue
		}
		gaps++
		if gaps > maxGaps {
			continue
		}
		end := "the end of the next 30 days"
		if !sh.End.IsZero() {
			end = sh.End.Format("Mon 2 Jan 2006 15:04 MST")
		}
		out = append(out, Problem{Path: "schedule", Message: fmt.Sprintf("nobody is scheduled from %s to %s: %s (current_config.oncall_user at the time) stays on call",
			sh.Start.Format("Mon 2 Jan 2006 15:04 MST"), end, fallbackName(c))})
	}
	if gaps > maxGaps {
		out = append(out, Problem{Path: "schedule", Message: fmt.Sprintf("and %d more gaps in the next 30 days", gaps-maxGaps)})
	}
	return out
}

func fallbackName(c *Config) string {
	if u, ok := c.OnCall(); ok {
		return u.ID
	}
	return "nobody"
}

// CalendarTokenPrefix starts every calendar token, so a leaked one is easy
// to recognise.
const CalendarTokenPrefix = "cal_"

// NewCalendarToken mints a calendar feed token: the prefix and 32 random
// bytes, base64url (URL-safe, as it goes in the feed's path).
func NewCalendarToken() (string, error) {
	k, err := NewAPIKey()
	if err != nil {
		return "", err
	}
	return CalendarTokenPrefix + strings.TrimPrefix(k, APIKeyPrefix), nil
}

// Refusals of AddCalendarToken, each wrapped with the name or member.
var (
	ErrKeyName             = errors.New(KeyNameRule)
	ErrNoSchedule          = errors.New("the config has no schedule section, so no calendar feed to publish; add one first")
	ErrCalendarTokenExists = errors.New("a calendar token of that name exists; revoke it or choose another name")
	ErrUnknownMember       = errors.New("not in available_users")
)

// AddCalendarToken adds token's calendar_tokens entry, name, to doc, the
// document cfg was parsed from: the feed of user's shifts, or of the
// whole team's when user is "". The CLI and the console both mint through
// it, so a token one of them accepts the other would too. The token is
// minted by the caller, outside Manager.Update's mutate, which may run
// more than once.
func AddCalendarToken(cfg *Config, doc *jsondoc.Doc, name, user, token string) error {
	if !ValidKeyName(name) {
		return fmt.Errorf("%q: %w", name, ErrKeyName)
	}
	if cfg.Schedule == nil {
		return ErrNoSchedule
	}
	p := []string{"schedule", "calendar_tokens", name}
	if _, exists := doc.Get(p); exists {
		return fmt.Errorf("schedule.calendar_tokens.%s: %w", name, ErrCalendarTokenExists)
	}
	if user != "" {
		if _, ok := cfg.UserByID(user); !ok {
			return fmt.Errorf("member %q: %w", user, ErrUnknownMember)
		}
	}
	return doc.Set(p, CalendarToken{SHA256: HashAPIKey(token), User: user})
}

// CheckCalendarToken finds the calendar_tokens entry for token. Every entry
// is compared, in constant time, whatever matches.
func (c *Config) CheckCalendarToken(token string) (name string, t CalendarToken, ok bool) {
	if c == nil || c.Schedule == nil || token == "" {
		return "", CalendarToken{}, false
	}
	sum := sha256.Sum256([]byte(token))
	for n, entry := range c.Schedule.CalendarTokens {
		want, err := hex.DecodeString(entry.SHA256)
		if err != nil || len(want) != sha256.Size {
			continue
		}
		if subtle.ConstantTimeCompare(sum[:], want) == 1 && (!ok || n < name) {
			name, t, ok = n, entry, true
		}
	}
	return name, t, ok
}
