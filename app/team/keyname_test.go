package team

import (
	"encoding/json"
	"errors"
	"os"
	"regexp"
	"testing"

	"github.com/oncall/pager/app/jsondoc"
)

// keyNames is testdata/keynames.json, which the CLI's and the console's
// tests also read: one list of names, refused or accepted by every face.
func keyNames(t *testing.T) []struct {
	Name string `json:"name"`
	OK   bool   `json:"ok"`
} {
	t.Helper()
	var names []struct {
		Name string `json:"name"`
		OK   bool   `json:"ok"`
	}
	b, err := os.ReadFile("testdata/keynames.json")
	if err == nil {
		err = json.Unmarshal(b, &names)
	}
	if err != nil || len(names) == 0 {
		t.Fatalf("testdata/keynames.json: %v", err)
	}
	return names
}

func TestValidKeyName(t *testing.T) {
	// The pattern as a browser's pattern attribute reads it: the whole value.
	browser := regexp.MustCompile(`^(?:` + KeyNamePattern + `)$`)
	for _, c := range keyNames(t) {
		if ValidKeyName(c.Name) != c.OK || browser.MatchString(c.Name) != c.OK {
			t.Errorf("ValidKeyName(%q) = %v, want %v", c.Name, ValidKeyName(c.Name), c.OK)
		}
	}
}

func TestAddCalendarToken(t *testing.T) {
	const base = `{"available_users": {"users": {"bob": {"id": "bob", "name": "Bob", "phone": "+15555550102"}}},
		"schedule": {"rotations": [{"members": ["bob"], "start": "2026-01-05T09:00", "shift": "1w"}],
		"calendar_tokens": {"team": {"sha256": "` + ExampleAPIKeySHA256 + `"}}}}`
	add := func(name, user string, noSchedule bool) (*jsondoc.Doc, error) {
		doc, err := jsondoc.Parse([]byte(base))
		if err != nil {
			t.Fatal(err)
		}
		cfg := &Config{Schedule: &Schedule{}}
		if err := json.Unmarshal([]byte(base), cfg); err != nil {
			t.Fatal(err)
		}
		if noSchedule {
			cfg.Schedule = nil
		}
		return doc, AddCalendarToken(cfg, doc, name, user, "cal_secret")
	}
	doc, err := add("bobs", "bob", false)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := doc.Get([]string{"schedule", "calendar_tokens", "bobs"})
	if b, _ := json.Marshal(got); string(b) != `{"sha256":"`+HashAPIKey("cal_secret")+`","user":"bob"}` {
		t.Errorf("entry %s", b)
	}
	doc, err = add("all", "", false)
	if got, _ := doc.Get([]string{"schedule", "calendar_tokens", "all"}); err != nil || got == nil {
		t.Errorf("team feed: %v", err)
	} else if b, _ := json.Marshal(got); string(b) != `{"sha256":"`+HashAPIKey("cal_secret")+`"}` {
		t.Errorf("team feed entry %s", b)
	}
	fresh, _ := jsondoc.Parse([]byte(base))
	want, _ := fresh.Marshal()
	for _, c := range []struct {
		name, user string
		noSchedule bool
		want       error
	}{
		{"Bobs", "bob", false, ErrKeyName},
		{"team", "", false, ErrCalendarTokenExists},
		{"zoes", "zoe", false, ErrUnknownMember},
		{"bobs", "bob", true, ErrNoSchedule},
	} {
		doc, err := add(c.name, c.user, c.noSchedule)
		if !errors.Is(err, c.want) {
			t.Errorf("%q for %q: %v, want %v", c.name, c.user, err, c.want)
		}
		if out, _ := doc.Marshal(); string(out) != string(want) {
			t.Errorf("%q for %q: refused, yet the document changed", c.name, c.user)
		}
	}
}
