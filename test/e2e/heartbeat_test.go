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
	"github.com/oncall/pager/app/team"
	"github.com/oncall/pager/internal/harness"
)

// heartbeatSection is added to alertConfig: backup beats hourly (10 min
// grace), never is configured but never beats, cron may only be beaten
// with the hooks key.
const heartbeatSection = `,
  "heartbeats": {
    "backup": {"every": "1h", "grace": "10m", "summary": "Nightly backup did not report"},
    "never":  {"every": "1h", "summary": "Never beaten"},
    "cron":   {"every": "30m", "grace": "5m", "summary": "Cron is silent", "api_key": "hooks"}
  }
}`

func newHeartbeatHarness(t *testing.T, clock *harness.FakeClock) *harness.Harness {
	t.Helper()
	cfg := strings.TrimSuffix(strings.TrimSpace(alertConfig), "}") + heartbeatSection
	cfg = strings.NewReplacer("PD_SHA", team.HashAPIKey(pdRoutingKey), "HOOK_SHA", team.HashAPIKey(hookKey)).Replace(cfg)
	return harness.New(t, harness.Options{Config: cfg, Now: clock.Now, Lease: 5 * time.Minute})
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

// waitSMS waits until n SMS to phone contain substr, then a little longer
// to see that no more come.
func expectSMSCount(t *testing.T, h *harness.Harness, to, substr string, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for countSMS(h, to, substr) < n && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(400 * time.Millisecond)
	if got := countSMS(h, to, substr); got != n {
		t.Fatalf("%d SMS to %s containing %q, want %d", got, to, substr, n)
	}
}

func TestHeartbeatMissedByAMinutePagesOnceAndLateBeatCloses(t *testing.T) {
	clock := &harness.FakeClock{}
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
	alice.ExpectNoSMS(500 * time.Millisecond)

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

	// Hours pass: the silence is paged once, and the never-beaten
	// heartbeat pages nobody.
	clock.Advance(3 * time.Hour)
	expectSMSCount(t, h, harness.Alice, "Nightly backup did not report", 1)
	if n := countSMS(h, harness.Alice, "Never beaten") + countSMS(h, harness.Bob, "Never beaten"); n != 0 {
		t.Fatalf("a heartbeat that never beat paged %d times", n)
	}
	id := heartbeatStatus(t, h, "backup").AlertID

	// The late beat closes the alert and tells Alice, who acknowledged it.
	if ans := beat(t, h, "backup", ""); !ans.Recovered {
		t.Fatalf("late beat: %+v, want recovered", ans)
	}
	alice.ExpectSMS("[" + code + "] Heartbeat backup beat again at")
	if a := alertState(t, h, id); a.State != alerts.StateClosed || a.ClosedBy != "heartbeat:backup" {
		t.Fatalf("alert after the late beat: %s by %q", a.State, a.ClosedBy)
	}
	if st := heartbeatStatus(t, h, "backup"); st.State != heartbeat.StateOK {
		t.Fatalf("backup after the late beat: %s", st.State)
	}

	// And it is watched again: the next silence pages again.
	clock.Advance(71 * time.Minute)
	expectSMSCount(t, h, harness.Alice, "Nightly backup did not report", 2)
}

func TestHeartbeatBeatsKeepItQuiet(t *testing.T) {
	clock := &harness.FakeClock{}
	h := newHeartbeatHarness(t, clock)
	alice := h.Phone(harness.Alice)
	for range 5 {
		beat(t, h, "backup", "")
		clock.Advance(65 * time.Minute) // late for "every", within grace
		time.Sleep(150 * time.Millisecond)
	}
	alice.ExpectNoSMS(300 * time.Millisecond)
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
	clock := &harness.FakeClock{}
	h := newHeartbeatHarness(t, clock)
	h.Replica()
	beat(t, h, "backup", "")
	beat(t, h, "cron", "")
	clock.Advance(71 * time.Minute)
	expectSMSCount(t, h, harness.Alice, "Nightly backup did not report", 1)
	expectSMSCount(t, h, harness.Alice, "Cron is silent", 1)
	expectSMSCount(t, h, harness.Bob, "Nightly backup did not report", 1)
}

func TestHeartbeatRestartDuringGraceLosesNothing(t *testing.T) {
	clock := &harness.FakeClock{}
	h := newHeartbeatHarness(t, clock)
	beat(t, h, "backup", "before restart")
	clock.Advance(65 * time.Minute)
	h.Restart()
	h.Phone(harness.Alice).ExpectNoSMS(300 * time.Millisecond)
	clock.Advance(6 * time.Minute)
	page := h.Phone(harness.Alice).ExpectSMS("Nightly backup did not report")
	if !strings.Contains(page.Body, "before restart") {
		t.Fatalf("page %q lost the last beat's status", page.Body)
	}
	expectSMSCount(t, h, harness.Alice, "Nightly backup did not report", 1)
}

func TestHeartbeatRouteRefusals(t *testing.T) {
	clock := &harness.FakeClock{}
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
