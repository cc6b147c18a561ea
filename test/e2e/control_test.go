package e2e

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oncall/pager/app"
	"github.com/oncall/pager/app/twilio"
	"github.com/oncall/pager/internal/harness"
	"github.com/oncall/pager/store"
)

func TestTakeConversation(t *testing.T) {
	h := harness.New(t, harness.Options{})
	alice, bob := h.Phone(harness.Alice), h.Phone(harness.Bob)

	bob.Text("WHO").Expect("Alice McAlister").Expect("+15555550101")
	bob.Text("  take  ").Expect("reply C").
		ThenReply("c").Expect("you are on call now").Expect(harness.PagerPhone)

	cfg := h.Config()
	if cfg.CurrentConfig.OncallUser.ID != "bob" || cfg.CurrentConfig.LastModifiedUserID != "bob" {
		t.Fatalf("stored on-call = %+v, last modified by %q", cfg.CurrentConfig.OncallUser, cfg.CurrentConfig.LastModifiedUserID)
	}
	if cfg.CurrentConfig.LastModifiedTime <= 1611602242 {
		t.Errorf("last_modified_time not advanced: %d", cfg.CurrentConfig.LastModifiedTime)
	}
	// Fields the pager does not own survive its write.
	raw := h.RawConfig()
	if raw["x_extension"] == nil || raw["current_config"].(map[string]any)["ops_note"] == nil ||
		raw["available_users"].(map[string]any)["users"].(map[string]any)["alice"].(map[string]any)["shoe_size"] == nil {
		t.Errorf("unknown fields lost in round trip: %v", raw)
	}
	alice.ExpectSMS("no longer on call")
	alice.Text("who").Expect("Bob Roberts").Expect("by bob")

	// The TAKE is in the audit log.
	entries, err := h.App().Audit.List(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	var took bool
	for _, e := range entries {
		took = took || (e.Action == "take" && e.Actor == "bob")
	}
	if !took {
		t.Errorf("no take entry in the audit log: %+v", entries)
	}
}

func TestTakeAlreadyOnCallAndCancel(t *testing.T) {
	h := harness.New(t, harness.Options{})
	h.Phone(harness.Alice).Text("TAKE").Expect("already on call")
	bob := h.Phone(harness.Bob)
	bob.Text("take").Expect("reply C").ThenReply("X").Expect("Alice McAlister stays on call")
	bob.Text("C").Expect("no TAKE waiting")
	bob.Text("x").Expect("nothing to cancel")
	if got := h.Config().CurrentConfig.OncallUser.ID; got != "alice" {
		t.Fatalf("on-call changed to %q after cancel", got)
	}
}

func TestHelpAndUnknownText(t *testing.T) {
	h := harness.New(t, harness.Options{})
	bob := h.Phone(harness.Bob)
	for _, body := range []string{"HALP", "help", "?", "what is this", "", "日本語のテキスト 🚨"} {
		bob.Text(body).Expect("TAKE").Expect("WHO").Expect("HALP")
	}
}

func TestStrangerGetsNothing(t *testing.T) {
	h := harness.New(t, harness.Options{})
	stranger := h.Phone(harness.Stranger)
	stranger.Text("WHO").ExpectNoReply()
	stranger.Text("TAKE").ExpectNoReply()
	stranger.Text("C").ExpectNoReply()
	if got := h.Config().CurrentConfig.OncallUser.ID; got != "alice" {
		t.Fatalf("on-call changed to %q", got)
	}
	h.ExpectNoMore()
}

func TestSignatureRequired(t *testing.T) {
	h := harness.New(t, harness.Options{})
	form := h.Twilio.SMSParams(harness.Bob, harness.Control, "TAKE")
	post := func(sig string) int {
		req, _ := http.NewRequest(http.MethodPost, h.URL()+"/msgcontrol/entry", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if sig != "" {
			req.Header.Set(twilio.SignatureHeader, sig)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := post(""); got != http.StatusForbidden {
		t.Errorf("unsigned: HTTP %d, want 403", got)
	}
	if got := post("bm90IGEgc2lnbmF0dXJl"); got != http.StatusForbidden {
		t.Errorf("wrong signature: HTTP %d, want 403", got)
	}
	// Signed for the listening address, not the public URL Twilio calls: refused.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if got, _, _ := h.Twilio.Post(ctx, h.URL()+"/msgcontrol/entry", form); got != http.StatusForbidden {
		t.Errorf("signed for the wrong URL: HTTP %d, want 403", got)
	}
	// Every Twilio route is guarded.
	for _, p := range []string{"/wrongnumber/sms", "/wrongnumber/voice", "/public/answer", "/public/keypress",
		"/public/afterrec", "/public/recordingcb", "/public/mmsstatuscb", "/public/callstatus"} {
		resp, err := http.PostForm(h.URL()+p, url.Values{"From": {harness.Bob}})
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("unsigned POST %s: HTTP %d, want 403", p, resp.StatusCode)
		}
	}
	// Nothing happened: no TAKE window was opened.
	if _, err := h.Store.Get(context.Background(), "sessions/15555550102.json"); err == nil {
		t.Error("a rejected request opened a TAKE window")
	}
	h.Phone(harness.Bob).Text("C").Expect("no TAKE waiting")
}

func TestHugeBodyRefused(t *testing.T) {
	h := harness.New(t, harness.Options{})
	status, _ := h.Webhook(harness.Public+"/msgcontrol/entry", h.Twilio.SMSParams(harness.Bob, harness.Control, strings.Repeat("take ", 20000)))
	if status != http.StatusRequestEntityTooLarge {
		t.Fatalf("100 KB body: HTTP %d, want 413", status)
	}
	if _, err := h.Store.Get(context.Background(), "sessions/15555550102.json"); err == nil {
		t.Error("an oversized request opened a TAKE window")
	}
}

func TestConcurrentConfirmOneWins(t *testing.T) {
	h := harness.New(t, harness.Options{})
	bob, carol := h.Phone(harness.Bob), h.Phone(harness.Carol)
	bob.Text("TAKE").Expect("reply C")
	carol.Text("TAKE").Expect("reply C")
	var wg sync.WaitGroup
	replies := make([]*harness.Reply, 2)
	for i, p := range []*harness.Phone{bob, carol} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			replies[i] = p.Text("C")
		}()
	}
	wg.Wait()
	won, lost := 0, 0
	for _, r := range replies {
		body := strings.Join(r.Bodies, " ")
		switch {
		case strings.Contains(body, "you are on call now"):
			won++
		case strings.Contains(body, "Too late"):
			lost++
		default:
			t.Errorf("unexpected reply %q", body)
		}
	}
	if won != 1 || lost != 1 {
		t.Fatalf("won=%d lost=%d, want exactly one winner told, one loser told", won, lost)
	}
	oc := h.Config().CurrentConfig.OncallUser.ID
	if oc != "bob" && oc != "carol" {
		t.Fatalf("on call: %q", oc)
	}
	// Alice is told once, by the winner.
	alice := h.Phone(harness.Alice)
	alice.ExpectSMS("has taken the pager")
	alice.ExpectNoSMS()
}

