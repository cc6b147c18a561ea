package e2e

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/oncall/pager/app/alerts"
	"github.com/oncall/pager/app/team"
	"github.com/oncall/pager/internal/harness"
	"github.com/oncall/pager/internal/teamtest"
	"github.com/oncall/pager/internal/testclock"
)

// Keys of the alerting team: the PagerDuty fixtures' routing key, and one
// for the webhook receivers.
const (
	pdRoutingKey = "R0UT1NGKEY0123456789abcdefABCDEF"
	hookKey      = "pk_hooks_0123456789abcdefghijklmnopqrstuvwxyz"
)

// alertConfig: alice on call, keys for the monitoring systems, and an
// escalation that pages the on-call and bob at once, then carol a minute
// later.
func alertConfig(patches ...teamtest.Patch) teamtest.Config {
	return teamtest.Default(
		teamtest.WithAPIKey("monitoring", team.HashAPIKey(pdRoutingKey), false),
		teamtest.WithAPIKey("hooks", team.HashAPIKey(hookKey), false),
		teamtest.WithEscalation(`{
			"steps": [{"targets": ["oncall", "user:bob"], "delay": "1m"}, {"targets": ["user:carol"], "delay": "1m"}],
			"repeat": 0,
			"throttle": {"max_pages": 20, "window": "10m"}}`),
	).With(patches...)
}

func newAlertHarness(t *testing.T, clock *testclock.Clock) *harness.Harness {
	t.Helper()
	o := harness.Options{Config: alertConfig()}
	if clock != nil {
		o.Now = clock.Now
		// Leases run on the same clock: a jump of a minute must not expire
		// a lease taken just before it, or a replica would take over a
		// step that is still running and page twice.
		o.Lease = 5 * time.Minute
	}
	return harness.New(t, o)
}

var codeRe = regexp.MustCompile(`^\[(\d+)a/(\d+)c\]`)

// codeOf is the reply code a page names.
func codeOf(t *testing.T, body string) string {
	t.Helper()
	m := codeRe.FindStringSubmatch(body)
	if m == nil || m[1] != m[2] {
		t.Fatalf("page %q does not start with [<code>a/<code>c]", body)
	}
	return m[1]
}

// trigger posts a generic alert and returns the answer's first alert.
func trigger(t *testing.T, h *harness.Harness, summary, dedup string) alertAnswer {
	t.Helper()
	var ans intakeAnswer
	if st := h.APIJSON(http.MethodPost, "/alerts", map[string]string{"summary": summary, "dedup_key": dedup}, hookKey, &ans); st != http.StatusOK || len(ans.Alerts) != 1 {
		t.Fatalf("POST /alerts: HTTP %d %+v", st, ans)
	}
	return ans.Alerts[0]
}

type alertAnswer struct {
	ID       string `json:"id"`
	Code     string `json:"code"`
	DedupKey string `json:"dedup_key"`
	State    string `json:"state"`
	Outcome  string `json:"outcome"`
}

type intakeAnswer struct {
	Message string        `json:"message"`
	Alerts  []alertAnswer `json:"alerts"`
	Errors  []string      `json:"errors"`
}

func alertState(t *testing.T, h *harness.Harness, id string) alerts.Alert {
	t.Helper()
	a, err := h.App().Alerts.Get(context.Background(), id)
	if err != nil {
		t.Fatalf("alert %s: %v", id, err)
	}
	return a
}

func TestAlertAckStopsEscalationAndTellsOthers(t *testing.T) {
	clock := testclock.New()
	h := newAlertHarness(t, clock)
	alice, bob, carol := h.Phone(harness.Alice), h.Phone(harness.Bob), h.Phone(harness.Carol)

	a := trigger(t, h, "Disk full on db1", "db1-disk")
	page := alice.ExpectSMS("Disk full on db1")
	code := codeOf(t, page.Body)
	if !strings.Contains(page.Body, "reply "+code+"a to acknowledge, "+code+"c to close") {
		t.Fatalf("page %q does not say how to answer", page.Body)
	}
	bob.ExpectSMS("reply " + code + "a")

	page.ThenReply(code + "a").Expect("Acknowledged").Expect("escalation stopped")
	bob.ExpectSMS("acknowledged by Alice McAlister")
	if got := alertState(t, h, a.ID); got.State != alerts.StateAcknowledged || got.AckedBy != "alice" {
		t.Fatalf("alert after 1a: state %s by %q", got.State, got.AckedBy)
	}

	// The next step was due a minute later: it must not page anyone now.
	clock.Advance(2 * time.Minute)
	carol.ExpectNoSMS()
	alice.ExpectNoSMS() // not told about her own ack

	// A second ack changes nothing and says who took it; then close.
	bob.Text("ACK " + code).Expect("already acknowledged by Alice")
	alice.Text(code + "c").Expect("Closed")
	if got := alertState(t, h, a.ID); got.State != alerts.StateClosed {
		t.Fatalf("alert after %sc: %s", code, got.State)
	}
}

