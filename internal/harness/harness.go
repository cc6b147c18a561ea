package harness

import (
	"cmp"
	"context"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oncall/pager/app"
	"github.com/oncall/pager/app/jobs"
	"github.com/oncall/pager/app/outbound"
	"github.com/oncall/pager/app/outbound/channel"
	"github.com/oncall/pager/app/team"
	"github.com/oncall/pager/internal/mocktwilio"
	"github.com/oncall/pager/internal/smtptest"
	"github.com/oncall/pager/internal/teamtest"
	"github.com/oncall/pager/store"
	"github.com/oncall/pager/store/storetest"
)

// The default team's numbers (teamtest's), and a stranger's.
const (
	Alice      = teamtest.Alice
	Bob        = teamtest.Bob
	Carol      = teamtest.Carol
	Control    = teamtest.Control
	PagerPhone = teamtest.PagerPhone
	Stranger   = "+15555550999"
)

// Options shape a harness.
type Options struct {
	// Config is the team config; DefaultConfig() when nil. Its mail goes
	// to the test SMTP server, and the string value "SMTP_PORT" anywhere
	// in it becomes that server's port (for mail channels).
	Config teamtest.Config
	// SMTP configures the test mail server.
	SMTP smtptest.Options
	// Lease is the job lease (default 1s, so a "crashed" pager's jobs are
	// taken over quickly after Restart).
	Lease time.Duration
	// Settings adjusts the pager's settings before start.
	Settings func(*app.Settings)
	// SMSPerSecond is the send rate, in segments per second per sender
	// number (default 1000: no waiting).
	SMSPerSecond float64
	// Now, when set, is the pager's clock (a testclock.Clock's Now):
	// escalation steps, digests, retries and leases fall due by it, so
	// nothing the pager schedules happens until the test moves the clock.
	Now func() time.Time
	// ConsolePoll is how often the web console's alert list polls.
	ConsolePoll time.Duration
}

// DefaultConfig is teamtest's team plus fields the pager does not know, at
// the top level, in current_config and in a user, which must survive its
// writes.
func DefaultConfig(patches ...teamtest.Patch) teamtest.Config {
	return teamtest.Default(
		teamtest.Set("available_users.users.alice.shoe_size", 9),
		teamtest.Set("current_config.ops_note", "unknown fields survive"),
		teamtest.Set("x_extension", map[string]any{"keep": true}),
	).With(patches...)
}

// Harness is one running pager and its peers.
type Harness struct {
	T      testing.TB
	S3     *storetest.S3Server
	Store  store.Store
	Twilio *mocktwilio.Server
	SMTP   *smtptest.Server
	Key    string

	opts     Options
	settings app.Settings
	url      string
	addr     string

	mu       sync.Mutex
	main     *process        // the pager at addr (Restart replaces it)
	replicas []*process      // more pagers on the same store (Replica)
	matched  map[string]bool // SIDs of texts and calls a test expected
}

// process is one running pager.
type process struct {
	app    *app.App
	cancel context.CancelFunc
	done   chan struct{}
}

// Public is the pager's public base URL (ONCALL_APP_BASE_URL): as behind a
// TLS proxy, it differs from where the pager listens, and Twilio signs it.
const Public = "https://pager.example.test"

// Webhook posts a signed Twilio webhook to target, a URL under Public (as
// found in TwiML or a status callback), delivering it to the listening pager.
func (h *Harness) Webhook(target string, form url.Values) (int, string) {
	h.T.Helper()
	if !strings.HasPrefix(target, Public) {
		h.T.Fatalf("harness: webhook target %q is not under the public base URL %s", target, Public)
	}
	ctx, cancel := h.ctx()
	defer cancel()
	status, body, err := h.Twilio.PostTo(ctx, h.url, Public, strings.TrimPrefix(target, Public), form)
	if err != nil {
		h.T.Fatalf("harness: webhook %s: %v", target, err)
	}
	return status, body
}

