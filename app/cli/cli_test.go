package cli

import (
	"bytes"
	"context"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/oncall/pager/app"
	"github.com/oncall/pager/app/team"
	"github.com/oncall/pager/store"
	"github.com/oncall/pager/store/local"
)

func run(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := Main(context.Background(), args, strings.NewReader(""), &out, &errb)
	return code, out.String(), errb.String()
}

func TestConfigValidate(t *testing.T) {
	seed, err := os.ReadFile(filepath.Join("..", "team", "testdata", "seed_config.json"))
	if err != nil {
		t.Fatal(err)
	}
	t.Chdir(t.TempDir())
	os.WriteFile("seed.json", seed, 0o600)
	code, out, _ := run(t, "config", "validate", "seed.json")
	if code != 0 || !strings.Contains(out, "ok (2 users)") || !strings.Contains(out, "warning: current_config.oncall_user.phone") {
		t.Fatalf("seed config: exit %d\n%s", code, out)
	}
	bad := strings.Replace(string(seed), `"+19195551002"`, `"555-1002"`, 1)
	bad = strings.Replace(bad, `"session_lifetime": 300`, `"session_lifetime": -5`, 1)
	os.WriteFile("bad.json", []byte(bad), 0o600)
	code, out, errs := run(t, "config", "validate", "bad.json")
	if code != 1 || !strings.Contains(out, "available_users.users.bob.phone") || !strings.Contains(out, "current_config.session_lifetime") {
		t.Fatalf("bad config: exit %d\n%s%s", code, out, errs)
	}
}

func TestConfigPullPushRefusesStaleEdit(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("BACKING_STORE_DIR", filepath.Join(dir, "data"))
	for _, k := range []string{"BACKING_STORE_S3_BUCKET", "BACKING_STORE_S3_KEY", "TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN"} {
		t.Setenv(k, "")
	}
	st, err := local.New(filepath.Join(dir, "data"))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := st.Put(ctx, app.DefaultConfigKey, team.DefaultConfig(), storeCond()); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "edit.json")
	if code, out, errs := run(t, "config", "pull", file); code != 0 {
		t.Fatalf("pull: %d %s %s", code, out, errs)
	}
	// Someone takes the pager meanwhile.
	obj, _ := st.Get(ctx, app.DefaultConfigKey)
	st.Put(ctx, app.DefaultConfigKey, bytes.Replace(obj.Data, []byte(`"last_modified_user_id": ""`), []byte(`"last_modified_user_id": "bob"`), 1), storeCond())
	edited, _ := os.ReadFile(file)
	os.WriteFile(file, bytes.Replace(edited, []byte(`"session_lifetime": 300`), []byte(`"session_lifetime": 120`), 1), 0o600)
	code, _, errs := run(t, "config", "push", file)
	if code != 1 || !strings.Contains(errs, "changed") {
		t.Fatalf("stale push: exit %d %s", code, errs)
	}
	now, _ := st.Get(ctx, app.DefaultConfigKey)
	if !bytes.Contains(now.Data, []byte(`"bob"`)) {
		t.Fatal("stale push overwrote the concurrent change")
	}
	// Pull again, re-apply, push: accepted.
	run(t, "config", "pull", file)
	edited, _ = os.ReadFile(file)
	os.WriteFile(file, bytes.Replace(edited, []byte(`"session_lifetime": 300`), []byte(`"session_lifetime": 120`), 1), 0o600)
	if code, out, errs := run(t, "config", "push", file); code != 0 {
		t.Fatalf("push: %d %s %s", code, out, errs)
	}
	now, _ = st.Get(ctx, app.DefaultConfigKey)
	if !bytes.Contains(now.Data, []byte(`"session_lifetime": 120`)) || !bytes.Contains(now.Data, []byte(`"bob"`)) {
		t.Fatalf("pushed config:\n%s", now.Data)
	}
}

// `pager sms` plays a member against a running pager, signed as Twilio signs.
func TestSMSCommandAgainstRunningPager(t *testing.T) {
	dir := t.TempDir()
	token := "0123456789abcdef0123456789abcdef"
	st, _ := local.New(dir)
	s := app.Settings{BaseURL: "https://pager.example.test", TwilioAccountSID: "AC" + token, TwilioAuthToken: token,
		TwilioAPIBaseURL: "http://127.0.0.1:1", ListenAddr: "127.0.0.1:0"}
	a, err := app.New(context.Background(), s, app.Options{Store: st})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(a.Echo)
	defer srv.Close()
	t.Setenv("TWILIO_AUTH_TOKEN", token)
	t.Setenv("TWILIO_ACCOUNT_SID", "AC"+token)
	code, out, errs := run(t, "sms", "--url", srv.URL, "--base-url", "https://pager.example.test", "--from", "+15555550102", "WHO")
	if code != 0 || !strings.Contains(out, "On call: Alice Example") {
		t.Fatalf("sms WHO: exit %d\n%s%s", code, out, errs)
	}
	// Signed for another token: the pager refuses, and the command says so.
	t.Setenv("TWILIO_AUTH_TOKEN", "ffffffffffffffffffffffffffffffff")
	code, _, errs = run(t, "sms", "--url", srv.URL, "--base-url", "https://pager.example.test", "--from", "+15555550102", "WHO")
	if code != 1 || !strings.Contains(errs, "403") {
		t.Fatalf("badly signed: exit %d %s", code, errs)
	}
}

func storeCond() store.Cond { return store.Cond{} }
