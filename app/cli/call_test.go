package cli

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/oncall/pager/internal/testlog"

	"github.com/oncall/pager/app"
	"github.com/oncall/pager/app/jobs"
	"github.com/oncall/pager/store"
	"github.com/oncall/pager/store/local"
)

// runDryPager runs the embedded default (dry run, local folder) on loopback
// and returns its store and log.
func runDryPager(t *testing.T) (store.Store, *testlog.Buffer) {
	t.Helper()
	dir := t.TempDir()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "BACKING_STORE_S3_BUCKET", "BACKING_STORE_S3_KEY", "ONCALL_APP_BASE_URL"} {
		t.Setenv(k, "")
	}
	t.Setenv("LISTEN_ADDR", ln.Addr().String())
	t.Setenv("BACKING_STORE_DIR", dir)
	t.Setenv("JOB_POLL_INTERVAL", "50ms")
	s, err := app.SettingsFromEnv(os.Getenv)
	if err != nil {
		t.Fatal(err)
	}
	s.AdminListenAddr = "" // no admin listener on a fixed port in tests
	st, err := local.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	logs := &testlog.Buffer{}
	ctx, cancel := context.WithCancel(context.Background())
	a, err := app.New(ctx, s, app.Options{Store: st, Logger: slog.New(slog.NewTextHandler(logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { defer close(done); _ = a.Run(ctx, ln) }()
	t.Cleanup(func() { cancel(); <-done })
	return st, logs
}

// A new user plays a whole voicemail against the embedded default, without
// a phone: the recording is stored byte for byte from the local file, and
// the text and call to the on-call are logged by the dry run.
func TestCallLeavesVoicemailOnDryRunPager(t *testing.T) {
	st, logs := runDryPager(t)
	audio := bytes.Repeat([]byte("ID3 fake mp3 frame "), 100)
	file := filepath.Join(t.TempDir(), "message.mp3")
	if err := os.WriteFile(file, audio, 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errs := run(t, "call", "--from", "+12125550123", "--record", file, "--duration", "7", "--wait", "20s")
	if code != 0 {
		t.Fatalf("call: exit %d\n%s%s", code, out, errs)
	}
	for _, want := range []string{"Press 1", "caller presses 1", "after the tone", "7-second message", "the pager fetched the recording"} {
		if !strings.Contains(out, want) {
			t.Errorf("call output lacks %q:\n%s", want, out)
		}
	}
	// The voicemail is kept: the exact bytes under recordings/.
	var found bool
	for i := 0; i < 500 && !found; i++ {
		infos, err := st.List(context.Background(), "recordings/")
		if err != nil {
			t.Fatal(err)
		}
		for _, in := range infos {
			if strings.HasSuffix(in.Key, ".mp3") {
				obj, err := st.Get(context.Background(), in.Key)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(obj.Data, audio) {
					t.Fatalf("stored recording differs from the file: %d bytes", len(obj.Data))
				}
				found = true
			}
		}
		if !found {
			time.Sleep(20 * time.Millisecond)
		}
	}
	if !found {
		t.Fatalf("no recording stored; log:\n%s", logs)
	}
	if strings.Contains(logs.String(), "api.twilio.com") {
		t.Errorf("the dry run contacted Twilio's host:\n%s", logs)
	}
}

func TestCallHangupAndNoKey(t *testing.T) {
	runDryPager(t)
	code, out, errs := run(t, "call", "--from", "+12125550123", "--no-key")
	if code != 0 || strings.Count(out, "caller presses nothing") != 2 || !strings.Contains(out, "Goodbye") {
		t.Fatalf("call --no-key: exit %d\n%s%s", code, out, errs)
	}
	code, out, errs = run(t, "call", "--from", "+12125550123", "--hangup")
	if code != 0 || !strings.Contains(out, "hangs up without a message") || !strings.Contains(out, "recording status callback delivered") {
		t.Fatalf("call --hangup: exit %d\n%s%s", code, out, errs)
	}
	if code, _, errs := run(t, "call", "--from", "+12125550123"); code != 2 || !strings.Contains(errs, "exactly one of") {
		t.Fatalf("call without a mode: exit %d %s", code, errs)
	}
}

// jobs list shows what a dry-run pager has queued (a step never tried as
// due now), and jobs cancel stops one (the example team's email goes to
// smtp.example.com, which never answers).
func TestJobsListAndCancel(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("BACKING_STORE_DIR", dir)
	for _, k := range []string{"TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "BACKING_STORE_S3_BUCKET", "BACKING_STORE_S3_KEY"} {
		t.Setenv(k, "")
	}
	st, err := local.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	q := jobs.New(st, jobs.Options{})
	if _, err := q.Enqueue(context.Background(), jobs.Job{ID: "vm-test", Kind: "voicemail",
		Steps: []jobs.Step{{Name: "store", State: jobs.StepDone}, {Name: "email"}}}); err != nil {
		t.Fatal(err)
	}
	code, out, errs := run(t, "jobs", "list")
	if code != 0 || !strings.Contains(out, "vm-test") || !strings.Contains(out, "email=pending") || !strings.Contains(out, "1 queued") ||
		!strings.Contains(out, "next step due now") {
		t.Fatalf("jobs list: exit %d\n%s%s", code, out, errs)
	}
	code, out, errs = run(t, "jobs", "cancel", "vm-test")
	if code != 0 || !strings.Contains(out, "email=failed") {
		t.Fatalf("jobs cancel: exit %d\n%s%s", code, out, errs)
	}
	if code, _, errs := run(t, "jobs", "cancel", "nosuch"); code != 1 || !strings.Contains(errs, "no job") {
		t.Fatalf("cancel unknown: exit %d %s", code, errs)
	}
}
