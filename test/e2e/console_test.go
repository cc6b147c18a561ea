package e2e

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/oncall/pager/app/alerts"
	"github.com/oncall/pager/app/team"
	"github.com/oncall/pager/internal/harness"
	"github.com/oncall/pager/internal/teamtest"
	"github.com/oncall/pager/internal/testclock"
	"github.com/oncall/pager/internal/testskip"
)

// screenshotDir is where the console tests leave their screenshots, for
// reviewers (the README links them).
const screenshotDir = "../../docs/screenshots"

// chromium finds the browser for the console tests: Debian's chromium,
// which ./test.sh installs when absent. Outside CI a machine without one
// skips, saying so; in CI (CI=true) a missing browser fails.
func chromium(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "headless-shell"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("console browser tests: no chromium found (./test.sh installs Debian's chromium package)")
	}
	testskip.Layer(t, "console browser tests", "no chromium found; ./test.sh installs Debian's chromium, or set CHROMIUM")
	return ""
}

// browser starts a headless Chromium for the test and returns a context
// for one tab, and a maker of further tabs with cookies of their own (a
// second person's browser).
func browser(t *testing.T) (context.Context, func() context.Context) {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium(t)),
		chromedp.NoSandbox, // CI runs as root
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("mute-audio", true),
		chromedp.WindowSize(1280, 800),
	)
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancelAlloc)
	ctx, cancel := chromedp.NewContext(alloc)
	t.Cleanup(cancel)
	if _, err := chromedp.Run(ctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	other := func() context.Context {
		c, cancel := chromedp.NewContext(ctx, chromedp.WithNewBrowserContext())
		t.Cleanup(cancel)
		// The first run opens the tab; it is bound to the context it runs
		// with, so that one has no deadline.
		if _, err := chromedp.Run(c, chromedp.Navigate("about:blank")); err != nil {
			t.Fatalf("second browser: %v", err)
		}
		return c
	}
	return ctx, other
}

// do runs browser steps with a bound on the whole, failing the test with
// the page's text when one fails.
func do(t *testing.T, ctx context.Context, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	c, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if err := chromedp.Do(c, steps...); err != nil {
		t.Fatalf("browser: %v\npage at %s:\n%s", err, location(ctx), bodyText(ctx))
	}
}

func eval[T any](t *testing.T, ctx context.Context, js string, opts ...chromedp.EvaluateOption) T {
	t.Helper()
	c, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	v, err := chromedp.Run(c, chromedp.Evaluate[T](js, opts...))
	if err != nil {
		t.Fatalf("browser: evaluate %s: %v", js, err)
	}
	return v
}

func location(ctx context.Context) string {
	c, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	l, _ := chromedp.Run(c, chromedp.Location())
	return l
}

func bodyText(ctx context.Context) string {
	c, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	s, _ := chromedp.Run(c, chromedp.Evaluate[string](`document.body ? document.body.innerText : ""`))
	return s
}

