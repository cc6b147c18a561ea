package console_test

import (
	"context"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/oncall/pager/app/alerts"
	"github.com/oncall/pager/app/audit"
	"github.com/oncall/pager/app/console"
	"github.com/oncall/pager/app/jsondoc"
	"github.com/oncall/pager/app/notification"
	"github.com/oncall/pager/app/pagerline"
	"github.com/oncall/pager/app/signin"
	"github.com/oncall/pager/app/team"
	"github.com/oncall/pager/store"
	"github.com/oncall/pager/store/local"
)

const cfgJSON = `{
  "available_users": {"users": {
    "alice": {"id": "alice", "name": "Alice", "phone": "+15555550101", "admin": true},
    "bob":   {"id": "bob",   "name": "Bob",   "phone": "+15555550102"}
  }},
  "current_config": {"from_phone": "+15555550100", "pager_phone": "+15555550199",
    "oncall_user": {"id": "alice", "name": "Alice", "phone": "+15555550101"},
    "mail_settings": {"from_email": "a@example.com", "to_email": "b@example.com", "mail_server": "localhost", "mail_port": 25}}
}
`

// counting counts Gets, to show what a page reads.
type counting struct {
	store.Store
	gets atomic.Int64
	// afterGet, when set, runs after each Get (another replica acting
	// between a read and a write).
	afterGet func(key string)
}

func (c *counting) Get(ctx context.Context, key string) (store.Object, error) {
	c.gets.Add(1)
	obj, err := c.Store.Get(ctx, key)
	if c.afterGet != nil {
		c.afterGet(key)
	}
	return obj, err
}

// Keys keeps the local store's key-only listing visible through the wrapper.
func (c *counting) Keys(ctx context.Context, prefix string) ([]string, error) {
	return store.Keys(ctx, c.Store, prefix)
}

type codes struct {
	mu   sync.Mutex
	last map[string]string
}

func (c *codes) SendCode(_ context.Context, u team.User, code string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.last[u.ID] = code
	return nil
}

// Stand-ins for the faces not under test here (the browser test runs the
// real ones).
type noOnCall struct{}

func (noOnCall) Take(context.Context, team.User) string    { return "take" }
func (noOnCall) Confirm(context.Context, team.User) string { return "confirm" }
func (noOnCall) Cancel(context.Context, team.User) string  { return "cancel" }
func (noOnCall) Pending(context.Context, team.User) (time.Time, error) {
	return time.Time{}, nil
}

type noVoicemails struct{}

func (noVoicemails) Voicemails(context.Context, string, int) (pagerline.VoicemailPage, error) {
	return pagerline.VoicemailPage{}, nil
}
func (noVoicemails) Audio(context.Context, string) ([]byte, error) { return nil, store.ErrNotFound }

type noNotifications struct{}

func (noNotifications) Report(context.Context, string) (notification.Report, error) {
	return notification.Report{}, store.ErrNotFound
}
func (noNotifications) TestPage(context.Context, team.User) (string, error) { return "", nil }

// texts records the durable texts queued, by id; a second one under an id
// is the duplicate the queue drops, and is counted.
type texts struct {
	mu   sync.Mutex
	byID map[string]string
	dups int
}

func (x *texts) TextOnce(_ context.Context, id, _, to, body string) error {
	x.mu.Lock()
	defer x.mu.Unlock()
	if _, ok := x.byID[id]; ok {
		x.dups++
		return nil
	}
	x.byID[id] = to + ": " + body
	return nil
}

// byPhone is what each phone was sent, and how many were sent in all.
func (x *texts) byPhone() (map[string]string, int) {
	x.mu.Lock()
	defer x.mu.Unlock()
	out := map[string]string{}
	n := 0
	for _, v := range x.byID {
		to, body, _ := strings.Cut(v, ": ")
		out[to] = body
		n++
	}
	return out, n + x.dups
}

type env struct {
	dir    string
	texts  *texts
	st     *counting
	team   *team.Manager
	alerts *alerts.Service
	ui     *console.Console
	codes  *codes
	signin *signin.Service
}

