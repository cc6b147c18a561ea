package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/oncall/pager/app"
	"github.com/oncall/pager/internal/harness"
	"github.com/oncall/pager/internal/teamtest"
	"github.com/oncall/pager/internal/testclock"
	"github.com/oncall/pager/store"
)

// waitOnCall waits until the stored config names id as on call.
func waitOnCall(t *testing.T, h *harness.Harness, id string) {
	t.Helper()
	var got string
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		cfg := h.Config()
		if got = cfg.CurrentConfig.OncallUser.ID; got == id {
			if cfg.CurrentConfig.LastModifiedUserID != "schedule" && cfg.CurrentConfig.LastModifiedUserID != id {
				t.Fatalf("on-call %s changed by %q", id, cfg.CurrentConfig.LastModifiedUserID)
			}
			return
		}
	}
	t.Fatalf("stored on-call is %s, want %s", got, id)
}

// TestScheduleHandsOverByItself: a three-person weekly rotation with an
// ops override and a TAKE, on two replicas with a restart, driven by a fake
// clock through the whole pager (S3, the fake Twilio).
func TestScheduleHandsOverByItself(t *testing.T) {
	clock := testclock.New()
	ny, _ := time.LoadLocation("America/New_York")
	now := clock.Now().In(ny)
	// B, the next hand-over (alice to bob), is the next full hour.
	b := time.Date(now.Year(), now.Month(), now.Day(), now.Hour()+1, 0, 0, 0, ny)
	local := func(t time.Time) string { return t.In(ny).Format("2006-01-02T15:04") }
	cfg := harness.DefaultConfig(teamtest.Merge(`{
  "current_config": {"timezone": "America/New_York"},
  "schedule": {
    "rotations": [{"name": "weekly", "members": ["alice", "bob", "carol"], "start": "` + local(b.AddDate(0, 0, -7)) + `", "shift": "1w"}],
    "overrides": [{"member": "alice", "from": "` + local(b.Add(time.Hour)) + `", "to": "` + local(b.Add(2*time.Hour)) + `"}],
    "reminder": "off"
  }}`))
	// Texts are sent at least once: a lease that runs out under a loaded
	// -race run would send one twice, which this test counts; a longer
	// lease keeps that out of the picture (the restart waits for it).
	h := harness.New(t, harness.Options{Config: cfg, Now: clock.Now, Lease: 3 * time.Second})
	alice, bob, carol := h.Phone(harness.Alice), h.Phone(harness.Bob), h.Phone(harness.Carol)

	bob.Text("WHO").Expect("On call: Alice McAlister (+15555550101) until " + b.Format("Mon 15:04") + ", then Bob Roberts.")
	alice.Text("next").Expect("Next shifts:\nnow - " + b.Format("Mon 15:04") + " Alice McAlister\n" +
		b.Format("Mon 15:04") + " - " + b.Add(time.Hour).Format("Mon 15:04") + " Bob Roberts\n")
	carol.Text("MINE").Expect("Your shifts:\n" + b.AddDate(0, 0, 7).Format("Mon 2 Jan 15:04") + " - ")
	h.Replica()

	// The fake clock also judges job leases: before it jumps again, the
	// hand-over's texts must be recorded as sent, or the jump would make a
	// lease look expired and the text be sent again.
	textsDone := func(boundary time.Time) {
		h.WaitJob(fmt.Sprintf("handover-%d-in", boundary.Unix()))
		h.WaitJob(fmt.Sprintf("handover-%d-out", boundary.Unix()))
	}
	advanceTo := func(at time.Time) { clock.Advance(at.Sub(clock.Now())) }

	advanceTo(b.Add(30 * time.Second))
	waitOnCall(t, h, "bob")
	bob.ExpectSMS("Bob Roberts, you are on call until " + b.Add(time.Hour).Format("Mon 2 Jan 15:04") + ", then Alice McAlister.")
	alice.ExpectSMS("Alice McAlister, your on-call shift has ended: Bob Roberts is on call until")
	textsDone(b)

	advanceTo(b.Add(time.Hour + 30*time.Second))
	waitOnCall(t, h, "alice")
	alice.ExpectSMS("you are on call until " + b.Add(2*time.Hour).Format("Mon 2 Jan 15:04"))
	bob.ExpectSMS("your on-call shift has ended")
	textsDone(b.Add(time.Hour))

	// The first process stops; the replica hands over alone, and a new
	// process starts after.
	h.Stop()
	advanceTo(b.Add(2*time.Hour + 30*time.Second))
	waitOnCall(t, h, "bob")
	h.Restart()
	bob.ExpectSMS("you are on call until " + b.AddDate(0, 0, 7).Format("Mon 2 Jan 15:04") + ", then Carol Jones.")
	alice.ExpectSMS("your on-call shift has ended")
	textsDone(b.Add(2 * time.Hour))

	// TAKE under a schedule: an override for four hours.
	takeAt := clock.Now()
	carol.Text("TAKE 4h").Expect("reply C within 5 minutes to be on call until").
		ThenReply("C").Expect("you are on call until")
	waitOnCall(t, h, "carol")
	bob.ExpectSMS("Carol Jones has taken the pager")
	raw := h.RawConfig()
	ovs := raw["schedule"].(map[string]any)["overrides"].([]any)
	if len(ovs) != 2 || ovs[1].(map[string]any)["member"] != "carol" || !strings.HasPrefix(ovs[1].(map[string]any)["by"].(string), "TAKE") {
		t.Fatalf("overrides after TAKE: %v", ovs)
	}
	bob.Text("who").Expect("On call: Carol Jones (+447700900123) until").Expect("then Bob Roberts.")
	// The relieved-engineer text's job, too, must be done before the jump.
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		active, err := h.Store.List(context.Background(), "jobs/active/text-")
		if err == nil && len(active) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("text jobs still active: %v %v", active, err)
		}
	}

	advanceTo(takeAt.Add(4*time.Hour + 30*time.Second))
	waitOnCall(t, h, "bob")
	bob.ExpectSMS("Bob Roberts, you are on call until")
	carol.ExpectSMS("Carol Jones, your on-call shift has ended")
	textsDone(takeAt.Truncate(time.Second).Add(4 * time.Hour))

	// Ops move the rotation two hours later: bob's week now ends at B+7d+2h.
	obj, err := h.Store.Get(context.Background(), h.Key)
	if err != nil {
		t.Fatal(err)
	}
	moved := strings.Replace(string(obj.Data), `"start": "`+local(b.AddDate(0, 0, -7))+`"`, `"start": "`+local(b.AddDate(0, 0, -7).Add(2*time.Hour))+`"`, 1)
	if moved == string(obj.Data) {
		t.Fatal("rotation start not found in the stored config")
	}
	if _, err := h.Store.Put(context.Background(), h.Key, []byte(moved), store.Cond{IfMatch: obj.ETag}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond) // a few refresh intervals
	advanceTo(b.AddDate(0, 0, 7).Add(30 * time.Second))
	time.Sleep(300 * time.Millisecond) // the old timer fires and changes nothing
	if got := h.Config().CurrentConfig.OncallUser.ID; got != "bob" {
		t.Fatalf("at the old boundary the stored on-call is %s", got)
	}
	advanceTo(b.AddDate(0, 0, 7).Add(2*time.Hour + 30*time.Second))
	waitOnCall(t, h, "carol")
	carol.ExpectSMS("Carol Jones, you are on call until " + b.AddDate(0, 0, 14).Add(2*time.Hour).Format("Mon 2 Jan 15:04"))
	bob.ExpectSMS("your on-call shift has ended")

	// Each text once, whatever the replicas and the restart did: five
	// hand-overs by the schedule, each told to both people (bob's two
	// texts after the restart and after the TAKE read the same).
	time.Sleep(300 * time.Millisecond)
	var incoming, outgoing int
	for _, m := range h.Twilio.Messages() {
		if strings.Contains(m.Body, "you are on call until") {
			incoming++
		}
		if strings.Contains(m.Body, "your on-call shift has ended") {
			outgoing++
		}
		for _, r := range m.Body {
			if r > 127 {
				t.Errorf("not plain GSM-7: %q", m.Body)
				break
			}
		}
	}
	if incoming != 5 || outgoing != 5 {
		var all []string
		for _, m := range h.Twilio.Messages() {
			all = append(all, m.To+": "+m.Body)
		}
		t.Errorf("hand-over texts: %d to the incoming, %d to the outgoing person, want 5 and 5:\n%s", incoming, outgoing, strings.Join(all, "\n"))
	}
}

