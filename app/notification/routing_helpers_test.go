package notification

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/oncall/pager/app/jsondoc"
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

// deleteKey as an edit's value removes the key.
const deleteKey = "\x00delete"

// edit applies Doc.Set edits to data, so tests state only what they change.
func edit(t testing.TB, data []byte, edits map[string]any) []byte {
	t.Helper()
	doc, err := jsondoc.Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	for p, v := range edits {
		if v == deleteKey {
			doc.Delete(strings.Split(p, "."))
			continue
		}
		if err := doc.Set(strings.Split(p, "."), v); err != nil {
			t.Fatal(err)
		}
	}
	out, err := doc.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return out
}
