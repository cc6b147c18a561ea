package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/oncall/pager/app/alerts"
	"github.com/oncall/pager/app/team"
	"github.com/oncall/pager/internal/harness"
)

// newMaintenanceHarness: alertConfig with alice an admin and, when window
// is set, a maintenance window for dedup keys starting "db-" from a minute
// ago for window.
func newMaintenanceHarness(t *testing.T, clock *harness.FakeClock, window time.Duration) *harness.Harness {
	t.Helper()
	cfg := strings.Replace(alertConfig, `"phone": "+15555550101"},`, `"phone": "+15555550101", "admin": true},`, 1)
	if window > 0 {
		start := clock.Now().Add(-time.Minute).UTC()
		cfg = strings.Replace(cfg, `"escalation": {`, fmt.Sprintf(`"maintenance_windows": {
    "db-upgrade": {"start": %q, "end": %q, "scope": {"dedup_prefixes": ["db-"]}, "reason": "Postgres 17"}
  },
  "escalation": {`, start.Format(time.RFC3339), start.Add(window).Format(time.RFC3339)), 1)
	}
	cfg = strings.NewReplacer("PD_SHA", team.HashAPIKey(pdRoutingKey), "HOOK_SHA", team.HashAPIKey(hookKey)).Replace(cfg)
	return harness.New(t, harness.Options{Config: cfg, Now: clock.Now, Lease: 5 * time.Minute})
}

func TestMaintenanceWindowHoldsExactlyItsScopeAndPagesWhatIsOpenAtItsEnd(t *testing.T) {
	clock := &harness.FakeClock{}
	h := newMaintenanceHarness(t, clock, 30*time.Minute)
	alice := h.Phone(harness.Alice)

	held := trigger(t, h, "Replica lag on db-2", "db-2-lag")
	closed := trigger(t, h, "Vacuum slow on db-1", "db-1-vacuum")
	trigger(t, h, "Web 5xx", "web-5xx") // outside the scope: paged at once
	alice.ExpectSMS("Web 5xx")
	alice.ExpectNoSMS(500 * time.Millisecond)

	// Recorded and visible, not paged.
	a := alertState(t, h, held.ID)
	if a.State != alerts.StateTriggered || a.Held == nil || a.Held.Window != "db-upgrade" || a.Code == "" || a.Escalation != "" {
		t.Fatalf("held alert %+v", a)
	}
	if held.Code == "" {
		t.Fatal("the intake's answer has no reply code for a held alert")
	}
	// Someone closes one during the window: it is not paged at the end.
	if _, err := h.App().Alerts.Close(context.Background(), closed.ID, "bob"); err != nil {
		t.Fatal(err)
	}

	clock.Advance(20 * time.Minute)
	alice.ExpectNoSMS(300 * time.Millisecond)
	clock.Advance(11 * time.Minute) // the window ended a minute ago
	alice.ExpectSMS("Replica lag on db-2")
	expectSMSCount(t, h, harness.Alice, "Replica lag on db-2", 1)
	if n := countSMS(h, harness.Alice, "Vacuum slow"); n != 0 {
		t.Fatalf("an alert closed during the window was paged %d times", n)
	}
	a = alertState(t, h, held.ID)
	if a.Held == nil || a.Held.Released.IsZero() || a.Escalation == "" {
		t.Fatalf("released alert %+v", a)
	}
	// Its escalation runs from the release: carol a minute later.
	time.Sleep(300 * time.Millisecond)
	if n := countSMS(h, harness.Carol, "Replica lag"); n != 0 {
		t.Fatalf("carol paged %d times at the release, before her step", n)
	}
	clock.Advance(61 * time.Second)
	h.Phone(harness.Carol).ExpectSMS("Replica lag on db-2")

	// After the window, the scope pages at once again.
	trigger(t, h, "Disk on db-3", "db-3-disk")
	alice.ExpectSMS("Disk on db-3")
}

func TestQuietBySMSFromAnAdmin(t *testing.T) {
	clock := &harness.FakeClock{}
	h := newMaintenanceHarness(t, clock, 0)
	alice, bob := h.Phone(harness.Alice), h.Phone(harness.Bob)

	bob.Text("QUIET 2h").Expect("Only an admin")
	alice.Text("QUIET 2h").Expect("Quiet until").Expect("all alerts")
	bob.Text("WHO").Expect("On call: Alice").Expect("Maintenance: quiet-")

	a := trigger(t, h, "Queue backlog", "queue")
	alice.ExpectNoSMS(500 * time.Millisecond)
	if got := alertState(t, h, a.ID); got.Held == nil {
		t.Fatalf("alert during QUIET not held: %+v", got)
	}
	// A customer on the phone always reaches someone.
	leaveVoicemail(t, h, "+12125550123", fakeMP3(), 12)
	alice.ExpectSMS("voicemail (12 seconds) from +12125550123")

	alice.Text("QUIET OFF").Expect("Quiet ended")
	alice.ExpectSMS("Queue backlog")
	if who := strings.Join(bob.Text("WHO").Expect("On call: Alice").Bodies, " "); strings.Contains(who, "Maintenance") {
		t.Fatal("WHO still mentions a window after QUIET OFF")
	}
	alice.Text("QUIET OFF").Expect("No maintenance window is on")
	alice.Text("QUIET 1h nosuchkey").Expect("is no API key or event")
	alice.Text("QUIET 9d").Expect("duration from 1m to 24h")
}
