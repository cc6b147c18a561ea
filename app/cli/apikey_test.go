package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/oncall/pager/app"
	"github.com/oncall/pager/app/jsondoc"
	"github.com/oncall/pager/app/team"
)

var mintedKey = regexp.MustCompile(`pk_[A-Za-z0-9_-]{43}`)

func apikeyRun(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = Main(context.Background(), append([]string{"apikey"}, args...), strings.NewReader(""), &out, &errb)
	return code, out.String(), errb.String()
}

// keyFrom is the one key in out.
func keyFrom(t *testing.T, out string) string {
	t.Helper()
	keys := mintedKey.FindAllString(out, -1)
	if len(keys) != 1 {
		t.Fatalf("want the key exactly once in\n%s", out)
	}
	return keys[0]
}

func TestAPIKeyNewPrints(t *testing.T) {
	t.Chdir(t.TempDir())
	code, out, errs := apikeyRun(t, "new", "monitoring")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	key := keyFrom(t, out)
	want := `"monitoring": {"sha256": "` + team.HashAPIKey(key) + `", "enabled": true, "can_read": false}`
	if !strings.Contains(out, want) || !strings.Contains(out, "not stored") {
		t.Errorf("output lacks the entry %s or the warning:\n%s", want, out)
	}
	// Flags after or before the name.
	for _, args := range [][]string{{"new", "reader", "--can-read"}, {"new", "--can-read", "reader"}} {
		code, out, _ := apikeyRun(t, args...)
		if code != 0 || !strings.Contains(out, `"reader": {"sha256": "`+team.HashAPIKey(keyFrom(t, out))+`", "enabled": true, "can_read": true}`) {
			t.Errorf("%v: exit %d\n%s", args, code, out)
		}
	}
	for _, args := range [][]string{nil, {"old"}, {"new"}, {"new", "a", "b"}, {"new", "a b"}, {"new", "x", "--bogus"}} {
		if code, out, _ := apikeyRun(t, args...); code != 2 || mintedKey.MatchString(out) {
			t.Errorf("%q: exit %d, want 2 and no key\n%s", args, code, out)
		}
	}
}

func TestAPIKeyNewWrite(t *testing.T) {
	t.Chdir(t.TempDir())
	// The example config with things this version does not know, which
	// must survive.
	doc, err := jsondoc.Parse(bytes.Replace(team.DefaultConfig(), []byte("{\n"), []byte("{\n  \"zz_note\": {\"keep\": [1, 2.50]},\n"), 1))
	if err != nil {
		t.Fatal(err)
	}
	orig, _ := doc.Marshal()
	if err := os.WriteFile("team.json", orig, 0o640); err != nil {
		t.Fatal(err)
	}

	code, out, errs := apikeyRun(t, "new", "ci", "--can-read", "--write", "team.json")
	if code != 0 {
		t.Fatalf("exit %d: %s\n%s", code, errs, out)
	}
	key := keyFrom(t, out)
	after, err := os.ReadFile("team.json")
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(after, []byte(key)) {
		t.Fatal("the plaintext key was written to the config")
	}
	cfg, err := team.Parse(after)
	if err != nil {
		t.Fatal(err)
	}
	if name, k, ok := cfg.CheckAPIKey(key); !ok || name != "ci" || !k.CanRead {
		t.Errorf("CheckAPIKey(new key) = %q, %+v, %v", name, k, ok)
	}
	// Exactly the entry was added: removing it gives back the file.
	doc, _ = jsondoc.Parse(after)
	doc.Delete([]string{"api_keys", "ci"})
	back, _ := doc.Marshal()
	if !bytes.Equal(back, orig) {
		t.Errorf("the rest of the file changed:\n%s\nwant\n%s", back, orig)
	}
	if st, _ := os.Stat("team.json"); st.Mode().Perm() != 0o640 {
		t.Errorf("permissions %v, want 0640 kept", st.Mode().Perm())
	}

	// The name is taken: nothing minted, nothing written.
	code, out, _ = apikeyRun(t, "new", "ci", "--write", "team.json")
	if unchanged, _ := os.ReadFile("team.json"); code != 1 || mintedKey.MatchString(out) || !bytes.Equal(unchanged, after) {
		t.Errorf("existing name: exit %d, file changed %v\n%s", code, !bytes.Equal(unchanged, after), out)
	}
	// Rotation: the old key stops working.
	code, out, _ = apikeyRun(t, "new", "ci", "--write", "team.json", "--replace")
	if code != 0 {
		t.Fatalf("replace: exit %d\n%s", code, out)
	}
	rotated, _ := os.ReadFile("team.json")
	cfg, err = team.Parse(rotated)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, ok := cfg.CheckAPIKey(key); ok {
		t.Error("the replaced key still works")
	}
	if name, k, ok := cfg.CheckAPIKey(keyFrom(t, out)); !ok || name != "ci" || k.CanRead {
		t.Errorf("rotated key: %q, %+v, %v", name, k, ok)
	}
}

