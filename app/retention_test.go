package app_test

import (
	"context"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/oncall/pager/app"
	"github.com/oncall/pager/app/alerts"
	"github.com/oncall/pager/app/audit"
	"github.com/oncall/pager/app/notification"
	"github.com/oncall/pager/app/team"
	"github.com/oncall/pager/internal/testclock"
)

// storeObjects counts the objects in a local folder store by their first
// two path levels ("jobs/done", "alerts/closed", ...).
func storeObjects(t *testing.T, dir string) (int, map[string]int) {
	t.Helper()
	total, by := 0, map[string]int{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasPrefix(d.Name(), ".") {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		parts := strings.SplitN(filepath.ToSlash(rel), "/", 3)
		kind := parts[0]
		if len(parts) > 2 {
			kind += "/" + parts[1]
		}
		by[kind]++
		total++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return total, by
}

// Issue 9 item 12: after 100 simulated days of traffic (alerts raised and
// closed, notifications, audit entries) the store holds what the retention
// policy keeps, not everything ever written: finished jobs and free dedup
// slots for a week, closed alerts and notifications for 90 days.
func TestStoreBoundedAfter100Days(t *testing.T) {
	const days, alertsPerDay = 100, 3
	dir := t.TempDir()
	// The clock starts now, so the store's own times and the pager's agree.
	clk := testclock.At(time.Now().UTC().Truncate(time.Second))
	s, err := app.SettingsFromEnv(env(map[string]string{"BACKING_STORE_DIR": dir, "REPLICA_ID": "r1"}))
	if err != nil {
		t.Fatal(err)
	}
	a, err := app.New(context.Background(), s, app.Options{Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for day := range days {
		for i := range alertsPerDay {
			al, _, err := a.Alerts.Trigger(ctx, alerts.Event{Summary: fmt.Sprintf("disk %d-%d", day, i), DedupKey: fmt.Sprintf("d%d-%d", day, i), RoutingKey: "sim"})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := a.Alerts.Close(ctx, al.ID, "alice"); err != nil {
				t.Fatal(err)
			}
		}
		n := notification.Notification{ID: notification.NewID(), Source: "contact:alice", Message: fmt.Sprintf("day %d", day), APIKey: "sim",
			Recipients: []notification.Recipient{{UserID: "alice", Name: "Alice", Routes: []notification.Route{{Medium: team.MediumSMS, Address: "+15555550101"}}}}}
		if err := a.Notifications.Notify(ctx, a.Jobs, n); err != nil {
			t.Fatal(err)
		}
		if err := a.Audit.Record(ctx, audit.Entry{Actor: "alice", Action: audit.ActionPage, Detail: "sim"}); err != nil {
			t.Fatal(err)
		}
		for range 3 {
			if err := a.Jobs.RunOnce(ctx); err != nil {
				t.Fatal(err)
			}
		}
		clk.Advance(24 * time.Hour)
		if _, err := a.Prune(ctx); err != nil {
			t.Fatal(err)
		}
	}
	total, by := storeObjects(t, dir)
	t.Logf("objects left after %d simulated days (%d alerts, 1 notification, 1 audit entry a day): %d %v", days, alertsPerDay, total, by)
	// Kept: a week of finished escalation jobs and free dedup slots, 90
	// days of closed alerts and notifications (with their delivery jobs),
	// every audit entry (kept unless configured), and a few fixed objects.
	limit := 7*alertsPerDay + 7*alertsPerDay + 90*alertsPerDay + 2*90 + days + 20
	if by["jobs/done"] > 7*alertsPerDay+91 || by["alerts/dedup"] > 7*alertsPerDay+alertsPerDay || by["alerts/closed"] > 91*alertsPerDay || total > limit {
		t.Fatalf("%d objects left (%v); want at most %d", total, by, limit)
	}
}
