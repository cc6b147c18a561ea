package control

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/oncall/pager/app/audit"
	"github.com/oncall/pager/app/jsondoc"
	"github.com/oncall/pager/app/team"
)

// Audit actions of QUIET.
const (
	ActionQuietOn  audit.Action = "quiet_on"
	ActionQuietOff audit.Action = "quiet_off"
)

// Bounds of a QUIET: a window started from a phone and forgotten must not
// hold alerts for days.
const (
	maxQuiet = 24 * time.Hour
	minQuiet = time.Minute
	// quietKept: ended QUIET windows are dropped from the config after this.
	quietKept = 7 * 24 * time.Hour
)

var errNotOn = errors.New("no window to end")

// quiet handles "QUIET 2h [scope...]" and "QUIET OFF" from an admin.
func (h *Handler) quiet(ctx context.Context, cfg *team.Config, user team.User, body string) string {
	if !user.Admin {
		return "Only an admin can start or end a maintenance window."
	}
	// Only the command and duration words are case-blind: a dedup-key
	// prefix is matched as written, so lower-casing it would hold other
	// alerts than the reply names.
	words := strings.Fields(body)[1:]
	if len(words) == 0 {
		return "Text QUIET 2h to hold all alerts for 2 hours, QUIET 30m db-* for dedup keys starting db- (case matters), QUIET 1h <key or event>, QUIET OFF to end."
	}
	switch strings.ToLower(words[0]) {
	case "off", "end", "stop":
		return h.quietOff(ctx, user)
	}
	d, err := time.ParseDuration(strings.ToLower(words[0]))
	if err != nil || d < minQuiet || d > maxQuiet {
		return fmt.Sprintf("QUIET needs a duration from 1m to 24h first, e.g. QUIET 2h. %q is not one.", words[0])
	}
	scope, refusal := quietScope(cfg, words[1:])
	if refusal != "" {
		return refusal
	}
	now := h.now().UTC()
	name := "quiet-" + now.Format("20060102-150405")
	end := now.Add(d)
	window := map[string]any{
		"start":      now.Format(time.RFC3339),
		"end":        end.Format(time.RFC3339),
		"scope":      scopeDoc(scope),
		"reason":     "QUIET from " + user.Name,
		"created_by": user.ID,
	}
	_, err = h.cfg.Update(ctx, user.ID, func(cur *team.Config, doc *jsondoc.Doc) error {
		pruneQuiet(cur, doc, now)
		return doc.Set([]string{"maintenance_windows", name}, window)
	})
	if err != nil {
		h.log.Error("control: QUIET not saved", "user", user.ID, "err", err)
		return "Sorry, the window could not be saved. Nothing changed; try again in a minute."
	}
	h.audit.Try(ctx, audit.Entry{Actor: user.ID, Action: ActionQuietOn, Source: user.Phone, Detail: name + ": " + scope.String()})
	h.log.Info("control: maintenance window started", "user", user.ID, "window", name, "until", end, "scope", scope.String())
	return fmt.Sprintf("Quiet until %s for %s: alerts are recorded, not paged; those still open then are paged. Voicemails still page. QUIET OFF ends it.",
		formatTime(end, cfg.CurrentConfig.Location()), scope.String())
}

// quietScope reads the scope words: none or "all" is everything, "x*" a
// dedup-key prefix (as written), otherwise an API key's or event's name in
// any case, stored as the config spells it (routes match it exactly). It
// returns the reply refusing a word it cannot place.
func quietScope(cfg *team.Config, words []string) (team.WindowScope, string) {
	var s team.WindowScope
	for _, w := range words {
		if strings.EqualFold(w, "all") {
			s.All = true
			continue
		}
		if strings.HasSuffix(w, "*") && len(w) > 1 {
			s.DedupPrefixes = append(s.DedupPrefixes, strings.TrimSuffix(w, "*"))
			continue
		}
		// As written first (a key before an event, as ever); only then
		// another case, and only when it names one thing.
		if _, ok := cfg.APIKeys[w]; ok {
			s.Keys = append(s.Keys, w)
			continue
		}
		if _, ok := cfg.Events[w]; ok {
			s.Events = append(s.Events, w)
			continue
		}
		keys, events := foldMatches(cfg.APIKeys, w), foldMatches(cfg.Events, w)
		switch {
		case len(keys)+len(events) == 0:
			return s, fmt.Sprintf("%q is no API key or event; for dedup keys write a prefix with *, e.g. %s*.", w, w)
		case len(keys) == 1 && len(events) == 0:
			s.Keys = append(s.Keys, keys[0])
		case len(events) == 1 && len(keys) == 0:
			s.Events = append(s.Events, events[0])
		default:
			return s, fmt.Sprintf("%q could be %s; write one exactly. Nothing changed.", w, strings.Join(append(keys, events...), " or "))
		}
	}
	if len(s.Keys) == 0 && len(s.Events) == 0 && len(s.DedupPrefixes) == 0 {
		s.All = true
	}
	return s, ""
}

