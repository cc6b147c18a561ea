package e2e

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/oncall/pager/app/alerts"
	"github.com/oncall/pager/app/team"
	"github.com/oncall/pager/internal/harness"
	"github.com/oncall/pager/internal/teamtest"
	"github.com/oncall/pager/internal/testclock"
)

// newMaintenanceHarness: alertConfig with alice an admin and, when window
// is set, a maintenance window for dedup keys starting "db-" from a minute
// ago for window.
func newMaintenanceHarness(t *testing.T, clock *testclock.Clock, window time.Duration) *harness.Harness {
	t.Helper()
	patches := []teamtest.Patch{teamtest.Set("available_users.users.alice.admin", true)}
	if window > 0 {
		start := clock.Now().Add(-time.Minute).UTC()
		patches = append(patches, teamtest.Set("maintenance_windows.db-upgrade", map[string]any{
			"start": start.Format(time.RFC3339), "end": start.Add(window).Format(time.RFC3339),
			"scope": map[string]any{"dedup_prefixes": []any{"db-"}}, "reason": "Postgres 17",
		}))
	}
	return harness.New(t, harness.Options{Config: alertConfig(patches...), Now: clock.Now, Lease: 5 * time.Minute})
}

func TestMaintenanceWindowHoldsExactlyItsScopeAndPagesWhatIsOpenAtItsEnd(t *testing.T) {
	clock := testclock.New()
	h := newMaintenanceHarness(t, clock, 30*time.Minute)
	alice, bob, carol := h.Phone(harness.Alice), h.Phone(harness.Bob), h.Phone(harness.Carol)

	held := trigger(t, h, "Replica lag on db-2", "db-2-lag")
	closed := trigger(t, h, "Vacuum slow on db-1", "db-1-vacuum")
	trigger(t, h, "Web 5xx", "web-5xx") // outside the scope: paged at once
	alice.ExpectSMS("Web 5xx")
	bob.ExpectSMS("Web 5xx")
	h.ExpectNoMore()

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
	carol.ExpectSMS("Web 5xx") // its escalation's second step
	h.ExpectNoMore()
	clock.Advance(11 * time.Minute) // the window ended a minute ago
	alice.ExpectSMS("Replica lag on db-2")
	bob.ExpectSMS("Replica lag on db-2")
	h.ExpectNoMore() // not the closed one; not carol yet
	a = alertState(t, h, held.ID)
	if a.Held == nil || a.Held.Released.IsZero() || a.Escalation == "" {
		t.Fatalf("released alert %+v", a)
	}
	// Its escalation runs from the release: carol a minute later.
	clock.Advance(61 * time.Second)
	carol.ExpectSMS("Replica lag on db-2")

	// After the window, the scope pages at once again.
	trigger(t, h, "Disk on db-3", "db-3-disk")
	alice.ExpectSMS("Disk on db-3")
	bob.ExpectSMS("Disk on db-3")
	h.ExpectNoMore()
}

func TestQuietBySMSFromAnAdmin(t *testing.T) {
	clock := testclock.New()
	h := newMaintenanceHarness(t, clock, 0)
	alice, bob := h.Phone(harness.Alice), h.Phone(harness.Bob)

	bob.Text("QUIET 2h").Expect("Only an admin")
	alice.Text("QUIET 2h").Expect("Quiet until").Expect("all alerts")
	bob.Text("WHO").Expect("On call: Alice").Expect("Maintenance: quiet-")

	a := trigger(t, h, "Queue backlog", "queue")
	h.ExpectNoMore()
	if got := alertState(t, h, a.ID); got.Held == nil {
		t.Fatalf("alert during QUIET not held: %+v", got)
	}

	alice.Text("QUIET OFF").Expect("Quiet ended")
	alice.ExpectSMS("Queue backlog")
	bob.ExpectSMS("Queue backlog")
	h.ExpectNoMore()
	if who := strings.Join(bob.Text("WHO").Expect("On call: Alice").Bodies, " "); strings.Contains(who, "Maintenance") {
		t.Fatal("WHO still mentions a window after QUIET OFF")
	}
	alice.Text("QUIET OFF").Expect("No maintenance window is on")
	alice.Text("QUIET 1h nosuchkey").Expect("is no API key or event")
	alice.Text("QUIET 9d").Expect("duration from 1m to 24h")
}

// A customer on the phone always reaches someone, even with every alert
// held.
func TestQuietNeverHoldsAVoicemail(t *testing.T) {
	clock := testclock.New()
	h := newMaintenanceHarness(t, clock, 0)
	alice := h.Phone(harness.Alice)
	alice.Text("QUIET 2h").Expect("Quiet until")
	leaveVoicemail(t, h, "+12125550123", fakeMP3(), 12)
	alice.ExpectSMS("voicemail (12 seconds) from +12125550123")
	alice.ExpectCall("New voicemail")
	// Its escalation is not held either: bob is in the first step.
	h.Phone(harness.Bob).ExpectSMS("Voicemail (12 s) from +12125550123")
	h.ExpectNoMore()
}

