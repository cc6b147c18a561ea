package team

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/oncall/pager/internal/teamtest"

	"github.com/oncall/pager/app/jsondoc"
)

func seedConfig(t testing.TB) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/seed_config.json")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// edit applies edits to data, so tests state only what they change.
func edit(t testing.TB, data []byte, edits map[string]any) []byte {
	t.Helper()
	return teamtest.EditDoc(t, data, edits)
}

func jsonNum(s string) json.Number { return json.Number(s) }

var deleteKey = teamtest.Remove

func problemPaths(ps []Problem) []string {
	var out []string
	for _, p := range ps {
		out = append(out, p.Path)
	}
	slices.Sort(out)
	return out
}

func mustInvalid(t *testing.T, data []byte) *ValidationError {
	t.Helper()
	cfg, err := Parse(data)
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("Parse = %v, %v; want a *ValidationError", cfg, err)
	}
	return ve
}

func TestParseSeedSample(t *testing.T) {
	cfg, err := Parse(seedConfig(t))
	if err != nil {
		t.Fatalf("the seed's own sample config must parse: %v", err)
	}
	oc, ok := cfg.OnCall()
	if !ok || oc.ID != "alice" || oc.Phone != "+19195551001" {
		t.Errorf("OnCall = %+v, %v; want alice with her available_users phone +19195551001", oc, ok)
	}
	warns := Warnings(cfg)
	if !slices.ContainsFunc(warns, func(p Problem) bool { return p.Path == "current_config.oncall_user.phone" }) {
		t.Errorf("want a warning about oncall_user.phone disagreeing with alice's entry, got %v", warns)
	}
	cc := cfg.CurrentConfig
	if cc.LastModifiedTime != 1611602242 || cc.SessionLifetime != 300 || cc.MailSettings.MailPort != 25 || !cc.MailSettings.MailUseTLS {
		t.Errorf("decoded wrongly: %+v", cc)
	}
	// Defaults for the options the sample does not have.
	if cc.MaxRecordSeconds != DefaultMaxRecordSeconds || cc.Timezone != "UTC" || cc.Location().String() != "UTC" {
		t.Errorf("defaults not applied: max_record_seconds=%d timezone=%q", cc.MaxRecordSeconds, cc.Timezone)
	}
}

