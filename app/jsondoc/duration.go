package jsondoc

import (
	"encoding/json"
	"fmt"
	"time"
)

// Duration is a time.Duration written in the config as "24h", "90m" or a
// number of seconds: the one form every section (escalation, heartbeats,
// maintenance windows) takes.
type Duration time.Duration

// D is the duration as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// MarshalJSON writes the Go form ("24h0m0s").
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// UnmarshalJSON takes a string ("1h30m") or a number of seconds.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	switch x := v.(type) {
	case float64:
		*d = Duration(x * float64(time.Second))
	case string:
		p, err := time.ParseDuration(x)
		if err != nil {
			return fmt.Errorf("duration %q: want e.g. \"24h\", \"90m\" or a number of seconds", x)
		}
		*d = Duration(p)
	default:
		return fmt.Errorf("duration: want a string like \"24h\" or a number of seconds")
	}
	return nil
}
