package teamtest_test

import (
	"encoding/json"
	"testing"

	"github.com/oncall/pager/app/team"
	"github.com/oncall/pager/internal/teamtest"
)

func parse(t *testing.T, c teamtest.Config) *team.Config {
	t.Helper()
	cfg, err := team.Parse(c.JSON())
	if err != nil {
		t.Fatalf("config does not parse: %v\n%s", err, c.JSON())
	}
	return cfg
}

func TestDefaultIsAValidTeam(t *testing.T) {
	cfg := parse(t, teamtest.Default())
	if cfg.CurrentConfig.OncallUser.ID != "alice" || cfg.CurrentConfig.OncallUser.Phone != teamtest.Alice {
		t.Fatalf("on call: %+v", cfg.CurrentConfig.OncallUser)
	}
	for id, phone := range map[string]string{"alice": teamtest.Alice, "bob": teamtest.Bob, "carol": teamtest.Carol} {
		if u, ok := cfg.UserByID(id); !ok || u.Phone != phone {
			t.Errorf("user %s: %+v, %v", id, u, ok)
		}
	}
	if cfg.CurrentConfig.FromPhone != teamtest.Control || cfg.CurrentConfig.PagerPhone != teamtest.PagerPhone {
		t.Errorf("numbers: %+v", cfg.CurrentConfig)
	}
}

func TestPatches(t *testing.T) {
	c := teamtest.Default(
		teamtest.WithUsers(teamtest.User("dave", "Dave Gone", "+15555550104")),
		teamtest.OnCall("dave"),
		teamtest.Set("current_config.greeting", "Hello."),
		teamtest.Merge(`{"current_config": {"mail_settings": {"mail_port": 2525}}, "groups": {"ops": {"members": ["alice", "dave"]}}}`),
		teamtest.WithAPIKey("nagios", team.HashAPIKey("pk_x"), false),
		teamtest.WithEscalation(`{"steps": [{"targets": ["oncall"], "delay": "1m"}]}`),
		teamtest.Delete("current_config.last_modified_user_id"),
	)
	cfg := parse(t, c)
	if cfg.CurrentConfig.OncallUser.ID != "dave" || cfg.CurrentConfig.Greeting != "Hello." {
		t.Errorf("current_config: %+v", cfg.CurrentConfig)
	}
	if name, _, ok := cfg.CheckAPIKey("pk_x"); !ok || name != "nagios" {
		t.Error("the API key does not check")
	}
	var raw map[string]map[string]any
	if err := json.Unmarshal(c.JSON(), &raw); err != nil {
		t.Fatal(err)
	}
	mail := raw["current_config"]["mail_settings"].(map[string]any)
	if mail["mail_port"] != 2525.0 || mail["from_email"] != "oncall@example.com" {
		t.Errorf("Merge did not merge key by key: %v", mail)
	}
	if _, ok := raw["current_config"]["last_modified_user_id"]; ok {
		t.Error("Delete left the key")
	}
	if raw["escalation"] == nil || raw["groups"] == nil {
		t.Errorf("escalation or groups missing: %v", raw)
	}
}

func TestCopiesDoNotShareState(t *testing.T) {
	base := teamtest.Default()
	changed := base.With(teamtest.Set("available_users.users.alice.name", "Changed"), teamtest.OnCall("bob"))
	if got := parse(t, base).CurrentConfig.OncallUser.ID; got != "alice" {
		t.Fatalf("With changed the original: on call %s", got)
	}
	if u, _ := parse(t, teamtest.Default()).UserByID("alice"); u.Name != "Alice McAlister" {
		t.Fatalf("a patch leaked into the next Default: %q", u.Name)
	}
	if u, _ := parse(t, changed).UserByID("alice"); u.Name != "Changed" {
		t.Fatalf("patch not applied: %q", u.Name)
	}
}
