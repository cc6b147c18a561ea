package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/oncall/pager/app"
	"github.com/oncall/pager/app/jobs"
	"github.com/oncall/pager/app/team"
	"github.com/oncall/pager/store"
	"github.com/oncall/pager/store/local"
)

func runIn(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := Main(context.Background(), args, strings.NewReader(stdin), &out, &errb)
	return code, out.String(), errb.String()
}

// push --force shows what it overwrites and asks; a push that changes who
// is on call texts both people, as TAKE does.
func TestForcedPushShowsDiffAsksAndTellsHandOver(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("BACKING_STORE_DIR", dir)
	for _, k := range []string{"BACKING_STORE_S3_BUCKET", "BACKING_STORE_S3_KEY", "TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN"} {
		t.Setenv(k, "")
	}
	st, err := local.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := st.Put(ctx, app.DefaultConfigKey, team.DefaultConfig(), store.Cond{}); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "edit.json")
	bobOnCall := strings.Replace(string(team.DefaultConfig()),
		`"oncall_user": {
      "id": "alice",
      "name": "Alice Example",
      "phone": "+15555550101"`, `"oncall_user": {
      "id": "bob",
      "name": "Bob Example",
      "phone": "+15555550102"`, 1)
	if bobOnCall == string(team.DefaultConfig()) {
		t.Fatal("fixture: oncall_user not found")
	}
	os.WriteFile(file, []byte(bobOnCall), 0o600)

	// Not confirmed: the diff is shown, nothing changes.
	code, out, errs := runIn(t, "n\n", "config", "push", "--force", file)
	if code != 1 || !strings.Contains(errs, "not confirmed") || !strings.Contains(out, `-      "id": "alice",`) || !strings.Contains(out, `+      "id": "bob",`) {
		t.Fatalf("unconfirmed forced push: exit %d\n%s%s", code, out, errs)
	}
	if obj, _ := st.Get(ctx, app.DefaultConfigKey); !bytes.Equal(obj.Data, team.DefaultConfig()) {
		t.Fatal("an unconfirmed push changed the stored config")
	}
	// Confirmed on stdin.
	code, out, errs = runIn(t, "y\n", "config", "push", "--force", file)
	if code != 0 || !strings.Contains(out, "pushed") {
		t.Fatalf("confirmed forced push: exit %d\n%s%s", code, out, errs)
	}
	if obj, _ := st.Get(ctx, app.DefaultConfigKey); string(obj.Data) != bobOnCall {
		t.Fatal("the confirmed push was not stored")
	}
	// Both people are told, through the durable text queue.
	q := jobs.New(st, jobs.Options{})
	queued, err := q.Queued(ctx)
	if err != nil {
		t.Fatal(err)
	}
	to := map[string]string{}
	for _, j := range queued {
		var p struct{ To, Body string }
		if err := json.Unmarshal(j.Payload, &p); err != nil {
			t.Fatal(err)
		}
		to[p.To] = p.Body
	}
	if !strings.Contains(to["+15555550102"], "you are now on call") || !strings.Contains(to["+15555550101"], "no longer on call") || len(to) != 2 {
		t.Fatalf("hand-over texts: %v", to)
	}
	// The same file again: nothing to push, nothing more sent.
	code, out, _ = runIn(t, "", "config", "push", "--force", "--yes", file)
	if code != 0 || !strings.Contains(out, "nothing to push") {
		t.Fatalf("repeated push: exit %d %s", code, out)
	}
	if again, _ := q.Queued(ctx); len(again) != 2 {
		t.Fatalf("texts after a no-op push: %d", len(again))
	}
}
