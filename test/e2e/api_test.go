package e2e

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oncall/pager/app"
	"github.com/oncall/pager/app/audit"
	"github.com/oncall/pager/app/jobs"
	"github.com/oncall/pager/app/notification"
	"github.com/oncall/pager/app/team"
	"github.com/oncall/pager/internal/harness"
	"github.com/oncall/pager/internal/teamtest"
)

// API keys of the team below.
const (
	nagiosKey = "pk_nagios_0123456789abcdefghijklmnopqrstuvwxyz"
	readerKey = "pk_reader_0123456789abcdefghijklmnopqrstuvwxyz"
	oldKey    = "pk_old_0123456789abcdefghijklmnopqrstuvwxyz"
)

// apiConfig is the default team plus what the alert API needs: two more
// users, channels per user, groups, events, keys and team channels pointing
// at peers (SMTP_PORT is filled by the harness).
func apiConfig(hookURL, mmURL, slackURL, signalCLI string) teamtest.Config {
	return teamtest.Default(
		teamtest.WithUsers(
			map[string]any{"id": "dave", "name": "Dave Gone", "phone": "+15555550104", "enabled": false},
			map[string]any{"id": "erin", "name": "Erin Quiet", "phone": "+15555550105", "channels": map[string]any{"sms": map[string]any{"enabled": false}}},
		),
		teamtest.WithAPIKey("nagios", team.HashAPIKey(nagiosKey), false),
		teamtest.WithAPIKey("reader", team.HashAPIKey(readerKey), true),
		teamtest.WithAPIKey("old", team.HashAPIKey(oldKey), true),
		teamtest.Set("api_keys.old.enabled", false),
		teamtest.Merge(strings.NewReplacer("HOOK_URL", hookURL, "MM_URL", mmURL, "SLACK_URL", slackURL, "SIGNAL_CLI", signalCLI).Replace(`{
  "available_users": {"users": {
    "alice": {"email": "alice@example.com", "channels": {"sms": {}, "email": {}}},
    "bob":   {"channels": {"sms": {}, "pushover": {"address": "ubobuserkey0000000000000000000"}}}
  }},
  "groups": {
    "ops":    {"name": "Ops", "members": ["alice", "bob", "dave"]},
    "night":  {"name": "Night shift", "members": ["alice", "carol"]},
    "ghosts": {"members": ["dave", "erin"]},
    "off":    {"members": ["alice"], "enabled": false}
  },
  "events": {
    "disk_full": {"name": "Disk full", "message": "Disk {{ host }} at {{ pct }}%", "subject": "Disk {{ host }}", "groups": ["night"]},
    "call_me":   {"message": "Database {{ db }} is down", "contacts": ["alice"], "channels": ["voice"]},
    "deploy":    {"message": "Deployed {{ app }} {{ version }}", "subject": "Deploy of {{ app }}",
                  "channels": ["hook", "mm", "team-slack", "sig", "team-mail"]},
    "paused":    {"message": "x", "contacts": ["alice"], "enabled": false}
  },
  "notification_channels": {
    "hook":      {"type": "webhook", "url": "HOOK_URL/hooks", "secret": "whsec-e2e"},
    "mm":        {"type": "mattermost", "url": "MM_URL/hooks/xyz", "channel": "ops"},
    "team-slack": {"type": "slack", "url": "SLACK_URL/services/T0/B0/secret"},
    "sig":       {"type": "signal", "cli_path": "SIGNAL_CLI", "user": "+15555550150", "recipient": "+15555550151"},
    "team-mail": {"type": "email", "recipients": ["team@example.com"], "sender": "alerts@example.com",
                  "smtp_server": "127.0.0.1", "smtp_port": "SMTP_PORT", "use_tls": false},
    "push":      {"type": "pushover", "token": "apptoken000000000000000000000", "user": "ugroupkey00000000000000000000"}
  }
}`)),
	)
}