func TestAPIKeyNewWriteRefusesInvalidConfig(t *testing.T) {
	t.Chdir(t.TempDir())
	bad := bytes.Replace(team.DefaultConfig(), []byte(`"members": [`), []byte(`"members": ["mallory", `), 1)
	if err := os.WriteFile("team.json", bad, 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errs := apikeyRun(t, "new", "ci", "--write", "team.json")
	if code != 1 || mintedKey.MatchString(out) || !strings.Contains(out, "groups.ops.members[0]") || !strings.Contains(errs, "not written") {
		t.Errorf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errs)
	}
	if got, _ := os.ReadFile("team.json"); !bytes.Equal(got, bad) {
		t.Error("an invalid config was rewritten")
	}
	if code, _, errs := apikeyRun(t, "new", "ci", "--write", "missing.json"); code != 1 || !strings.Contains(errs, "missing.json") {
		t.Errorf("missing file: exit %d: %s", code, errs)
	}
}

// keyNames is ../team/testdata/keynames.json, the names the console's
// tests send through its forms too.
func keyNames(t *testing.T) []struct {
	Name string `json:"name"`
	OK   bool   `json:"ok"`
} {
	t.Helper()
	var names []struct {
		Name string `json:"name"`
		OK   bool   `json:"ok"`
	}
	b, err := os.ReadFile(filepath.Join("..", "team", "testdata", "keynames.json"))
	if err == nil {
		err = json.Unmarshal(b, &names)
	}
	if err != nil || len(names) == 0 {
		t.Fatalf("keynames.json: %v", err)
	}
	return names
}

// An API key or calendar token name the console refuses, the CLI refuses,
// before minting anything; one it accepts, the CLI accepts.
func TestKeyNamesAsTheConsole(t *testing.T) {
	names := keyNames(t)
	st := scheduleStore(t)
	t.Chdir(t.TempDir())
	for _, c := range names {
		code, out, errs := apikeyRun(t, "new", c.Name)
		if c.OK && (code != 0 || !mintedKey.MatchString(out)) || !c.OK && (code != 2 || mintedKey.MatchString(out)) {
			t.Errorf("apikey new %q: exit %d, want it accepted %v\n%s%s", c.Name, code, c.OK, out, errs)
		}
		before, _ := st.Get(context.Background(), app.DefaultConfigKey)
		code, out, errs = run(t, "schedule", "token", "new", "--name", c.Name)
		after, _ := st.Get(context.Background(), app.DefaultConfigKey)
		if c.OK && (code != 0 || !strings.Contains(out, "/calendar/cal_")) || !c.OK && (code != 2 || after.ETag != before.ETag) {
			t.Errorf("schedule token new --name %q: exit %d, want it accepted %v\n%s%s", c.Name, code, c.OK, out, errs)
		}
	}
	// A member id that is no such name is no default token name either.
	if code, _, errs := run(t, "schedule", "token", "new", "--user", "Bob.Smith"); code != 2 || !strings.Contains(errs, "--name") {
		t.Errorf("default name from the id Bob.Smith: exit %d %s", code, errs)
	}
}