// TestScheduleTextsMakeNoStoreCall: WHO, NEXT and MINE under a schedule
// are computed from the config in memory.
func TestScheduleTextsMakeNoStoreCall(t *testing.T) {
	cfg := harness.DefaultConfig(teamtest.Merge(`{"schedule": {
    "rotations": [{"members": ["alice", "bob", "carol"], "start": "2026-02-23T09:00", "shift": "1w"},
                  {"members": ["carol"], "start": "2026-01-05T09:00", "shift": "1d", "window": {"days": ["weekends"], "from": "00:00", "to": "24:00"}}]
  }}`))
	// The test clock stands on Sunday 1 March 2026, in alice's week.
	h := harness.New(t, harness.Options{Config: cfg, Now: testclock.New().Now, Settings: func(s *app.Settings) {
		s.ConfigRefresh = time.Hour
		s.JobPoll = time.Hour
	}})
	bob := h.Phone(harness.Bob)
	bob.Text("WHO").Expect("On call:")
	h.SettleStore()
	for i := 0; i < 3; i++ {
		bob.Text("WHO").Expect("On call: Alice McAlister (+15555550101) until Mon 09:00, then Bob Roberts.")
		bob.Text("NEXT").Expect("Next shifts:")
		bob.Text("MINE").Expect("Your shifts:")
	}
	if n := h.S3.Fault.Total(); n != 0 {
		t.Fatalf("schedule texts made %d S3 requests: %v", n, h.S3.Fault.Requests())
	}
}

