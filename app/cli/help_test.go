package cli

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/oncall/pager/app/team"
	"github.com/oncall/pager/store"
	"github.com/oncall/pager/store/storetest"
)

// Every command and subcommand answers -h and --help with its usage on
// stdout and exit 0, before reading settings or touching a store.
func TestHelpOnEveryCommand(t *testing.T) {
	t.Setenv("LOG_FORMAT", "nonsense") // help must not need valid settings
	cases := [][]string{
		{"-h"}, {"--help"}, {"help"}, {"help", "config"},
		{"serve", "-h"}, {"sms", "--help"}, {"config", "-h"}, {"config", "validate", "-h"},
		{"config", "init", "--help"}, {"config", "pull", "-h"}, {"config", "push", "--help"},
		{"apikey", "new", "-h"}, {"notify", "test", "--help"}, {"call", "-h"}, {"heartbeat", "list", "-h"}, {"jobs", "list", "-h"}, {"jobs", "cancel", "--help"}, {"healthcheck", "-h"}, {"version", "-h"}, {"console", "rotate-key", "-h"},
	}
	for _, args := range cases {
		code, out, errs := run(t, args...)
		if code != 0 || !strings.Contains(out, "usage: oncall-pager") || errs != "" {
			t.Errorf("%v: exit %d, stdout %q, stderr %q", args, code, out, errs)
		}
	}
	// A command's own usage, not the list.
	if _, out, _ := run(t, "config", "push", "-h"); !strings.Contains(out, "config push [--force [--yes]] FILE") {
		t.Errorf("config push -h:\n%s", out)
	}
}

func TestVersion(t *testing.T) {
	code, out, _ := run(t, "version")
	if code != 0 || !strings.HasPrefix(out, "oncall-pager ") || !strings.Contains(out, "go1.") {
		t.Fatalf("version: exit %d %q", code, out)
	}
}

func TestUnknownCommandAndMistakes(t *testing.T) {
	if code, _, errs := run(t, "frobnicate"); code != 2 || !strings.Contains(errs, `unknown command "frobnicate"`) {
		t.Errorf("unknown command: exit %d %q", code, errs)
	}
	code, _, errs := run(t, "sms", "--from", "15555550102", "WHO")
	if code != 2 || !strings.Contains(errs, "E.164") || !strings.Contains(errs, "+15555550102") {
		t.Errorf("sms --from without +: exit %d %q", code, errs)
	}
}

// config init on an empty bucket creates the example config through the S3
// protocol, and never overwrites an existing one.
func TestConfigInitOnEmptyBucket(t *testing.T) {
	srv := storetest.StartS3(t)
	srv.Setenv(t)
	t.Setenv("BACKING_STORE_S3_BUCKET", srv.Bucket)
	t.Setenv("BACKING_STORE_S3_KEY", "team/oncall_config.json")
	for _, k := range []string{"TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN"} {
		t.Setenv(k, "")
	}
	t.Chdir(t.TempDir())
	if code, _, errs := run(t, "config", "pull", "x.json"); code != 1 || !strings.Contains(errs, "not found") || !strings.Contains(errs, "config init") {
		t.Fatalf("pull from an empty bucket: exit %d %q", code, errs)
	}
	code, out, errs := run(t, "config", "init")
	if code != 0 || !strings.Contains(out, "created team/oncall_config.json") {
		t.Fatalf("init: exit %d %q %q", code, out, errs)
	}
	obj, err := srv.Store().Get(context.Background(), "team/oncall_config.json")
	if err != nil || string(obj.Data) != string(team.DefaultConfig()) {
		t.Fatalf("stored config after init: %v", err)
	}
	// Someone edits it; a second init changes nothing.
	if _, err := srv.Store().Put(context.Background(), "team/oncall_config.json", []byte(`{"edited":true}`), store.Cond{}); err != nil {
		t.Fatal(err)
	}
	code, _, errs = run(t, "config", "init")
	if code != 1 || !strings.Contains(errs, "already exists") {
		t.Fatalf("second init: exit %d %q", code, errs)
	}
	if obj, _ := srv.Store().Get(context.Background(), "team/oncall_config.json"); string(obj.Data) != `{"edited":true}` {
		t.Fatalf("init overwrote the stored config: %s", obj.Data)
	}
	if code, out, errs := run(t, "config", "pull", "x.json"); code != 0 {
		t.Fatalf("pull after init: exit %d %q %q", code, out, errs)
	}
}

func TestHealthcheck(t *testing.T) {
	live := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/livez" {
			http.NotFound(w, r)
		}
	}))
	defer live.Close()
	if code, _, errs := run(t, "healthcheck", "--url", live.URL+"/livez"); code != 0 {
		t.Fatalf("healthy pager: exit %d %q", code, errs)
	}
	if code, _, errs := run(t, "healthcheck", "--url", live.URL+"/nothing"); code != 1 || !strings.Contains(errs, "404") {
		t.Fatalf("404: exit %d %q", code, errs)
	}
	live.Close()
	if code, _, _ := run(t, "healthcheck", "--url", live.URL+"/livez"); code != 1 {
		t.Fatalf("stopped pager: exit %d", code)
	}
}

// A misspelt section is kept (unknown fields survive) but config validate
// says what was probably meant.
func TestConfigValidateSuggestsKnownKey(t *testing.T) {
	t.Chdir(t.TempDir())
	cfg := strings.Replace(string(team.DefaultConfig()), `"current_config": {`, `"escalaton": {"steps": []},
  "current_config": {
    "greting": "Hello",
    "ops_note": "kept as is",`, 1)
	os.WriteFile("typo.json", []byte(cfg), 0o600)
	code, out, errs := run(t, "config", "validate", "typo.json")
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out, errs)
	}
	for _, want := range []string{`escalaton: is not a known key and is ignored; did you mean "escalation"?`,
		`current_config.greting: is not a known key and is ignored; did you mean "greeting"?`} {
		if !strings.Contains(out, want) {
			t.Errorf("validate output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "ops_note") {
		t.Errorf("a genuinely unknown key was warned about:\n%s", out)
	}
}
