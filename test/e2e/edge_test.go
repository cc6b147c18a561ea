package e2e

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/oncall/pager/app"
	"github.com/oncall/pager/app/audit"
	"github.com/oncall/pager/app/pagerline"
	"github.com/oncall/pager/app/team"
	"github.com/oncall/pager/internal/harness"
	"github.com/oncall/pager/internal/teamtest"
	"github.com/oncall/pager/internal/testclock"
	"github.com/oncall/pager/store"
)

// Keys of the edge tests' team (edgeConfig).
const (
	edgeKey   = "pk_edge_0123456789abcdefghijklmnopqrstuvwxyz"
	slowKey   = "pk_slow_0123456789abcdefghijklmnopqrstuvwxyz"
	otherKey  = "pk_other_0123456789abcdefghijklmnopqrstuvwxyz"
	readAll   = "pk_readall_0123456789abcdefghijklmnopqrstuvwxyz"
	exampleAK = "pk_7SfYZDj7cE0jrnc-GMPa34FtBiE8zNGVaUhgAucFFPM" // the README's
)

// edgeConfig is the harness team with API keys (one limited to 5 requests
// a minute, the published example key) and an event that pages.
func edgeConfig() teamtest.Config {
	return harness.DefaultConfig(teamtest.Merge(fmt.Sprintf(`{
  "api_keys": {
    "edge":    {"sha256": %q},
    "slow":    {"sha256": %q, "rate_limit_per_minute": 5},
    "other":   {"sha256": %q},
    "readall": {"sha256": %q, "can_read": true},
    "example": {"sha256": %q}
  },
  "events": {"outage": {"message": "Outage {{ what }}", "contacts": ["alice"], "page": true}}
}`, team.HashAPIKey(edgeKey), team.HashAPIKey(slowKey), team.HashAPIKey(otherKey),
		team.HashAPIKey(readAll), team.ExampleAPIKeySHA256)))
}

func newEdgeHarness(t *testing.T, settings func(*app.Settings)) *harness.Harness {
	t.Helper()
	return harness.New(t, harness.Options{Config: edgeConfig(), Settings: settings})
}

// auditEntries lists the audit objects: entries and total bytes.
func auditEntries(t *testing.T, h *harness.Harness) ([]audit.Entry, int) {
	t.Helper()
	ctx := context.Background()
	infos, err := h.Store.List(ctx, audit.Prefix)
	if err != nil {
		t.Fatal(err)
	}
	var out []audit.Entry
	size := 0
	for _, in := range infos {
		obj, err := h.Store.Get(ctx, in.Key)
		if err != nil {
			t.Fatal(err)
		}
		size += len(obj.Data)
		var e audit.Entry
		if err := json.Unmarshal(obj.Data, &e); err != nil {
			t.Fatal(err)
		}
		out = append(out, e)
	}
	return out, size
}

func rejectedEntries(es []audit.Entry) []audit.Entry {
	var out []audit.Entry
	for _, e := range es {
		if e.Action == audit.ActionRejected {
			out = append(out, e)
		}
	}
	return out
}