func newEnv(t testing.TB, base string) *env {
	t.Helper()
	dir := t.TempDir()
	ls, err := local.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	st := &counting{Store: ls}
	ctx := context.Background()
	if _, err := st.Put(ctx, "cfg.json", []byte(cfgJSON), store.Cond{}); err != nil {
		t.Fatal(err)
	}
	tm := team.NewManager(st, "cfg.json", team.ManagerOptions{})
	if err := tm.Load(ctx); err != nil {
		t.Fatal(err)
	}
	e := &env{dir: dir, st: st, team: tm, alerts: alerts.New(st, alerts.Options{}), codes: &codes{last: map[string]string{}},
		texts: &texts{byID: map[string]string{}}}
	e.signin = signin.New(signin.Options{Store: st, Config: tm, Sender: e.codes})
	e.ui, err = console.New(console.Options{BaseURL: base, Team: tm, Alerts: e.alerts, OnCall: noOnCall{},
		Voicemails: noVoicemails{}, Notifications: noNotifications{}, Audit: audit.New(st, nil, nil), SignIn: e.signin,
		Texter: e.texts})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func (e *env) do(t testing.TB, method, target string, form url.Values, hdr map[string]string, cookies ...*http.Cookie) *http.Response {
	t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req := httptest.NewRequest(method, "http://pager.test"+target, body)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	for _, c := range cookies {
		req.AddCookie(c)
	}
	w := httptest.NewRecorder()
	e.ui.ServeHTTP(w, req)
	return w.Result()
}

// signIn signs phone in through the forms and returns the session cookie
// and the page's form token.
func (e *env) signIn(t testing.TB, id, phone string) (*http.Cookie, string) {
	t.Helper()
	if r := e.do(t, "POST", "/ui/signin", url.Values{"phone": {phone}}, nil); r.StatusCode != http.StatusOK {
		t.Fatalf("ask for code: HTTP %d", r.StatusCode)
	}
	e.codes.mu.Lock()
	code := e.codes.last[id]
	e.codes.mu.Unlock()
	r := e.do(t, "POST", "/ui/signin/verify", url.Values{"phone": {phone}, "code": {code}}, nil)
	if r.StatusCode != http.StatusSeeOther {
		t.Fatalf("verify: HTTP %d", r.StatusCode)
	}
	var ck *http.Cookie
	for _, c := range r.Cookies() {
		if c.Name == "pager_console" {
			ck = c
		}
	}
	if ck == nil {
		t.Fatal("no session cookie")
	}
	page := e.do(t, "GET", "/ui/", nil, nil, ck)
	b, _ := io.ReadAll(page.Body)
	m := regexp.MustCompile(`name="csrf" value="([0-9a-f]+)"`).FindSubmatch(b)
	if m == nil {
		t.Fatalf("no form token on the Now page: HTTP %d", page.StatusCode)
	}
	return ck, string(m[1])
}

func TestSignedOutGetsOnlySignIn(t *testing.T) {
	e := newEnv(t, "https://pager.example")
	for _, p := range []string{"/ui/", "/ui/alerts", "/ui/alerts/a1", "/ui/voicemails", "/ui/notifications", "/ui/audit", "/ui/config", "/ui/voicemails/x/audio", "/ui/alerts/changes"} {
		r := e.do(t, "GET", p, nil, nil)
		if r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != "/ui/signin" {
			t.Errorf("GET %s signed out: HTTP %d to %q", p, r.StatusCode, r.Header.Get("Location"))
		}
	}
	for _, p := range []string{"/ui/take", "/ui/alerts/a1/close", "/ui/config", "/ui/apikeys", "/ui/signout"} {
		if r := e.do(t, "POST", p, url.Values{}, nil); r.StatusCode != http.StatusForbidden {
			t.Errorf("POST %s signed out: HTTP %d", p, r.StatusCode)
		}
	}
	forged := &http.Cookie{Name: "pager_console", Value: strings.Repeat("ab", 24) + ".sig"}
	if r := e.do(t, "GET", "/ui/", nil, nil, forged); r.StatusCode != http.StatusSeeOther {
		t.Errorf("forged cookie: HTTP %d", r.StatusCode)
	}
}

func TestSessionCookieAndHeaders(t *testing.T) {
	for _, base := range []string{"https://pager.example", "http://127.0.0.1:8080"} {
		e := newEnv(t, base)
		ck, _ := e.signIn(t, "alice", "+15555550101")
		if !ck.HttpOnly || ck.SameSite != http.SameSiteLaxMode || ck.Path != "/ui/" || ck.Secure != strings.HasPrefix(base, "https") {
			t.Errorf("%s: cookie %+v", base, ck)
		}
		if d := time.Until(ck.Expires); d < signin.SessionTTL-time.Minute || d > signin.SessionTTL+time.Minute {
			t.Errorf("cookie expires in %s, want %s", d, signin.SessionTTL)
		}
		for _, p := range []string{"/ui/", "/ui/alerts", "/ui/audit", "/ui/config", "/ui/notifications", "/ui/voicemails", "/ui/signin"} {
			r := e.do(t, "GET", p, nil, nil, ck)
			if r.StatusCode != http.StatusOK && r.StatusCode != http.StatusSeeOther {
				t.Errorf("GET %s: HTTP %d", p, r.StatusCode)
			}
			csp := r.Header.Get("Content-Security-Policy")
			if !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe-inline") || !strings.Contains(csp, "frame-ancestors 'none'") {
				t.Errorf("GET %s: CSP %q", p, csp)
			}
			b, _ := io.ReadAll(r.Body)
			// No inline script or style: the CSP would block them.
			if regexp.MustCompile(`<script>|<script [^>]*>[^<]|style=|<style| on[a-z]+="`).Match(b) {
				t.Errorf("GET %s has inline script or style", p)
			}
		}
	}
}

