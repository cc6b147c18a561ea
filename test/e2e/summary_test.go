package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/oncall/pager/app/outbound"
	"github.com/oncall/pager/app/team"
	"github.com/oncall/pager/internal/harness"
	"github.com/oncall/pager/internal/teamtest"
	"github.com/oncall/pager/internal/testclock"
)

func TestDailySummaryOnceWithTwoReplicas(t *testing.T) {
	clock := testclock.New()
	at := clock.Now().UTC().Add(10 * time.Minute).Format("15:04")
	cfg := alertConfig(
		teamtest.Set("daily_summary", map[string]any{"at": at, "email": true}),
		teamtest.Merge(`{"heartbeats": {"backup": {"every": "1m", "summary": "Backup silent"}}}`),
	)
	h := harness.New(t, harness.Options{Config: cfg, Now: clock.Now, Lease: 5 * time.Minute})
	h.Replica()
	alice, bob, carol := h.Phone(harness.Alice), h.Phone(harness.Bob), h.Phone(harness.Carol)

	a := trigger(t, h, "Disk full on db1", "db1-disk")
	bob.ExpectSMS("Disk full on db1")
	alice.ExpectSMS("Disk full on db1").ThenReply(a.Code + "a").Expect("Acknowledged")
	bob.ExpectSMS("acknowledged by Alice")
	beat(t, h, "backup", "")

	clock.Advance(9 * time.Minute) // the heartbeat is late by now, the summary not due
	alice.ExpectSMS("Backup silent")
	bob.ExpectSMS("Backup silent")
	h.ExpectNoMore()
	clock.Advance(2 * time.Minute)
	carol.ExpectSMS("Backup silent")
	sms := alice.ExpectSMS("Daily summary: 2 open alerts (1 unacked).")
	for _, want := range []string{"Last 24h: 2 fired.", "Heartbeats late: backup.", "Open [" + a.Code + "] Disk full on db1."} {
		if !strings.Contains(sms.Body, want) {
			t.Errorf("summary %q lacks %q", sms.Body, want)
		}
	}
	if n, enc := outbound.SegmentsOf(sms.Body); n > 2 || enc != outbound.GSM7 || !team.PlainText(sms.Body) {
		t.Errorf("summary is not at most two GSM-7 segments: %d %s segments %q", n, enc, sms.Body)
	}
	h.ExpectNoMore() // once, with two replicas
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	msgs, err := h.SMTP.WaitMessages(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	h.WaitIdle()
	n := 0
	for _, m := range h.SMTP.Messages() {
		if strings.Contains(string(m.Data), "On-call summary") {
			n++
			if !strings.Contains(string(m.Data), "Heartbeats in trouble") || m.To[0] != "sre@example.com" {
				t.Errorf("summary email: %s", m.Data)
			}
		}
	}
	if n != 1 {
		t.Fatalf("%d summary emails of %d messages, want 1", n, len(msgs))
	}
	// Tomorrow's is queued.
	if _, err := h.App().Jobs.Get(context.Background(), "sum-"+clock.Now().UTC().Add(24*time.Hour).Format("20060102")+"-"+strings.ReplaceAll(at, ":", "")); err != nil {
		t.Fatalf("next summary not queued: %v", err)
	}
}

// Twilio takes the summary text but its answer is lost: the pager retries
// what failed, and the on-call must not get the summary twice.
func TestDailySummaryTextOnceWhenTwilioAnswerIsLost(t *testing.T) {
	clock := testclock.New()
	due := clock.Now().UTC().Add(10 * time.Minute)
	h := harness.New(t, harness.Options{Config: alertConfig(teamtest.Set("daily_summary", map[string]any{"at": due.Format("15:04")})),
		Now: clock.Now, Lease: 5 * time.Minute})
	h.ExpectNoMore()

	h.Twilio.LoseNext("Messages.json", 1)
	clock.Advance(11 * time.Minute)
	h.Phone(harness.Alice).ExpectSMS("Daily summary: 0 open alerts")
	h.WaitIdle()
	clock.Advance(time.Minute) // the retry falls due
	h.ExpectNoMore()
	if j := h.WaitJob("sum-" + due.Format("20060102-1504") + ".text"); j.Kind != "text" || j.Steps[0].State != "done" || j.Steps[0].MaxAttempts != 10 {
		t.Fatalf("summary text job: kind %q, step %s after %d of %d attempts; want a text job done within 10", j.Kind, j.Steps[0].State, j.Steps[0].Attempts, j.Steps[0].MaxAttempts)
	}
}
