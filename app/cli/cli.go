package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"runtime"
	"runtime/debug"
	"sync/atomic"
	"time"

	"github.com/joho/godotenv"

	"github.com/oncall/pager/app"
)

// Name is the command's name: `pager` is Debian's and Ubuntu's pager (less).
const Name = "oncall-pager"

const usage = `usage: oncall-pager [command] [flags]

commands:
  serve                      run the pager (the default)
  sms --from +1... TEXT      text the control number of a running pager as a team member would
  call --from +1... --record FILE.mp3|--hangup|--no-key
                             call the pager line of a running pager as a caller would
  config validate FILE       check a config file; every problem with its JSON path
  config init [FILE]         create the stored config if there is none (from FILE, or the example)
  config pull [FILE]         download the config from the store (and FILE.etag)
  config push FILE           validate and upload; refuses if the stored config changed since pull
  apikey new NAME            mint an alert API key, shown once, and its api_keys entry
  notify test USER|GROUP|CHANNEL
                             send a test message through the outbound path and print each route's result
  schedule show [--days N] [--user ID]
                             the coming shifts with local times
  schedule override USER FROM TO
                             add an override to the stored config (validated, If-Match)
  schedule token new [--user ID]
                             mint a calendar feed token (team, or one member's shifts)
  heartbeat list             each configured heartbeat: its state, last beat, where from, when it is due
  jobs list                  the queued jobs: steps, tries, last errors, when each is due
  jobs cancel ID             fail a queued job's unfinished steps, so nothing more is sent for it
  healthcheck                exit 0 when the pager on LISTEN_ADDR answers /livez (container probes)
  version                    print the version and the VCS revision
  console rotate-key         sign new web console sessions with a fresh key (the previous one stays valid)
  help [COMMAND]             this text, or a command's

Every command takes -h or --help. Settings come from the environment and
.env in the working folder (the environment wins); .env.example documents
each one.
`

// help is the usage of one command ("config pull"); "" when there is none of
// its own.
func help(cmd string) string {
	switch cmd {
	case "serve":
		return `usage: oncall-pager serve

Runs the pager: the Twilio webhooks, the alert API and intake, and the
background work (jobs, config refresh, voicemail reconciliation). Settings
come from the environment and .env; with none it runs on the embedded
default (./data, Twilio dry run, loopback only).
`
	case "console":
		return `usage: oncall-pager console rotate-key

Signs new web console sessions with a fresh key, kept in the store so every
replica uses it. Sessions signed with the previous key stay valid; those
signed two rotations ago end, within a minute on every replica.
`
	case "sms":
		return `usage: oncall-pager sms --from +15555550102 [--to NUMBER] [--url URL] [--base-url URL] [--path PATH] TEXT...

Texts the control number of a running pager as a team member would: the
webhook Twilio would post, signed with TWILIO_AUTH_TOKEN when it is set, and
prints the pager's replies. --from is the member's number in E.164 (+ and
country code).
`
	case "call":
		return `usage: oncall-pager call --from +12125550123 (--record FILE.mp3 [--duration 12] | --hangup | --no-key) [--to NUMBER] [--url URL] [--base-url URL]

Calls the pager line of a running pager as a caller would, and prints what
the pager says: the voice webhook, the keypress, the recording's action and
its status callback, each signed with TWILIO_AUTH_TOKEN when it is set.
--record serves FILE.mp3 on loopback as the recording (a dry-run pager
fetches it from there) and waits until the pager has fetched it; --hangup
presses 1 and hangs up without a message; --no-key never presses a key.
`
	case "config":
		return `usage: oncall-pager config validate FILE
       oncall-pager config init [FILE]
       oncall-pager config pull [FILE]
       oncall-pager config push [--force [--yes]] FILE

validate  checks a config file and prints every problem with its JSON path.
init      creates the stored config only if there is none (a conditional
          create): from FILE (validated first) or the example team.
pull      downloads the stored config into FILE (stdout without FILE) and
          its ETag into FILE.etag.
push      validates FILE and uploads it only if the stored config has not
          changed since the pull. --force overwrites whatever is there after
          showing the diff and asking (--yes does not ask). A push that
          changes who is on call texts both people, as TAKE does.
`
	case "apikey":
		return `usage: oncall-pager apikey new NAME [--can-read] [--write FILE] [--replace]

Mints an API key for the alert API and intake. The key is printed once; the
config keeps only its SHA-256. --write adds the entry to a config FILE
(validated, everything else kept); --replace rotates an existing name.
NAME is 1 to 40 lower-case letters, digits, '-' or '_', starting with a
letter or a digit, as the console asks.
`
	case "notify":
		return `usage: oncall-pager notify test [--message TEXT] [--wait 1m] USER|GROUP|CHANNEL

Sends a test message through the same durable outbound path alerts take and
prints the result of every route, to check a channel before relying on it.
`
	case "schedule":
		return `usage: oncall-pager schedule show [--days N] [--user ID]
       oncall-pager schedule override USER FROM TO
       oncall-pager schedule token new [--user ID] [--name NAME]

show      prints the coming shifts (14 days unless --days) with local times
          in current_config.timezone, one member's with --user.
override  adds an override to the stored config: USER is on call from FROM
          to TO (2026-12-24T18:00 local, or with an offset). Validated and
          written with If-Match; a refused change writes nothing.
token new mints a calendar feed token (the team's, or --user's shifts),
          stores its SHA-256 under schedule.calendar_tokens and prints the
          feed's URL once. --name (default: the --user, or team) is named
          as an API key is (see apikey --help).
`
	case "heartbeat":
		return `usage: oncall-pager heartbeat list

Prints each configured heartbeat: its state, its last beat and where it came
from, and when the next beat is due.
`
	case "jobs":
		return `usage: oncall-pager jobs list
       oncall-pager jobs cancel [--reason TEXT] ID

list    prints the queued jobs (voicemails, texts, notifications, escalation
        timers) with each step's state, tries and last error, and when the
        next step is due.
cancel  fails the unfinished steps of job ID (done steps stay done) so
        nothing more is sent for it; the pager files it as done.
`
	case "healthcheck":
		return `usage: oncall-pager healthcheck [--url URL]

Exits 0 when the pager answers GET /livez (default on LISTEN_ADDR), 1
otherwise. For container health checks: the image has no shell or curl.
`
	case "version":
		return "usage: oncall-pager version\n\nPrints the module version, the VCS revision and the Go version it was built with.\n"
	}
	return ""
}

