package cli

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/oncall/pager/app"
	"github.com/oncall/pager/app/team"
	"github.com/oncall/pager/store"
	"github.com/oncall/pager/store/local"
)

func TestNotifyTestChannelAndUser(t *testing.T) {
	var got atomic.Value
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.ParseForm()
		got.Store(r.URL.Path + " " + r.PostForm.Get("message"))
		w.WriteHeader(http.StatusCreated)
	}))
	defer hook.Close()

	dir := t.TempDir()
	for k, v := range map[string]string{"BACKING_STORE_DIR": filepath.Join(dir, "data"), "BACKING_STORE_S3_BUCKET": "", "BACKING_STORE_S3_KEY": "",
		"TWILIO_ACCOUNT_SID": "", "TWILIO_AUTH_TOKEN": "", "JOB_POLL_INTERVAL": "1h", "CONFIG_REFRESH_INTERVAL": "1h"} {
		t.Setenv(k, v)
	}
	st, err := local.New(filepath.Join(dir, "data"))
	if err != nil {
		t.Fatal(err)
	}
	cfg := bytes.Replace(team.DefaultConfig(), []byte(`"available_users"`),
		[]byte(`"notification_channels": {"ops_hook": {"type": "webhook", "url": "`+hook.URL+`/hooks"}}, "available_users"`), 1)
	if _, err := st.Put(context.Background(), app.DefaultConfigKey, cfg, store.Cond{}); err != nil {
		t.Fatal(err)
	}

	code, out, errs := run(t, "notify", "test", "--message", "hello from the test", "ops_hook")
	if code != 0 || !strings.Contains(out, "every route accepted") {
		t.Fatalf("notify test ops_hook: exit %d\n%s\n%s", code, out, errs)
	}
	if v, _ := got.Load().(string); !strings.HasPrefix(v, "/hooks/") || !strings.HasSuffix(v, " hello from the test") {
		t.Fatalf("webhook received %q", v)
	}
	// A user in dry-run: the SMS route is accepted (logged, not sent).
	code, out, errs = run(t, "notify", "test", "alice")
	if code != 0 || !strings.Contains(errs, "dry-run") {
		t.Fatalf("notify test alice: exit %d\n%s\n%s", code, out, errs)
	}
	// A group: each member by their own routes.
	code, out, errs = run(t, "notify", "test", "ops")
	if code != 0 || !strings.Contains(out, `"alice"`) || !strings.Contains(out, `"bob"`) {
		t.Fatalf("notify test ops: exit %d\n%s\n%s", code, out, errs)
	}
	code, _, errs = run(t, "notify", "test", "nobody")
	if code != 1 || !strings.Contains(errs, "neither an enabled user, an enabled notification channel nor an enabled group") {
		t.Fatalf("notify test nobody: exit %d %s", code, errs)
	}
}
