package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/oncall/pager/app/alerts"
	"github.com/oncall/pager/app/heartbeat"
	"github.com/oncall/pager/internal/harness"
	"github.com/oncall/pager/internal/teamtest"
	"github.com/oncall/pager/internal/testclock"
)

// heartbeats: backup beats hourly (10 min grace), never is configured but
// never beats, cron may only be beaten with the hooks key.
var heartbeats = teamtest.Merge(`{"heartbeats": {
    "backup": {"every": "1h", "grace": "10m", "summary": "Nightly backup did not report"},
    "never":  {"every": "1h", "summary": "Never beaten"},
    "cron":   {"every": "30m", "grace": "5m", "summary": "Cron is silent", "api_key": "hooks"}
}}`)

func newHeartbeatHarness(t *testing.T, clock *testclock.Clock) *harness.Harness {
	t.Helper()
	return harness.New(t, harness.Options{Config: alertConfig(heartbeats), Now: clock.Now, Lease: 5 * time.Minute})
}

type beatAnswer struct {
	Message   string    `json:"message"`
	Heartbeat string    `json:"heartbeat"`
	LastBeat  time.Time `json:"last_beat"`
	Due       time.Time `json:"due"`
	Recovered bool      `json:"recovered"`
}

// beat calls GET /heartbeat/<name> as a cron one-liner would.
func beat(t *testing.T, h *harness.Harness, name, status string) beatAnswer {
	t.Helper()
	path := "/heartbeat/" + name
	if status != "" {
		path += "?status=" + url.QueryEscape(status)
	}
	st, body := h.API(http.MethodGet, path, nil, hookKey)
	var ans beatAnswer
	if st != http.StatusOK || json.Unmarshal([]byte(body), &ans) != nil {
		t.Fatalf("GET %s: HTTP %d %s", path, st, body)
	}
	return ans
}

func heartbeatStatus(t *testing.T, h *harness.Harness, name string) heartbeat.Status {
	t.Helper()
	list, err := h.App().Heartbeats.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range list {
		if s.Name == name {
			return s
		}
	}
	t.Fatalf("heartbeat %s not listed", name)
	return heartbeat.Status{}
}

func TestHeartbeatMissedByAMinutePagesOnceAndLateBeatCloses(t *testing.T) {
	clock := testclock.New()
	h := newHeartbeatHarness(t, clock)
	alice, bob := h.Phone(harness.Alice), h.Phone(harness.Bob)

	ans := beat(t, h, "backup", "3 files, 2 GB")
	if want := ans.LastBeat.Add(70 * time.Minute); !ans.Due.Equal(want) {
		t.Fatalf("due %s, want last beat + every + grace = %s", ans.Due, want)
	}
	if st := heartbeatStatus(t, h, "never"); st.State != heartbeat.StateWaiting {
		t.Fatalf("never-beaten heartbeat is %s", st.State)
	}

	// One minute before the deadline: nothing.
	clock.Advance(69 * time.Minute)
	h.ExpectNoMore()

	// One minute after it: one page, naming the last beat and its source.
	clock.Advance(2 * time.Minute)
	page := alice.ExpectSMS("Nightly backup did not report: no beat since")
	if !strings.Contains(page.Body, "from key hooks at 127.0.0.1") || !strings.Contains(page.Body, "(3 files, 2 GB)") {
		t.Fatalf("page %q does not say where the last beat came from and what it said", page.Body)
	}
	bob.ExpectSMS("Nightly backup did not report")
	code := codeOf(t, page.Body)
	if st := heartbeatStatus(t, h, "backup"); st.State != heartbeat.StateLate || st.AlertID == "" {
		t.Fatalf("backup after its deadline: %+v", st)
	}
	page.ThenReply(code + "a").Expect("Acknowledged")
	bob.ExpectSMS("acknowledged by Alice")

	// Hours pass: the silence is paged once, and the never-beaten
	// heartbeat pages nobody.
	clock.Advance(3 * time.Hour)
	h.ExpectNoMore()
	id := heartbeatStatus(t, h, "backup").AlertID

	// The late beat closes the alert and tells Alice, who acknowledged it.
	if ans := beat(t, h, "backup", ""); !ans.Recovered {
		t.Fatalf("late beat: %+v, want recovered", ans)
	}
	alice.ExpectSMS("[" + code + "] Heartbeat backup beat again at")
	h.WaitIdle()
	if a := alertState(t, h, id); a.State != alerts.StateClosed || a.ClosedBy != "heartbeat:backup" {
		t.Fatalf("alert after the late beat: %s by %q", a.State, a.ClosedBy)
	}
	if st := heartbeatStatus(t, h, "backup"); st.State != heartbeat.StateOK {
		t.Fatalf("backup after the late beat: %s", st.State)
	}
	h.ExpectNoMore()

	// And it is watched again: the next silence pages again.
	clock.Advance(71 * time.Minute)
	alice.ExpectSMS("Nightly backup did not report")
	bob.ExpectSMS("Nightly backup did not report")
	h.ExpectNoMore()
}

func TestHeartbeatBeatsKeepItQuiet(t *testing.T) {
	clock := testclock.New()
	h := newHeartbeatHarness(t, clock)
	for range 5 {
		beat(t, h, "backup", "")
		clock.Advance(65 * time.Minute) // late for "every", within grace
		h.ExpectNoMore()
	}
	// Five beats, five armed deadlines at most: the beats did not pile up
	// jobs beyond one per deadline.
	infos, err := h.Store.List(context.Background(), "jobs/active/hb-")
	if err != nil {
		t.Fatal(err)
	}
	if len(infos) > 1 {
		t.Fatalf("%d check jobs active, want at most 1", len(infos))
	}
}