// foldMatches are the names in m equal to w but for case, sorted.
func foldMatches[V any](m map[string]V, w string) []string {
	var out []string
	for name := range m {
		if strings.EqualFold(name, w) {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}

func scopeDoc(s team.WindowScope) map[string]any {
	m := map[string]any{}
	if s.All {
		m["all"] = true
	}
	list := func(k string, v []string) {
		if len(v) > 0 {
			a := make([]any, len(v))
			for i, x := range v {
				a[i] = x
			}
			m[k] = a
		}
	}
	list("keys", s.Keys)
	list("events", s.Events)
	list("dedup_prefixes", s.DedupPrefixes)
	return m
}

// pruneQuiet drops QUIET windows that ended a while ago, so texting QUIET
// does not grow the config without bound.
func pruneQuiet(cfg *team.Config, doc *jsondoc.Doc, now time.Time) {
	loc := cfg.CurrentConfig.Location()
	for name, w := range cfg.MaintenanceWindows {
		if w.CreatedBy == "" || w.Repeat != "" {
			continue
		}
		if _, end, err := w.Bounds(loc); err == nil && now.Sub(end) > quietKept {
			doc.Delete([]string{"maintenance_windows", name})
		}
	}
}

// quietOff ends every one-off window that is on now (QUIET's or the
// config's) by setting its end to now, then has the alerts they held paged.
// Weekly windows are the config's to change.
func (h *Handler) quietOff(ctx context.Context, user team.User) string {
	now := h.now().UTC()
	var ended, weekly []string
	_, err := h.cfg.Update(ctx, user.ID, func(cur *team.Config, doc *jsondoc.Doc) error {
		ended, weekly = nil, nil
		for _, aw := range cur.ActiveWindows(now) {
			if aw.Window.Repeat != "" {
				weekly = append(weekly, aw.Name)
				continue
			}
			p := []string{"maintenance_windows", aw.Name}
			doc.Delete(append(p, "duration"))
			if err := doc.Set(append(p, "end"), now.Format(time.RFC3339)); err != nil {
				return err
			}
			// Keep the window valid: it cannot end before it starts.
			if !aw.Start.Before(now) {
				if err := doc.Set(append(p, "start"), now.Add(-time.Second).Format(time.RFC3339)); err != nil {
					return err
				}
			}
			ended = append(ended, aw.Name)
		}
		if len(ended) == 0 {
			return errNotOn
		}
		return nil
	})
	switch {
	case errors.Is(err, errNotOn) && len(weekly) > 0:
		return "No one-off window is on. Weekly window " + strings.Join(weekly, ", ") + " is set in the config; edit it there."
	case errors.Is(err, errNotOn):
		return "No maintenance window is on."
	case err != nil:
		h.log.Error("control: QUIET OFF not saved", "user", user.ID, "err", err)
		return "Sorry, the change could not be saved. Nothing changed; try again in a minute."
	}
	h.audit.Try(ctx, audit.Entry{Actor: user.ID, Action: ActionQuietOff, Source: user.Phone, Detail: strings.Join(ended, ", ")})
	h.log.Info("control: maintenance windows ended", "user", user.ID, "windows", ended)
	msg := "Quiet ended (" + strings.Join(ended, ", ") + "): held alerts still open are paged now."
	if h.alerts != nil {
		if err := h.alerts.ReleaseHeld(ctx, "quiet-off"); err != nil {
			h.log.Error("control: release of held alerts not queued; the alert sweep pages them", "err", err)
		}
	}
	if len(weekly) > 0 {
		msg += " Weekly window " + strings.Join(weekly, ", ") + " stays on."
	}
	return msg
}

// quietNote is WHO's mention of the windows on now.
func quietNote(cfg *team.Config, now time.Time) string {
	active := cfg.ActiveWindows(now)
	if len(active) == 0 {
		return ""
	}
	loc := cfg.CurrentConfig.Location()
	var parts []string
	for _, aw := range active {
		parts = append(parts, fmt.Sprintf("%s until %s (%s)", aw.Name, formatTime(aw.End, loc), aw.Window.Scope.String()))
	}
	return " Maintenance: " + strings.Join(parts, "; ") + ": not paged."
}