// unsigned posts an unsigned form to a Twilio route with extra headers.
func unsigned(t *testing.T, h *harness.Harness, path string, hdr map[string]string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, h.URL()+path, strings.NewReader("From=%2B15555550102&Body=TAKE"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// Item 1: 100 unsigned requests with a 30 KB X-Forwarded-For used to
// write 100 audit objects of 30 KB, each naming the forged source.
func TestRejectedWebhooksAuditBounded(t *testing.T) {
	h := newEdgeHarness(t, nil)
	forged := strings.Repeat("6", 30<<10) // one 30 KB "address"
	const n = 100
	for i := 0; i < n; i++ {
		if got := unsigned(t, h, "/msgcontrol/entry", map[string]string{"X-Forwarded-For": forged}); got != http.StatusForbidden {
			t.Fatalf("unsigned: HTTP %d", got)
		}
	}
	es, size := auditEntries(t, h)
	rej := rejectedEntries(es)
	t.Logf("audit: %d objects, %d bytes for %d rejected requests (%d bytes per request)", len(rej), size, n, size/n)
	if len(rej) != 1 {
		t.Errorf("%d audit objects for %d rejections from one source in one interval, want 1", len(rej), n)
	}
	for _, e := range rej {
		if e.Source != "127.0.0.1" {
			t.Errorf("audit source %.80q: taken from an untrusted header, want the socket's 127.0.0.1", e.Source)
			break
		}
	}
	if size > 1024 {
		t.Errorf("audit bytes %d, want under 1 KB", size)
	}
}

// Anyone may text the control number: texts from a stranger or a disabled
// member leave one audit object per sender a minute, naming the sender, not
// one per text kept for ever.
func TestTextsFromStrangersAuditBounded(t *testing.T) {
	h := harness.New(t, harness.Options{Config: harness.DefaultConfig(
		teamtest.Set("available_users.users.bob.enabled", false))})
	stranger, bob := h.Phone(harness.Stranger), h.Phone(harness.Bob)
	const n = 30
	for i := range n {
		body := []string{"WHO", "TAKE", "C", "QUIET 2h"}[i%4]
		stranger.Text(body).ExpectNoReply()
		bob.Text(body).ExpectNoReply()
	}
	rej := rejectedEntries(must(auditEntries(t, h)))
	if len(rej) != 2 {
		t.Fatalf("%d audit objects for %d texts from two senders, want one each; the first: %+v", len(rej), 2*n, rej[:min(len(rej), 2)])
	}
	got := map[string]string{}
	for _, e := range rej {
		got[e.Source] = e.Detail
	}
	if !strings.Contains(got[harness.Stranger], "not in available_users") || !strings.Contains(got[harness.Bob], "disabled member") {
		t.Fatalf("audit entries %+v, want the stranger's and bob's numbers with why each was refused", rej)
	}
	if got := h.Config().CurrentConfig.OncallUser.ID; got != "alice" {
		t.Fatalf("on-call changed to %q", got)
	}
	h.ExpectNoMore()
}

// Item 1: with the proxy trusted, the client is who the proxy says.
func TestTrustedProxyNamesTheClient(t *testing.T) {
	h := newEdgeHarness(t, func(s *app.Settings) {
		s.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
	})
	unsigned(t, h, "/msgcontrol/entry", map[string]string{"X-Forwarded-For": "6.6.6.6, 203.0.113.7"})
	rej := rejectedEntries(must(auditEntries(t, h)))
	if len(rej) != 1 || rej[0].Source != "203.0.113.7" {
		t.Fatalf("audit entries %+v, want one from 203.0.113.7 (the address the trusted proxy appended)", rej)
	}
}

func must[T any](v T, _ int) T { return v }

// Item 1: headers are capped well below Go's 1 MB default.
func TestHugeHeaderRefused(t *testing.T) {
	h := newEdgeHarness(t, nil)
	got := unsigned(t, h, "/msgcontrol/entry", map[string]string{"X-Forwarded-For": strings.Repeat("a", 200<<10)})
	if got != http.StatusRequestHeaderFieldsTooLarge {
		t.Fatalf("200 KB header: HTTP %d, want 431", got)
	}
	if rej := rejectedEntries(must(auditEntries(t, h))); len(rej) != 0 {
		t.Fatalf("oversized header audited: %d entries", len(rej))
	}
}

// Item 2: the README's key is refused on a listener other machines reach.
func TestExampleKeyRefusedOnPublicListener(t *testing.T) {
	h := newEdgeHarness(t, func(s *app.Settings) { s.ListenAddr = ":8080" })
	status, body := h.API(http.MethodPost, "/contact/alice/", url.Values{"message": {"hi"}}, exampleAK)
	if status != http.StatusForbidden || !strings.Contains(body, "apikey new") {
		t.Fatalf("example key on :8080: HTTP %d %s, want 403 naming `oncall-pager apikey new`", status, body)
	}
	status, body = h.API(http.MethodPost, "/alerts", map[string]any{"summary": "x", "dedup_key": "x"}, exampleAK)
	if status != http.StatusForbidden || !strings.Contains(body, "apikey new") {
		t.Fatalf("example key on the intake: HTTP %d %s", status, body)
	}
	h.Phone(harness.Alice).ExpectNoSMS()
	// Another key works.
	if status, body := h.API(http.MethodPost, "/contact/alice/", url.Values{"message": {"hi"}}, edgeKey); status != http.StatusCreated {
		t.Fatalf("own key: HTTP %d %s", status, body)
	}
	h.Phone(harness.Alice).ExpectSMS("hi")
}

func TestExampleKeyWorksOnLoopback(t *testing.T) {
	h := newEdgeHarness(t, nil)
	if status, body := h.API(http.MethodPost, "/contact/alice/", url.Values{"message": {"hi"}}, exampleAK); status != http.StatusCreated {
		t.Fatalf("example key on loopback: HTTP %d %s", status, body)
	}
	h.Phone(harness.Alice).ExpectSMS("hi")
}

// Item 3: one budget per key across the API and the intake; paging events
// count against it; 429 with Retry-After; other keys unaffected.
func TestRateLimitPerKey(t *testing.T) {
	h := newEdgeHarness(t, nil)
	for i := 0; i < 4; i++ {
		if status, body := h.API(http.MethodPost, "/contact/alice/", url.Values{"message": {fmt.Sprint("n", i)}}, slowKey); status != http.StatusCreated {
			t.Fatalf("post %d: HTTP %d %s", i, status, body)
		}
	}
	if status, body := h.API(http.MethodPost, "/event/outage/", url.Values{"what": {"db"}}, slowKey); status != http.StatusCreated {
		t.Fatalf("paging event: HTTP %d %s", status, body)
	}
	check := func(what string, req *http.Request) {
		t.Helper()
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		ra, _ := strconv.Atoi(resp.Header.Get("Retry-After"))
		if resp.StatusCode != http.StatusTooManyRequests || ra < 1 {
			t.Errorf("%s over the limit: HTTP %d Retry-After %q, want 429 and a delay", what, resp.StatusCode, resp.Header.Get("Retry-After"))
		}
	}
	form := func(path string) *http.Request {
		r, _ := http.NewRequest(http.MethodPost, h.URL()+path, strings.NewReader(url.Values{"message": {"x"}, "what": {"y"}, "api_key": {slowKey}}.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		return r
	}
	check("contact", form("/contact/alice/"))
	check("paging event", form("/event/outage/"))
	js, _ := http.NewRequest(http.MethodPost, h.URL()+"/alerts", strings.NewReader(`{"summary":"x","dedup_key":"x"}`))
	js.Header.Set("Authorization", "Bearer "+slowKey)
	js.Header.Set("Content-Type", "application/json")
	check("intake", js)
	pd, _ := http.NewRequest(http.MethodPost, h.URL()+"/v2/enqueue", strings.NewReader(`{"routing_key":"`+slowKey+`","event_action":"trigger","payload":{"summary":"x","source":"s","severity":"critical"}}`))
	pd.Header.Set("Content-Type", "application/json")
	check("pagerduty", pd)
	if status, body := h.API(http.MethodPost, "/contact/alice/", url.Values{"message": {"other key"}}, edgeKey); status != http.StatusCreated {
		t.Fatalf("another key: HTTP %d %s", status, body)
	}
	// What was accepted went out, once; nothing refused did.
	alice := h.Phone(harness.Alice)
	for _, m := range []string{"n0", "n1", "n2", "n3", "Outage db", "other key"} {
		alice.ExpectSMS(m)
	}
}

// Item 4: the public health answers carry a status word and a reason code,
// nothing about the store, the config or the team; the detail is on the
// admin listener.
func TestHealthPublicAnswersAreTerse(t *testing.T) {
	h := newEdgeHarness(t, nil)
	get := func(path string) (int, map[string]any, string) {
		resp, err := http.Get(h.URL() + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		var m map[string]any
		_ = json.Unmarshal(b, &m)
		return resp.StatusCode, m, string(b)
	}
	terse := func(path string, want int, status, reason string) {
		t.Helper()
		var code int
		var m map[string]any
		var body string
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			if code, m, body = get(path); code == want && m["status"] == status {
				break
			}
		}
		if code != want || m["status"] != status || (reason != "" && m["reason"] != reason) {
			t.Fatalf("%s: HTTP %d %s, want %d status %q reason %q", path, code, body, want, status, reason)
		}
		for k := range m {
			if k != "status" && k != "reason" {
				t.Errorf("%s discloses %q: %s", path, k, body)
			}
		}
		for _, leak := range []string{h.S3.Bucket, h.Key, "+1555"} {
			if strings.Contains(body, leak) {
				t.Errorf("%s discloses %q: %s", path, leak, body)
			}
		}
	}
	terse("/livez", http.StatusOK, "ok", "")
	terse("/readyz", http.StatusOK, "ok", "")
	terse("/healthz", http.StatusOK, "ok", "")

	// A broken upload naming a phone number: degraded, said tersely.
	ctx := context.Background()
	good, _ := h.Store.Get(ctx, h.Key)
	bad := strings.Replace(string(good.Data), `"phone": "+15555550102"`, `"phone": "+1555 not a number"`, 1)
	if _, err := h.Store.Put(ctx, h.Key, []byte(bad), store.Cond{}); err != nil {
		t.Fatal(err)
	}
	terse("/readyz", http.StatusServiceUnavailable, "degraded", "config_invalid")
	terse("/healthz", http.StatusServiceUnavailable, "degraded", "config_invalid")
	terse("/livez", http.StatusOK, "ok", "")

	// The admin listener tells the whole story.
	rec := httptest.NewRecorder()
	h.App().Admin.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/readyz", nil))
	if rec.Code != http.StatusServiceUnavailable || !strings.Contains(rec.Body.String(), "available_users.users.bob.phone") || !strings.Contains(rec.Body.String(), h.S3.Bucket) {
		t.Fatalf("admin /readyz: HTTP %d %s", rec.Code, rec.Body.String())
	}
}

// Item 5: readiness falls when the store refuses writes, and recovers.
func TestReadinessReflectsFailingWrites(t *testing.T) {
	h := newEdgeHarness(t, nil)
	wait := func(want int, substr string) {
		t.Helper()
		var last string
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			resp, err := http.Get(h.URL() + "/readyz")
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			last = string(b)
			if resp.StatusCode == want && strings.Contains(last, substr) {
				return
			}
		}
		t.Fatalf("/readyz never answered %d with %q; last %s", want, substr, last)
	}
	wait(http.StatusOK, `"ok"`)
	h.S3.Fault.DenyWrites()
	wait(http.StatusServiceUnavailable, "store_write_failing")
	h.S3.Fault.AllowWrites()
	wait(http.StatusOK, `"ok"`)
}

// Item 7: a reused Idempotency-Key with another body is refused and sends
// nothing.
func TestIdempotencyKeyReusedWithOtherBody(t *testing.T) {
	h := newEdgeHarness(t, nil)
	send := func(msg string) (int, string) {
		req, _ := http.NewRequest(http.MethodPost, "/contact/alice/", strings.NewReader(`{"message": "`+msg+`"}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+edgeKey)
		req.Header.Set("Idempotency-Key", "k-1")
		return h.Do(req)
	}
	if status, body := send("db1 down"); status != http.StatusCreated {
		t.Fatalf("first: HTTP %d %s", status, body)
	}
	alice := h.Phone(harness.Alice)
	alice.ExpectSMS("db1 down")
	if status, body := send("db2 down"); status != http.StatusUnprocessableEntity || !strings.Contains(body, "Idempotency-Key") {
		t.Fatalf("reused key, other body: HTTP %d %s, want 422", status, body)
	}
	if status, body := send("db1 down"); status != http.StatusCreated {
		t.Fatalf("same key, same body: HTTP %d %s", status, body)
	}
	alice.ExpectNoSMS() // neither db1 again nor db2
}

// Item 7: the retention pass keeps an Idempotency-Key's record while the
// key still answers with the first notification, and removes it after.
func TestRetentionExpiresIdempotencyKeys(t *testing.T) {
	clk := testclock.At(time.Now())
	h := harness.New(t, harness.Options{Config: edgeConfig(), Now: clk.Now})
	ctx := context.Background()
	send := func() string {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, "/contact/alice/", strings.NewReader(`{"message": "db1 down"}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+edgeKey)
		req.Header.Set("Idempotency-Key", "k-retention")
		status, body := h.Do(req)
		var a apiAnswer
		if err := json.Unmarshal([]byte(body), &a); err != nil || status != http.StatusCreated {
			t.Fatalf("HTTP %d %s", status, body)
		}
		return a.NotificationID
	}
	prune := func() int {
		t.Helper()
		if _, err := h.App().Prune(ctx); err != nil {
			t.Fatal(err)
		}
		infos, err := h.Store.List(ctx, "api/idempotency/")
		if err != nil {
			t.Fatal(err)
		}
		return len(infos)
	}
	first := send()
	alice := h.Phone(harness.Alice)
	alice.ExpectSMS("db1 down")
	clk.Advance(24*time.Hour - time.Minute)
	if n := prune(); n != 1 {
		t.Fatalf("%d records left a minute before the key expires, want 1", n)
	}
	if again := send(); again != first {
		t.Fatalf("retry within the day after a pass: %s, want %s", again, first)
	}
	alice.ExpectNoSMS()
	clk.Advance(2 * time.Minute)
	if n := prune(); n != 0 {
		t.Fatalf("%d records left after the key expired, want 0", n)
	}
}

// Item 7: a report is the creator's (or a read-all key's) to read, and
// its id is random even with an Idempotency-Key.
func TestNotificationReportIsPrivate(t *testing.T) {
	h := newEdgeHarness(t, nil)
	var a apiAnswer
	req, _ := http.NewRequest(http.MethodPost, "/contact/alice/", strings.NewReader(`{"message": "private"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+edgeKey)
	req.Header.Set("Idempotency-Key", "k-2")
	status, body := h.Do(req)
	if err := json.Unmarshal([]byte(body), &a); err != nil || status != http.StatusCreated {
		t.Fatalf("HTTP %d %s", status, body)
	}
	// The old derivation: sha256(key name, target, idempotency key).
	if a.NotificationID == derivedID("edge", "contact:alice", "k-2") {
		t.Fatal("notification id derived from the key name and Idempotency-Key: guessable")
	}
	h.Phone(harness.Alice).ExpectSMS("private")
	for key, want := range map[string]int{edgeKey: 200, readAll: 200, otherKey: 404} {
		if got, body := h.API(http.MethodGet, "/notification/"+a.NotificationID, nil, key); got != want {
			t.Errorf("GET report with %.10s: HTTP %d %s, want %d", key, got, body, want)
		}
	}
}

// Item 10: a captured, signed TAKE and C replayed with new idempotency
// tokens act once.
func TestReplayedSignedTakeActsOnce(t *testing.T) {
	h := newEdgeHarness(t, nil)
	take := h.Twilio.SMSParams(harness.Bob, harness.Control, "TAKE")
	confirm := h.Twilio.SMSParams(harness.Bob, harness.Control, "C")
	if _, b := h.WebhookWithToken(harness.Public+"/msgcontrol/entry", take, "t1"); !strings.Contains(b, "reply C") {
		t.Fatalf("TAKE: %s", b)
	}
	if _, b := h.WebhookWithToken(harness.Public+"/msgcontrol/entry", confirm, "t2"); !strings.Contains(b, "on call now") {
		t.Fatalf("C: %s", b)
	}
	h.Phone(harness.Alice).Text("TAKE").ThenReply("C").Expect("on call now")
	h.WebhookWithToken(harness.Public+"/msgcontrol/entry", take, "t3")
	h.WebhookWithToken(harness.Public+"/msgcontrol/entry", confirm, "t4")
	if got := h.Config().CurrentConfig.OncallUser.ID; got != "alice" {
		t.Fatalf("replayed TAKE + C made %s on call", got)
	}
	// One hand-over notice each, none from the replay.
	h.Phone(harness.Alice).ExpectSMS("Bob Roberts has taken the pager")
	h.Phone(harness.Bob).ExpectSMS("Alice McAlister has taken the pager")
}

// Item 14: signed status callbacks for unknown ids end Twilio's retries
// (2xx/4xx); /media for an unknown id is 404; a huge chunked form is 413.
func TestUnknownIdsAndChunkedBodies(t *testing.T) {
	h := newEdgeHarness(t, nil)
	for _, target := range []string{
		"/public/mmsstatuscb?job=vm-nosuchjob",
		"/public/mmsstatuscb?job=..%2Fbad",
		"/public/callstatus?job=vm-nosuchjob",
		"/ack?n=0123456789abcdef0123456789abcdef&step=sms-alice&job=nosuch",
		"/ack?n=not-an-id&step=sms-alice",
		"/public/alertstatus?alert=nosuch&user=alice",
		"/public/alertstatus?alert=..%2F..%2Fx&user=alice",
	} {
		form := url.Values{"MessageSid": {"SM0123"}, "MessageStatus": {"delivered"}, "CallSid": {"CA0123"}, "CallStatus": {"completed"}}
		status, body := h.Webhook(harness.Public+target, form)
		if status >= 500 {
			t.Errorf("%s: HTTP %d %s, want 2xx or 4xx", target, status, body)
		}
	}
	signer := pagerline.NewSigner(h.Store, time.Now)
	link, err := signer.URL(context.Background(), harness.Public, "vm-nosuchjob.mp3")
	if err != nil {
		t.Fatal(err)
	}
	if status, _ := h.Fetch(link); status != http.StatusNotFound {
		t.Errorf("media for an unknown id: HTTP %d, want 404", status)
	}
	// 20 MB, chunked (no Content-Length).
	pr, pw := io.Pipe()
	go func() {
		chunk := []byte(strings.Repeat("Body=", 1<<14))
		for i := 0; i < (20<<20)/len(chunk); i++ {
			if _, err := pw.Write(chunk); err != nil {
				return
			}
		}
		pw.Close()
	}()
	req, _ := http.NewRequest(http.MethodPost, h.URL()+"/msgcontrol/entry", pr)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	pr.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("20 MB chunked form: HTTP %d, want 413", resp.StatusCode)
	}
}

func derivedID(keyName, source, idem string) string {
	sum := sha256.Sum256([]byte(keyName + "\x00" + source + "\x00" + idem))
	return hex.EncodeToString(sum[:16])
}

// Item 10: a page call's key press, replayed signed with a new token, acts
// once (the CallSid and the key are signed).
func TestReplayedPageKeyActsOnce(t *testing.T) {
	h := newAlertHarness(t, nil)
	a := trigger(t, h, "Replay me", "replay")
	h.Phone(harness.Alice).ExpectSMS("Replay me - reply")
	h.Phone(harness.Bob).ExpectSMS("Replay me - reply")
	target := harness.Public + "/public/pagekey?alert=" + url.QueryEscape(a.ID) + "&user=alice"
	form := url.Values{"AccountSid": {h.Twilio.AccountSID()}, "CallSid": {"CA0123456789abcdef0123456789abcdef"}, "Digits": {"2"}}
	if _, b := h.WebhookWithToken(target, form, "t1"); !strings.Contains(b, "Closed") {
		t.Fatalf("first key press: %s", b)
	}
	if _, b := h.WebhookWithToken(target, form, "t2"); strings.Contains(b, "<Say") {
		t.Fatalf("replayed key press acted again: %s", b)
	}
	h.Phone(harness.Bob).ExpectSMS("closed by Alice")
	// Another call's press is acted on.
	form.Set("CallSid", "CA0123456789abcdef0123456789abcdee")
	if _, b := h.WebhookWithToken(target, form, "t3"); !strings.Contains(b, "already closed") {
		t.Fatalf("another call: %s", b)
	}
}