func TestDefaultConfigIsValidAndQuiet(t *testing.T) {
	cfg, err := Parse(DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	// Its only warning is the one that keeps the published example key
	// from going live unnoticed.
	if w := Warnings(cfg); len(w) != 1 || w[0].Path != "api_keys.example.sha256" {
		t.Errorf("example config warnings: %v", w)
	}
	if len(cfg.AvailableUsers.Users) != 2 || cfg.CurrentConfig.MailSettings.MailServer != "localhost" || cfg.CurrentConfig.MailSettings.MailUseTLS {
		t.Errorf("unexpected example config: %+v", cfg)
	}
	// A copy: callers scribbling on it do not change the next one.
	b := DefaultConfig()
	b[0] = 'x'
	if DefaultConfig()[0] != '{' {
		t.Error("DefaultConfig hands out its embedded bytes")
	}
}

func TestUserLookups(t *testing.T) {
	cfg, err := Parse(edit(t, seedConfig(t), map[string]any{"available_users.users.bob.enabled": false}))
	if err != nil {
		t.Fatal(err)
	}
	for _, in := range []string{"+19195551002", "+1 919-555-1002", "+1 (919) 555.1002"} {
		u, ok := cfg.UserByPhone(in)
		if !ok || u.ID != "bob" {
			t.Errorf("UserByPhone(%q) = %+v, %v; want bob", in, u, ok)
		}
		if u.IsEnabled() {
			t.Errorf("bob is disabled in the config")
		}
	}
	for _, in := range []string{"", "+19195551003", "19195551002", "+9195551001"} {
		if u, ok := cfg.UserByPhone(in); ok {
			t.Errorf("UserByPhone(%q) = %+v; want no match (phones match exactly)", in, u)
		}
	}
	if u, ok := cfg.UserByID("alice"); !ok || !u.IsEnabled() || u.Name != "Alice McAlister" {
		t.Errorf("UserByID(alice) = %+v, %v", u, ok)
	}
	if _, ok := cfg.UserByID("mallory"); ok {
		t.Error("UserByID found an unknown user")
	}
	var nilCfg *Config
	if _, ok := nilCfg.UserByPhone("+19195551002"); ok {
		t.Error("nil config matched a phone")
	}
}

func TestOnCallFallsBackToOncallUser(t *testing.T) {
	cfg, err := Parse(edit(t, seedConfig(t), map[string]any{
		"current_config.oncall_user": OncallUser{ID: "carol", Name: "Carol Contractor", Phone: "+447700900123"},
	}))
	if err != nil {
		t.Fatal(err)
	}
	oc, ok := cfg.OnCall()
	if !ok || oc.ID != "carol" || oc.Phone != "+447700900123" {
		t.Errorf("OnCall = %+v, %v; want carol from oncall_user", oc, ok)
	}
	if !slices.ContainsFunc(Warnings(cfg), func(p Problem) bool { return p.Path == "current_config.oncall_user.id" }) {
		t.Errorf("want a warning that carol is not in available_users, got %v", Warnings(cfg))
	}
}

func TestParseReportsEveryProblem(t *testing.T) {
	data := edit(t, seedConfig(t), map[string]any{
		"available_users.users.bob.id":              "robert",
		"available_users.users.alice.phone":         "919-555-1001",
		"current_config.pager_phone":                "+0123",
		"current_config.session_lifetime":           -5,
		"current_config.mail_settings.mail_port":    70000,
		"current_config.mail_settings.to_email":     "sre at example",
		"current_config.mail_settings.mail_use_tls": "yes",
		"current_config.timezone":                   "Mars/Olympus_Mons",
	})
	ve := mustInvalid(t, data)
	want := []string{
		"available_users.users.alice.phone",
		"available_users.users.bob.id",
		"current_config.mail_settings.mail_port",
		"current_config.mail_settings.mail_use_tls",
		"current_config.mail_settings.to_email",
		"current_config.pager_phone",
		"current_config.session_lifetime",
		"current_config.timezone",
	}
	if got := problemPaths(ve.Problems); !slices.Equal(got, want) {
		t.Errorf("problems at\n%q\nwant\n%q\n(%v)", got, want, ve)
	}
	for _, p := range ve.Problems {
		if p.Message == "" || !strings.Contains(ve.Error(), p.String()) {
			t.Errorf("problem %q missing from Error() %q", p, ve.Error())
		}
	}
}

func TestParseMissingSections(t *testing.T) {
	ve := mustInvalid(t, []byte(`{"available_users": {}, "current_config": {"from_phone": "+19195559876"}}`))
	want := []string{
		"available_users.users",
		"current_config.oncall_user", // and nothing more about what is under it
		"current_config.pager_phone",
	}
	if got := problemPaths(ve.Problems); !slices.Equal(got, want) {
		t.Errorf("problems %v, want paths %q", ve.Problems, want)
	}
	ve = mustInvalid(t, []byte(`{}`))
	if got := problemPaths(ve.Problems); !slices.Equal(got, []string{"available_users", "current_config"}) {
		t.Errorf("empty object: %v", ve.Problems)
	}
}

func TestParseEveryTypeError(t *testing.T) {
	data := edit(t, seedConfig(t), map[string]any{
		"available_users.users.bob":       "bob",
		"available_users.users.alice.id":  42,
		"current_config.session_lifetime": "300",
		"current_config.mail_settings":    []any{},
		"current_config.greeting":         true,
	})
	ve := mustInvalid(t, data)
	want := []string{
		"available_users.users.alice.id",
		"available_users.users.bob",
		"current_config.greeting",
		"current_config.mail_settings",
		"current_config.session_lifetime",
	}
	if got := problemPaths(ve.Problems); !slices.Equal(got, want) {
		t.Errorf("problems %v, want paths %q", ve.Problems, want)
	}
}

func TestParseSyntaxErrorHasLineColumn(t *testing.T) {
	cases := []struct{ in, want string }{
		{"{\n  \"available_users\": {\n    \"users\": {}\n  }\n  \"current_config\": {}\n}\n", "line 5:3"},
		{"{\n  \"a\": [1, 2,]\n}", "line 2:14"},
		{"{\n  \"a\": \"Zoë\", \"b\": x}", "line 2:20"},
		{"{\n  \"a\": 1\n", "line 3:1"},
		{"", "line 1:1"},
	}
	for _, c := range cases {
		ve := mustInvalid(t, []byte(c.in))
		if len(ve.Problems) != 1 || !strings.Contains(ve.Problems[0].Message, c.want) {
			t.Errorf("%q: got %v, want a single problem at %s", c.in, ve.Problems, c.want)
		}
	}
	ve := mustInvalid(t, []byte(`["not", "an", "object"]`))
	if !strings.Contains(ve.Error(), "object") {
		t.Errorf("top-level array: %v", ve)
	}
}

func TestParseLastModifiedTimeFloat(t *testing.T) {
	for in, want := range map[any]int64{
		jsonNum("1611602242.5"):  1611602242,
		jsonNum("1.611602242e9"): 1611602242,
		jsonNum("1611602242"):    1611602242,
	} {
		cfg, err := Parse(edit(t, seedConfig(t), map[string]any{"current_config.last_modified_time": in}))
		if err != nil {
			t.Fatalf("%v: %v", in, err)
		}
		if got := cfg.CurrentConfig.LastModifiedTime; got != want {
			t.Errorf("last_modified_time %v = %d, want %d", in, got, want)
		}
	}
	// Other integers stay whole: a fractional port is a typo, not a port.
	ve := mustInvalid(t, edit(t, seedConfig(t), map[string]any{"current_config.mail_settings.mail_port": jsonNum("25.5")}))
	if got := problemPaths(ve.Problems); !slices.Equal(got, []string{"current_config.mail_settings.mail_port"}) {
		t.Errorf("fractional port: %v", ve.Problems)
	}
}

func TestParseRules(t *testing.T) {
	cases := []struct {
		name  string
		edits map[string]any
		bad   string // "" means valid
	}{
		{"any country", map[string]any{"available_users.users.bob.phone": "+447700900123"}, ""},
		{"too short", map[string]any{"available_users.users.bob.phone": "+1234567"}, "available_users.users.bob.phone"},
		{"too long", map[string]any{"available_users.users.bob.phone": "+1234567890123456"}, "available_users.users.bob.phone"},
		{"no plus", map[string]any{"current_config.from_phone": "19195559876"}, "current_config.from_phone"},
		{"shared phone", map[string]any{"available_users.users.bob.phone": "+19195551001"}, "available_users.users.bob.phone"},
		{"no name", map[string]any{"available_users.users.bob.name": " "}, "available_users.users.bob.name"},
		{"no oncall id", map[string]any{"current_config.oncall_user.id": ""}, "current_config.oncall_user.id"},
		{"session too long", map[string]any{"current_config.session_lifetime": 86401}, "current_config.session_lifetime"},
		{"session a day", map[string]any{"current_config.session_lifetime": 86400}, ""},
		{"record too long", map[string]any{"current_config.max_record_seconds": 14401}, "current_config.max_record_seconds"},
		{"record negative", map[string]any{"current_config.max_record_seconds": -1}, "current_config.max_record_seconds"},
		{"zone", map[string]any{"current_config.timezone": "America/New_York"}, ""},
		{"local zone", map[string]any{"current_config.timezone": "Local"}, "current_config.timezone"},
		{"port zero is unset", map[string]any{"current_config.mail_settings.mail_port": 0}, ""},
		{"no mail settings", map[string]any{"current_config.mail_settings": deleteKey}, ""},
		{"bad user email", map[string]any{"available_users.users.bob.email": "Bob <bob@example.com>"}, "available_users.users.bob.email"},
		{"user email", map[string]any{"available_users.users.bob.email": "bob@example.com"}, ""},
		{"bad from email", map[string]any{"current_config.mail_settings.from_email": "oncall"}, "current_config.mail_settings.from_email"},
		{"unknown keys are fine", map[string]any{"zz_notes": map[string]any{"x": 1}, "current_config.extra": "y"}, ""},
		{"null optional", map[string]any{"current_config.greeting": nil}, ""},
		{"null required", map[string]any{"current_config.oncall_user": nil}, "current_config.oncall_user"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse(edit(t, seedConfig(t), c.edits))
			if c.bad == "" {
				if err != nil {
					t.Fatalf("want valid, got %v", err)
				}
				return
			}
			var ve *ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("want a problem at %s, got %v", c.bad, err)
			}
			if got := problemPaths(ve.Problems); !slices.Equal(got, []string{c.bad}) {
				t.Errorf("problems %v, want only %s", ve.Problems, c.bad)
			}
		})
	}
}