// peers are the httptest servers and the signal-cli stand-in the team's
// channels point at.
type peers struct {
	mu       sync.Mutex
	hooks    []*http.Request
	hookBody []string
	chat     map[string][]string // "mm", "slack", "pushover": bodies
	sigArgs  string              // file signal-cli writes its arguments to
}

func (p *peers) record(kind, body string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.chat[kind] = append(p.chat[kind], body)
}

func (p *peers) bodies(kind string) []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.chat[kind]...)
}

func newAPIHarness(t *testing.T) (*harness.Harness, *peers) {
	t.Helper()
	p := &peers{chat: map[string][]string{}}
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		p.mu.Lock()
		p.hooks = append(p.hooks, r)
		p.hookBody = append(p.hookBody, string(b))
		p.mu.Unlock()
		w.WriteHeader(http.StatusCreated)
	}))
	chat := func(kind, answer string) *httptest.Server {
		return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			b, _ := io.ReadAll(r.Body)
			p.record(kind, r.URL.Path+" "+string(b))
			_, _ = io.WriteString(w, answer)
		}))
	}
	mm, slack := chat("mm", "ok"), chat("slack", "ok")
	push := chat("pushover", `{"status":1,"request":"5042853c-402d-4a18-abcb-168734a801de"}`)
	for _, s := range []*httptest.Server{hook, mm, slack, push} {
		t.Cleanup(s.Close)
	}
	dir := t.TempDir()
	p.sigArgs = filepath.Join(dir, "signal-args")
	script := filepath.Join(dir, "signal-cli")
	if err := os.WriteFile(script, []byte("#!/bin/sh\nprintf '%s\\n' \"$@\" > '"+p.sigArgs+"'\necho 1700000000123\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	cfg := apiConfig(hook.URL, mm.URL, slack.URL, script)
	return harness.New(t, harness.Options{Config: cfg, Settings: func(s *app.Settings) { s.PushoverAPIURL = push.URL }}), p
}

type apiAnswer struct {
	Message        string   `json:"message"`
	NotificationID string   `json:"notification_id"`
	Recipients     int      `json:"recipients"`
	MissingFields  []string `json:"missing_fields"`
	Skipped        []struct {
		Contact string `json:"contact"`
		Reason  string `json:"reason"`
	} `json:"skipped"`
}

func post(t *testing.T, h *harness.Harness, path string, body any, key string) (int, apiAnswer) {
	t.Helper()
	var a apiAnswer
	status := h.APIJSON(http.MethodPost, path, body, key, &a)
	return status, a
}

func report(t *testing.T, h *harness.Harness, id string) notification.Report {
	t.Helper()
	var rep notification.Report
	if status := h.APIJSON(http.MethodGet, "/notification/"+id, nil, nagiosKey, &rep); status != http.StatusOK {
		t.Fatalf("GET /notification/%s: HTTP %d", id, status)
	}
	return rep
}

func delivery(t *testing.T, rep notification.Report, step string) notification.DeliveryReport {
	t.Helper()
	for _, r := range rep.Recipients {
		for _, d := range r.Deliveries {
			if d.Step == step {
				return d
			}
		}
	}
	t.Fatalf("no delivery %s in %+v", step, rep)
	return notification.DeliveryReport{}
}

// RedFlash's rfclient: form-encoded, trailing slash, api_key as a field;
// it reads nothing but the status.
func TestRedFlashClientNotifiesContact(t *testing.T) {
	h, _ := newAPIHarness(t)
	req, _ := http.NewRequest(http.MethodPost, "/contact/alice/", strings.NewReader(
		url.Values{"api_key": {nagiosKey}, "message": {"Web server down ⚠"}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("User-Agent", "python-requests/2.31.0")
	status, body := h.Do(req)
	var a apiAnswer
	if err := json.Unmarshal([]byte(body), &a); err != nil || status != http.StatusCreated || a.Message != "OK" || !notification.ValidID(a.NotificationID) {
		t.Fatalf("HTTP %d %s", status, body)
	}
	sms := h.Phone(harness.Alice).ExpectSMS("Web server down ⚠")
	if sms.From != harness.Control || sms.StatusCallback != harness.Public+"/ack?job="+notification.JobID(a.NotificationID, 0)+"&n="+a.NotificationID+"&step=alice%2Fsms" {
		t.Fatalf("SMS %+v", sms.Message)
	}
	job := waitNotification(t, h, a.NotificationID)
	if job.Failed() {
		t.Fatalf("job failed: %+v", job.Steps)
	}
	mails := h.SMTP.Messages()
	if len(mails) != 1 || mails[0].To[0] != "alice@example.com" || !strings.Contains(mails[0].Parsed.Text, "Web server down ⚠") {
		t.Fatalf("mails %+v", mails)
	}
	if v := h.Twilio.Violations(); len(v) != 0 {
		t.Errorf("requests not valid against Twilio's spec: %v", v)
	}
	// The notification was audited, without the key or the message.
	entries, err := audit.New(h.Store, nil, nil).List(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, e := range entries {
		if e.Action == "notification" {
			found = true
			raw, _ := json.Marshal(e)
			if e.Actor != "api:nagios" || !strings.Contains(string(raw), a.NotificationID) ||
				strings.Contains(string(raw), nagiosKey) || strings.Contains(string(raw), "Web server down") {
				t.Errorf("audit entry %s", raw)
			}
		}
	}
	if !found {
		t.Error("no audit entry for the notification")
	}
}

func TestStatusCodes(t *testing.T) {
	h, _ := newAPIHarness(t)
	msg := url.Values{"message": {"db1 down"}}
	for _, tc := range []struct {
		name, method, path string
		body               any
		key                string
		want               int
		substr             string
	}{
		{"all reached", "POST", "/group/night/", msg, nagiosKey, 201, `"message":"OK"`},
		{"no trailing slash, JSON, bearer", "POST", "/group/night", map[string]string{"message": "db1 down"}, nagiosKey, 201, `"notification_id"`},
		{"some skipped", "POST", "/group/ops/", msg, nagiosKey, 202, `"skipped":[{"contact":"dave","reason":"user disabled"}]`},
		{"nobody reachable", "POST", "/group/ghosts/", msg, nagiosKey, 422, `"contact":"erin","reason":"no enabled channel"`},
		{"contact without a channel", "POST", "/contact/erin/", msg, nagiosKey, 422, "Nobody reachable"},
		{"empty message", "POST", "/contact/alice/", url.Values{"message": {"  "}}, nagiosKey, 400, "Empty message"},
		{"no message", "POST", "/group/ops/", url.Values{}, nagiosKey, 400, "Empty message"},
		{"not JSON", "POST", "/contact/alice/", []int{1}, nagiosKey, 400, "JSON object"},
		{"bad form", "POST", "/contact/alice/", "message=%zz", nagiosKey, 400, "malformed"},
		{"no key", "POST", "/contact/alice/", msg, "", 403, `{"message":"Invalid API key for operation"}`},
		{"unknown key", "POST", "/contact/alice/", msg, "pk_guess", 403, "Invalid API key for operation"},
		{"disabled key", "POST", "/contact/alice/", msg, oldKey, 403, "Invalid API key for operation"},
		{"read without can_read", "GET", "/contact/alice/", nil, nagiosKey, 403, "Invalid API key for operation"},
		{"unknown contact", "POST", "/contact/zoe/", msg, nagiosKey, 404, "Unknown or disabled contact"},
		{"disabled contact", "POST", "/contact/dave/", msg, nagiosKey, 404, "Unknown or disabled contact"},
		{"disabled group", "POST", "/group/off/", msg, nagiosKey, 404, "Unknown or disabled group"},
		{"disabled event", "POST", "/event/paused/", url.Values{}, nagiosKey, 404, "Unknown or disabled event"},
		{"unknown notification", "GET", "/notification/" + strings.Repeat("0", 32), nil, nagiosKey, 404, "Unknown notification"},
		{"malformed notification id", "GET", "/notification/..%2Fconfig", nil, nagiosKey, 404, ""},
		{"PUT", "PUT", "/contact/alice/", msg, nagiosKey, 405, ""},
		{"DELETE", "DELETE", "/group/ops/", nil, nagiosKey, 405, ""},
		{"GET event", "GET", "/event/disk_full/", nil, nagiosKey, 405, ""},
		{"too large", "POST", "/contact/alice/", url.Values{"message": {strings.Repeat("x", 70<<10)}}, nagiosKey, 413, "too large"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, body := h.API(tc.method, tc.path, tc.body, tc.key)
			if status != tc.want || !strings.Contains(body, tc.substr) {
				t.Fatalf("%s %s: HTTP %d %s; want %d with %q", tc.method, tc.path, status, body, tc.want, tc.substr)
			}
		})
	}
	// 405 names the allowed methods.
	req, _ := http.NewRequest(http.MethodPut, h.URL()+"/contact/alice/", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if allow := resp.Header.Get("Allow"); resp.StatusCode != 405 || !strings.Contains(allow, "POST") || !strings.Contains(allow, "GET") {
		t.Fatalf("PUT: HTTP %d Allow %q", resp.StatusCode, allow)
	}
	// Nothing was sent for the refused requests: only the three accepted
	// ones (night twice, ops once) reached anyone, skipped recipients never.
	alice, bob, carol := h.Phone(harness.Alice), h.Phone(harness.Bob), h.Phone(harness.Carol)
	for range 3 {
		alice.ExpectSMS("db1 down")
	}
	for range 2 {
		carol.ExpectSMS("db1 down")
	}
	bob.ExpectSMS("db1 down")
	h.ExpectNoMore()
}

func TestReadContactAndGroup(t *testing.T) {
	h, _ := newAPIHarness(t)
	status, body := h.API(http.MethodGet, "/contact/alice/", nil, readerKey)
	if status != 200 || body != `{"name":"Alice McAlister","slug":"alice"}`+"\n" {
		t.Fatalf("GET contact: HTTP %d %s", status, body)
	}
	status, body = h.API(http.MethodGet, "/group/ops", nil, readerKey)
	if status != 200 || body != `{"name":"Ops","slug":"ops","short_contacts":["alice","bob","dave"]}`+"\n" {
		t.Fatalf("GET group: HTTP %d %s", status, body)
	}
	for _, secret := range []string{"+1555", "@example.com", "ubobuserkey", "sha256"} {
		if strings.Contains(body, secret) {
			t.Errorf("group answer leaks %q", secret)
		}
	}
	if status, _ := h.API(http.MethodGet, "/contact/dave/", nil, readerKey); status != 404 {
		t.Fatalf("GET disabled contact: HTTP %d", status)
	}
}

func TestEventFillsTemplateAndReportsMissingFields(t *testing.T) {
	h, _ := newAPIHarness(t)
	status, a := post(t, h, "/event/disk_full/", url.Values{"host": {"db1"}, "note": {"{{ pct }}"}}, nagiosKey)
	if status != 201 || len(a.MissingFields) != 1 || a.MissingFields[0] != "pct" {
		t.Fatalf("HTTP %d %+v", status, a)
	}
	h.Phone(harness.Alice).ExpectSMS("Disk db1 at %")
	h.Phone(harness.Carol).ExpectSMS("Disk db1 at %")
	// Fields from JSON, numbers included; a value is never expanded.
	status, a = post(t, h, "/event/disk_full", map[string]any{"host": "{{ pct }}", "pct": 97.5}, nagiosKey)
	if status != 201 || len(a.MissingFields) != 0 {
		t.Fatalf("HTTP %d %+v", status, a)
	}
	h.Phone(harness.Alice).ExpectSMS("Disk {{ pct }} at 97.5%")
	h.Phone(harness.Carol).ExpectSMS("Disk {{ pct }} at 97.5%")
}

func TestVoiceSaysTheMessageTwice(t *testing.T) {
	h, _ := newAPIHarness(t)
	status, a := post(t, h, "/event/call_me/", url.Values{"db": {"orders"}}, nagiosKey)
	if status != 201 {
		t.Fatalf("HTTP %d %+v", status, a)
	}
	c := h.Phone(harness.Alice).ExpectCall("Database orders is down")
	var said []string
	for _, v := range c.Verbs {
		if v.Name == "Say" {
			said = append(said, v.Text)
		}
	}
	if len(said) != 2 || said[0] != "Database orders is down" || said[1] != "Again: Database orders is down" {
		t.Fatalf("call to %s said %q", c.To, said)
	}
	h.ExpectNoMore() // the voice-only event did not text
	// The call's status callbacks land in the report.
	for _, st := range []string{"ringing", "completed", "in-progress"} {
		code, _ := h.Webhook(c.StatusCallback, callStatus(h, c.SID, st))
		if code != http.StatusNoContent {
			t.Fatalf("call status %s: HTTP %d", st, code)
		}
	}
	waitNotification(t, h, a.NotificationID)
	d := delivery(t, report(t, h, a.NotificationID), "alice/voice")
	if d.State != "delivered" || d.Status != "completed" || d.SID != c.SID {
		t.Fatalf("voice delivery %+v", d)
	}
	if v := h.Twilio.Violations(); len(v) != 0 {
		t.Errorf("requests not valid against Twilio's spec: %v", v)
	}
}

func TestChannelsWebhookChatSignalEmail(t *testing.T) {
	h, p := newAPIHarness(t)
	status, a := post(t, h, "/event/deploy/", map[string]string{"app": "shop", "version": "v42"}, nagiosKey)
	if status != 201 {
		t.Fatalf("HTTP %d %+v", status, a)
	}
	job := waitNotification(t, h, a.NotificationID)
	if job.Failed() {
		t.Fatalf("job failed: %+v", job.Steps)
	}

	// Webhook: RedFlash's form to ADDRESS/<id>, signed.
	p.mu.Lock()
	if len(p.hooks) != 1 {
		p.mu.Unlock()
		t.Fatalf("%d webhook calls", len(p.hooks))
	}
	r, body := p.hooks[0], p.hookBody[0]
	p.mu.Unlock()
	form, _ := url.ParseQuery(body)
	if r.URL.Path != "/hooks/"+a.NotificationID || form.Get("notification_id") != a.NotificationID || form.Get("message") != "Deployed shop v42" {
		t.Fatalf("webhook %s %q", r.URL.Path, body)
	}
	ts := r.Header.Get("X-Pager-Timestamp")
	mac := hmac.New(sha256.New, []byte("whsec-e2e"))
	mac.Write([]byte(ts + "." + body))
	if want := "sha256=" + hex.EncodeToString(mac.Sum(nil)); !hmac.Equal([]byte(r.Header.Get("X-Pager-Signature")), []byte(want)) {
		t.Fatalf("webhook signature %q, want %q", r.Header.Get("X-Pager-Signature"), want)
	}

	// Mattermost and Slack: one post each, to the channel's hook.
	if mm := p.bodies("mm"); len(mm) != 1 || !strings.HasPrefix(mm[0], "/hooks/xyz ") || !strings.Contains(mm[0], `"channel":"ops"`) ||
		!strings.Contains(mm[0], `Deploy of shop\nDeployed shop v42`) {
		t.Fatalf("mattermost %q", mm)
	}
	if sl := p.bodies("slack"); len(sl) != 1 || !strings.HasPrefix(sl[0], "/services/T0/B0/secret ") || !strings.Contains(sl[0], "Deployed shop v42") {
		t.Fatalf("slack %q", sl)
	}

	// Signal: signal-cli -u <account> send -m <text> <recipient>.
	args, err := os.ReadFile(p.sigArgs)
	if err != nil {
		t.Fatal(err)
	}
	if got := string(args); got != "-u\n+15555550150\nsend\n-m\nDeploy of shop\nDeployed shop v42\n+15555550151\n" {
		t.Fatalf("signal-cli args %q", got)
	}

	// E-mail through the channel's own SMTP settings.
	mails := h.SMTP.Messages()
	if len(mails) != 1 || mails[0].From != "alerts@example.com" || mails[0].To[0] != "team@example.com" ||
		mails[0].Parsed.Subject != "Deploy of shop" || !strings.Contains(mails[0].Parsed.Text, "Deployed shop v42") {
		t.Fatalf("mail %+v", mails)
	}

	// The report has one entry per channel, masked, with receipts.
	rep := report(t, h, a.NotificationID)
	if rep.State != "done" || rep.Counts.Sent+rep.Counts.Delivered != 5 {
		t.Fatalf("report %s %+v", rep.State, rep.Counts)
	}
	if d := delivery(t, rep, "channel:hook/webhook/hook"); d.State != "delivered" || d.Address != "http://"+r.Host+"/..." {
		t.Fatalf("webhook delivery %+v", d)
	}
	if d := delivery(t, rep, "channel:sig/signal/sig"); d.SID != "1700000000123" || d.Address != "+*******0151" {
		t.Fatalf("signal delivery %+v", d)
	}
	if d := delivery(t, rep, "channel:team-mail/email/team-mail"); d.Address != "t***@example.com" || !strings.HasPrefix(d.SID, "<") {
		t.Fatalf("email delivery %+v", d)
	}
	raw, _ := json.Marshal(rep)
	for _, secret := range []string{"whsec-e2e", "/services/T0/B0/secret", "/hooks/xyz", "+15555550151"} {
		if strings.Contains(string(raw), secret) {
			t.Errorf("report leaks %q", secret)
		}
	}
}

func TestPushoverWithTheChannelsToken(t *testing.T) {
	h, p := newAPIHarness(t)
	status, a := post(t, h, "/contact/bob/", url.Values{"message": {"queue backlog"}, "subject": {"Backlog"}}, nagiosKey)
	if status != 201 {
		t.Fatalf("HTTP %d %+v", status, a)
	}
	waitNotification(t, h, a.NotificationID)
	push := p.bodies("pushover")
	if len(push) != 1 {
		t.Fatalf("pushover calls %q", push)
	}
	path, body, _ := strings.Cut(push[0], " ")
	form, _ := url.ParseQuery(body)
	if path != "/1/messages.json" || form.Get("token") != "apptoken000000000000000000000" || form.Get("user") != "ubobuserkey0000000000000000000" ||
		form.Get("message") != "queue backlog" || form.Get("title") != "Backlog" {
		t.Fatalf("pushover %s %v", path, form)
	}
	d := delivery(t, report(t, h, a.NotificationID), "bob/pushover")
	if d.SID != "5042853c-402d-4a18-abcb-168734a801de" || d.Address != strings.Repeat("*", 26)+"0000" {
		t.Fatalf("pushover delivery %+v", d)
	}
	h.Phone(harness.Bob).ExpectSMS("queue backlog")
}

func TestOptedOutRecipientRecordedNotRetried(t *testing.T) {
	h, _ := newAPIHarness(t)
	h.Twilio.FailNext("Messages.json", 400, 21610, 1)
	status, a := post(t, h, "/contact/alice/", url.Values{"message": {"db1 down"}}, nagiosKey)
	if status != 201 {
		t.Fatalf("HTTP %d", status)
	}
	job := waitNotification(t, h, a.NotificationID)
	s := job.Step("alice/sms")
	if s.State != jobs.StepFailed || s.Attempts != 1 {
		t.Fatalf("opted-out text: %s after %d attempts", s.State, s.Attempts)
	}
	if e := job.Step("alice/email"); e.State != jobs.StepDone {
		t.Fatalf("e-mail beside it: %s", e.State)
	}
	tries := 0
	for _, r := range h.Twilio.Requests() {
		if strings.HasSuffix(r.Path, "Messages.json") {
			tries++
		}
	}
	if tries != 1 {
		t.Fatalf("Twilio was asked %d times, want once", tries)
	}
	rep := report(t, h, a.NotificationID)
	d := delivery(t, rep, "alice/sms")
	if rep.State != "partial" || d.State != "failed" || d.ErrorCode != "21610" || !strings.Contains(d.Error, "opted out") {
		t.Fatalf("report %s, delivery %+v", rep.State, d)
	}
}

func TestDeliveryReceiptUpdatesReport(t *testing.T) {
	h, _ := newAPIHarness(t)
	status, a := post(t, h, "/contact/carol/", url.Values{"message": {"db1 down"}}, nagiosKey)
	if status != 201 {
		t.Fatalf("HTTP %d", status)
	}
	sms := h.Phone(harness.Carol).ExpectSMS("db1 down")
	waitNotification(t, h, a.NotificationID)
	if d := delivery(t, report(t, h, a.NotificationID), "carol/sms"); d.State != "sent" || d.Status != "queued" || d.Address != "+********0123" {
		t.Fatalf("before the receipt: %+v", d)
	}
	if code := sms.Status("delivered"); code != http.StatusNoContent {
		t.Fatalf("receipt: HTTP %d", code)
	}
	if code := sms.Status("sent"); code != http.StatusNoContent { // late, out of order
		t.Fatalf("late receipt: HTTP %d", code)
	}
	rep := report(t, h, a.NotificationID)
	d := delivery(t, rep, "carol/sms")
	if d.State != "delivered" || d.Status != "delivered" || d.DeliveredAt.IsZero() || d.SID != sms.SID || rep.Counts.Delivered != 1 {
		t.Fatalf("after the receipt: %+v", d)
	}
	// Unsigned receipts are refused.
	resp, err := http.PostForm(h.URL()+"/ack?job="+notification.JobID(a.NotificationID, 0)+"&n="+a.NotificationID+"&step=carol%2Fsms", url.Values{"MessageSid": {sms.SID}, "MessageStatus": {"failed"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("unsigned receipt: HTTP %d", resp.StatusCode)
	}
}

func TestStoreDownAnswers503AndQueuesNothing(t *testing.T) {
	h, _ := newAPIHarness(t)
	h.S3.Fault.Down()
	status, a := post(t, h, "/contact/alice/", url.Values{"message": {"db1 down"}}, nagiosKey)
	h.S3.Fault.Up()
	if status != http.StatusServiceUnavailable || a.NotificationID != "" || !strings.Contains(a.Message, "could not be stored") {
		t.Fatalf("HTTP %d %+v", status, a)
	}
	alice := h.Phone(harness.Alice)
	alice.ExpectNoSMS()
	infos, err := h.Store.List(context.Background(), "jobs/")
	if err != nil {
		t.Fatal(err)
	}
	for _, in := range infos {
		if strings.Contains(in.Key, notification.JobPrefix) {
			t.Fatalf("a notification job exists after a 503: %s", in.Key)
		}
	}
	// Once the store is back the same request goes through.
	if status, _ := post(t, h, "/contact/alice/", url.Values{"message": {"db1 down"}}, nagiosKey); status != 201 {
		t.Fatalf("after the outage: HTTP %d", status)
	}
	alice.ExpectSMS("db1 down")
}

func TestIdempotencyKeyQueuesOnce(t *testing.T) {
	h, _ := newAPIHarness(t)
	send := func() apiAnswer {
		req, _ := http.NewRequest(http.MethodPost, "/contact/carol", strings.NewReader(`{"message": "db1 down"}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+nagiosKey)
		req.Header.Set("Idempotency-Key", "nagios-db1-4711")
		status, body := h.Do(req)
		var a apiAnswer
		if err := json.Unmarshal([]byte(body), &a); err != nil || status != 201 {
			t.Fatalf("HTTP %d %s", status, body)
		}
		return a
	}
	first, second := send(), send()
	if first.NotificationID != second.NotificationID {
		t.Fatalf("ids %s and %s", first.NotificationID, second.NotificationID)
	}
	waitNotification(t, h, first.NotificationID)
	carol := h.Phone(harness.Carol)
	carol.ExpectSMS("db1 down")
	carol.ExpectNoSMS()
}

// A restart while a notification is half delivered: the texts went out,
// the e-mails could not yet. After the restart the e-mails go out, once,
// and no text is sent again.
func TestRestartWithHalfDrainedQueue(t *testing.T) {
	h, _ := newAPIHarness(t)
	h.SMTP.Down()
	status, a := post(t, h, "/group/ops/", url.Values{"message": {"db1 down"}}, nagiosKey)
	if status != http.StatusAccepted {
		t.Fatalf("HTTP %d", status)
	}
	h.Phone(harness.Alice).ExpectSMS("db1 down")
	h.Phone(harness.Bob).ExpectSMS("db1 down")
	waitSteps(t, h, a.NotificationID, "alice/sms", "bob/sms", "bob/pushover")
	h.Restart()
	h.SMTP.Up()
	job := waitNotification(t, h, a.NotificationID)
	if job.Failed() {
		t.Fatalf("job failed: %+v", job.Steps)
	}
	h.ExpectNoMore() // no text again after the restart
	if mails := h.SMTP.Messages(); len(mails) != 1 || mails[0].To[0] != "alice@example.com" {
		t.Fatalf("mails after the restart: %+v", mails)
	}
	rep := report(t, h, a.NotificationID)
	if rep.State != "done" || rep.Counts.Pending != 0 || len(rep.Recipients) != 3 || rep.Recipients[2].Skipped != "user disabled" {
		t.Fatalf("report %+v", rep)
	}
}

// waitSteps waits until the named steps of notification id are recorded
// done in the store, in whichever recipient's job they are.
func waitSteps(t *testing.T, h *harness.Harness, id string, steps ...string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if js, err := h.App().Jobs.List(context.Background(), notification.JobsPrefix(id)); err == nil {
			j := merge(id, js)
			done := 0
			for _, s := range steps {
				if st := j.Step(s); st != nil && st.State == jobs.StepDone {
					done++
				}
			}
			if done == len(steps) {
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("steps %v of %s not done", steps, id)
}

// waitNotification waits until every recipient's job of notification id
// is finished and in done/, and returns them as one job: their steps in the
// recipients' order.
func waitNotification(t *testing.T, h *harness.Harness, id string) jobs.Job {
	t.Helper()
	ctx := context.Background()
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		// The report is finished once every job the record names is.
		if rep := report(t, h, id); rep.Finished.IsZero() || rep.Unqueued != 0 {
			continue
		}
		active, err := h.Store.List(ctx, "jobs/active/"+notification.JobsPrefix(id))
		if err != nil || len(active) != 0 {
			continue
		}
		js, err := h.App().Jobs.List(ctx, notification.JobsPrefix(id))
		if err != nil || len(js) == 0 {
			continue
		}
		return merge(id, js)
	}
	t.Fatalf("notification %s not finished", id)
	return jobs.Job{}
}

func merge(id string, js []jobs.Job) jobs.Job {
	all := jobs.Job{ID: notification.JobsPrefix(id), Kind: notification.KindNotification}
	for _, j := range js {
		all.Steps = append(all.Steps, j.Steps...)
	}
	return all
}
