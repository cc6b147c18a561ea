package notification

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/oncall/pager/internal/teamtest"

	"github.com/oncall/pager/app/team"
)

// The team package's documents: its seed config and the one with every
// alerting section, valid.
var alertingConfig = readTeamTestdata("alerting_config.json")

func readTeamTestdata(name string) string {
	data, err := os.ReadFile(filepath.Join("..", "team", "testdata", name))
	if err != nil {
		panic(err)
	}
	return string(data)
}

func seedConfig(t testing.TB) []byte {
	t.Helper()
	return []byte(readTeamTestdata("seed_config.json"))
}

func mustParse(t testing.TB, data []byte) *team.Config {
	t.Helper()
	cfg, err := team.Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

var deleteKey = teamtest.Remove

// edit applies edits to data, so tests state only what they change.
func edit(t testing.TB, data []byte, edits map[string]any) []byte {
	t.Helper()
	return teamtest.EditDoc(t, data, edits)
}