// wantsHelp reports whether args ask for help before any "--".
func wantsHelp(args []string) bool {
	for _, a := range args {
		switch a {
		case "--":
			return false
		case "-h", "-help", "--help":
			return true
		}
	}
	return false
}

// Main runs the command line and returns the exit code.
func Main(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	cmd := "serve"
	if len(args) > 0 && args[0] != "" && args[0][0] != '-' {
		cmd, args = args[0], args[1:]
	}
	switch {
	case cmd == "help":
		if len(args) > 0 && help(args[0]) != "" {
			fmt.Fprint(stdout, help(args[0]))
		} else {
			fmt.Fprint(stdout, usage)
		}
		return 0
	case wantsHelp(args):
		if h := help(cmd); h != "" {
			fmt.Fprint(stdout, h)
		} else {
			fmt.Fprint(stdout, usage)
		}
		return 0
	case cmd == "version":
		fmt.Fprintln(stdout, Version())
		return 0
	}
	// godotenv.Load never overrides variables already set: the environment wins.
	if err := godotenv.Load(); err != nil && !errors.Is(err, os.ErrNotExist) {
		fmt.Fprintf(stderr, "%s: .env: %v\n", Name, err)
		return 2
	}
	var err error
	switch cmd {
	case "serve":
		err = serve(ctx, args, stderr)
	case "sms":
		err = sms(ctx, args, stdout, stderr)
	case "call":
		err = callCmd(ctx, args, stdout, stderr)
	case "config":
		err = configCmd(ctx, args, stdin, stdout, stderr)
	case "notify":
		err = notifyCmd(ctx, args, stdout, stderr)
	case "apikey":
		err = apikeyCmd(ctx, args, stdout, stderr)
	case "heartbeat":
		err = heartbeatCmd(ctx, args, stdout, stderr)
	case "jobs":
		err = jobsCmd(ctx, args, stdout, stderr)
	case "healthcheck":
		err = healthcheck(ctx, args, stderr)
	case "schedule":
		err = scheduleCmd(ctx, args, stdout, stderr)
	case "console":
		err = consoleCmd(ctx, args, stdout)
	default:
		fmt.Fprintf(stderr, "%s: unknown command %q\n\n%s", Name, cmd, usage)
		return 2
	}
	if err != nil {
		var ue usageError
		if errors.As(err, &ue) {
			fmt.Fprintf(stderr, "%s %s: %v\n(%s %s --help shows how)\n", Name, cmd, err, Name, cmd)
			return 2
		}
		fmt.Fprintf(stderr, "%s %s: %v\n", Name, cmd, err)
		return 1
	}
	return 0
}

