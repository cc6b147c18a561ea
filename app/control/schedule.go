package control

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/oncall/pager/app/jsondoc"
	"github.com/oncall/pager/app/schedule"
	"github.com/oncall/pager/app/team"
)

// Schedule texts look this far ahead.
const (
	scheduleHorizon = 90 * 24 * time.Hour
	listShifts      = 5
	// TAKE with a duration: at least a quarter of an hour, at most two weeks.
	minTake = 15 * time.Minute
	maxTake = 14 * 24 * time.Hour
)

// when writes t for a text: "Mon 09:00" within the coming week, else with
// the date.
func when(t, now time.Time, loc *time.Location) string {
	t = t.In(loc)
	if d := t.Sub(now); d >= 0 && d < 6*24*time.Hour {
		return t.Format("Mon 15:04")
	}
	return t.Format("Mon 2 Jan 15:04")
}

func displayName(cfg *team.Config, id string) string {
	if u, ok := cfg.UserByID(id); ok {
		return u.Name
	}
	if id == "" {
		return "nobody"
	}
	return id
}

// whoNext is what WHO adds under a schedule: until when, and who is next.
// No store call: the schedule was compiled with the config.
func whoNext(cfg *team.Config, onCallID string, now time.Time) string {
	sched, ok := cfg.OnCallSchedule()
	if !ok {
		return ""
	}
	loc := sched.Location()
	cur, next := sched.Current(now, scheduleHorizon)
	if cur.Member != onCallID {
		if u, ok := cfg.UserByID(cur.Member); ok && !u.IsEnabled() {
			return fmt.Sprintf(" The schedule names %s, who is disabled, so the pager stays.", u.Name)
		}
		return fmt.Sprintf(" The schedule names %s now; the hand-over is under way.", displayName(cfg, cur.Member))
	}
	if cur.End.IsZero() {
		return " No hand-over is scheduled."
	}
	return fmt.Sprintf(" until %s, then %s.", when(cur.End, now, loc), displayName(cfg, next))
}

func formatShifts(cfg *team.Config, shifts []schedule.Shift, now time.Time, withName bool) string {
	var b strings.Builder
	loc := cfg.CurrentConfig.Location()
	for i, sh := range shifts {
		if i > 0 {
			b.WriteString("\n")
		}
		start := "now"
		if sh.Start.After(now) {
			start = when(sh.Start, now, loc)
		}
		end := "open end"
		if !sh.End.IsZero() {
			end = when(sh.End, now, loc)
		}
		fmt.Fprintf(&b, "%s - %s", start, end)
		if withName {
			b.WriteString(" " + displayName(cfg, sh.Member))
		}
	}
	return b.String()
}

const noSchedule = "There is no schedule: the on-call changes only when someone texts TAKE."

func (h *Handler) next(cfg *team.Config) string {
	sched, ok := cfg.OnCallSchedule()
	if !ok {
		return noSchedule
	}
	now := h.now()
	shifts := sched.Shifts(now, listShifts, now.Add(scheduleHorizon))
	return "Next shifts:\n" + formatShifts(cfg, shifts, now, true)
}

func (h *Handler) mine(cfg *team.Config, user team.User) string {
	sched, ok := cfg.OnCallSchedule()
	if !ok {
		return noSchedule
	}
	now := h.now()
	shifts := sched.ShiftsOf(user.ID, now, listShifts, now.Add(scheduleHorizon))
	if len(shifts) == 0 {
		return fmt.Sprintf("%s, you have no shifts in the next 90 days.", user.Name)
	}
	return "Your shifts:\n" + formatShifts(cfg, shifts, now, false)
}

var errTakeUsage = errors.New("TAKE alone takes the pager until the end of the current shift; TAKE 4h for four hours; TAKE UNTIL FRI 18:00 until then")

// takeEnd reads what follows TAKE: nothing (zero time), a duration ("4h",
// "90m", "2d") or UNTIL [day] HH:MM (day: a weekday, today, tomorrow; the
// next such moment).
func takeEnd(body string, now time.Time, loc *time.Location) (time.Time, error) {
	words := strings.FieldsFunc(strings.ToLower(body), func(r rune) bool {
		return unicode.IsSpace(r) || r == ','
	})
	i := 0
	for i < len(words) && words[i] != "take" {
		i++
	}
	if i == len(words) {
		return time.Time{}, nil
	}
	args := words[i+1:]
	switch {
	case len(args) == 0 || args[0] == "please":
		return time.Time{}, nil
	case args[0] == "until" || args[0] == "till" || args[0] == "til":
		return takeUntil(args[1:], now, loc)
	}
	d, err := takeDuration(args[0])
	if err != nil || len(args) > 1 && args[1] != "please" {
		return time.Time{}, errTakeUsage
	}
	return now.Add(d), nil
}