func TestParseWarnsAboutMisspeltAndDuplicateKeys(t *testing.T) {
	data := bytes.Replace(seedConfig(t), []byte(`"session_lifetime": 300`), []byte(`"Session_Lifetime": 600, "pager_phone": "+18002255288"`), 1)
	cfg, err := Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	got := problemPaths(Warnings(cfg))
	for _, want := range []string{"current_config.Session_Lifetime", "current_config.pager_phone"} {
		if !slices.Contains(got, want) {
			t.Errorf("warnings %v lack %s", Warnings(cfg), want)
		}
	}
}

func TestUserKeyMustEqualID(t *testing.T) {
	doc, _ := jsondoc.Parse(seedConfig(t))
	users, _ := doc.Get([]string{"available_users", "users"})
	_ = users.(*jsondoc.Object).Set("b.ob", User{ID: "bob2", Name: "B", Phone: "+19195551009"})
	out, _ := doc.Marshal()
	// The odd key is quoted so the path stays unambiguous.
	ve := mustInvalid(t, out)
	if got := problemPaths(ve.Problems); !slices.Equal(got, []string{`available_users.users["b.ob"].id`}) {
		t.Errorf("problems %v", ve.Problems)
	}
}

func TestMailPasswordNeverLogged(t *testing.T) {
	const secret = "ktmyastgLYrB5bkpNdsx"
	cfg, err := Parse(seedConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	for _, h := range []slog.Handler{slog.NewJSONHandler(&buf, nil), slog.NewTextHandler(&buf, nil)} {
		log := slog.New(h)
		log.Info("cfg", "config", cfg, "value", *cfg, "current", cfg.CurrentConfig, "mail", cfg.CurrentConfig.MailSettings)
		log.Info("group", slog.Group("g", "mail", cfg.CurrentConfig.MailSettings))
	}
	fmt.Fprintf(&buf, "%v %+v %#v %s\n", cfg, *cfg, cfg.CurrentConfig, cfg.CurrentConfig.MailSettings)
	out := buf.String()
	if strings.Contains(out, secret) {
		t.Fatalf("password leaked:\n%s", out)
	}
	// The rest of the settings are there, so the check above means something.
	if strings.Count(out, "smtp.example.com") < 10 || !strings.Contains(out, "oncall_pager_smtp") || !strings.Contains(out, redacted) {
		t.Errorf("settings missing from output:\n%s", out)
	}
}

func BenchmarkParse(b *testing.B) {
	data := seedConfig(b)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := Parse(data); err != nil {
			b.Fatal(err)
		}
	}
}