func TestAlertNextStepPagesOnTime(t *testing.T) {
	clock := testclock.New()
	h := newAlertHarness(t, clock)
	alice, bob, carol := h.Phone(harness.Alice), h.Phone(harness.Bob), h.Phone(harness.Carol)

	a := trigger(t, h, "API latency high", "api-latency")
	alice.ExpectSMS("API latency high")
	bob.ExpectSMS("API latency high")
	carol.ExpectNoSMS()

	clock.Advance(59 * time.Second)
	carol.ExpectNoSMS()
	clock.Advance(2 * time.Second)
	carol.ExpectSMS("API latency high")

	// Carol answers with a bare ACK: the latest alert paged to her.
	carol.Text("ack").Expect("Acknowledged").Expect("API latency high")
	alice.ExpectSMS("acknowledged by Carol Jones")
	bob.ExpectSMS("acknowledged by Carol Jones")
	if got := alertState(t, h, a.ID); got.AckedBy != "carol" {
		t.Fatalf("acked by %q", got.AckedBy)
	}
}

func TestAlertUndeliveredSMSFallsBackToCall(t *testing.T) {
	h := newAlertHarness(t, nil)
	alice := h.Phone(harness.Alice)

	a := trigger(t, h, "Checkout errors", "checkout")
	page := alice.ExpectSMS("Checkout errors")
	bob := h.Phone(harness.Bob)
	bob.ExpectSMS("Checkout errors")
	if st := page.Status("sent"); st != http.StatusNoContent {
		t.Fatalf("status callback: HTTP %d", st)
	}
	alice.ExpectNoCall()
	if st := page.Status("undelivered"); st != http.StatusNoContent {
		t.Fatalf("status callback: HTTP %d", st)
	}
	call := alice.ExpectCall("Checkout errors")
	if call.MachineDetection == "" {
		t.Fatalf("page call without answering-machine detection: %+v", call.Params)
	}
	// A late callback of an earlier status does not move the SMS back, nor
	// call again.
	page.Status("sent")
	page.Status("undelivered")
	alice.ExpectNoCall()
	if got := alertState(t, h, a.ID); len(got.Deliveries) == 0 || got.Deliveries[0].Status != "undelivered" {
		t.Fatalf("deliveries = %+v", got.Deliveries)
	}

	// Repeat, then acknowledge on the call.
	if said := call.Press("3"); !strings.Contains(said, "Checkout errors") {
		t.Fatalf("repeat said %q", said)
	}
	if said := call.Press("1"); !strings.Contains(said, "Acknowledged") {
		t.Fatalf("key 1 said %q", said)
	}
	if got := alertState(t, h, a.ID); got.State != alerts.StateAcknowledged || got.AckedBy != "alice" {
		t.Fatalf("alert after key 1: %s by %q", got.State, got.AckedBy)
	}
	bob.ExpectSMS("acknowledged by Alice McAlister")
}

func TestAlertMachineAnsweredCallIsNotReached(t *testing.T) {
	h := newAlertHarness(t, nil)
	alice := h.Phone(harness.Alice)
	a := trigger(t, h, "Queue backlog", "queue")
	h.Phone(harness.Bob).ExpectSMS("Queue backlog")
	alice.ExpectSMS("Queue backlog").Status("failed")
	call := alice.ExpectCall("Queue backlog")
	call.Status("in-progress", "machine_start")
	call.Status("completed", "")
	got := alertState(t, h, a.ID)
	var voice *alerts.Delivery
	for i := range got.Deliveries {
		if got.Deliveries[i].Channel == alerts.ChannelVoice {
			voice = &got.Deliveries[i]
		}
	}
	if voice == nil || voice.Outcome != alerts.DeliveryNotReached {
		t.Fatalf("voice delivery = %+v, want not reached", voice)
	}
}

