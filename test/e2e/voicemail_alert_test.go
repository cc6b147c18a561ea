package e2e

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/oncall/pager/app/alerts"
	"github.com/oncall/pager/internal/harness"
	"github.com/oncall/pager/internal/teamtest"
	"github.com/oncall/pager/internal/testclock"
	"github.com/oncall/pager/twiml"
)

// pagingConfig: the on-call first, bob a minute later; an event that pages.
func pagingConfig() teamtest.Config {
	return alertConfig(
		teamtest.Set("escalation.steps", []any{
			map[string]any{"targets": []any{"oncall"}, "delay": "1m"},
			map[string]any{"targets": []any{"user:bob"}, "delay": "1m"},
		}),
		teamtest.Merge(`{"events": {"db_down": {"message": "Database {{ host }} is down", "page": true}}}`),
	)
}

func newPagingHarness(t *testing.T, clock *testclock.Clock) *harness.Harness {
	t.Helper()
	return harness.New(t, harness.Options{Config: pagingConfig(), Now: clock.Now, Lease: 5 * time.Minute})
}

func voicemailAlert(t *testing.T, h *harness.Harness, recordingSID string) alerts.Alert {
	t.Helper()
	a, err := h.App().Alerts.ByDedupKey(context.Background(), "pagerline", "vm-"+recordingSID)
	if err != nil {
		t.Fatalf("no open alert for voicemail %s: %v", recordingSID, err)
	}
	return a
}

// The voicemail is the alert's first page: the on-call answers its SMS with
// the code, and nobody else is paged, then or later.
func TestVoicemailIsAnAlertAcknowledgedByReply(t *testing.T) {
	clock := testclock.New()
	h := newPagingHarness(t, clock)
	alice, bob := h.Phone(harness.Alice), h.Phone(harness.Bob)
	_, rec := leaveVoicemail(t, h, "+12125550123", fakeMP3(), 12)

	sms := alice.ExpectSMS("voicemail (12 seconds) from +12125550123")
	code := codeOf(t, sms.Body)
	if len(sms.MediaURL) != 1 || !strings.Contains(sms.Body, "reply "+code+"a to acknowledge, "+code+"c to close") {
		t.Fatalf("voicemail SMS %+v: want the MMS link and how to answer", sms.Message)
	}
	call := alice.ExpectCall("New voicemail")
	g, ok := twiml.Find(call.Verbs, "Gather")
	if !ok || !strings.Contains(g.Attr["action"], "/public/pagekey?") || !strings.Contains(call.Twiml, "Press 1 to acknowledge") {
		t.Fatalf("voicemail call offers no page keys: %s", call.Twiml)
	}
	job := h.WaitJob("vm-" + rec.SID)
	if job.Failed() {
		t.Fatalf("voicemail job failed: %+v", job.Steps)
	}
	a := voicemailAlert(t, h, rec.SID)
	if a.Summary != "Voicemail (12 s) from +12125550123" || a.Source != "pagerline" || a.Code != code {
		t.Fatalf("alert %+v", a)
	}

	sms.ThenReply(code + "a").Expect("Acknowledged")
	if got := alertState(t, h, a.ID); got.State != alerts.StateAcknowledged || got.AckedBy != "alice" {
		t.Fatalf("after %sa: %s by %q", code, got.State, got.AckedBy)
	}
	// The key on the voicemail call reaches the same alert.
	if said := call.Press("1"); !strings.Contains(said, "already acknowledged") {
		t.Fatalf("key 1 on the voicemail call said %q", said)
	}

	clock.Advance(3 * time.Minute)
	bob.ExpectNoSMS()
	bob.ExpectNoCall()
	// Alice had the voicemail's text and call only, no alert page.
	h.ExpectNoMore()
}

// Nobody answers the voicemail: the next step pages bob after its delay,
// the on-call is not paged a second time, and she hears who took it.
func TestUnansweredVoicemailEscalates(t *testing.T) {
	clock := testclock.New()
	h := newPagingHarness(t, clock)
	alice, bob := h.Phone(harness.Alice), h.Phone(harness.Bob)
	_, rec := leaveVoicemail(t, h, "+12125550123", fakeMP3(), 12)
	alice.ExpectSMS("voicemail (12 seconds)")
	alice.ExpectCall("New voicemail")
	h.WaitJob("vm-" + rec.SID)
	a := voicemailAlert(t, h, rec.SID)

	bob.ExpectNoSMS()
	clock.Advance(61 * time.Second)
	page := bob.ExpectSMS("Voicemail (12 s) from +12125550123")
	if codeOf(t, page.Body) != a.Code {
		t.Fatalf("bob's page %q does not carry the alert's code %s", page.Body, a.Code)
	}
	alice.ExpectNoSMS() // not paged a second time for the voicemail
	page.ThenReply(a.Code + "a").Expect("Acknowledged")
	alice.ExpectSMS("acknowledged by Bob Roberts")
	h.ExpectNoMore()
}

type eventAlertAnswer struct {
	Message  string `json:"message"`
	AlertID  string `json:"alert_id"`
	Code     string `json:"code"`
	DedupKey string `json:"dedup_key"`
	Outcome  string `json:"outcome"`
}