func TestStateChangesNeedSameOriginAndToken(t *testing.T) {
	e := newEnv(t, "https://pager.example")
	ctx := context.Background()
	a, _, err := e.alerts.Trigger(ctx, alerts.Event{Action: alerts.EventTrigger, Summary: "disk full", DedupKey: "d", Source: "db1"})
	if err != nil {
		t.Fatal(err)
	}
	ck, token := e.signIn(t, "bob", "+15555550102")
	form := url.Values{"csrf": {token}}
	for name, hdr := range map[string]map[string]string{
		"cross-site fetch":     {"Sec-Fetch-Site": "cross-site"},
		"same-site subdomain":  {"Sec-Fetch-Site": "same-site"},
		"foreign origin":       {"Origin": "https://evil.example"},
		"null origin":          {"Origin": "null"},
		"origin over the port": {"Origin": "http://pager.test:9999"},
	} {
		if r := e.do(t, "POST", "/ui/alerts/"+a.ID+"/close", form, hdr, ck); r.StatusCode != http.StatusForbidden {
			t.Errorf("%s: HTTP %d", name, r.StatusCode)
		}
	}
	if r := e.do(t, "POST", "/ui/alerts/"+a.ID+"/close", url.Values{"csrf": {"nope"}}, nil, ck); r.StatusCode != http.StatusForbidden {
		t.Errorf("wrong token: HTTP %d", r.StatusCode)
	}
	if got, _ := e.alerts.Get(ctx, a.ID); got.State != alerts.StateTriggered {
		t.Fatalf("refused requests changed the alert: %s", got.State)
	}
	// Admin pages are refused to members.
	if r := e.do(t, "POST", "/ui/apikeys", url.Values{"csrf": {token}, "name": {"x"}}, nil, ck); r.StatusCode != http.StatusForbidden {
		t.Errorf("member minted a key: HTTP %d", r.StatusCode)
	}
	r := e.do(t, "POST", "/ui/alerts/"+a.ID+"/close", form, map[string]string{"Origin": "https://pager.example", "Sec-Fetch-Site": "same-origin"}, ck)
	if r.StatusCode != http.StatusSeeOther {
		t.Fatalf("same-origin close: HTTP %d", r.StatusCode)
	}
	if got, _ := e.alerts.Get(ctx, a.ID); got.State != alerts.StateClosed || got.ClosedBy != "bob" {
		t.Fatalf("alert after close: %s by %q", got.State, got.ClosedBy)
	}
	p, err := audit.New(e.st, nil, nil).Page(ctx, audit.Query{Actor: "bob", Action: audit.ActionAlertClose})
	if err != nil || len(p.Entries) != 1 {
		t.Fatalf("close not audited with bob as actor: %+v %v", p.Entries, err)
	}
	// Signing out ends the session for every later request.
	if r := e.do(t, "POST", "/ui/signout", form, nil, ck); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign out: HTTP %d", r.StatusCode)
	}
	if r := e.do(t, "GET", "/ui/", nil, nil, ck); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("after sign-out: HTTP %d", r.StatusCode)
	}
}