func TestStoreOutageDuringTake(t *testing.T) {
	h := harness.New(t, harness.Options{})
	bob := h.Phone(harness.Bob)
	bob.Text("TAKE").Expect("reply C")
	h.S3.Fault.Down()
	bob.Text("C").Expect("nothing changed")
	h.S3.Fault.Up()
	if got := h.Config().CurrentConfig.OncallUser.ID; got != "alice" {
		t.Fatalf("half-written TAKE: on call %q during outage", got)
	}
	// The window survived the failed attempt: C again completes it.
	bob.Text("C").Expect("you are on call now")
	h.Phone(harness.Alice).ExpectSMS("Bob Roberts has taken the pager")
	if got := h.Config().CurrentConfig.OncallUser.ID; got != "bob" {
		t.Fatalf("on call %q after retry", got)
	}
}

func TestBrokenUploadKeepsLastGoodConfig(t *testing.T) {
	h := harness.New(t, harness.Options{})
	ctx := context.Background()
	good, err := h.Store.Get(ctx, h.Key)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.Store.Put(ctx, h.Key, []byte(`{"available_users": {"users": {}}, "current_config": {"from_phone": "not a number"`), store.Cond{}); err != nil {
		t.Fatal(err)
	}
	waitHealth(t, h, http.StatusServiceUnavailable, "degraded")
	h.Phone(harness.Bob).Text("WHO").Expect("Alice McAlister")
	if _, err := h.Store.Put(ctx, h.Key, good.Data, store.Cond{}); err != nil {
		t.Fatal(err)
	}
	waitHealth(t, h, http.StatusOK, `"ok"`)
}

