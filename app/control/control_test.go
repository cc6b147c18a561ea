package control_test

import (
	"context"
	"strings"
	"testing"

	"github.com/oncall/pager/app/control"
	"github.com/oncall/pager/app/jsondoc"
	"github.com/oncall/pager/app/outbound"
	"github.com/oncall/pager/app/team"
	"github.com/oncall/pager/internal/teamtest"
)

// fixedConfig is a team manager that never changes.
type fixedConfig struct{ cfg *team.Config }

func (f fixedConfig) Current() *team.Config { return f.cfg }
func (f fixedConfig) Update(context.Context, string, func(*team.Config, *jsondoc.Doc) error) (*team.Config, error) {
	return f.cfg, nil
}

// The help text is sent on every unknown text: it stays within two GSM-7
// segments for a name of up to 29 characters.
func TestHelpFitsTwoSegments(t *testing.T) {
	name := strings.Repeat("N", 29)
	cfg, err := team.Parse(teamtest.Default(teamtest.WithUsers(teamtest.User("long", name, "+15555550177"))).JSON())
	if err != nil {
		t.Fatal(err)
	}
	h := control.New(control.Options{Config: fixedConfig{cfg}})
	for _, body := range []string{"HALP", "what?"} {
		r := h.Handle(context.Background(), "+15555550177", body, "SM1")
		if len(r) != 1 || !strings.Contains(r[0], "Text WHO") {
			t.Fatalf("%q: reply %q", body, r)
		}
		if n, enc := outbound.SegmentsOf(r[0]); n > 2 || enc != outbound.GSM7 {
			t.Errorf("%q: %d segments (%v) for %d characters: %s", body, n, enc, len(r[0]), r[0])
		}
	}
}
