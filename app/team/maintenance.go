package team

import (
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/oncall/pager/app/schedule"
)

// MaintenanceWindow is one entry of the optional "maintenance_windows"
// section: while it is on, alerts in its scope are recorded but not paged;
// those still open when it ends are paged then. Voicemails are never held.
type MaintenanceWindow struct {
	// Start is RFC 3339 ("2026-12-05T22:00:00Z") or a local time
	// ("2026-12-05T22:00") in current_config.timezone.
	Start string `json:"start"`
	// End, in the same forms, or Duration: one of the two.
	End      string   `json:"end,omitempty"`
	Duration Duration `json:"duration,omitempty"`
	// Repeat "weekly" repeats the window every week at the same local
	// time (so across a DST change it moves in UTC, not on the clock).
	Repeat string      `json:"repeat,omitempty"`
	Scope  WindowScope `json:"scope"`
	Reason string      `json:"reason,omitempty"`
	// CreatedBy names who started it by SMS (QUIET), if anyone.
	CreatedBy string `json:"created_by,omitempty"`
}

// WindowScope says which alerts a window holds: all of them, or those from
// some API keys, some events, or with a dedup key starting with a prefix.
type WindowScope struct {
	All           bool     `json:"all,omitempty"`
	Keys          []string `json:"keys,omitempty"`
	Events        []string `json:"events,omitempty"`
	DedupPrefixes []string `json:"dedup_prefixes,omitempty"`
}

// RepeatWeekly is the one recurrence.
const RepeatWeekly = "weekly"

// Bounds are the first occurrence's start and end, read as the schedule's
// overrides are (schedule.ParseInstant), so one text is one instant
// throughout the config.
func (w MaintenanceWindow) Bounds(loc *time.Location) (start, end time.Time, err error) {
	if start, err = schedule.ParseInstant(w.Start, loc); err != nil {
		return
	}
	if w.End != "" {
		end, err = schedule.ParseInstant(w.End, loc)
		return
	}
	return start, start.Add(w.Duration.D()), nil
}

// At returns the occurrence of the window that is on at t, if any.
func (w MaintenanceWindow) At(t time.Time, loc *time.Location) (start, end time.Time, ok bool) {
	cw, err := w.compile("", loc)
	if err != nil {
		return time.Time{}, time.Time{}, false
	}
	return cw.at(t, loc)
}

// compiledWindow is a window as Parse reads it once, so that the check made
// for every alert and every WHO does not parse its times again.
type compiledWindow struct {
	name       string
	w          MaintenanceWindow
	start, end time.Time      // the first occurrence
	wall       schedule.Civil // start on the wall clock, which a weekly one keeps
}

func (w MaintenanceWindow) compile(name string, loc *time.Location) (compiledWindow, error) {
	start, end, err := w.Bounds(loc)
	if err != nil {
		return compiledWindow{}, err
	}
	return compiledWindow{name: name, w: w, start: start, end: end, wall: schedule.CivilAt(start, loc)}, nil
}

func (cw *compiledWindow) at(t time.Time, loc *time.Location) (start, end time.Time, ok bool) {
	if !cw.end.After(cw.start) || t.Before(cw.start) {
		return time.Time{}, time.Time{}, false
	}
	if cw.w.Repeat != RepeatWeekly {
		return cw.start, cw.end, t.Before(cw.end)
	}
	length := cw.end.Sub(cw.start)
	// Occurrence n starts when the clock shows the first start's wall time
	// 7n days on (Civil.Resolve, as for a hand-over). t's own wall time is
	// off from its occurrence's by at most the window's length and a DST
	// change or two, so that occurrence is k-1, k or k+1; of two that
	// overlap (a window nearly a week long, a week shortened by DST), the
	// later one, which ends last.
	k := schedule.CivilAt(t, loc).DaysSince(cw.wall) / 7
	for n := k + 1; n >= 0 && n >= k-1; n-- {
		s := cw.start
		if n > 0 {
			s = cw.wall.AddDays(7 * n).Resolve(loc)
		}
		if e := s.Add(length); !t.Before(s) && t.Before(e) {
			return s, e, true
		}
	}
	return time.Time{}, time.Time{}, false
}