func takeDuration(s string) (time.Duration, error) {
	var d time.Duration
	var err error
	if n, ok := strings.CutSuffix(s, "d"); ok {
		var days int
		days, err = strconv.Atoi(n)
		d = time.Duration(days) * 24 * time.Hour
	} else {
		d, err = time.ParseDuration(s)
	}
	if err != nil || d < minTake || d > maxTake {
		return 0, errTakeUsage
	}
	return d, nil
}

func takeUntil(args []string, now time.Time, loc *time.Location) (time.Time, error) {
	if len(args) == 0 || len(args) > 2 {
		return time.Time{}, errTakeUsage
	}
	hm := args[len(args)-1]
	if len(hm) == 4 {
		hm = "0" + hm // 9:00
	}
	clock, err := schedule.ParseClock(hm)
	if err != nil || clock >= 24*60 {
		return time.Time{}, errTakeUsage
	}
	local := now.In(loc)
	y, m, d := local.Date()
	at := func(days int) time.Time {
		return schedule.CivilOf(y, m, d+days, int(clock)/60, int(clock)%60).Resolve(loc)
	}
	if len(args) == 1 {
		if t := at(0); t.After(now) {
			return t, nil
		}
		return at(1), nil
	}
	switch day := args[0]; day {
	case "today":
		return checkTakeEnd(at(0), now)
	case "tomorrow":
		return checkTakeEnd(at(1), now)
	default:
		days, err := schedule.ParseDays([]string{day})
		if err != nil || len(day) < 3 {
			return time.Time{}, errTakeUsage
		}
		for k := 0; k <= 7; k++ {
			if days[local.AddDate(0, 0, k).Weekday()] {
				if t := at(k); t.After(now) {
					return t, nil
				}
			}
		}
		return time.Time{}, errTakeUsage
	}
}

func checkTakeEnd(t, now time.Time) (time.Time, error) {
	if !t.After(now) {
		return time.Time{}, errors.New("that time has passed; TAKE UNTIL needs a time to come")
	}
	return t, nil
}

// takeOverride writes the confirmed TAKE under a schedule into doc: an
// override for user from now until until, cutting short an override that
// covers now (the person it named hands over) and ending before the next
// one (which stays as ops planned it). Overrides that TAKE wrote and that
// ended more than a week ago are dropped so the list does not grow. It
// returns the end actually written.
func takeOverride(cfg *team.Config, doc *jsondoc.Doc, user team.User, now, until time.Time) (time.Time, error) {
	loc := cfg.CurrentConfig.Location()
	now = now.Truncate(time.Second)
	var kept []any
	raw, _ := doc.Get([]string{"schedule", "overrides"})
	items, _ := raw.([]any)
	for i, so := range cfg.Schedule.Overrides {
		var item any
		if i < len(items) {
			item = items[i]
		}
		from, ferr := schedule.ParseInstant(so.From, loc)
		to, terr := schedule.ParseInstant(so.To, loc)
		if ferr != nil || terr != nil {
			kept = append(kept, item)
			continue
		}
		switch {
		case strings.HasPrefix(so.By, takeBy) && now.Sub(to) > 7*24*time.Hour:
			continue // old history; the audit log keeps it
		case !from.After(now) && to.After(now):
			o, ok := item.(*jsondoc.Object)
			if !ok {
				return time.Time{}, fmt.Errorf("schedule.overrides[%d] is not an object", i)
			}
			if from.Equal(now) {
				continue
			}
			if err := o.Set("to", now.In(loc).Format(time.RFC3339)); err != nil {
				return time.Time{}, err
			}
		case from.After(now) && from.Before(until):
			until = from
		}
		kept = append(kept, item)
	}
	o := jsondoc.NewObject()
	for _, kv := range [][2]string{
		{"member", user.ID},
		{"from", now.In(loc).Format(time.RFC3339)},
		{"to", until.In(loc).Format(time.RFC3339)},
		{"by", takeBy + " by " + user.ID},
	} {
		if err := o.Set(kv[0], kv[1]); err != nil {
			return time.Time{}, err
		}
	}
	kept = append(kept, o)
	return until, doc.Set([]string{"schedule", "overrides"}, kept)
}

// takeBy marks overrides written by TAKE.
const takeBy = "TAKE"