// Version is the module version and VCS revision from the build info.
func Version() string {
	v, rev, dirty := "(devel)", "", false
	bi, ok := debug.ReadBuildInfo()
	if ok {
		if bi.Main.Version != "" {
			v = bi.Main.Version
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.modified":
				dirty = s.Value == "true"
			}
		}
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	if dirty {
		rev += "+dirty"
	}
	if rev == "" {
		rev = "unknown revision"
	}
	return fmt.Sprintf("%s %s (%s, %s)", Name, v, rev, runtime.Version())
}

type usageError struct{ error }

func newLogger(s app.Settings, w io.Writer) *slog.Logger {
	o := &slog.HandlerOptions{Level: s.LogLevel}
	if s.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, o))
	}
	return slog.New(slog.NewTextHandler(w, o))
}

func serve(ctx context.Context, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	if err := fs.Parse(args); err != nil {
		return usageError{err}
	}
	s, err := app.SettingsFromEnv(os.Getenv)
	if err != nil {
		return err
	}
	// Buffered: one write per request is a system call per log line on the
	// hot path. Every return below passes through Close, which flushes.
	lw := newLogWriter(stderr, logFlushEvery)
	defer lw.Close()
	log := newLogger(s, lw)
	ln, err := net.Listen("tcp", s.ListenAddr)
	if err != nil {
		return fmt.Errorf("listen %s: %w", s.ListenAddr, err)
	}
	return serveOn(ctx, ln, s, app.Options{Logger: log}, backoff{first: time.Second, max: 30 * time.Second})
}

// backoff paces start-up attempts while the store does not answer.
type backoff struct{ first, max time.Duration }

// serveOn serves on ln at once: while the store does not answer at start,
// the pager says it is alive but not ready and keeps trying with backoff,
// rather than exiting into a restart loop that an orchestrator may give up on.
func serveOn(ctx context.Context, ln net.Listener, s app.Settings, o app.Options, b backoff) error {
	log := o.Logger
	var h switchHandler
	h.set(startingHandler())
	srv := app.NewHTTPServer(&h)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	shutdown := func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}

	wait := b.first
	var a *app.App
	for {
		var err error
		a, err = app.New(ctx, s, o)
		if err == nil {
			break
		}
		if !errors.Is(err, app.ErrStoreUnavailable) || ctx.Err() != nil {
			shutdown()
			return err
		}
		log.Warn("store not answering at start; not ready, retrying", "in", wait, "err", err)
		select {
		case <-ctx.Done():
			shutdown()
			return nil
		case <-time.After(wait):
		}
		wait = min(2*wait, b.max)
	}
	h.set(a.Echo)
	log.Info("pager listening", "version", Version(), "addr", ln.Addr().String(), "base_url", s.BaseURL,
		"store", a.Store.String(), "config_key", s.ConfigKey(),
		"twilio", twilioMode(s), "signatures_checked", s.SignaturesChecked())
	for _, w := range s.Webhooks() {
		log.Info("twilio console: set the "+w.Kind+" webhook (POST) of the "+w.Number+" number", "url", w.URL)
	}
	if !s.SignaturesChecked() {
		log.Warn("!!! TWILIO_AUTH_TOKEN is not set: Twilio signatures CANNOT be checked. " +
			"Outbound Twilio calls are logged, not sent (dry run). " +
			"Set TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN before exposing this pager.")
	}
	return a.RunWith(ctx, srv, errc)
}

// switchHandler serves the start-up answers until the pager is built.
type switchHandler struct{ h atomic.Pointer[http.Handler] }

func (s *switchHandler) set(h http.Handler) { s.h.Store(&h) }
func (s *switchHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	(*s.h.Load()).ServeHTTP(w, r)
}

// startingHandler answers while the store is unreachable at start: alive,
// not ready, and 503 for everything else so Twilio retries its webhooks.
func startingHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Retry-After", "5")
		if r.URL.Path == "/livez" {
			w.WriteHeader(http.StatusOK)
			_, _ = io.WriteString(w, `{"status":"ok"}`)
			return
		}
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = io.WriteString(w, `{"status":"starting","reason":"store_unreachable"}`)
	})
}

func twilioMode(s app.Settings) string {
	switch {
	case s.TwilioAccountSID == "":
		return "dry-run"
	case s.TwilioAPIBaseURL != "":
		return "api at " + s.TwilioAPIBaseURL
	default:
		return "live"
	}
}