// TestEscalationFollowsTheSchedule: after a scheduled hand-over, an alert
// pages the new on-call.
func TestEscalationFollowsTheSchedule(t *testing.T) {
	clock := testclock.New()
	now := clock.Now().UTC()
	b := now.Truncate(time.Hour).Add(time.Hour)
	cfg := alertConfig(
		teamtest.WithEscalation(`{"steps": [{"targets": ["oncall"], "delay": "1m"}], "repeat": 0}`),
		teamtest.Merge(`{"schedule": {"rotations": [{"members": ["alice", "carol"], "start": "`+
			b.AddDate(0, 0, -7).Format("2006-01-02T15:04")+`", "shift": "1w"}], "reminder": "off"}}`))
	h := harness.New(t, harness.Options{Config: cfg, Now: clock.Now, Lease: 5 * time.Minute})
	clock.Advance(b.Add(30 * time.Second).Sub(clock.Now()))
	waitOnCall(t, h, "carol")
	h.WaitJob(fmt.Sprintf("handover-%d-in", b.Unix()))

	carol := h.Phone(harness.Carol)
	carol.ExpectSMS("Carol Jones, you are on call until")
	h.Phone(harness.Alice).ExpectSMS("Alice McAlister, your on-call shift has ended")

	a := trigger(t, h, "Disk full on db1", "disk-db1")
	carol.ExpectSMS("Disk full on db1")
	for _, m := range h.Twilio.Messages() {
		if m.To == harness.Alice && strings.Contains(m.Body, "Disk full") {
			t.Errorf("the outgoing on-call was paged: %q", m.Body)
		}
	}
	if a.Code == "" {
		t.Errorf("alert %+v", a)
	}
}