func TestConfigSaveIsConditionalAndKeysMintOnce(t *testing.T) {
	e := newEnv(t, "https://pager.example")
	ctx := context.Background()
	ck, token := e.signIn(t, "alice", "+15555550101")
	data, etag, err := e.team.Raw(ctx)
	if err != nil {
		t.Fatal(err)
	}
	edited := strings.Replace(string(data), `"pager_phone": "+15555550199"`, `"pager_phone": "+15555550198"`, 1)
	// A TAKE (or an upload) lands while the editor is open.
	if _, err := e.team.Update(ctx, "bob", func(cfg *team.Config, doc *jsondoc.Doc) error {
		u, _ := cfg.UserByID("bob")
		return team.SetOnCall(doc, u, "bob", time.Now())
	}); err != nil {
		t.Fatal(err)
	}
	r := e.do(t, "POST", "/ui/config", url.Values{"csrf": {token}, "config": {edited}, "etag": {etag}, "op": {"save"}}, nil, ck)
	b, _ := io.ReadAll(r.Body)
	if r.StatusCode != http.StatusConflict || !strings.Contains(string(b), "changed since you opened it") {
		t.Fatalf("stale save: HTTP %d", r.StatusCode)
	}
	if oc, _ := e.team.Current().OnCall(); oc.ID != "bob" || e.team.Current().CurrentConfig.PagerPhone != "+15555550199" {
		t.Fatal("a stale save overwrote the TAKE")
	}
	// The conflict page carries the new version's tag: saving again wins
	// (the member saw the differences).
	newTag := regexp.MustCompile(`name="etag" value="([^"]+)"`).FindSubmatch(b)
	if newTag == nil || string(newTag[1]) == etag {
		t.Fatal("conflict page has no new version tag")
	}
	r = e.do(t, "POST", "/ui/config", url.Values{"csrf": {token}, "config": {edited}, "etag": {html.UnescapeString(string(newTag[1]))}, "op": {"save"}}, nil, ck)
	if r.StatusCode != http.StatusOK || e.team.Current().CurrentConfig.PagerPhone != "+15555550198" {
		t.Fatalf("second save: HTTP %d", r.StatusCode)
	}

	r = e.do(t, "POST", "/ui/apikeys", url.Values{"csrf": {token}, "name": {"nagios"}}, nil, ck)
	b, _ = io.ReadAll(r.Body)
	key := regexp.MustCompile(`pk_[A-Za-z0-9_-]{43}`).Find(b)
	if r.StatusCode != http.StatusOK || key == nil {
		t.Fatalf("mint: HTTP %d", r.StatusCode)
	}
	if name, _, ok := e.team.Current().CheckAPIKey(string(key)); !ok || name != "nagios" {
		t.Fatal("minted key not accepted")
	}
	if r := e.do(t, "GET", "/ui/config", nil, nil, ck); r.StatusCode != http.StatusOK {
		t.Fatal(r.StatusCode)
	} else if b, _ := io.ReadAll(r.Body); strings.Contains(string(b), string(key)) {
		t.Fatal("the key is shown again")
	}
	if r := e.do(t, "POST", "/ui/apikeys/nagios/revoke", url.Values{"csrf": {token}}, nil, ck); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("revoke: HTTP %d", r.StatusCode)
	}
	if _, _, ok := e.team.Current().CheckAPIKey(string(key)); ok {
		t.Fatal("revoked key still accepted")
	}
}