// waitText waits until the page's text contains want.
func waitText(t *testing.T, ctx context.Context, want string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		if strings.Contains(bodyText(ctx), want) {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("page at %s never showed %q; it shows:\n%s", location(ctx), want, bodyText(ctx))
}

// shoot saves the page at phone and desktop sizes.
func shoot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	if err := os.MkdirAll(screenshotDir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, vp := range []struct{ w, h int64 }{{360, 740}, {1280, 800}} {
		c, cancel := context.WithTimeout(ctx, 20*time.Second)
		if err := chromedp.Do(c, chromedp.EmulateViewport(vp.w, vp.h)); err != nil {
			cancel()
			t.Fatalf("viewport: %v", err)
		}
		png, err := chromedp.Run(c, chromedp.CaptureScreenshot())
		cancel()
		if err != nil {
			t.Fatalf("screenshot %s: %v", name, err)
		}
		if err := os.WriteFile(filepath.Join(screenshotDir, fmt.Sprintf("%s-%d.png", name, vp.w)), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	do(t, ctx, chromedp.EmulateViewport(1280, 800))
}

var signInCode = regexp.MustCompile(`sign-in code is (\d{6})`)

// signIn signs phone in with the code the fake Twilio received.
func signIn(t *testing.T, ctx context.Context, h *harness.Harness, base, phone string, screenshots bool) {
	t.Helper()
	p := h.Phone(phone)
	do(t, ctx, chromedp.Navigate(base+"/ui/"), chromedp.WaitVisible(chromedp.CSS("#phone")))
	if screenshots {
		shoot(t, ctx, "signin")
	}
	do(t, ctx, chromedp.SendKeys(chromedp.CSS("#phone"), phone), chromedp.Click(chromedp.CSS("button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS("#code")))
	sms := p.ExpectSMS("sign-in code")
	m := signInCode.FindStringSubmatch(sms.Body)
	if m == nil {
		t.Fatalf("sign-in text %q has no code", sms.Body)
	}
	do(t, ctx, chromedp.SendKeys(chromedp.CSS("#code"), m[1]), chromedp.Click(chromedp.CSS("#code ~ button")),
		chromedp.WaitVisible(chromedp.CSS(".oncall")))
	if phone == harness.Bob {
		// Bob has an email channel: the code is emailed too.
		deadline := time.Now().Add(10 * time.Second)
		for !mailed(h, "bob@example.com", m[1]) {
			if time.Now().After(deadline) {
				t.Fatal("the sign-in code was not emailed to bob")
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
}

func countTexts(h *harness.Harness, to, substr string) int {
	n := 0
	for _, m := range h.Twilio.Messages() {
		if m.To == to && strings.Contains(m.Body, substr) {
			n++
		}
	}
	return n
}

func mailed(h *harness.Harness, to, text string) bool {
	for _, m := range h.SMTP.Messages() {
		if len(m.To) == 1 && m.To[0] == to && m.Parsed != nil && strings.Contains(m.Parsed.Text, text) {
			return true
		}
	}
	return false
}

// consoleConfig: the default team; bob is an admin with an email channel;
// the escalation pages the on-call, then carol a minute later.
func consoleConfig() teamtest.Config {
	return teamtest.Default(
		teamtest.WithAPIKey("monitoring", team.HashAPIKey(pdRoutingKey), false),
		teamtest.WithEscalation(`{"steps": [{"targets": ["oncall"], "delay": "1m"}, {"targets": ["user:carol"], "delay": "1m"}], "repeat": 0}`),
		teamtest.Set("available_users.users.bob.admin", true),
		teamtest.Set("available_users.users.bob.email", "bob@example.com"),
		teamtest.Set("available_users.users.bob.channels", map[string]any{"sms": map[string]any{}, "email": map[string]any{}}),
		teamtest.Set("current_config.greeting", "Thanks for calling."),
	)
}

// TestConsoleInBrowser drives the console in headless Chromium against a
// whole pager (S3 over its protocol, the fake Twilio, real SMTP).
func TestConsoleInBrowser(t *testing.T) {
	ctx, otherBrowser := browser(t)
	// Frozen at the real time: the browser keeps the session cookie only
	// while its expiry (from this clock) is in the future.
	clock := testclock.At(time.Now())
	h := harness.New(t, harness.Options{Config: consoleConfig(), Now: clock.Now, Lease: 5 * time.Minute, ConsolePoll: 300 * time.Millisecond})
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(h.URL(), "http://"))
	// localhost, not 127.0.0.1: a secure context for the browser, where
	// the session cookie (Secure, as the base URL is https) is kept.
	base := "http://localhost:" + port
	alice, bob, carol := h.Phone(harness.Alice), h.Phone(harness.Bob), h.Phone(harness.Carol)

	// A voicemail to play later.
	audio := fakeMP3()
	_, rec := leaveVoicemail(t, h, "+12125550123", audio, 12)
	h.WaitJob("vm-" + rec.SID)
	alice.ExpectSMS("Voicemail")
	alice.ExpectCall("New voicemail")

	// Signed out, every page is the sign-in page.
	for _, p := range []string{"/ui/", "/ui/alerts", "/ui/config", "/ui/voicemails"} {
		do(t, ctx, chromedp.Navigate(base+p), chromedp.WaitVisible(chromedp.CSS("#phone")))
		if l := location(ctx); !strings.HasSuffix(l, "/ui/signin") {
			t.Fatalf("signed out, %s landed on %s", p, l)
		}
		if txt := bodyText(ctx); strings.Contains(txt, "Voicemail") || strings.Contains(txt, "Alice") {
			t.Fatalf("signed-out page shows data:\n%s", txt)
		}
	}

	// Bob signs in with the code texted to him.
	signIn(t, ctx, h, base, harness.Bob, true)
	waitText(t, ctx, "Alice McAlister")
	shoot(t, ctx, "now")

	// TAKE, then the confirmation step.
	do(t, ctx, chromedp.Click(chromedp.CSS("#take")), chromedp.WaitVisible(chromedp.CSS("#take-confirm")))
	waitText(t, ctx, "reply C within")
	do(t, ctx, chromedp.Click(chromedp.CSS("#take-confirm")))
	waitText(t, ctx, "you are on call now")
	waitText(t, ctx, "Bob Roberts (you)")
	if oc, _ := h.Config().OnCall(); oc.ID != "bob" {
		t.Fatalf("on call after TAKE in the console: %s", oc.ID)
	}
	alice.ExpectSMS("no longer on call")

	// An alert triggered through PagerDuty's API pages Bob; he
	// acknowledges it in the console and escalation stops.
	do(t, ctx, chromedp.Navigate(base+"/ui/alerts"), chromedp.WaitVisible(chromedp.CSS("#alerts")))
	// A second later than the voicemail (the clock is frozen), so the new
	// alert sorts first.
	clock.Advance(time.Second)
	st, body := postRaw(t, h, "/v2/enqueue", `{"routing_key": "`+pdRoutingKey+`", "event_action": "trigger", "dedup_key": "web1-cpu",
		"payload": {"summary": "CPU on fire on web1", "source": "web1", "severity": "critical"}}`, "")
	if st != http.StatusAccepted {
		t.Fatalf("enqueue: HTTP %d %s", st, body)
	}
	bob.ExpectSMS("CPU on fire on web1")
	// The list shows it without a reload (short polling).
	waitText(t, ctx, "CPU on fire on web1")
	if eval[bool](t, ctx, `document.getElementById("alerts-fresh").hidden`) {
		t.Fatal("the list changed without saying so")
	}
	shoot(t, ctx, "alerts")
	listed, err := h.App().Alerts.List(context.Background(), alerts.Query{Source: "web1"})
	if err != nil || len(listed.Alerts) != 1 {
		t.Fatalf("alert from /v2/enqueue: %+v %v", listed.Alerts, err)
	}
	alertID := listed.Alerts[0].ID
	do(t, ctx, chromedp.Click(chromedp.CSS(`#alerts a[href="/ui/alerts/`+alertID+`"]`)), chromedp.WaitVisible(chromedp.CSS("#ack")))
	do(t, ctx, chromedp.Click(chromedp.CSS("#ack")))
	waitText(t, ctx, "escalation stopped")
	if s := eval[string](t, ctx, `document.getElementById("alert-state").textContent`); s != "acknowledged" {
		t.Fatalf("alert state shown: %q", s)
	}
	shoot(t, ctx, "alert")
	if got := alertState(t, h, alertID); got.State != alerts.StateAcknowledged || got.AckedBy != "bob" {
		t.Fatalf("alert after ack in the console: %s by %q", got.State, got.AckedBy)
	}
	clock.Advance(3 * time.Minute)
	// The voicemail, not acknowledged, goes on to carol's step: the clock
	// did reach it. The acknowledged alert does not.
	carol.ExpectSMS("Voicemail")
	time.Sleep(time.Second)
	if n := countTexts(h, harness.Carol, "CPU on fire"); n != 0 {
		t.Fatalf("escalation went on after the ack in the console: carol paged %d times", n)
	}

	// The voicemail plays from an authenticated route: 200, the same bytes.
	do(t, ctx, chromedp.Navigate(base+"/ui/voicemails"), chromedp.WaitVisible(chromedp.CSS("audio")))
	waitText(t, ctx, "+12125550123")
	got := eval[string](t, ctx, `(async () => {
		const a = document.querySelector("audio");
		const r = await fetch(a.currentSrc || a.src);
		const b = await r.arrayBuffer();
		const d = await crypto.subtle.digest("SHA-256", b);
		return r.status + " " + [...new Uint8Array(d)].map(x => x.toString(16).padStart(2, "0")).join("");
	})()`, chromedp.EvalAwaitPromise)
	sum := sha256.Sum256(audio)
	if want := "200 " + hex.EncodeToString(sum[:]); got != want {
		t.Fatalf("audio: got %q, want %q", got, want)
	}
	// The element itself loads it (metadata request answered).
	loaded := eval[string](t, ctx, `new Promise(res => {
		const a = document.querySelector("audio");
		a.addEventListener("error", () => res("error " + (a.error && a.error.code)), {once: true});
		a.addEventListener("loadedmetadata", () => res("loaded"), {once: true});
		a.addEventListener("progress", () => res("progress"), {once: true});
		a.preload = "auto"; a.load();
		setTimeout(() => res("network " + a.networkState), 5000);
	})`, chromedp.EvalAwaitPromise)
	// Our fake audio is not a decodable mp3: an error 4 (format) is the
	// browser having fetched it; 2 (network) would be a failed fetch.
	if loaded != "loaded" && loaded != "progress" && loaded != "error 4" {
		t.Fatalf("audio element: %s", loaded)
	}
	shoot(t, ctx, "voicemails")

	// Notifications: the test page's report.
	do(t, ctx, chromedp.Navigate(base+"/ui/"), chromedp.WaitVisible(chromedp.CSS("#testpage")),
		chromedp.Click(chromedp.CSS("#testpage")), chromedp.WaitVisible(chromedp.CSS("#report-state")))
	bob.ExpectSMS("Test page")
	shoot(t, ctx, "notifications")

	// Audit: Bob's actions with him as actor.
	do(t, ctx, chromedp.Navigate(base+"/ui/audit?actor=bob"), chromedp.WaitVisible(chromedp.CSS(".list")))
	for _, want := range []string{"alert_ack", "take", "signin", "test_page"} {
		waitText(t, ctx, want)
	}
	shoot(t, ctx, "audit")

	// Config: an error is shown at its JSON path, then fixed and saved.
	do(t, ctx, chromedp.Navigate(base+"/ui/config"), chromedp.WaitVisible(chromedp.CSS("#config")))
	shoot(t, ctx, "config")
	edit := func(from, to string) {
		t.Helper()
		js := fmt.Sprintf(`(() => { const e = document.getElementById("config"); const v = e.value.replace(%q, %q); const changed = v !== e.value; e.value = v; return changed; })()`, from, to)
		if !eval[bool](t, ctx, js) {
			t.Fatalf("editor has no %q", from)
		}
	}
	edit(`"from_phone": "+15555550100"`, `"from_phone": "5550100"`)
	do(t, ctx, chromedp.Click(chromedp.CSS("#config-save")), chromedp.WaitVisible(chromedp.CSS("#problems")))
	waitText(t, ctx, "current_config.from_phone")
	waitText(t, ctx, "Not saved")
	shoot(t, ctx, "config-problem")
	if h.Config().CurrentConfig.FromPhone != "+15555550100" {
		t.Fatal("an invalid config was saved")
	}
	edit(`"from_phone": "5550100"`, `"from_phone": "+15555550100"`)
	edit(`"Thanks for calling."`, `"Thanks for calling the console."`)
	do(t, ctx, chromedp.Click(chromedp.CSS("#config-save")), chromedp.WaitVisible(chromedp.CSS("#config-saved")))
	if g := h.Config().CurrentConfig.Greeting; g != "Thanks for calling the console." {
		t.Fatalf("greeting after save: %q", g)
	}
	if h.RawConfig()["current_config"].(map[string]any)["oncall_user"].(map[string]any)["id"] != "bob" {
		t.Fatal("saving the config lost the TAKE")
	}

	// A second person's browser (Alice; not an admin) sees the change.
	ctx2 := otherBrowser()
	signIn(t, ctx2, h, base, harness.Alice, false)
	waitText(t, ctx2, "Bob Roberts")
	do(t, ctx2, chromedp.Navigate(base+"/ui/config"))
	waitText(t, ctx2, "only admins")
	do(t, ctx2, chromedp.Navigate(base+"/ui/audit?action=config_change"), chromedp.WaitVisible(chromedp.CSS(".list")))
	waitText(t, ctx2, "config_change by bob")
	do(t, ctx2, chromedp.Navigate(base+"/ui/alerts/"+alertID))
	waitText(t, ctx2, "Acknowledged")

	// A cross-site form post is refused, and changes nothing.
	evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprintf(w, `<form id="f" method="post" action="%s/ui/alerts/%s/close"><input name="csrf" value="guess"></form>
<script>document.getElementById("f").submit()</script>`, base, alertID)
	}))
	t.Cleanup(evil.Close)
	do(t, ctx, chromedp.Navigate(evil.URL))
	waitText(t, ctx, "refused")
	if got := alertState(t, h, alertID); got.State != alerts.StateAcknowledged {
		t.Fatalf("cross-site post changed the alert: %s", got.State)
	}

	// Signing out ends the session: only the sign-in page is left.
	do(t, ctx, chromedp.Navigate(base+"/ui/"), chromedp.WaitVisible(chromedp.CSS(".signout button")),
		chromedp.Click(chromedp.CSS(".signout button")), chromedp.WaitVisible(chromedp.CSS("#phone")))
	do(t, ctx, chromedp.Navigate(base+"/ui/alerts"), chromedp.WaitVisible(chromedp.CSS("#phone")))
	if txt := bodyText(ctx); strings.Contains(txt, "CPU on fire") {
		t.Fatalf("signed-out browser sees alerts:\n%s", txt)
	}
}
