package team

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/oncall/pager/app/jsondoc"
)

// alertingConfig is the seed's team plus every alert section, valid and
// without warnings.
var alertingConfig = readTestdata("alerting_config.json")

func readTestdata(name string) string {
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		panic(err)
	}
	return string(data)
}

func mustParse(t *testing.T, data []byte) *Config {
	t.Helper()
	cfg, err := Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func TestAlertingConfigValidAndQuiet(t *testing.T) {
	cfg := mustParse(t, []byte(alertingConfig))
	if w := Warnings(cfg); len(w) != 0 {
		t.Errorf("warnings: %v", w)
	}
	if got := cfg.RateLimits(); got != (Rates{SMSPerSecond: 0.5, CallsPerSecond: 1}) {
		t.Errorf("RateLimits = %+v", got)
	}
	if cfg.Rates == nil || cfg.Rates.CallsPerSecond != 1 {
		t.Errorf("Parse did not fill in rates: %+v", cfg.Rates)
	}
	sig, _ := cfg.Channel("signal_ops")
	em, _ := cfg.Channel("email_ops")
	if sig.CliPath != "signal-cli" || em.SMTPPort != 587 || !em.TLS() {
		t.Errorf("channel defaults not applied: cli_path %q smtp_port %d tls %v", sig.CliPath, em.SMTPPort, em.TLS())
	}
	mm, _ := cfg.Channel("mm_ops")
	if got := mm.MattermostURL(); got != "https://chat.example.com/hooks/mm-Secret-2" {
		t.Errorf("MattermostURL = %q", got)
	}
	if name, ch, ok := cfg.Transport(MediumPushover); !ok || name != "pushover_app" || ch.Token != "po-Secret-3" {
		t.Errorf("Transport(pushover) = %q, %v", name, ok)
	}
	if _, _, ok := cfg.Transport(MediumSlack); ok {
		t.Error("Transport(slack): a per-user slack address is its own webhook")
	}
	// Without the section everything has its defaults.
	if r := mustParse(t, seedConfig(t)).RateLimits(); r.SMSPerSecond != 1 || r.CallsPerSecond != 1 {
		t.Errorf("default rates %+v", r)
	}
	var nilCfg *Config
	if r := nilCfg.RateLimits(); r.SMSPerSecond != 1 {
		t.Errorf("nil config rates %+v", r)
	}
}

func TestDefaultConfigExample(t *testing.T) {
	cfg := mustParse(t, DefaultConfig())
	k, ok := cfg.APIKeys["example"]
	if !ok || !k.IsEnabled() || k.CanRead || !validSHA256(k.SHA256) {
		t.Errorf("api_keys.example = %+v", k)
	}
}

// TestRoundTripUnchanged: the new sections are plain JSON to Doc, which
// writes them back as they were.
func TestRoundTripUnchanged(t *testing.T) {
	for name, in := range map[string][]byte{"default": DefaultConfig(), "alerting": []byte(alertingConfig)} {
		doc, err := jsondoc.Parse(in)
		if err != nil {
			t.Fatal(err)
		}
		out, err := doc.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		back, err := jsondoc.Parse(out)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(back, doc) {
			t.Errorf("%s: round trip changed the document:\n%s", name, out)
		}
		if name == "default" && !bytes.Equal(out, in) {
			t.Errorf("default config is not in Marshal's layout:\n%s", out)
		}
		// Parse's defaults stay in memory: the document is untouched.
		mustParse(t, in)
		again, _ := doc.Marshal()
		if !bytes.Equal(again, out) {
			t.Errorf("%s: Parse changed the document", name)
		}
	}
}

func TestAlertingRules(t *testing.T) {
	base := []byte(alertingConfig)
	ch := func(v map[string]any) map[string]any { return v }
	cases := []struct {
		name  string
		edits map[string]any
		bad   []string // nil means valid
	}{
		{"group member unknown", map[string]any{"groups.ops.members": []string{"alice", "mallory"}}, []string{"groups.ops.members[1]"}},
		{"group members not a list", map[string]any{"groups.ops.members": "alice"}, []string{"groups.ops.members"}},
		{"group slug", map[string]any{"groups.a/b": Group{Members: []string{"bob"}}}, []string{`groups["a/b"]`}},
		{"event contact unknown", map[string]any{"events.disk_full.contacts": []string{"mallory"}}, []string{"events.disk_full.contacts[0]"}},
		{"event group unknown", map[string]any{"events.disk_full.groups": []string{"ops", "dba"}}, []string{"events.disk_full.groups[1]"}},
		{"event channel unknown", map[string]any{"events.page.channels": []string{"telegram"}}, []string{"events.page.channels[0]"}},
		{"event message empty", map[string]any{"events.page.message": "  "}, []string{"events.page.message"}},
		{"event message missing", map[string]any{"events.page.message": deleteKey}, []string{"events.page.message"}},
		{"event from_phone", map[string]any{"events.page.from_phone": "555-1234"}, []string{"events.page.from_phone"}},
		{"event oncall not a bool", map[string]any{"events.page.oncall": "yes"}, []string{"events.page.oncall"}},
		{"user channel unknown", map[string]any{"available_users.users.alice.notification_channels": []string{"email_ops", "nope"}}, []string{"available_users.users.alice.notification_channels[1]"}},
		{"user channel is a medium", map[string]any{"available_users.users.alice.notification_channels": []string{"sms"}}, []string{"available_users.users.alice.notification_channels[0]"}},
		{"user medium unknown", map[string]any{"available_users.users.bob.channels": ch(map[string]any{"fax": map[string]any{}})}, []string{"available_users.users.bob.channels.fax"}},
		{"user webhook not http", map[string]any{"available_users.users.dave.channels.webhook.address": "ftp://example.com/x"}, []string{"available_users.users.dave.channels.webhook.address"}},
		{"user webhook missing", map[string]any{"available_users.users.dave.channels.webhook": map[string]any{}}, []string{"available_users.users.dave.channels.webhook.address"}},
		{"user email address", map[string]any{"available_users.users.alice.channels.email.address": "alice at example"}, []string{"available_users.users.alice.channels.email.address"}},
		{"user email none", map[string]any{"available_users.users.bob.channels": ch(map[string]any{"email": map[string]any{}})}, []string{"available_users.users.bob.channels.email.address"}},
		{"user signal number", map[string]any{"available_users.users.bob.channels": ch(map[string]any{"signal": map[string]any{"address": "bob"}})}, []string{"available_users.users.bob.channels.signal.address"}},
		{"user signal defaults to phone", map[string]any{"available_users.users.bob.channels": ch(map[string]any{"signal": map[string]any{}})}, nil},
		{"user sms other number", map[string]any{"available_users.users.bob.channels": ch(map[string]any{"sms": map[string]any{"address": "+44 7700 900123"}})}, []string{"available_users.users.bob.channels.sms.address"}},
		{"user pushover key", map[string]any{"available_users.users.alice.channels.pushover.address": ""}, []string{"available_users.users.alice.channels.pushover.address"}},
		{"user enabled not a bool", map[string]any{"available_users.users.alice.channels.sms.enabled": "no"}, []string{"available_users.users.alice.channels.sms.enabled"}},
		{"default unknown", map[string]any{"default_notification_channels": []string{"nope"}}, []string{"default_notification_channels[0]"}},
		{"default is a medium", map[string]any{"default_notification_channels": []string{"mm_ops", "sms"}}, []string{"default_notification_channels[1]"}},
		{"channel named like a medium", map[string]any{"notification_channels.slack": map[string]any{"type": "slack", "url": "https://hooks.slack.com/x"}}, []string{"notification_channels.slack"}},
		{"channel type missing", map[string]any{"notification_channels.x": map[string]any{"url": "https://example.com"}}, []string{"notification_channels.x.type"}},
		{"channel type unknown", map[string]any{"notification_channels.x": map[string]any{"type": "telegram"}}, []string{"notification_channels.x.type"}},
		{"email required", map[string]any{"notification_channels.x": map[string]any{"type": "email"}}, []string{"notification_channels.x.recipients", "notification_channels.x.sender", "notification_channels.x.smtp_server"}},
		{"email addresses", map[string]any{"notification_channels.email_ops.recipients": []string{"ops@example.com", "ops"}, "notification_channels.email_ops.sender": "Pager <p@example.com>"}, []string{"notification_channels.email_ops.recipients[1]", "notification_channels.email_ops.sender"}},
		{"email port", map[string]any{"notification_channels.email_ops.smtp_port": 70000}, []string{"notification_channels.email_ops.smtp_port"}},
		{"pushover required", map[string]any{"notification_channels.x": map[string]any{"type": "pushover"}}, []string{"notification_channels.x.token", "notification_channels.x.user"}},
		{"mattermost required", map[string]any{"notification_channels.x": map[string]any{"type": "mattermost"}}, []string{"notification_channels.x.host", "notification_channels.x.token"}},
		{"mattermost url", map[string]any{"notification_channels.x": map[string]any{"type": "mattermost", "url": "https://chat.example.com/hooks/abc"}}, nil},
		{"mattermost host with scheme", map[string]any{"notification_channels.mm_ops.host": "http://chat.example.com:8065"}, nil},
		{"mattermost host with path", map[string]any{"notification_channels.mm_ops.host": "chat.example.com/hooks/abc"}, []string{"notification_channels.mm_ops.host"}},
		{"slack required", map[string]any{"notification_channels.x": map[string]any{"type": "slack"}}, []string{"notification_channels.x.url"}},
		{"signal required", map[string]any{"notification_channels.x": map[string]any{"type": "signal"}}, []string{"notification_channels.x.recipient", "notification_channels.x.user"}},
		{"signal numbers", map[string]any{"notification_channels.signal_ops.recipient": "12025559999"}, []string{"notification_channels.signal_ops.recipient"}},
		{"webhook scheme", map[string]any{"notification_channels.hook.url": "file:///etc/passwd"}, []string{"notification_channels.hook.url"}},
		{"sms from_phone", map[string]any{"notification_channels.sms_backup.from_phone": ""}, []string{"notification_channels.sms_backup.from_phone"}},
		{"voice to", map[string]any{"notification_channels.x": map[string]any{"type": "voice", "from_phone": "+19195559999", "to": []string{"+19195551001", "911"}}}, []string{"notification_channels.x.to[1]"}},
		{"api key hash short", map[string]any{"api_keys.x": map[string]any{"sha256": "abc"}}, []string{"api_keys.x.sha256"}},
		{"api key hash not hex", map[string]any{"api_keys.x": map[string]any{"sha256": strings.Repeat("g", 64)}}, []string{"api_keys.x.sha256"}},
		{"api key hash missing", map[string]any{"api_keys.x": map[string]any{"enabled": true}}, []string{"api_keys.x.sha256"}},
		{"api key twice", map[string]any{"api_keys.zz": map[string]any{"sha256": strings.ToUpper(HashAPIKey("abc"))}}, []string{"api_keys.zz.sha256"}},
		{"rates negative", map[string]any{"rates.calls_per_second": -1}, []string{"rates.calls_per_second"}},
		{"rates null", map[string]any{"rates": nil}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse(edit(t, base, c.edits))
			if c.bad == nil {
				if err != nil {
					t.Fatalf("want valid, got %v", err)
				}
				return
			}
			var ve *ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("want problems at %v, got %v", c.bad, err)
			}
			if got := problemPaths(ve.Problems); !slices.Equal(got, c.bad) {
				t.Errorf("problems %v, want at %q", ve.Problems, c.bad)
			}
		})
	}
}