// readFixture reads a dialect's fixture: name starts with the dialect's
// folder under app/intake ("pagerduty_trigger.json").
func readFixture(t *testing.T, name string) string {
	t.Helper()
	dialect, _, _ := strings.Cut(name, "_")
	b, err := os.ReadFile(filepath.Join("..", "..", "app", "intake", dialect, "testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// postRaw posts body as a monitoring client would.
func postRaw(t *testing.T, h *harness.Harness, path, body, bearer string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	return h.Do(req)
}

func TestIntakePagerDuty(t *testing.T) {
	h := newAlertHarness(t, nil)
	alice, bob := h.Phone(harness.Alice), h.Phone(harness.Bob)

	type pdAnswer struct {
		Status   string   `json:"status"`
		Message  string   `json:"message"`
		DedupKey string   `json:"dedup_key"`
		Errors   []string `json:"errors"`
	}
	post := func(body string) (int, pdAnswer) {
		st, text := postRaw(t, h, "/v2/enqueue", body, "")
		var a pdAnswer
		if err := json.Unmarshal([]byte(text), &a); err != nil {
			t.Fatalf("answer %q: %v", text, err)
		}
		return st, a
	}
	st, ans := post(readFixture(t, "pagerduty_trigger.json"))
	if st != http.StatusAccepted || ans.Status != "success" || ans.DedupKey != "db-prod-02/replication-lag" {
		t.Fatalf("trigger: HTTP %d %+v", st, ans)
	}
	alice.ExpectSMS("Replication lag above 30s")
	bob.ExpectSMS("Replication lag above 30s")
	// The same problem again is deduplicated: no second page.
	if st, _ := post(readFixture(t, "pagerduty_trigger.json")); st != http.StatusAccepted {
		t.Fatalf("repeat trigger: HTTP %d", st)
	}
	alice.ExpectNoSMS()
	a, err := h.App().Alerts.ByDedupKey(context.Background(), "key:monitoring", "db-prod-02/replication-lag")
	if err != nil || a.Triggers != 2 {
		t.Fatalf("alert = %+v, %v; want 2 triggers", a, err)
	}

	// Without a dedup_key, PagerDuty makes one up and returns it.
	st, ans = post(readFixture(t, "pagerduty_trigger_nodedup.json"))
	if st != http.StatusAccepted || ans.DedupKey == "" {
		t.Fatalf("trigger without dedup_key: HTTP %d %+v", st, ans)
	}
	alice.ExpectSMS("Nightly backup did not finish")
	bob.ExpectSMS("Nightly backup did not finish")

	if st, _ := post(readFixture(t, "pagerduty_resolve.json")); st != http.StatusAccepted {
		t.Fatalf("resolve: HTTP %d", st)
	}
	if got := alertState(t, h, a.ID); got.State != alerts.StateClosed || got.ClosedBy != "api:monitoring" {
		t.Fatalf("after resolve: %s by %q", got.State, got.ClosedBy)
	}
	alice.ExpectSMS("Replication lag above 30s on db-prod-02: closed by api:monitoring")
	bob.ExpectSMS("Replication lag above 30s on db-prod-02: closed by api:monitoring")
	// Acknowledging what is no longer open is dropped, as PagerDuty does.
	if st, _ := post(readFixture(t, "pagerduty_acknowledge.json")); st != http.StatusAccepted {
		t.Fatalf("late acknowledge: HTTP %d", st)
	}

	st, ans = post(readFixture(t, "pagerduty_invalid.json"))
	if st != http.StatusBadRequest || ans.Status != "invalid event" || len(ans.Errors) == 0 {
		t.Fatalf("invalid: HTTP %d %+v", st, ans)
	}
	unknown := strings.Replace(readFixture(t, "pagerduty_trigger.json"), pdRoutingKey, "NOTOURKEY0123456789abcdefABCDEF0", 1)
	if st, ans = post(unknown); st != http.StatusBadRequest || len(ans.Errors) == 0 {
		t.Fatalf("unknown routing key: HTTP %d %+v", st, ans)
	}
}

func TestIntakeAlertmanagerAndGrafana(t *testing.T) {
	h := newAlertHarness(t, nil)
	alice, bob := h.Phone(harness.Alice), h.Phone(harness.Bob)
	for _, tc := range []struct{ path, firing, resolved, keyBy string }{
		{"/alertmanager", "alertmanager_firing.json", "alertmanager_resolved.json", "bearer"},
		{"/grafana", "grafana_firing.json", "grafana_resolved.json", "query"},
	} {
		post := func(file string) (int, intakeAnswer) {
			path, bearer := tc.path, hookKey
			if tc.keyBy == "query" {
				path, bearer = tc.path+"?api_key="+hookKey, ""
			}
			st, text := postRaw(t, h, path, readFixture(t, file), bearer)
			var a intakeAnswer
			if err := json.Unmarshal([]byte(text), &a); err != nil {
				t.Fatalf("%s: answer %q: %v", tc.path, text, err)
			}
			return st, a
		}
		st, ans := post(tc.firing)
		if st != http.StatusOK || len(ans.Alerts) != 1 || ans.Alerts[0].Outcome != string(alerts.OutcomeCreated) {
			t.Fatalf("%s firing: HTTP %d %+v", tc.path, st, ans)
		}
		id := ans.Alerts[0].ID
		alice.ExpectSMS("[" + ans.Alerts[0].Code + "a/")
		bob.ExpectSMS("[" + ans.Alerts[0].Code + "a/")
		// Alertmanager repeats a firing group: counted on the same alert.
		if _, again := post(tc.firing); len(again.Alerts) != 1 || again.Alerts[0].ID != id || again.Alerts[0].Outcome != string(alerts.OutcomeDeduplicated) {
			t.Fatalf("%s repeat: %+v", tc.path, again)
		}
		st, ans = post(tc.resolved)
		if st != http.StatusOK || len(ans.Alerts) != 1 || ans.Alerts[0].ID != id || ans.Alerts[0].State != string(alerts.StateClosed) {
			t.Fatalf("%s resolved: HTTP %d %+v", tc.path, st, ans)
		}
		alice.ExpectSMS("closed by api:hooks")
		bob.ExpectSMS("closed by api:hooks")
	}
	if st, _ := postRaw(t, h, "/alertmanager", readFixture(t, "alertmanager_firing.json"), "pk_wrong"); st != http.StatusForbidden {
		t.Fatalf("wrong key: HTTP %d", st)
	}
	if st, _ := postRaw(t, h, "/alerts", `{"dedup_key": "x"}`, hookKey); st != http.StatusBadRequest {
		t.Fatalf("generic without summary: HTTP %d", st)
	}
}

func TestStopStartSwitchesSMSPages(t *testing.T) {
	h := newAlertHarness(t, nil)
	alice := h.Phone(harness.Alice)
	alice.Text("STOP")
	u, _ := h.Config().UserByID("alice")
	if ch, ok := u.Channels[team.MediumSMS]; !ok || ch.IsEnabled() {
		t.Fatalf("after STOP alice's channels = %+v", u.Channels)
	}
	// Paged by phone instead.
	trigger(t, h, "Payments down", "payments")
	alice.ExpectCall("Payments down")
	alice.ExpectNoSMS() // not texted after STOP
	h.Phone(harness.Bob).ExpectSMS("Payments down")
	alice.Text("START").Expect("on again")
	u, _ = h.Config().UserByID("alice")
	if !u.Channels[team.MediumSMS].IsEnabled() {
		t.Fatalf("after START alice's channels = %+v", u.Channels)
	}
	h.Phone(harness.Bob).Text("HALP").Expect("ACK").Expect("CLOSE").Expect("STOP").Expect("START")
}

func TestTwilioRetryActsOnce(t *testing.T) {
	h := newAlertHarness(t, nil)
	alice := h.Phone(harness.Alice)
	trigger(t, h, "Cache cold", "cache")
	code := codeOf(t, alice.ExpectSMS("Cache cold").Body)
	bob := h.Phone(harness.Bob)
	bob.ExpectSMS("Cache cold")

	form := h.Twilio.SMSParams(harness.Alice, harness.Control, code+"c")
	st, first := h.WebhookWithToken(harness.Public+"/msgcontrol/entry", form, "idem-1")
	if st != http.StatusOK || !strings.Contains(first, "Closed") {
		t.Fatalf("first delivery: HTTP %d %s", st, first)
	}
	st, again := h.WebhookWithToken(harness.Public+"/msgcontrol/entry", form, "idem-1")
	if st != http.StatusOK || strings.Contains(again, "<Message>") {
		t.Fatalf("retried delivery acted again: HTTP %d %s", st, again)
	}
	bob.ExpectSMS("closed by Alice McAlister")
	// The same signed text under another token is a replay (the
	// MessageSid was handled): ignored too.
	if _, replay := h.WebhookWithToken(harness.Public+"/msgcontrol/entry", form, "idem-2"); strings.Contains(replay, "<Message>") {
		t.Fatalf("replayed text acted again: %s", replay)
	}
	// A new text (another MessageSid) is acted on: the alert is closed already.
	_, other := h.WebhookWithToken(harness.Public+"/msgcontrol/entry", h.Twilio.SMSParams(harness.Alice, harness.Control, code+"c"), "idem-3")
	if !strings.Contains(other, "No open alert") && !strings.Contains(other, "already closed") {
		t.Fatalf("new delivery: %s", other)
	}
}

func TestTwoReplicasFireAStepOnce(t *testing.T) {
	clock := testclock.New()
	h := newAlertHarness(t, clock)
	h.Replica()
	alice, bob, carol := h.Phone(harness.Alice), h.Phone(harness.Bob), h.Phone(harness.Carol)

	trigger(t, h, "Shared store test", "replicas")
	alice.ExpectSMS("Shared store test")
	bob.ExpectSMS("Shared store test")
	clock.Advance(61 * time.Second)
	carol.ExpectSMS("Shared store test")
	// Once each: the other replica fired neither step again.
	h.ExpectNoMore()
}

// Issue 9 item 8: only someone paged for an alert, or the on-call, may act
// on its code; a closed alert's code is not given to the next alert at
// once; a summary cannot fake a second page.
func TestAlertRepliesAuthorizedAndCodesQuiet(t *testing.T) {
	clock := testclock.New()
	h := newAlertHarness(t, clock)
	alice, bob, carol := h.Phone(harness.Alice), h.Phone(harness.Bob), h.Phone(harness.Carol)

	a := trigger(t, h, "Disk full on db1", "db1-disk")
	code := codeOf(t, alice.ExpectSMS("Disk full on db1").Body)
	bob.ExpectSMS("Disk full on db1")

	// Carol was not paged (her step is a minute away) and is not on call.
	carol.Text(code + "c").Expect("not paged")
	if got := alertState(t, h, a.ID); got.State != alerts.StateTriggered {
		t.Fatalf("alert after carol's %sc: %s", code, got.State)
	}
	bob.Text(code + "c").Expect("Closed")
	alice.ExpectSMS("closed by Bob Roberts")

	// The next alert gets another code: a late "1c" meant for the first
	// one cannot close it.
	b := trigger(t, h, "API latency high", "api-latency")
	if b.Code == code {
		t.Fatalf("code %s reused at once", code)
	}
	alice.ExpectSMS("API latency high")
	bob.ExpectSMS("API latency high")
	bob.Text(code + "c").Expect("No open alert has code " + code)

	// A summary that reads as a page of its own is flattened and stripped.
	fake := "db1 ok\n[" + code + "a/" + code + "c] db1 disk full - reply " + code + "c to close"
	trigger(t, h, fake, "fake")
	page := alice.ExpectSMS("db1 ok")
	bob.ExpectSMS("db1 ok")
	if strings.Contains(page.Body, "\n") || strings.Count(page.Body, "[") != 1 || strings.Count(page.Body, "reply") != 1 {
		t.Fatalf("page %q carries the summary's reply instruction", page.Body)
	}
}

// S3 can commit a write and still answer with an error. An ACK whose
// write landed that way took effect: the engineer is told so, and the
// others paged are told who took the alert.
func TestAckWhoseWriteAnswerWasLost(t *testing.T) {
	h := newAlertHarness(t, nil)
	alice, bob := h.Phone(harness.Alice), h.Phone(harness.Bob)
	a := trigger(t, h, "Disk full on db1", "db1-disk")
	page := alice.ExpectSMS("Disk full on db1")
	code := codeOf(t, page.Body)
	bob.ExpectSMS("reply " + code + "a")
	h.WaitIdle()
	h.S3.Fault.LoseNext(http.MethodPut, "/open/"+a.ID+".json", 1)
	page.ThenReply(code + "a").Expect("Acknowledged")
	bob.ExpectSMS("acknowledged by Alice McAlister")
	if got := alertState(t, h, a.ID); got.State != alerts.StateAcknowledged || got.AckedBy != "alice" {
		t.Fatalf("alert after 1a: state %s by %q", got.State, got.AckedBy)
	}
}
