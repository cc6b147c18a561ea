package killtest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/oncall/pager/app/cli"
	"github.com/oncall/pager/app/team"
	"github.com/oncall/pager/internal/mocktwilio"
)

// childEnv marks the test binary re-run as the pager process.
const childEnv = "KILLTEST_CHILD"

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) == "1" {
		os.Exit(cli.Main(context.Background(), []string{"serve"}, os.Stdin, os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

const (
	apiKey     = "pk_killtest_0123456789abcdefghijklmnopqrstuvwxyz"
	recipients = 50
)

// teamConfig is a team of recipients, all in the group "all"; extra is
// more top-level config sections, each followed by a comma.
func teamConfig(extra string) string {
	var users, members []string
	for i := range recipients {
		users = append(users, fmt.Sprintf(`"u%02d": {"id": "u%02d", "name": "User %d", "phone": "+1555200%04d", "channels": {"sms": {}}}`, i, i, i, i))
		members = append(members, fmt.Sprintf(`"u%02d"`, i))
	}
	return `{
  "available_users": {"users": {` + strings.Join(users, ",\n") + `}},
  "current_config": {
    "from_phone": "+15555550100", "pager_phone": "+15555550199",
    "oncall_user": {"id": "u00", "name": "User 0", "phone": "+15552000000"},
    "last_modified_time": 1611602242, "last_modified_user_id": "u00", "session_lifetime": 300,
    "mail_settings": {"from_email": "oncall@example.com", "to_email": "sre@example.com", "mail_server": "127.0.0.1",
      "mail_port": 25, "mail_use_tls": false, "mail_username": "", "mail_password": ""}
  },
  ` + extra + `
  "groups": {"all": {"name": "All", "members": [` + strings.Join(members, ",") + `]}},
  "rates": {"sms_per_second": 100},
  "api_keys": {"killtest": {"sha256": "` + team.HashAPIKey(apiKey) + `"}}
}`
}

// pager is one run of the pager process.
type pager struct {
	cmd *exec.Cmd
	url string
}

type rig struct {
	t     *testing.T
	dir   string // the store
	work  string // the working folder
	log   *os.File
	env   []string
	url   string
	cur   *pager
	twil  *mocktwilio.Server
	start int // process starts
}

func newRig(t *testing.T, extraConfig string) *rig {
	t.Helper()
	mock := mocktwilio.New(t)
	// Twilio takes a moment to answer: a kill then leaves texts sent that
	// the pager never heard about.
	mock.SetLatency(100 * time.Millisecond)
	r := &rig{t: t, dir: t.TempDir(), work: t.TempDir(), twil: mock}
	if err := os.WriteFile(filepath.Join(r.dir, "oncall_config.json"), []byte(teamConfig(extraConfig)), 0o600); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	r.url = "http://" + addr
	r.log, err = os.Create(filepath.Join(t.TempDir(), "pager.log"))
	if err != nil {
		t.Fatal(err)
	}
	r.env = append(os.Environ(), childEnv+"=1",
		"LISTEN_ADDR="+addr, "ONCALL_APP_BASE_URL="+r.url,
		"TWILIO_ACCOUNT_SID="+mock.AccountSID(), "TWILIO_AUTH_TOKEN="+mock.AuthToken(), "TWILIO_API_BASE_URL="+mock.URL(),
		"BACKING_STORE_DIR="+r.dir, "JOB_POLL_INTERVAL=100ms", "CONFIG_REFRESH_INTERVAL=1h", "RECONCILE_INTERVAL=0",
		// No REPLICA_ID: the identity derived from the working folder and
		// the store is what lets the restart take its jobs back at once.
		"REPLICA_ID=")
	t.Cleanup(func() {
		r.kill()
		if t.Failed() {
			data, _ := os.ReadFile(r.log.Name())
			if len(data) > 8000 {
				data = data[len(data)-8000:]
			}
			t.Logf("pager log (tail):\n%s", data)
		}
		r.log.Close()
	})
	return r
}

// run starts the pager and waits until it answers.
func (r *rig) run() {
	r.t.Helper()
	cmd := exec.Command(os.Args[0])
	cmd.Dir, cmd.Env, cmd.Stdout, cmd.Stderr = r.work, r.env, r.log, r.log
	if err := cmd.Start(); err != nil {
		r.t.Fatal(err)
	}
	r.start++
	r.cur = &pager{cmd: cmd, url: r.url}
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get(r.url + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	r.t.Fatalf("pager did not start (start %d)", r.start)
}

// kill sends SIGKILL and reaps the process.
func (r *rig) kill() {
	if r.cur == nil {
		return
	}
	_ = r.cur.cmd.Process.Signal(syscall.SIGKILL)
	_ = r.cur.cmd.Wait()
	r.cur = nil
}

// fanOut posts one message to the group of everyone; it returns once the
// pager has queued it durably (201).
func (r *rig) fanOut(msg string) {
	r.t.Helper()
	r.post("/group/all/", "application/x-www-form-urlencoded", url.Values{"message": {msg}}.Encode(), http.StatusCreated)
}

// post sends body to the pager with the API key and wants status back.
func (r *rig) post(path, contentType, body string, want int) {
	r.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, r.url+path, strings.NewReader(body))
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("Authorization", "Bearer "+apiKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		r.t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != want {
		r.t.Fatalf("POST %s: HTTP %d, want %d", path, resp.StatusCode, want)
	}
}

// drained waits until no job is active in the store.
func (r *rig) drained(timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		all, err := os.ReadDir(filepath.Join(r.dir, "jobs", "active"))
		var left []os.DirEntry
		for _, e := range all {
			// A write the kill cut short leaves its temporary file.
			if !strings.HasPrefix(e.Name(), ".tmp-") {
				left = append(left, e)
			}
		}
		if (err == nil && len(left) == 0) || os.IsNotExist(err) {
			return true
		}
		if time.Until(deadline) < 100*time.Millisecond {
			for _, e := range left {
				r.t.Logf("still active: %s", e.Name())
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return false
}

// Issue 9 item 9: a pager killed (SIGKILL) at a random point of a fan-out
// and restarted loses no text and sends none twice.
func TestKillDuringFanOut(t *testing.T) {
	rounds := 20
	if testing.Short() {
		rounds = 5
	}
	r := newRig(t, "")
	r.run()
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 9))
	for i := range rounds {
		r.fanOut(fmt.Sprintf("fan-out %d: disk full on db%d", i, i))
		time.Sleep(time.Duration(50+rng.IntN(550)) * time.Millisecond)
		r.kill()
		r.run()
		if !r.drained(10 * time.Second) {
			t.Fatalf("round %d: jobs still active 10 s after the restart", i)
		}
	}
	lost, dup := 0, 0
	count := map[string]int{}
	for _, m := range r.twil.Messages() {
		count[m.To+"|"+m.Body]++
	}
	for i := range rounds {
		for u := range recipients {
			n := count[fmt.Sprintf("+1555200%04d|fan-out %d: disk full on db%d", u, i, i)]
			if n == 0 {
				lost++
			}
			if n > 1 {
				dup += n - 1
			}
		}
	}
	r.verdict(fmt.Sprintf("%d fan-outs of %d recipients", rounds, recipients), lost, dup)
}

// An alert's escalation pages a whole group from one job step: a pager
// killed at a random point of it and restarted pages nobody twice (the
// retaken step finds on Twilio the pages that got there) and misses
// nobody.
func TestKillDuringAlertPage(t *testing.T) {
	rounds := 8
	if testing.Short() {
		rounds = 3
	}
	r := newRig(t, `"escalation": {"steps": [{"targets": ["group:all"], "delay": "1h"}], "throttle": {"max_pages": 100, "window": "10m"}},`)
	r.run()
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 10))
	for i := range rounds {
		r.post("/alerts", "application/json", fmt.Sprintf(`{"summary": "alert %d: disk full on db%d", "dedup_key": "db%d"}`, i, i, i), http.StatusOK)
		time.Sleep(time.Duration(50+rng.IntN(550)) * time.Millisecond)
		r.kill()
		r.run()
		if !r.pagedAll(fmt.Sprintf("alert %d: disk full on db%d", i, i), 30*time.Second) {
			t.Fatalf("round %d: not everyone paged 30 s after the restart", i)
		}
	}
	lost, dup := 0, 0
	for i := range rounds {
		for u, n := range r.pages(fmt.Sprintf("alert %d: disk full on db%d", i, i)) {
			if n == 0 {
				lost++
				t.Logf("alert %d: recipient %d not paged", i, u)
			}
			if n > 1 {
				dup += n - 1
				t.Logf("alert %d: recipient %d paged %d times", i, u, n)
			}
		}
	}
	r.verdict(fmt.Sprintf("%d alerts paging %d people each", rounds, recipients), lost, dup)
}

// verdict reports what the kills cost: texts lost and sent twice, and how
// many the restarted pager found on Twilio instead of sending again.
func (r *rig) verdict(what string, lost, dup int) {
	r.t.Helper()
	logged, _ := os.ReadFile(r.log.Name())
	found := strings.Count(string(logged), "already on Twilio")
	r.t.Logf("%s, each killed 50-600 ms after the post: %d lost, %d sent twice (%d sends found on Twilio after a restart instead of sent again)",
		what, lost, dup, found)
	if lost != 0 || dup != 0 {
		r.t.Errorf("%d lost, %d sent twice; want none", lost, dup)
	}
}

// pages counts, per recipient, the texts whose body names summary.
func (r *rig) pages(summary string) []int {
	n := make([]int, recipients)
	for _, m := range r.twil.Messages() {
		var u int
		if _, err := fmt.Sscanf(m.To, "+1555200%04d", &u); err == nil && u < recipients && strings.Contains(m.Body, summary) {
			n[u]++
		}
	}
	return n
}

// pagedAll waits until every recipient has a page naming summary.
func (r *rig) pagedAll(summary string, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if !slices.Contains(r.pages(summary), 0) {
			return true
		}
		time.Sleep(50 * time.Millisecond)
	}
	return false
}