func TestHeartbeatTwoReplicasPageOnce(t *testing.T) {
	clock := testclock.New()
	h := newHeartbeatHarness(t, clock)
	h.Replica()
	beat(t, h, "backup", "")
	beat(t, h, "cron", "")
	clock.Advance(71 * time.Minute)
	for _, p := range []*harness.Phone{h.Phone(harness.Alice), h.Phone(harness.Bob)} {
		p.ExpectSMS("Nightly backup did not report")
		p.ExpectSMS("Cron is silent")
	}
	// Nothing twice: the ledger fails on any page not expected above.
	h.ExpectNoMore()
}

func TestHeartbeatRestartDuringGraceLosesNothing(t *testing.T) {
	clock := testclock.New()
	h := newHeartbeatHarness(t, clock)
	beat(t, h, "backup", "before restart")
	clock.Advance(65 * time.Minute)
	h.Restart()
	h.ExpectNoMore()
	clock.Advance(6 * time.Minute)
	page := h.Phone(harness.Alice).ExpectSMS("Nightly backup did not report")
	if !strings.Contains(page.Body, "before restart") {
		t.Fatalf("page %q lost the last beat's status", page.Body)
	}
	h.Phone(harness.Bob).ExpectSMS("Nightly backup did not report")
	h.ExpectNoMore()
}

// Twilio takes the recovery text but its answer is lost: the pager retries
// what failed, and Alice must not get the text twice.
func TestHeartbeatRecoveryTextOnceWhenTwilioAnswerIsLost(t *testing.T) {
	clock := testclock.New()
	h := newHeartbeatHarness(t, clock)
	alice, bob := h.Phone(harness.Alice), h.Phone(harness.Bob)
	beat(t, h, "backup", "")
	clock.Advance(71 * time.Minute)
	page := alice.ExpectSMS("Nightly backup did not report")
	bob.ExpectSMS("Nightly backup did not report")
	code := codeOf(t, page.Body)
	page.ThenReply(code + "a").Expect("Acknowledged")
	bob.ExpectSMS("acknowledged by Alice")
	h.ExpectNoMore()
	id := heartbeatStatus(t, h, "backup").AlertID

	h.Twilio.LoseNext("Messages.json", 1)
	beat(t, h, "backup", "")
	alice.ExpectSMS("[" + code + "] Heartbeat backup beat again at")
	h.WaitIdle()
	clock.Advance(time.Minute) // the retry falls due
	h.ExpectNoMore()
	if j := h.WaitJob("hbr-" + id + ".tell"); j.Kind != "text" || j.Steps[0].State != "done" || j.Steps[0].MaxAttempts != 10 {
		t.Fatalf("recovery text job: kind %q, step %s after %d of %d attempts; want a text job done within 10", j.Kind, j.Steps[0].State, j.Steps[0].Attempts, j.Steps[0].MaxAttempts)
	}
}

func TestHeartbeatRouteRefusals(t *testing.T) {
	clock := testclock.New()
	h := newHeartbeatHarness(t, clock)
	for _, tc := range []struct {
		method, path string
		body         any
		key          string
		want         int
	}{
		{http.MethodGet, "/heartbeat/backup", nil, "", http.StatusForbidden},
		{http.MethodGet, "/heartbeat/backup", nil, "pk_wrong", http.StatusForbidden},
		{http.MethodGet, "/heartbeat/nosuch", nil, hookKey, http.StatusNotFound},
		// cron may only be beaten with the hooks key.
		{http.MethodPost, "/heartbeat/cron", url.Values{"status": {"ok"}}, pdRoutingKey, http.StatusForbidden},
		{http.MethodPost, "/heartbeat/cron/", url.Values{"status": {"ok"}}, hookKey, http.StatusOK},
		// Alertmanager's watchdog: its webhook JSON, key as Bearer.
		{http.MethodPost, "/heartbeat/backup", map[string]any{"status": "firing", "alerts": []any{map[string]any{"labels": map[string]string{"alertname": "Watchdog"}}}}, hookKey, http.StatusOK},
		{http.MethodDelete, "/heartbeat/backup", nil, hookKey, http.StatusMethodNotAllowed},
	} {
		if st, body := h.API(tc.method, tc.path, tc.body, tc.key); st != tc.want {
			t.Errorf("%s %s (key %q): HTTP %d %s, want %d", tc.method, tc.path, tc.key, st, body, tc.want)
		}
	}
	if st := heartbeatStatus(t, h, "backup"); st.Status != "firing" || st.State != heartbeat.StateOK {
		t.Fatalf("after the watchdog's beat: %+v", st)
	}
	// Refused requests wrote nothing.
	if _, err := h.Store.Get(context.Background(), "heartbeats/nosuch.json"); err == nil {
		t.Fatal("a beat of an unknown heartbeat was stored")
	}
	// Over the per-key limit: 429, and the beats before it counted.
	var last int
	for i := range 130 {
		last, _ = h.API(http.MethodGet, fmt.Sprintf("/heartbeat/backup?status=%d", i), nil, hookKey)
		if last == http.StatusTooManyRequests {
			break
		}
	}
	if last != http.StatusTooManyRequests {
		t.Fatalf("130 beats in a minute: last HTTP %d, want 429", last)
	}
}
