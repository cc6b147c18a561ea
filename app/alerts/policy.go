package alerts

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/oncall/pager/app/jsondoc"
)

// Target names who a policy step pages: "oncall", "user:<id>",
// "group:<slug>" or "everyone". Who that is gets decided when the step
// fires (Roster), so a hand-over mid-escalation pages the new on-call.
type Target string

// Fixed targets.
const (
	TargetOnCall   Target = "oncall"
	TargetEveryone Target = "everyone"
)

// UserTarget and GroupTarget build the parameterised targets.
func UserTarget(id string) Target      { return Target("user:" + id) }
func GroupTarget(slug string) Target   { return Target("group:" + slug) }
func (t Target) User() (string, bool)  { return cutNonEmpty(string(t), "user:") }
func (t Target) Group() (string, bool) { return cutNonEmpty(string(t), "group:") }

func cutNonEmpty(s, prefix string) (string, bool) {
	rest, ok := strings.CutPrefix(s, prefix)
	return rest, ok && rest != ""
}

// Valid reports whether t has one of the four forms.
func (t Target) Valid() bool {
	if t == TargetOnCall || t == TargetEveryone {
		return true
	}
	_, u := t.User()
	_, g := t.Group()
	return u || g
}

// PolicyStep pages Targets, then waits Delay for an acknowledgement before
// the next step (or the next repetition) fires.
type PolicyStep struct {
	Targets []Target      `json:"targets"`
	Delay   time.Duration `json:"-"`
}

// Policy is the escalation policy: its steps in order, then the whole list
// Repeat more times, stopping the moment someone acknowledges.
type Policy struct {
	Steps  []PolicyStep `json:"steps"`
	Repeat int          `json:"repeat"`
}

// Bounds that keep the escalation job small and the step handlers
// registrable up front.
const (
	MaxPolicySteps = 20
	MaxRepeat      = 9
	MinStepDelay   = time.Minute
)

// DefaultPolicy pages the on-call, then everyone five minutes later if
// nobody acknowledged, and goes round twice more ten minutes apart.
func DefaultPolicy() Policy {
	return Policy{
		Steps: []PolicyStep{
			{Targets: []Target{TargetOnCall}, Delay: 5 * time.Minute},
			{Targets: []Target{TargetEveryone}, Delay: 10 * time.Minute},
		},
		Repeat: 2,
	}
}

// Validate lists every problem (for the config validator to report by
// path). The last step's delay matters only when the policy repeats.
func (p Policy) Validate() []string {
	var probs []string
	if len(p.Steps) == 0 {
		probs = append(probs, "steps: at least one step is required")
	}
	if len(p.Steps) > MaxPolicySteps {
		probs = append(probs, fmt.Sprintf("steps: at most %d steps", MaxPolicySteps))
	}
	if p.Repeat < 0 || p.Repeat > MaxRepeat {
		probs = append(probs, fmt.Sprintf("repeat: must be 0 to %d", MaxRepeat))
	}
	for i, s := range p.Steps {
		if len(s.Targets) == 0 {
			probs = append(probs, fmt.Sprintf("steps[%d].targets: at least one target is required", i))
		}
		for j, t := range s.Targets {
			if !t.Valid() {
				probs = append(probs, fmt.Sprintf("steps[%d].targets[%d]: %q is not oncall, everyone, user:<id> or group:<slug>", i, j, t))
			}
		}
		last := i == len(p.Steps)-1
		if (!last || p.Repeat > 0) && s.Delay < MinStepDelay {
			probs = append(probs, fmt.Sprintf("steps[%d].delay: must be at least %s so people can answer before the next step", i, MinStepDelay))
		}
	}
	return probs
}

// scheduled is one planned page: which step of which round, and when
// relative to the alert's creation.
type scheduled struct {
	round, step int
	at          time.Duration
}

func (p Policy) plan() []scheduled {
	var out []scheduled
	var at time.Duration
	for r := 0; r <= p.Repeat; r++ {
		for i, s := range p.Steps {
			out = append(out, scheduled{round: r, step: i, at: at})
			at += s.Delay
		}
	}
	return out
}

// Throttle limits the pages one person gets: at most MaxPages per Window.
// Pages over the limit are bundled into one page sent when the window
// reopens, so a flapping source cannot get the team's number blocked by
// carriers and nothing is dropped.
type Throttle struct {
	MaxPages int           `json:"max_pages"`
	Window   time.Duration `json:"-"`
}

// Throttle defaults and bounds.
const (
	DefaultMaxPages  = 3
	DefaultWindow    = 10 * time.Minute
	MaxThrottlePages = 100
)

func (t Throttle) withDefaults() Throttle {
	if t.MaxPages <= 0 {
		t.MaxPages = DefaultMaxPages
	}
	t.MaxPages = min(t.MaxPages, MaxThrottlePages)
	if t.Window <= 0 {
		t.Window = DefaultWindow
	}
	return t
}

// Settings is the config's "escalation" section:
//
//	"escalation": {
//	  "steps": [{"targets": ["oncall"], "delay": "5m"},
//	            {"targets": ["group:ops", "user:alice"], "delay": 600}],
//	  "repeat": 2,
//	  "throttle": {"max_pages": 3, "window": "10m"}
//	}
//
// Durations are Go duration strings ("5m") or seconds.
type Settings struct {
	Policy
	Throttle Throttle `json:"throttle"`
}

// DefaultSettings are used when the config has no escalation section.
func DefaultSettings() Settings {
	return Settings{Policy: DefaultPolicy(), Throttle: Throttle{}.withDefaults()}
}

// Validate lists every problem of the section.
func (s Settings) Validate() []string {
	probs := s.Policy.Validate()
	if s.Throttle.MaxPages < 0 || s.Throttle.MaxPages > MaxThrottlePages {
		probs = append(probs, fmt.Sprintf("throttle.max_pages: must be 0 (the default, %d) to %d", DefaultMaxPages, MaxThrottlePages))
	}
	if s.Throttle.Window < 0 {
		probs = append(probs, "throttle.window: must not be negative (0 means the default)")
	}
	return probs
}

type stepJSON struct {
	Targets []Target `json:"targets"`
	Delay   duration `json:"delay,omitzero"`
}

// MarshalJSON writes the delay as a duration string.
func (s PolicyStep) MarshalJSON() ([]byte, error) {
	return json.Marshal(stepJSON{Targets: s.Targets, Delay: duration(s.Delay)})
}

// UnmarshalJSON reads the delay as a duration string or seconds.
func (s *PolicyStep) UnmarshalJSON(b []byte) error {
	var j stepJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	*s = PolicyStep{Targets: j.Targets, Delay: time.Duration(j.Delay)}
	return nil
}

type throttleJSON struct {
	MaxPages int      `json:"max_pages,omitempty"`
	Window   duration `json:"window,omitzero"`
}

// MarshalJSON writes the window as a duration string.
func (t Throttle) MarshalJSON() ([]byte, error) {
	return json.Marshal(throttleJSON{MaxPages: t.MaxPages, Window: duration(t.Window)})
}

// UnmarshalJSON reads the window as a duration string or seconds.
func (t *Throttle) UnmarshalJSON(b []byte) error {
	var j throttleJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	*t = Throttle{MaxPages: j.MaxPages, Window: time.Duration(j.Window)}
	return nil
}

// duration is a time.Duration in JSON as "5m30s" or a number of seconds,
// the unit the rest of the config uses.
type duration = jsondoc.Duration
