package team

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

func TestHashAPIKey(t *testing.T) {
	// FIPS 180-2's example.
	if got := HashAPIKey("abc"); got != "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" {
		t.Errorf("HashAPIKey(abc) = %s", got)
	}
}

func TestNewAPIKey(t *testing.T) {
	seen := map[string]bool{}
	for range 20 {
		k, err := NewAPIKey()
		if err != nil {
			t.Fatal(err)
		}
		b, err := base64.RawURLEncoding.DecodeString(strings.TrimPrefix(k, APIKeyPrefix))
		if !strings.HasPrefix(k, APIKeyPrefix) || err != nil || len(b) != 32 {
			t.Fatalf("key %q: want %s and 32 bytes base64url (%v)", k, APIKeyPrefix, err)
		}
		if seen[k] {
			t.Fatalf("key %q minted twice", k)
		}
		seen[k] = true
	}
}

func TestCheckAPIKey(t *testing.T) {
	cfg := mustParse(t, []byte(alertingConfig))
	cases := []struct {
		key, name string
		canRead   bool
	}{
		{"abc", "monitoring", true},
		{"hello world", "upper", false}, // the stored hex is upper case
		{"hello", "", false},            // api_keys.old is disabled
		{"abcd", "", false},
		{"ABC", "", false},
		{"", "", false},
	}
	for _, c := range cases {
		name, k, ok := cfg.CheckAPIKey(c.key)
		if ok != (c.name != "") || name != c.name || k.CanRead != c.canRead {
			t.Errorf("CheckAPIKey(%q) = %q, %+v, %v; want %q (can_read %v)", c.key, name, k, ok, c.name, c.canRead)
		}
	}
	// A hand-built config with a broken hash does not match anything.
	cfg.APIKeys = map[string]APIKey{"bad": {SHA256: "abc"}}
	if _, _, ok := cfg.CheckAPIKey("abc"); ok {
		t.Error("matched a malformed hash")
	}
	var nilCfg *Config
	if _, _, ok := nilCfg.CheckAPIKey("abc"); ok {
		t.Error("nil config matched")
	}
}

// BenchmarkCheckAPIKey: the check is a loop over every entry whatever
// matches, so a hit and a miss cost the same.
func BenchmarkCheckAPIKey(b *testing.B) {
	cfg := &Config{APIKeys: map[string]APIKey{}}
	for i := range 50 {
		cfg.APIKeys[fmt.Sprint("k", i)] = APIKey{SHA256: HashAPIKey(fmt.Sprint("key", i))}
	}
	for _, key := range []string{"key7", "nokey"} {
		b.Run(key, func(b *testing.B) {
			for b.Loop() {
				cfg.CheckAPIKey(key)
			}
		})
	}
}

func TestSecretsNeverLogged(t *testing.T) {
	cfg := mustParse(t, edit(t, []byte(alertingConfig), map[string]any{
		"notification_channels.slack_off.enabled": true,
		"notification_channels.mm_url": map[string]any{
			"type": "mattermost", "url": "https://chat.example.com/hooks/mmurl-Secret-7", "channel": "ops",
		},
	}))
	secrets := []string{"smtp-Secret-1", "mm-Secret-2", "po-Secret-3", "slack-Secret-4", "hook-Secret-5", "q-Secret-6", "mmurl-Secret-7"}
	var buf bytes.Buffer
	for _, h := range []slog.Handler{slog.NewJSONHandler(&buf, nil), slog.NewTextHandler(&buf, nil)} {
		log := slog.New(h)
		// Not the map itself: slog's JSON handler marshals maps with
		// encoding/json, which knows nothing of LogValue.
		log.Info("cfg", "config", cfg, "value", *cfg)
		for name, ch := range cfg.NotificationChannels {
			log.Info("channel", "name", name, "channel", ch)
		}
		for name, k := range cfg.APIKeys {
			log.Info("key", "name", name, "key", k)
		}
	}
	fmt.Fprintf(&buf, "%v\n%+v\n%#v\n%s\n", cfg, *cfg, cfg.NotificationChannels, cfg.NotificationChannels["email_ops"])
	out := buf.String()
	for _, s := range secrets {
		if strings.Contains(out, s) {
			t.Errorf("secret %s leaked", s)
		}
	}
	// What is not secret is there, so the check above means something.
	for _, s := range []string{"smtp.example.com", "chat.example.com", "https://hooks.slack.com/" + redacted, "https://example.com/alerts?" + redacted, "uteamgroupkey", "sha256_prefix=ba7816bf", `"sha256_prefix":"ba7816bf"`, redacted} {
		if !strings.Contains(out, s) {
			t.Errorf("output lacks %q", s)
		}
	}
	if t.Failed() {
		t.Logf("output:\n%s", out)
	}
}
