package cli

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/oncall/pager/app"
	"github.com/oncall/pager/app/heartbeat"
	"github.com/oncall/pager/app/jobs"
	"github.com/oncall/pager/app/jsondoc"
	"github.com/oncall/pager/app/team"
	"github.com/oncall/pager/store/local"
)

func TestHeartbeatList(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("BACKING_STORE_DIR", filepath.Join(dir, "data"))
	for _, k := range []string{"BACKING_STORE_S3_BUCKET", "BACKING_STORE_S3_KEY", "TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN"} {
		t.Setenv(k, "")
	}
	st, err := local.New(filepath.Join(dir, "data"))
	if err != nil {
		t.Fatal(err)
	}
	doc, err := jsondoc.Parse(team.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	if err := doc.Set([]string{"heartbeats"}, map[string]any{
		"backup":   map[string]any{"every": "24h", "grace": "1h", "summary": "Nightly backup did not report"},
		"watchdog": map[string]any{"every": "5m", "summary": "Alertmanager watchdog silent"},
	}); err != nil {
		t.Fatal(err)
	}
	cfg, err := doc.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := st.Put(ctx, app.DefaultConfigKey, cfg, storeCond()); err != nil {
		t.Fatal(err)
	}
	m := team.NewManager(st, app.DefaultConfigKey, team.ManagerOptions{})
	if err := m.Load(ctx); err != nil {
		t.Fatal(err)
	}
	hb := heartbeat.New(st, heartbeat.Options{Jobs: jobs.New(st, jobs.Options{}), Config: m})
	if _, err := hb.Beat(ctx, "backup", heartbeat.Source{Key: "cron", Addr: "10.0.0.5"}, "3 files"); err != nil {
		t.Fatal(err)
	}
	code, out, errs := run(t, "heartbeat", "list")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "NAME") {
		t.Fatalf("want a header and two heartbeats:\n%s", out)
	}
	if !strings.HasPrefix(lines[1], "backup") || !strings.Contains(lines[1], " ok ") ||
		!strings.Contains(lines[1], "key cron at 10.0.0.5") || !strings.Contains(lines[1], "3 files") {
		t.Errorf("backup line %q", lines[1])
	}
	if !strings.HasPrefix(lines[2], "watchdog") || !strings.Contains(lines[2], "waiting") {
		t.Errorf("watchdog line %q", lines[2])
	}
}