// A weekly window set for Tuesdays 09:00-10:00 New York time, first on 27
// October 2026 (EDT): after DST ends on 1 November it still starts at 09:00
// on the clock, an hour later in UTC.
func TestWeeklyWindowAcrossDSTStartsAtTheSameLocalTime(t *testing.T) {
	clock := testclock.At(time.Date(2026, 11, 3, 13, 30, 0, 0, time.UTC)) // 08:30 EST
	h := harness.New(t, harness.Options{Now: clock.Now, Lease: 5 * time.Minute, Config: alertConfig(
		teamtest.Set("current_config.timezone", "America/New_York"),
		teamtest.Set("maintenance_windows.deploy", map[string]any{
			"start": "2026-10-27T09:00", "duration": "1h", "repeat": "weekly",
			"scope": map[string]any{"dedup_prefixes": []any{"db-"}},
		}),
	)})
	alice, bob := h.Phone(harness.Alice), h.Phone(harness.Bob)

	// 08:30 EST is 09:30 by the EDT clock the window was set on: not held.
	trigger(t, h, "Before the window", "db-1")
	alice.ExpectSMS("Before the window")
	bob.ExpectSMS("Before the window")
	h.ExpectNoMore()

	clock.Set(time.Date(2026, 11, 3, 14, 0, 0, 0, time.UTC)) // 09:00 EST
	h.Phone(harness.Carol).ExpectSMS("Before the window")    // its second step
	held := trigger(t, h, "In the window", "db-2")
	h.ExpectNoMore()
	if a := alertState(t, h, held.ID); a.Held == nil || !a.Held.Until.Equal(time.Date(2026, 11, 3, 15, 0, 0, 0, time.UTC)) {
		t.Fatalf("held %+v, want until 10:00 EST", a.Held)
	}
	clock.Set(time.Date(2026, 11, 3, 15, 0, 0, 0, time.UTC)) // 10:00 EST
	alice.ExpectSMS("In the window")
	bob.ExpectSMS("In the window")
	h.ExpectNoMore()
}

// QUIET keeps its scope as typed: a dedup-key prefix is matched with its
// case, so "DB-*" holds "DB-primary", not "db-replica", and the reply says
// what is held; API keys and events are found in any case and stored as the
// config spells them, since routes match them exactly.
func TestQuietScopeKeepsItsCase(t *testing.T) {
	clock := testclock.New()
	h := harness.New(t, harness.Options{Now: clock.Now, Lease: 5 * time.Minute, Config: alertConfig(
		teamtest.Set("available_users.users.alice.admin", true),
		teamtest.Set("events.Deploy-Notice", map[string]any{"message": "Deploy {{ what }}", "contacts": []any{"alice"}}),
		teamtest.Set("api_keys.OPS", map[string]any{"sha256": team.HashAPIKey("pk_ops_upper_0123456789abcdefghijklmnopqrstuv")}),
		teamtest.Set("api_keys.ops", map[string]any{"sha256": team.HashAPIKey("pk_ops_lower_0123456789abcdefghijklmnopqrstuv")}),
	)})
	alice, bob := h.Phone(harness.Alice), h.Phone(harness.Bob)
	// window is the scope of the window QUIET just started.
	window := func() team.WindowScope {
		t.Helper()
		name := "quiet-" + clock.Now().UTC().Format("20060102-150405")
		w, ok := h.Config().MaintenanceWindows[name]
		if !ok {
			t.Fatalf("no window %s in the config", name)
		}
		return w.Scope
	}
	// says checks a reply with its case (Expect ignores case).
	says := func(r *harness.Reply, want ...string) {
		t.Helper()
		for _, w := range want {
			if !strings.Contains(strings.Join(r.Bodies, "\n"), w) {
				t.Fatalf("reply %q does not say %q", r.Bodies, w)
			}
		}
	}

	says(alice.Text("QUIET 2H DB-*"), "Quiet until", "dedup keys DB-*")
	if s := window(); len(s.DedupPrefixes) != 1 || s.DedupPrefixes[0] != "DB-" || s.All {
		t.Fatalf("stored scope %+v, want the prefix DB- as typed", s)
	}
	held := trigger(t, h, "Primary down", "DB-primary")
	trigger(t, h, "Replica lag", "db-replica") // another prefix: paged
	alice.ExpectSMS("Replica lag")
	bob.ExpectSMS("Replica lag")
	h.ExpectNoMore()
	if a := alertState(t, h, held.ID); a.Held == nil {
		t.Fatalf("DB-primary not held by QUIET DB-*: %+v", a)
	}
	alice.Text("Quiet Off").Expect("Quiet ended")
	alice.ExpectSMS("Primary down")
	bob.ExpectSMS("Primary down")
	h.ExpectNoMore()

	clock.Advance(time.Second) // a new window name; no escalation step due
	says(alice.Text("quiet 1h HOOKS deploy-notice"), "Quiet until", "keys hooks", "events Deploy-Notice")
	if s := window(); !slices.Equal(s.Keys, []string{"hooks"}) || !slices.Equal(s.Events, []string{"Deploy-Notice"}) || s.All {
		t.Fatalf("stored scope %+v, want the key and event as the config names them", s)
	}
	a := trigger(t, h, "Queue backlog", "queue") // sent with the hooks key
	h.ExpectNoMore()
	if got := alertState(t, h, a.ID); got.Held == nil {
		t.Fatalf("alert from HOOKS not held: %+v", got)
	}
	alice.Text("QUIET OFF").Expect("Quiet ended")
	alice.ExpectSMS("Queue backlog")
	bob.ExpectSMS("Queue backlog")

	// Exactly as written wins; a case that fits two names is refused.
	clock.Advance(time.Second) // a new window name; no escalation step due
	says(alice.Text("QUIET 1h OPS ALL"), "Quiet until", "all alerts")
	if s := window(); !slices.Equal(s.Keys, []string{"OPS"}) || !s.All {
		t.Fatalf("stored scope %+v, want the key OPS and all", s)
	}
	alice.Text("QUIET OFF").Expect("Quiet ended")
	says(alice.Text("QUIET 1h Ops"), `"Ops" could be OPS or ops`, "Nothing changed")
	alice.Text("QUIET 1h nosuchkey").Expect("is no API key or event")
	h.ExpectNoMore()
}