// Fetch GETs a URL under Public from the listening pager (a media link).
func (h *Harness) Fetch(target string) (int, []byte) {
	h.T.Helper()
	resp, err := http.Get(h.url + strings.TrimPrefix(target, Public))
	if err != nil {
		h.T.Fatalf("harness: fetch %s: %v", target, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// New starts S3, Twilio, SMTP and the pager; everything stops when the test
// ends.
func New(t testing.TB, o Options) *Harness {
	t.Helper()
	h := &Harness{T: t, opts: o, Key: "team/oncall_config.json", matched: map[string]bool{}}
	h.S3 = storetest.StartS3(t)
	h.Store = h.S3.Store()
	h.Twilio = mocktwilio.New(t)
	if o.Now != nil {
		// The pager looks a send up by when its attempt ran, on its clock.
		h.Twilio.SetClock(o.Now)
	}
	h.SMTP = smtptest.New(t, o.SMTP)
	cfg := o.Config
	if cfg == nil {
		cfg = DefaultConfig()
	}
	port := fmt.Sprint(h.SMTP.Port())
	cfg = cfg.With(teamtest.Set("current_config.mail_settings.mail_server", "127.0.0.1"),
		teamtest.Set("current_config.mail_settings.mail_port", h.SMTP.Port()))
	data := strings.ReplaceAll(string(cfg.JSON()), `"SMTP_PORT"`, port)
	if _, err := h.Store.Put(context.Background(), h.Key, []byte(data), store.Cond{}); err != nil {
		t.Fatalf("harness: seed config: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h.addr = ln.Addr().String()
	h.url = "http://" + h.addr
	h.settings = app.Settings{
		ListenAddr:       h.addr,
		BaseURL:          Public,
		TwilioAccountSID: h.Twilio.AccountSID(),
		TwilioAuthToken:  h.Twilio.AuthToken(),
		TwilioAPIBaseURL: h.Twilio.URL(),
		S3Bucket:         h.S3.Bucket,
		S3Key:            h.Key,
		ConfigRefresh:    50 * time.Millisecond,
		JobPoll:          50 * time.Millisecond,
		// A restart is the same replica: it takes back its own jobs.
		ReplicaID: "harness",
	}
	if o.Settings != nil {
		o.Settings(&h.settings)
	}
	h.start(ln)
	t.Cleanup(h.Stop)
	// Before Stop (cleanups run last first): the pager still runs what is due.
	t.Cleanup(h.checkNothingLeft)
	return h
}

// URL is where the pager listens.
func (h *Harness) URL() string { return h.url }

// App is the running pager.
func (h *Harness) App() *app.App {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.main.app
}

func (h *Harness) start(ln net.Listener) {
	h.T.Helper()
	p := h.launch(h.settings, ln)
	h.mu.Lock()
	h.main = p
	h.mu.Unlock()
}

// launch starts a pager with settings s serving ln.
func (h *Harness) launch(s app.Settings, ln net.Listener) *process {
	h.T.Helper()
	a, err := app.New(context.Background(), s, h.appOptions())
	if err != nil {
		h.T.Fatalf("harness: start pager: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	p := &process{app: a, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(p.done)
		if err := a.Run(ctx, ln); err != nil {
			h.T.Errorf("harness: pager stopped: %v", err)
		}
	}()
	return p
}

// running lists the pagers not stopped.
func (h *Harness) running() []*process {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []*process
	for _, p := range append([]*process{h.main}, h.replicas...) {
		if p != nil && p.cancel != nil {
			out = append(out, p)
		}
	}
	return out
}

// appOptions are the pager's options in every process the harness starts.
func (h *Harness) appOptions() app.Options {
	lease := h.opts.Lease
	if lease == 0 {
		lease = time.Second
	}
	var logger *slog.Logger
	if os.Getenv("HARNESS_LOG") != "" {
		logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	pool := h.SMTP.CertPool()
	return app.Options{
		Logger:      logger,
		Store:       h.Store,
		Now:         h.opts.Now,
		Jobs:        jobs.Options{Lease: lease, Backoff: fastBackoff},
		ConsolePoll: h.opts.ConsolePoll,
		Outbound: outbound.Options{
			Rates: outbound.Rates{SMSPerSecond: cmp.Or(h.opts.SMSPerSecond, 1000), CallsPerSecond: 1000},
			// Replicas take turns at a number: on a clock that only moves
			// when the test says, a turn ends when the holder has not
			// renewed it for this long of the waiter's own time.
			SenderLease: 200 * time.Millisecond,
			Email: func(e channel.Email) channel.Sender {
				e.RootCAs = pool
				e.Timeout = 5 * time.Second
				return e
			},
		},
	}
}

// fastBackoff keeps retries quick in tests while still spacing them.
func fastBackoff(attempt int) time.Duration {
	return time.Duration(attempt) * 20 * time.Millisecond
}

// Stop stops the pager (as a crash would: leases stay behind).
func (h *Harness) Stop() {
	h.mu.Lock()
	p := h.main
	h.mu.Unlock()
	h.stop(p)
}

func (h *Harness) stop(p *process) {
	h.mu.Lock()
	cancel := p.cancel
	p.cancel = nil
	h.mu.Unlock()
	if cancel == nil {
		return
	}
	cancel()
	<-p.done
}

// Restart stops the pager and starts a new process's worth of it on the same
// address and store.
func (h *Harness) Restart() {
	h.T.Helper()
	h.Stop()
	var ln net.Listener
	var err error
	for i := 0; i < 50; i++ {
		if ln, err = net.Listen("tcp", h.addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		h.T.Fatalf("harness: relisten %s: %v", h.addr, err)
	}
	h.start(ln)
}

// Config reads the team config straight from S3.
func (h *Harness) Config() *team.Config {
	h.T.Helper()
	obj, err := h.Store.Get(context.Background(), h.Key)
	if err != nil {
		h.T.Fatalf("harness: read config: %v", err)
	}
	cfg, err := team.Parse(obj.Data)
	if err != nil {
		h.T.Fatalf("harness: stored config invalid: %v", err)
	}
	return cfg
}

// RawConfig reads the stored config as generic JSON.
func (h *Harness) RawConfig() map[string]any {
	h.T.Helper()
	obj, err := h.Store.Get(context.Background(), h.Key)
	if err != nil {
		h.T.Fatalf("harness: read config: %v", err)
	}
	var m map[string]any
	if err := json.Unmarshal(obj.Data, &m); err != nil {
		h.T.Fatalf("harness: stored config not JSON: %v", err)
	}
	return m
}

// WaitJob waits until the job with id is finished (moved to done/).
func (h *Harness) WaitJob(id string) jobs.Job {
	h.T.Helper()
	var last error
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		obj, err := h.Store.Get(context.Background(), "jobs/done/"+id+".json")
		if err != nil {
			last = err
			continue
		}
		var j jobs.Job
		if err := json.Unmarshal(obj.Data, &j); err != nil {
			h.T.Fatalf("harness: job %s: %v", id, err)
		}
		return j
	}
	h.T.Fatalf("harness: job %s not finished: %v", id, last)
	return jobs.Job{}
}

// waitLimit bounds one wait for the pager.
const waitLimit = 20 * time.Second

// ctx bounds one wait.
func (h *Harness) ctx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), waitLimit)
}

// CertPool is the SMTP server's CA (for tests that build their own senders).
func (h *Harness) CertPool() *x509.CertPool { return h.SMTP.CertPool() }

// SettleStore waits until the pager's start-up scans (config, job queue)
// have stopped touching S3 (three quiet 50 ms spells in a row), then resets
// the request counts, so a test can assert that what it does next makes no
// store call. Meant for harnesses with long refresh and poll intervals.
func (h *Harness) SettleStore() {
	h.T.Helper()
	for quiet := 0; quiet < 3; time.Sleep(50 * time.Millisecond) {
		if h.S3.Fault.Total() == 0 {
			quiet++
		} else {
			quiet = 0
		}
		h.S3.Fault.ResetRequests()
	}
}