func TestAlertingEveryProblemAtOnce(t *testing.T) {
	ve := mustInvalid(t, edit(t, []byte(alertingConfig), map[string]any{
		"groups.ops.members":                   []string{"mallory"},
		"events.page.message":                  "",
		"events.page.channels":                 []string{"nope"},
		"api_keys.monitoring.sha256":           "00",
		"notification_channels.hook.url":       "",
		"default_notification_channels":        []string{"gone"},
		"available_users.users.bob.phone":      "bob", // an old rule still reported alongside
		"notification_channels.mm_ops.enabled": "yes",
	}))
	want := []string{
		"api_keys.monitoring.sha256",
		"available_users.users.bob.phone",
		"default_notification_channels[0]",
		"events.page.channels[0]",
		"events.page.message",
		"groups.ops.members[0]",
		"notification_channels.hook.url",
		"notification_channels.mm_ops.enabled",
	}
	if got := problemPaths(ve.Problems); !slices.Equal(got, want) {
		t.Errorf("problems %v\nwant at %q", ve.Problems, want)
	}
}

func TestAlertingWarnings(t *testing.T) {
	cfg := mustParse(t, edit(t, []byte(alertingConfig), map[string]any{
		"notification_channels.email_ops.token":           "stray",
		"notification_channels.pushover_app":              deleteKey,
		"groups.ops.members":                              []string{"alice", "alice"},
		"events.quiet.contacts":                           []string{},
		"notification_channels.sms_fixed":                 map[string]any{"type": "sms", "from_phone": "+19195559990"},
		"default_notification_channels":                   []string{"mm_ops", "sms_fixed"},
		"available_users.users.bob.notification_channels": []string{"hook"},
	}))
	want := []string{
		"available_users.users.alice.channels.pushover", // no pushover app token anywhere
		"default_notification_channels[1]",              // sms without "to" reaches nobody as a default
		"events.quiet",                                  // reaches nobody
		"groups.ops.members[1]",                         // listed twice
		"notification_channels.email_ops.token",         // not an email field
	}
	if got := problemPaths(Warnings(cfg)); !slices.Equal(got, want) {
		t.Errorf("warnings %v\nwant at %q", Warnings(cfg), want)
	}
}