func TestOpsUploadThenTake(t *testing.T) {
	h := harness.New(t, harness.Options{})
	ctx := context.Background()
	obj, _ := h.Store.Get(ctx, h.Key)
	edited := strings.Replace(string(obj.Data), `"ops_note"`, `"ops_added": "dave joins monday", "ops_note"`, 1)
	if _, err := h.Store.Put(ctx, h.Key, []byte(edited), store.Cond{}); err != nil {
		t.Fatal(err)
	}
	// The TAKE is written against the latest object, not the cached one.
	h.Phone(harness.Bob).Text("TAKE").ThenReply("C").Expect("you are on call now")
	raw := h.RawConfig()
	if raw["current_config"].(map[string]any)["ops_added"] != "dave joins monday" {
		t.Fatalf("ops edit lost by TAKE: %v", raw["current_config"])
	}
	h.Phone(harness.Alice).ExpectSMS("Bob Roberts has taken the pager")
}

func TestWrongNumbers(t *testing.T) {
	h := harness.New(t, harness.Options{})
	h.Phone(harness.Bob).TextTo("/wrongnumber/sms", harness.PagerPhone, "WHO").Expect(harness.Control)
	h.Phone(harness.Stranger).TextTo("/wrongnumber/sms", harness.PagerPhone, "WHO").ExpectNoReply()
	status, body := h.Webhook(harness.Public+"/wrongnumber/voice", h.Twilio.VoiceParams(harness.Bob, harness.Control))
	if status != http.StatusOK || !strings.Contains(body, "does not take calls") || !strings.Contains(body, "<Hangup") {
		t.Fatalf("wrong-number call: %d %s", status, body)
	}
}

func TestWhoMakesNoStoreCall(t *testing.T) {
	h := harness.New(t, harness.Options{Settings: func(s *app.Settings) {
		s.ConfigRefresh = time.Hour
		s.JobPoll = time.Hour
	}})
	bob := h.Phone(harness.Bob)
	bob.Text("WHO").Expect("Alice")
	h.SettleStore()
	for i := 0; i < 5; i++ {
		bob.Text("WHO").Expect("Alice")
	}
	if n := h.S3.Fault.Total(); n != 0 {
		t.Fatalf("WHO made %d S3 requests: %v", n, h.S3.Fault.Requests())
	}
}

func waitHealth(t *testing.T, h *harness.Harness, want int, substr string) {
	t.Helper()
	var last string
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		resp, err := http.Get(h.URL() + "/healthz")
		if err != nil {
			t.Fatal(err)
		}
		b := make([]byte, 4096)
		n, _ := resp.Body.Read(b)
		resp.Body.Close()
		last = string(b[:n])
		if resp.StatusCode == want && strings.Contains(last, substr) {
			return
		}
	}
	t.Fatalf("healthz never answered %d with %q; last %s", want, substr, last)
}

// A TAKE refused because the stored config is broken says so, instead of
// blaming storage and inviting another C.
func TestTakeRefusedOnBrokenStoredConfig(t *testing.T) {
	h := harness.New(t, harness.Options{})
	ctx := context.Background()
	bob := h.Phone(harness.Bob)
	bob.Text("TAKE").Expect("reply C")
	good, err := h.Store.Get(ctx, h.Key)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.Store.Put(ctx, h.Key, []byte(`{"available_users": {"users": {}}, "current_config": {"from_phone": "not a number"}}`), store.Cond{}); err != nil {
		t.Fatal(err)
	}
	bob.Text("C").Expect("config in storage is broken").Expect("you are not on call")
	if _, err := h.Store.Put(ctx, h.Key, good.Data, store.Cond{}); err != nil {
		t.Fatal(err)
	}
	if got := h.Config().CurrentConfig.OncallUser.ID; got != "alice" {
		t.Fatalf("on call %q after a refused TAKE", got)
	}
}

// S3 can commit a write and still answer with an error. A confirmation
// whose config write landed that way has handed the pager over: the
// relieved engineer must hear of it, whether the member is told at once or
// replies C again.
func TestConfirmWhoseWriteAnswerWasLostTellsTheRelieved(t *testing.T) {
	h := harness.New(t, harness.Options{})
	alice, carol := h.Phone(harness.Alice), h.Phone(harness.Carol)
	carol.Text("TAKE").Expect("reply C")
	h.S3.Fault.LoseNext(http.MethodPut, h.Key, 1)
	if r := carol.Text("C"); !strings.Contains(strings.Join(r.Bodies, " "), "on call now") {
		r.Expect("reply C again").ThenReply("C").Expect("on call now")
	}
	if id := h.Config().CurrentConfig.OncallUser.ID; id != "carol" {
		t.Fatalf("on call: %q, want carol", id)
	}
	alice.ExpectSMS("Carol Jones has taken the pager")
	alice.ExpectNoSMS()
}