// compileWindows is the computation's form of the windows, by name.
func (c *Config) compileWindows() []compiledWindow {
	loc := c.CurrentConfig.Location()
	var out []compiledWindow
	for name, w := range c.MaintenanceWindows {
		if cw, err := w.compile(name, loc); err == nil {
			out = append(out, cw)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out
}

// Matches reports whether an alert from route ("key:<api key name>",
// "event:<slug>") with dedupKey is in the scope.
func (s WindowScope) Matches(route, dedupKey string) bool {
	if s.All {
		return true
	}
	if name, ok := strings.CutPrefix(route, "key:"); ok && slices.Contains(s.Keys, name) {
		return true
	}
	if slug, ok := strings.CutPrefix(route, "event:"); ok && slices.Contains(s.Events, slug) {
		return true
	}
	for _, p := range s.DedupPrefixes {
		if p != "" && strings.HasPrefix(dedupKey, p) {
			return true
		}
	}
	return false
}

// String describes the scope in a few words, for texts.
func (s WindowScope) String() string {
	if s.All {
		return "all alerts"
	}
	var parts []string
	if len(s.Keys) > 0 {
		parts = append(parts, "keys "+strings.Join(s.Keys, ", "))
	}
	if len(s.Events) > 0 {
		parts = append(parts, "events "+strings.Join(s.Events, ", "))
	}
	if len(s.DedupPrefixes) > 0 {
		parts = append(parts, "dedup keys "+strings.Join(s.DedupPrefixes, "*, ")+"*")
	}
	return strings.Join(parts, "; ")
}

// ActiveWindow is a window that is on.
type ActiveWindow struct {
	Name       string
	Start, End time.Time
	Window     MaintenanceWindow
}

// ActiveWindows are the windows on at t, by name.
func (c *Config) ActiveWindows(t time.Time) []ActiveWindow {
	if c == nil || len(c.MaintenanceWindows) == 0 {
		return nil
	}
	ws := c.windows
	if ws == nil {
		ws = c.compileWindows() // a Config built in code, not by Parse
	}
	loc := c.CurrentConfig.Location()
	var out []ActiveWindow
	for i := range ws {
		if s, e, ok := ws[i].at(t, loc); ok {
			out = append(out, ActiveWindow{Name: ws[i].name, Start: s, End: e, Window: ws[i].w})
		}
	}
	return out
}

// Maintenance returns the window that holds an alert from route with
// dedupKey at t: of several, the one that ends last.
func (c *Config) Maintenance(route, dedupKey string, t time.Time) (name string, until time.Time, ok bool) {
	for _, aw := range c.ActiveWindows(t) {
		if aw.Window.Scope.Matches(route, dedupKey) && (!ok || aw.End.After(until)) {
			name, until, ok = aw.Name, aw.End, true
		}
	}
	return name, until, ok
}

// maxWindow bounds a weekly window (it would overlap the next one) and a
// QUIET.
const maxWeeklyWindow = 7 * 24 * time.Hour

func (w MaintenanceWindow) validate(c *Config, at path, r *report) {
	if !validSlug(at[len(at)-1]) {
		r.errorf(at, "must be a name of letters, digits, '-', '_' and '.', not starting with '.' or '-'")
	}
	loc := c.CurrentConfig.Location()
	start, err := schedule.ParseInstant(w.Start, loc)
	if w.Start == "" {
		r.errorf(at.Key("start"), "is required")
	} else if err != nil {
		r.errorf(at.Key("start"), "%v", err)
	}
	switch {
	case w.End != "" && w.Duration != 0:
		r.errorf(at.Key("duration"), "give end or duration, not both")
	case w.End == "" && w.Duration == 0:
		r.errorf(at.Key("end"), "is required (or duration)")
	case w.End != "":
		end, eerr := schedule.ParseInstant(w.End, loc)
		if eerr != nil {
			r.errorf(at.Key("end"), "%v", eerr)
		} else if err == nil && !end.After(start) {
			r.errorf(at.Key("end"), "must be after start")
		} else if err == nil && w.Repeat == RepeatWeekly && end.Sub(start) >= maxWeeklyWindow {
			r.errorf(at.Key("end"), "a weekly window must be shorter than a week")
		}
	case w.Duration < 0:
		r.errorf(at.Key("duration"), "must be positive")
	case w.Repeat == RepeatWeekly && w.Duration.D() >= maxWeeklyWindow:
		r.errorf(at.Key("duration"), "a weekly window must be shorter than a week")
	}
	if w.Repeat != "" && w.Repeat != RepeatWeekly {
		r.errorf(at.Key("repeat"), `must be "weekly" or absent`)
	}
	sp := at.Key("scope")
	s := w.Scope
	if !s.All && len(s.Keys) == 0 && len(s.Events) == 0 && len(s.DedupPrefixes) == 0 {
		r.errorf(sp, `is required: {"all": true}, or keys, events or dedup_prefixes`)
	}
	for i, k := range s.Keys {
		if _, ok := c.APIKeys[k]; !ok {
			r.warnf(sp.Key("keys").Index(i), "%q is not in api_keys: this entry holds nothing", k)
		}
	}
	for i, e := range s.Events {
		if _, ok := c.Events[e]; !ok {
			r.warnf(sp.Key("events").Index(i), "%q is not in events: this entry holds nothing", e)
		}
	}
	for i, p := range s.DedupPrefixes {
		if strings.TrimSpace(p) == "" {
			r.errorf(sp.Key("dedup_prefixes").Index(i), "must not be empty (use \"all\": true)")
		}
	}
}
