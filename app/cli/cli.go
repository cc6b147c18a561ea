package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"

	"github.com/joho/godotenv"

	"github.com/oncall/pager/app"
)

const usage = `usage: pager [command] [flags]

commands:
  serve                      run the pager (the default)
  sms --from +1… TEXT        text the control number of a running pager as a team member would
  config validate FILE       check a config file; every problem with its JSON path
  config pull [FILE]         download the config from the store (and FILE.etag)
  config push FILE           validate and upload; refuses if the stored config changed since pull
  apikey new NAME            mint an alert API key, shown once, and its api_keys entry (--can-read, --write FILE)
  notify test USER|CHANNEL   send a test message through the outbound path and print each route's result
  heartbeat list             each configured heartbeat: its state, last beat, where from, when it is due
  help                       this text

Settings come from the environment and .env in the working folder (the
environment wins); .env.example documents each one.
`

// Main runs the command line and returns the exit code.
func Main(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	// godotenv.Load never overrides variables already set: the environment wins.
	if err := godotenv.Load(); err != nil && !errors.Is(err, os.ErrNotExist) {
		fmt.Fprintf(stderr, "pager: .env: %v\n", err)
		return 2
	}
	cmd := "serve"
	if len(args) > 0 && args[0] != "" && args[0][0] != '-' {
		cmd, args = args[0], args[1:]
	}
	var err error
	switch cmd {
	case "serve":
		err = serve(ctx, args, stderr)
	case "sms":
		err = sms(ctx, args, stdout, stderr)
	case "config":
		err = configCmd(ctx, args, stdout, stderr)
	case "notify":
		err = notifyCmd(ctx, args, stdout, stderr)
	case "apikey":
		err = apikeyCmd(ctx, args, stdout, stderr)
	case "heartbeat":
		err = heartbeatCmd(ctx, args, stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "pager: unknown command %q\n\n%s", cmd, usage)
		return 2
	}
	if err != nil {
		var ue usageError
		if errors.As(err, &ue) {
			fmt.Fprintf(stderr, "pager %s: %v\n", cmd, err)
			return 2
		}
		fmt.Fprintf(stderr, "pager %s: %v\n", cmd, err)
		return 1
	}
	return 0
}

type usageError struct{ error }

func newLogger(format string, w io.Writer) *slog.Logger {
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, nil))
	}
	return slog.New(slog.NewTextHandler(w, nil))
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
	log := newLogger(s.LogFormat, lw)
	a, err := app.New(ctx, s, app.Options{Logger: log})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", s.ListenAddr)
	if err != nil {
		return fmt.Errorf("listen %s: %w", s.ListenAddr, err)
	}
	log.Info("pager listening", "addr", ln.Addr().String(), "base_url", s.BaseURL,
		"store", a.Store.String(), "config_key", s.ConfigKey(),
		"twilio", twilioMode(s), "signatures_checked", s.SignaturesChecked())
	if !s.SignaturesChecked() {
		log.Warn("!!! TWILIO_AUTH_TOKEN is not set: Twilio signatures CANNOT be checked. " +
			"Listening on loopback only; outbound Twilio calls are logged, not sent (dry run). " +
			"Set TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN before exposing this pager.")
	}
	return a.Run(ctx, ln)
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