// An event with "page": true is an alert paged by the policy; the same
// event again, while it is open, pages nobody.
func TestPagingEventDedups(t *testing.T) {
	clock := testclock.New()
	h := newPagingHarness(t, clock)
	alice := h.Phone(harness.Alice)
	post := func(form url.Values) (int, eventAlertAnswer) {
		t.Helper()
		var ans eventAlertAnswer
		st := h.APIJSON(http.MethodPost, "/event/db_down/", form, hookKey, &ans)
		return st, ans
	}

	st, first := post(url.Values{"host": {"db1"}})
	if st != http.StatusCreated || first.AlertID == "" || first.Code == "" || first.Outcome != "created" {
		t.Fatalf("paging event: HTTP %d %+v", st, first)
	}
	page := alice.ExpectSMS("Database db1 is down")
	if codeOf(t, page.Body) != first.Code {
		t.Fatalf("page %q, answer's code %s", page.Body, first.Code)
	}
	st, again := post(url.Values{"host": {"db1"}})
	if st != http.StatusAccepted || again.AlertID != first.AlertID || again.Outcome != "deduplicated" {
		t.Fatalf("repeat: HTTP %d %+v; want 202 on %s", st, again, first.AlertID)
	}
	alice.ExpectNoSMS() // one page for one problem
	if got := alertState(t, h, first.AlertID); got.Triggers != 2 {
		t.Fatalf("triggers = %d, want 2", got.Triggers)
	}

	// A posted dedup_key names the problem whatever the message says.
	st, k1 := post(url.Values{"host": {"db2"}, "dedup_key": {"db-cluster"}})
	if st != http.StatusCreated || k1.AlertID == first.AlertID {
		t.Fatalf("dedup_key: HTTP %d %+v", st, k1)
	}
	st, k2 := post(url.Values{"host": {"db3"}, "dedup_key": {"db-cluster"}})
	if st != http.StatusAccepted || k2.AlertID != k1.AlertID {
		t.Fatalf("same dedup_key: HTTP %d %+v; want 202 on %s", st, k2, k1.AlertID)
	}
	alice.ExpectSMS("Database db2 is down")
	alice.ExpectNoSMS()

	page.ThenReply(first.Code + "a").Expect("Acknowledged")
	clock.Advance(3 * time.Minute)
	bob := h.Phone(harness.Bob)
	bob.ExpectSMS("Database db2 is down") // unacknowledged: escalated
	bob.ExpectNoSMS()                     // not for the acknowledged one
}

// PagerDuty's limit: the 121st event in a minute for one key is answered
// 429 "throttle event"; a minute later events are taken again.
func TestPagerDutyRateLimit(t *testing.T) {
	clock := testclock.New()
	h := newPagingHarness(t, clock)
	body := readFixture(t, "pagerduty_trigger.json")
	for i := range 120 {
		if st, text := postRaw(t, h, "/v2/enqueue", body, ""); st != http.StatusAccepted {
			t.Fatalf("event %d: HTTP %d %s", i+1, st, text)
		}
	}
	st, text := postRaw(t, h, "/v2/enqueue", body, "")
	var ans struct {
		Status string `json:"status"`
	}
	if err := json.Unmarshal([]byte(text), &ans); err != nil || st != http.StatusTooManyRequests || ans.Status != "throttle event" {
		t.Fatalf("event 121: HTTP %d %s", st, text)
	}
	h.Phone(harness.Alice).ExpectSMS("Replication lag above 30s")
	clock.Advance(61 * time.Second)
	if st, text := postRaw(t, h, "/v2/enqueue", body, ""); st != http.StatusAccepted {
		t.Fatalf("after the window: HTTP %d %s", st, text)
	}
	h.Phone(harness.Bob).ExpectSMS("Replication lag above 30s") // the next step, unacknowledged
	h.ExpectNoMore()
}

// Twilio repeats the recording callback after the voicemail's alert was
// closed: the voicemail is known, so no new alert is raised and nobody is
// paged for it again.
func TestRepeatedRecordingCallbackAfterCloseRaisesNothing(t *testing.T) {
	clock := testclock.New()
	h := newPagingHarness(t, clock)
	alice, bob := h.Phone(harness.Alice), h.Phone(harness.Bob)
	call, rec := leaveVoicemail(t, h, "+12125550123", fakeMP3(), 12)
	sms := alice.ExpectSMS("voicemail (12 seconds)")
	h.WaitJob("vm-" + rec.SID)
	sms.ThenReply(codeOf(t, sms.Body) + "c").Expect("Closed")

	target := harness.Public + "/public/recordingcb?call_sid=" + call.CallSID() + "&caller_num=%2B12125550123"
	call.RecordingCallback(target, h.Twilio.RecordingParams(call.CallSID(), rec.URL, 12))
	if a, err := h.App().Alerts.ByDedupKey(context.Background(), "pagerline", "vm-"+rec.SID); err == nil {
		t.Fatalf("a repeated callback raised alert %s (%s) for a closed voicemail", a.ID, a.State)
	}
	alice.ExpectCall("New voicemail")
	clock.Advance(3 * time.Minute)
	bob.ExpectNoSMS()
	// One voicemail text and call, nothing more.
	h.ExpectNoMore()
}
