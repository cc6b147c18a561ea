package pagerline

import (
	"testing"

	"github.com/oncall/pager/app/team"
)

// The greeting and "Press 1" are read as two sentences, whatever
// punctuation the configured greeting ends with.
func TestGreetingIsASentence(t *testing.T) {
	for in, want := range map[string]string{
		"":                                 "You have reached the on-call engineer.",
		"You have reached Example Corp":    "You have reached Example Corp.",
		"  You have reached Example Corp ": "You have reached Example Corp.",
		"Hello!":                           "Hello!",
		"Is this urgent?":                  "Is this urgent?",
		"Example Corp on call.":            "Example Corp on call.",
	} {
		cfg := &team.Config{CurrentConfig: team.CurrentConfig{Greeting: in}}
		if got := greeting(cfg); got != want {
			t.Errorf("greeting(%q) = %q, want %q", in, got, want)
		}
	}
}