// seedAlerts writes n alerts straight into the local folder (as many
// triggers over months would leave them), newest last.
func seedAlerts(t testing.TB, dir string, n int) {
	t.Helper()
	open := filepath.Join(dir, "alerts", "open")
	closed := filepath.Join(dir, "alerts", "closed")
	for _, d := range []string{open, closed} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range n {
		at := t0.Add(time.Duration(i) * time.Minute)
		a := alerts.Alert{ID: fmt.Sprintf("a%s-%08d", at.Format("20060102150405"), i), Summary: fmt.Sprintf("disk %d full", i),
			Source: "db", State: alerts.StateClosed, CreatedAt: at, UpdatedAt: at, Triggers: 1,
			History: []alerts.Entry{{Time: at, Action: alerts.ActionTriggered}}}
		d := closed
		if i%10 == 0 {
			a.State, a.Code, d = alerts.StateTriggered, fmt.Sprint(i/10+1), open
		}
		b, _ := json.Marshal(a)
		if err := os.WriteFile(filepath.Join(d, a.ID+".json"), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestAlertsPageReadsOnlyItsPage(t *testing.T) {
	e := newEnv(t, "https://pager.example")
	seedAlerts(t, e.dir, 2000)
	ck, _ := e.signIn(t, "bob", "+15555550102")
	e.st.gets.Store(0)
	r := e.do(t, "GET", "/ui/alerts", nil, nil, ck)
	b, _ := io.ReadAll(r.Body)
	if r.StatusCode != http.StatusOK || !strings.Contains(string(b), "disk 1999 full") || strings.Contains(string(b), "disk 1974 full") {
		t.Fatalf("first page: HTTP %d", r.StatusCode)
	}
	// 25 alerts, the session, and the signing keys at most.
	if n := e.st.gets.Load(); n > 25+2 {
		t.Fatalf("the first page read %d objects of 2000", n)
	}
	next := regexp.MustCompile(`before=(a[0-9]+-[0-9]+)`).FindSubmatch(b)
	if next == nil {
		t.Fatal("no link to older alerts")
	}
	r = e.do(t, "GET", "/ui/alerts?state=open&before="+string(next[1]), nil, nil, ck)
	b, _ = io.ReadAll(r.Body)
	if !strings.Contains(string(b), "disk 1970 full") || strings.Contains(string(b), "disk 1971 full") {
		t.Fatal("open filter on the second page")
	}
}

// BenchmarkAlertsPage10k: the alerts page with 10,000 stored alerts on the
// local folder store (the bound: first page under 50 ms).
func BenchmarkAlertsPage10k(b *testing.B) {
	e := newEnv(b, "https://pager.example")
	seedAlerts(b, e.dir, 10000)
	ck, _ := e.signIn(b, "bob", "+15555550102")
	b.ResetTimer()
	for b.Loop() {
		r := e.do(b, "GET", "/ui/alerts", nil, nil, ck)
		if r.StatusCode != http.StatusOK {
			b.Fatal(r.StatusCode)
		}
	}
}

func TestScheduleShiftsAndCalendarTokens(t *testing.T) {
	e := newEnv(t, "https://pager.example")
	ctx := context.Background()
	start := time.Now().UTC().Add(-12 * time.Hour).Truncate(time.Hour)
	if _, err := e.team.Update(ctx, "test", func(_ *team.Config, doc *jsondoc.Doc) error {
		return doc.Set([]string{"schedule"}, map[string]any{
			"rotations": []any{map[string]any{"members": []any{"alice", "bob"}, "start": start.Format("2006-01-02T15:04"), "shift": "1d"}},
			"reminder":  "off",
		})
	}); err != nil {
		t.Fatal(err)
	}
	ck, token := e.signIn(t, "alice", "+15555550101")
	r := e.do(t, "GET", "/ui/", nil, nil, ck)
	b, _ := io.ReadAll(r.Body)
	until := start.Add(24 * time.Hour).Format("2006-01-02 15:04")
	if !strings.Contains(string(b), "Until "+until) || !regexp.MustCompile(`(?s)id="next-shifts">.*<strong>Bob</strong> from `+until).Match(b) {
		t.Fatalf("Now page does not show until %s and Bob next:\n%s", until, b)
	}

	r = e.do(t, "POST", "/ui/calendar", url.Values{"csrf": {token}, "name": {"bobs"}, "user": {"bob"}}, nil, ck)
	b, _ = io.ReadAll(r.Body)
	cal := regexp.MustCompile(`cal_[A-Za-z0-9_-]{43}`).Find(b)
	if r.StatusCode != http.StatusOK || cal == nil {
		t.Fatalf("mint calendar token: HTTP %d", r.StatusCode)
	}
	if name, tok, ok := e.team.Current().CheckCalendarToken(string(cal)); !ok || name != "bobs" || tok.User != "bob" {
		t.Fatalf("minted calendar token not in the config: %q %+v %v", name, tok, ok)
	}
	if r := e.do(t, "POST", "/ui/calendar/bobs/revoke", url.Values{"csrf": {token}}, nil, ck); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("revoke: HTTP %d", r.StatusCode)
	}
	if _, _, ok := e.team.Current().CheckCalendarToken(string(cal)); ok {
		t.Fatal("revoked calendar token still accepted")
	}
}

// Sign-in attempts are counted by the client address the server's routes
// use: without TRUSTED_PROXIES that is the socket's peer, so a header the
// client writes itself cannot make each attempt look new.
func TestSignInLimitIgnoresForgedForwardedFor(t *testing.T) {
	e := newEnv(t, "https://pager.test")
	last := 0
	for i := range signin.RequestsPerClient + 1 {
		req := httptest.NewRequest("POST", "http://pager.test/ui/signin", strings.NewReader(url.Values{"phone": {"+15555550177"}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.RemoteAddr = "127.0.0.1:4321"
		req.Header.Set("X-Forwarded-For", fmt.Sprintf("198.51.100.%d", i))
		w := httptest.NewRecorder()
		e.ui.ServeHTTP(w, req)
		last = w.Code
	}
	if last != http.StatusTooManyRequests {
		t.Fatalf("attempt %d with a new X-Forwarded-For each: HTTP %d, want 429", signin.RequestsPerClient+1, last)
	}
}

// A change that lands between the save's read and its write: the conflict
// page shows it (the diff is against the config stored now), so saving
// again cannot undo a change the member never saw.
func TestConfigSaveConflictShowsTheNewChange(t *testing.T) {
	e := newEnv(t, "https://pager.example")
	ctx := context.Background()
	ck, token := e.signIn(t, "alice", "+15555550101")
	data, etag, err := e.team.Raw(ctx)
	if err != nil {
		t.Fatal(err)
	}
	edited := strings.Replace(string(data), `"pager_phone": "+15555550199"`, `"pager_phone": "+15555550198"`, 1)
	var once sync.Once
	e.st.afterGet = func(key string) {
		if key != "cfg.json" {
			return
		}
		once.Do(func() {
			other := strings.Replace(string(data), `"from_phone": "+15555550100"`, `"from_phone": "+15555550111"`, 1)
			if _, err := e.st.Store.Put(ctx, key, []byte(other), store.Cond{}); err != nil {
				t.Error(err)
			}
		})
	}
	r := e.do(t, "POST", "/ui/config", url.Values{"csrf": {token}, "config": {edited}, "etag": {etag}, "op": {"save"}}, nil, ck)
	e.st.afterGet = nil
	b, _ := io.ReadAll(r.Body)
	if r.StatusCode != http.StatusConflict {
		t.Fatalf("save over a change made meanwhile: HTTP %d", r.StatusCode)
	}
	if !strings.Contains(string(b), "5555550111") {
		t.Fatal("the conflict page's differences do not show the change made meanwhile")
	}
}

// The differences keep two lines around each change, not every unchanged
// line between two changes, and say where each run starts in the stored
// config and in the edit.
func TestConfigCheckDiffKeepsTwoLinesOfContext(t *testing.T) {
	e := newEnv(t, "https://pager.example")
	ctx := context.Background()
	var v any
	if err := json.Unmarshal([]byte(cfgJSON), &v); err != nil {
		t.Fatal(err)
	}
	pretty, _ := json.MarshalIndent(v, "", "  ")
	if _, err := e.st.Store.Put(ctx, "cfg.json", append(pretty, '\n'), store.Cond{}); err != nil {
		t.Fatal(err)
	}
	data, etag, err := e.team.Raw(ctx)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(data), "\n")
	lineOf := func(s string) int {
		for i, l := range lines {
			if strings.Contains(l, s) {
				return i + 1
			}
		}
		t.Fatalf("no %q in\n%s", s, data)
		return 0
	}
	first, second := lineOf(`"phone": "+15555550101"`), lineOf(`"pager_phone"`)
	if second-first < 10 {
		t.Fatalf("changes %d and %d too close to leave lines out between them", first, second)
	}
	edited := strings.Replace(string(data), `"phone": "+15555550101"`, `"phone": "+15555550111"`, 1)
	edited = strings.Replace(edited, `"pager_phone": "+15555550199"`, `"pager_phone": "+15555550198"`, 1)

	ck, token := e.signIn(t, "alice", "+15555550101")
	r := e.do(t, "POST", "/ui/config", url.Values{"csrf": {token}, "config": {edited}, "etag": {etag}, "op": {"check"}}, nil, ck)
	b, _ := io.ReadAll(r.Body)
	m := regexp.MustCompile(`(?s)<pre class="diff" id="diff">(.*?)</pre>`).FindSubmatch(b)
	if r.StatusCode != http.StatusOK || m == nil {
		t.Fatalf("check: HTTP %d, no differences in\n%s", r.StatusCode, b)
	}
	diff := html.UnescapeString(regexp.MustCompile(`<[^>]+>`).ReplaceAllString(string(m[1]), ""))
	var want strings.Builder
	for _, at := range []int{first, second} {
		fmt.Fprintf(&want, "@@ -%d,5 +%d,5 @@\n", at-2, at-2)
		for l := at - 2; l <= at+2; l++ {
			if l == at {
				fmt.Fprintf(&want, "- %s\n+ %s\n", lines[l-1], strings.Split(edited, "\n")[l-1])
			} else {
				fmt.Fprintf(&want, "  %s\n", lines[l-1])
			}
		}
	}
	if diff != want.String() {
		t.Fatalf("differences:\n%s\nwant:\n%s", diff, want.String())
	}
}

// An API key or calendar token name the CLI refuses, the console refuses,
// and one it accepts, the console accepts: ../team/testdata/keynames.json
// is read by the CLI's tests too. The forms' pattern is that rule.
func TestKeyNamesAsTheCLI(t *testing.T) {
	var names []struct {
		Name string `json:"name"`
		OK   bool   `json:"ok"`
	}
	b, err := os.ReadFile(filepath.Join("..", "team", "testdata", "keynames.json"))
	if err == nil {
		err = json.Unmarshal(b, &names)
	}
	if err != nil || len(names) == 0 {
		t.Fatalf("keynames.json: %v", err)
	}
	e := newEnv(t, "https://pager.example")
	ctx := context.Background()
	if _, err := e.team.Update(ctx, "test", func(_ *team.Config, doc *jsondoc.Doc) error {
		return doc.Set([]string{"schedule"}, map[string]any{
			"rotations": []any{map[string]any{"members": []any{"alice", "bob"}, "start": "2026-01-05T09:00", "shift": "1d"}},
			"reminder":  "off",
		})
	}); err != nil {
		t.Fatal(err)
	}
	ck, token := e.signIn(t, "alice", "+15555550101")
	r := e.do(t, "GET", "/ui/config", nil, nil, ck)
	b, _ = io.ReadAll(r.Body)
	if n := strings.Count(string(b), `pattern="`+team.KeyNamePattern+`"`); n != 2 {
		t.Errorf("%d name fields with the pattern %s, want 2", n, team.KeyNamePattern)
	}
	for _, c := range names {
		_, before, _ := e.team.Raw(ctx)
		r := e.do(t, "POST", "/ui/apikeys", url.Values{"csrf": {token}, "name": {c.Name}}, nil, ck)
		b, _ := io.ReadAll(r.Body)
		_, after, _ := e.team.Raw(ctx)
		minted := r.StatusCode == http.StatusOK && regexp.MustCompile(`pk_[A-Za-z0-9_-]{43}`).Match(b)
		if minted != c.OK || !c.OK && after != before {
			t.Errorf("API key %q: HTTP %d, minted %v, want %v", c.Name, r.StatusCode, minted, c.OK)
		}
		before = after
		r = e.do(t, "POST", "/ui/calendar", url.Values{"csrf": {token}, "name": {c.Name}}, nil, ck)
		b, _ = io.ReadAll(r.Body)
		_, after, _ = e.team.Raw(ctx)
		minted = r.StatusCode == http.StatusOK && regexp.MustCompile(`cal_[A-Za-z0-9_-]{43}`).Match(b)
		if minted != c.OK || !c.OK && after != before {
			t.Errorf("calendar token %q: HTTP %d, minted %v, want %v", c.Name, r.StatusCode, minted, c.OK)
		}
	}
}

// A save that changes oncall_user texts both people once, as a push and a
// TAKE do; one that leaves it texts nobody.
func TestConfigSaveThatHandsOverTextsBothOnce(t *testing.T) {
	e := newEnv(t, "https://pager.example")
	ctx := context.Background()
	ck, token := e.signIn(t, "alice", "+15555550101")
	data, etag, err := e.team.Raw(ctx)
	if err != nil {
		t.Fatal(err)
	}
	other := strings.Replace(string(data), `"pager_phone": "+15555550199"`, `"pager_phone": "+15555550198"`, 1)
	r := e.do(t, "POST", "/ui/config", url.Values{"csrf": {token}, "config": {other}, "etag": {etag}, "op": {"save"}}, nil, ck)
	if r.StatusCode != http.StatusOK {
		t.Fatalf("save: HTTP %d", r.StatusCode)
	}
	if _, n := e.texts.byPhone(); n != 0 {
		t.Fatalf("a save that kept the on-call sent %d texts", n)
	}

	data, etag, _ = e.team.Raw(ctx)
	bob := strings.Replace(string(data), `"oncall_user": {"id": "alice", "name": "Alice", "phone": "+15555550101"}`,
		`"oncall_user": {"id": "bob", "name": "Bob", "phone": "+15555550102"}`, 1)
	if bob == string(data) {
		t.Fatal("fixture: oncall_user not found")
	}
	form := url.Values{"csrf": {token}, "config": {bob}, "etag": {etag}, "op": {"save"}}
	r = e.do(t, "POST", "/ui/config", form, nil, ck)
	b, _ := io.ReadAll(r.Body)
	if r.StatusCode != http.StatusOK || !strings.Contains(string(b), `id="config-saved"`) || strings.Contains(string(b), `id="config-problem"`) {
		t.Fatalf("save handing over to Bob: HTTP %d", r.StatusCode)
	}
	if oc, _ := e.team.Current().OnCall(); oc.ID != "bob" {
		t.Fatalf("on call after the save: %s", oc.ID)
	}
	to, n := e.texts.byPhone()
	if n != 2 || !strings.Contains(to["+15555550102"], "Bob, you are now on call") ||
		!strings.Contains(to["+15555550101"], "Alice, Bob is now on call") || !strings.Contains(to["+15555550101"], "no longer on call") {
		t.Fatalf("hand-over texts (%d): %v", n, to)
	}
	// The same form sent again is refused as stale: nothing more is sent.
	if r := e.do(t, "POST", "/ui/config", form, nil, ck); r.StatusCode != http.StatusConflict {
		t.Fatalf("the same save again: HTTP %d", r.StatusCode)
	}
	if _, n := e.texts.byPhone(); n != 2 {
		t.Fatalf("texts after a repeated save: %d", n)
	}
}

// While the schedule covers the moment its own hand-over decides who is on
// call (and writes its member back, telling both): a save that names
// someone else texts nobody, or they would hear two contradicting things.
func TestConfigSaveUnderScheduleTextsNobody(t *testing.T) {
	e := newEnv(t, "https://pager.example")
	ctx := context.Background()
	start := time.Now().UTC().Add(-12 * time.Hour).Truncate(time.Hour)
	if _, err := e.team.Update(ctx, "test", func(_ *team.Config, doc *jsondoc.Doc) error {
		return doc.Set([]string{"schedule"}, map[string]any{
			"rotations": []any{map[string]any{"members": []any{"alice", "bob"}, "start": start.Format("2006-01-02T15:04"), "shift": "1d"}},
			"reminder":  "off",
		})
	}); err != nil {
		t.Fatal(err)
	}
	if sched, ok := e.team.Current().OnCallSchedule(); !ok {
		t.Fatal("fixture: no schedule")
	} else if who, _ := sched.Who(time.Now()); who != "alice" {
		t.Fatalf("fixture: the schedule names %q now, want alice", who)
	}
	ck, token := e.signIn(t, "alice", "+15555550101")
	data, etag, err := e.team.Raw(ctx)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := jsondoc.Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	u, _ := e.team.Current().UserByID("bob")
	if err := team.SetOnCall(doc, u, "alice", time.Now()); err != nil {
		t.Fatal(err)
	}
	bob, err := doc.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	r := e.do(t, "POST", "/ui/config", url.Values{"csrf": {token}, "config": {string(bob)}, "etag": {etag}, "op": {"save"}}, nil, ck)
	if r.StatusCode != http.StatusOK {
		t.Fatalf("save: HTTP %d", r.StatusCode)
	}
	if oc, _ := e.team.Current().OnCall(); oc.ID != "bob" {
		t.Fatalf("on call after the save: %s", oc.ID)
	}
	if to, n := e.texts.byPhone(); n != 0 {
		t.Fatalf("a save under the schedule sent %d texts: %v", n, to)
	}
}
