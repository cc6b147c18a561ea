package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/oncall/pager/app"
	"github.com/oncall/pager/app/jobs"
	"github.com/oncall/pager/app/jsondoc"
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
	// Both people are told once, through the durable text queue.
	to, n := queuedTexts(t, st)
	if n != 2 || !strings.Contains(to["+15555550102"], "you are now on call") || !strings.Contains(to["+15555550101"], "no longer on call") {
		t.Fatalf("hand-over texts (%d): %v", n, to)
	}
	if !strings.Contains(out, "queued a text to +15555550102 (now on call)") || !strings.Contains(out, "queued a text to +15555550101 (no longer on call)") {
		t.Fatalf("push output does not say what it queued:\n%s", out)
	}
	// The same file again: nothing to push, nothing more sent.
	code, out, _ = runIn(t, "", "config", "push", "--force", "--yes", file)
	if code != 0 || !strings.Contains(out, "nothing to push") {
		t.Fatalf("repeated push: exit %d %s", code, out)
	}
	if _, n := queuedTexts(t, st); n != 2 {
		t.Fatalf("texts after a no-op push: %d", n)
	}
}

// queuedTexts is what the durable text queue holds, by phone, and how many.
func queuedTexts(t *testing.T, st store.Store) (map[string]string, int) {
	t.Helper()
	queued, err := jobs.New(st, jobs.Options{}).Queued(context.Background())
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
	return to, len(queued)
}

// While the schedule covers the moment its own hand-over decides who is on
// call: it writes its member back and tells both, so a push naming someone
// else texts nobody, or they would hear two contradicting things.
func TestPushUnderScheduleTextsNobody(t *testing.T) {
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
	doc, err := jsondoc.Parse(team.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now().UTC().Add(-12 * time.Hour).Truncate(time.Hour)
	if err := doc.Set([]string{"schedule"}, map[string]any{
		"rotations": []any{map[string]any{"members": []any{"alice", "bob"}, "start": start.Format("2006-01-02T15:04"), "shift": "1d"}},
		"reminder":  "off",
	}); err != nil {
		t.Fatal(err)
	}
	scheduled, err := doc.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := team.Parse(scheduled)
	if err != nil {
		t.Fatal(err)
	}
	if oc, _ := cfg.OnCall(); oc.ID != "alice" {
		t.Fatalf("fixture: %s on call", oc.ID)
	}
	if sched, ok := cfg.OnCallSchedule(); !ok {
		t.Fatal("fixture: no schedule")
	} else if who, _ := sched.Who(time.Now()); who != "alice" {
		t.Fatalf("fixture: the schedule names %q now, want alice", who)
	}
	if _, err := st.Put(ctx, app.DefaultConfigKey, scheduled, store.Cond{}); err != nil {
		t.Fatal(err)
	}
	bob, _ := cfg.UserByID("bob")
	if err := team.SetOnCall(doc, bob, "ops", time.Now()); err != nil {
		t.Fatal(err)
	}
	edited, err := doc.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "edit.json")
	if err := os.WriteFile(file, edited, 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errs := runIn(t, "", "config", "push", "--force", "--yes", file)
	if code != 0 || !strings.Contains(out, "pushed") {
		t.Fatalf("push: exit %d\n%s%s", code, out, errs)
	}
	if obj, _ := st.Get(ctx, app.DefaultConfigKey); !bytes.Equal(obj.Data, edited) {
		t.Fatal("the push was not stored")
	}
	if to, n := queuedTexts(t, st); n != 0 || strings.Contains(out, "queued a text") {
		t.Fatalf("a push under the schedule queued %d texts: %v\n%s", n, to, out)
	}
}
