package team

import (
	"strconv"
	"strings"

	"github.com/oncall/pager/app/alerts"
)

// EscalationSettings returns the escalation section in force:
// alerts.DefaultSettings when the config has none. Throttle zero values
// mean the alerts package's defaults.
func (c *Config) EscalationSettings() alerts.Settings {
	if c == nil || c.Escalation == nil {
		return alerts.DefaultSettings()
	}
	return *c.Escalation
}

// checkEscalation reports the escalation section's problems, as the alerts
// package finds them, at their config paths, and warns about targets the
// config does not know.
func (c *Config) checkEscalation(at path, r *report) {
	if c.Escalation == nil {
		return
	}
	s := *c.Escalation
	for _, p := range s.Validate() {
		where, msg, ok := strings.Cut(p, ": ")
		if !ok {
			r.errorf(at, "%s", p)
			continue
		}
		r.errorf(subPath(at, where), "%s", msg)
	}
	// Targets naming someone the config does not know page nobody: worth a
	// warning, not a refusal (ops may add the user next).
	for i, st := range s.Steps {
		for j, t := range st.Targets {
			tp := at.Key("steps").Index(i).Key("targets").Index(j)
			if id, ok := t.User(); ok {
				if _, known := c.UserByID(id); !known {
					r.warnf(tp, "user %q is not in available_users: this target pages nobody", id)
				}
			}
			if slug, ok := t.Group(); ok {
				if _, known := c.Groups[slug]; !known {
					r.warnf(tp, "group %q is not in groups: this target pages nobody", slug)
				}
			}
		}
	}
}

// subPath turns an alerts validation location ("steps[1].targets[0]") into
// a config path under at.
func subPath(at path, where string) path {
	p := at
	for _, part := range strings.Split(where, ".") {
		name, rest, _ := strings.Cut(part, "[")
		p = p.Key(name)
		for rest != "" {
			num, after, _ := strings.Cut(rest, "]")
			if i, err := strconv.Atoi(num); err == nil {
				p = p.Index(i)
			}
			rest = strings.TrimPrefix(after, "[")
		}
	}
	return p
}
