package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/oncall/pager/app"
	"github.com/oncall/pager/twiml"
)

// callCmd plays a caller on the pager line of a running pager, as Twilio
// would: the voice webhook, the keypress, the recording's action and its
// signed status callback, with the recording served from a local file.
func callCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	s, _ := app.SettingsFromEnv(os.Getenv)
	fs := flag.NewFlagSet("call", flag.ContinueOnError)
	fs.SetOutput(stderr)
	from := fs.String("from", "", "the caller's number, E.164 (required)")
	to := fs.String("to", "", "the pager line's number (current_config.pager_phone)")
	record := fs.String("record", "", "leave this mp3 file as the voicemail")
	duration := fs.Int("duration", 12, "with --record: the recording's length in seconds, as Twilio reports it")
	hangup := fs.Bool("hangup", false, "press 1, then hang up without leaving a message")
	noKey := fs.Bool("no-key", false, "press no key when asked")
	target := fs.String("url", "http://"+dialable(s.ListenAddr), "where the pager listens")
	base := fs.String("base-url", s.BaseURL, "ONCALL_APP_BASE_URL the pager signs against")
	wait := fs.Duration("wait", 30*time.Second, "with --record: how long to wait for the pager to fetch the recording")
	if err := fs.Parse(args); err != nil {
		return usageError{err}
	}
	modes := 0
	for _, on := range []bool{*record != "", *hangup, *noKey} {
		if on {
			modes++
		}
	}
	switch {
	case fs.NArg() != 0:
		return usageError{fmt.Errorf("unexpected %q", fs.Args())}
	case !strings.HasPrefix(*from, "+"):
		return usageError{fmt.Errorf("--from %q: want the caller's number in E.164, with + and the country code, e.g. +12125550123", *from)}
	case modes != 1:
		return usageError{errors.New("want exactly one of --record FILE.mp3, --hangup or --no-key")}
	}
	c := &caller{target: strings.TrimRight(*target, "/"), base: strings.TrimRight(*base, "/"), token: s.TwilioAuthToken,
		out: stdout, callSID: "CA" + randomHex(16), from: *from, to: *to}
	if *record != "" {
		audio, err := os.ReadFile(*record)
		if err != nil {
			return err
		}
		srv, err := serveRecording(audio)
		if err != nil {
			return err
		}
		defer srv.close()
		c.recording, c.duration = srv, *duration
	}
	c.press = "1"
	if *noKey {
		c.press = ""
	}
	c.hangup = *hangup
	if err := c.play(ctx); err != nil {
		return err
	}
	if c.recording == nil {
		return nil
	}
	fmt.Fprintln(stdout, "(waiting for the pager to fetch the recording)")
	deadline := time.After(*wait)
	for c.recording.fetches.Load() == 0 {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-deadline:
			return fmt.Errorf("the pager did not fetch the recording within %s (a pager with a Twilio account fetches recordings from Twilio only: try a dry-run pager)", *wait)
		case <-time.After(100 * time.Millisecond):
		}
	}
	fmt.Fprintf(stdout, "(the pager fetched the recording: %d bytes)\n", len(c.recording.audio))
	// Let a retry of the download, or the email step's, be served too.
	time.Sleep(time.Second)
	return nil
}

// caller is one simulated call.
type caller struct {
	target, base, token string
	out                 io.Writer
	callSID, from, to   string
	press               string // the key to press when asked ("" for none)
	hangup              bool
	recording           *recordingServer
	duration            int
}

func (c *caller) form() url.Values {
	return url.Values{
		"AccountSid": {"AC" + strings.Repeat("0", 32)},
		"ApiVersion": {"2010-04-01"},
		"CallSid":    {c.callSID},
		"CallStatus": {"in-progress"},
		"Called":     {c.to},
		"Caller":     {c.from},
		"Direction":  {"inbound"},
		"From":       {c.from},
		"To":         {c.to},
	}
}

// post sends form to an absolute URL the pager named (or a path), signed
// for that URL, delivered to where the pager listens.
func (c *caller) post(ctx context.Context, abs string, form url.Values) (string, error) {
	if strings.HasPrefix(abs, "/") {
		abs = c.base + abs
	}
	if !strings.HasPrefix(abs, c.base+"/") {
		return "", fmt.Errorf("the pager named %s, outside its base URL %s", abs, c.base)
	}
	return postWebhook(ctx, c.target+strings.TrimPrefix(abs, c.base), abs, c.token, form)
}

func (c *caller) play(ctx context.Context) error {
	f := c.form()
	f.Set("CallStatus", "ringing")
	doc, err := c.post(ctx, "/public/answer", f)
	if err != nil {
		return err
	}
	for steps := 0; steps < 20; steps++ {
		next, err := c.step(ctx, doc)
		if err != nil || next == "" {
			return err
		}
		doc = next
	}
	return errors.New("the call did not end after 20 exchanges")
}

// step acts out one TwiML document and returns the next, or "" when the
// call is over.
func (c *caller) step(ctx context.Context, doc string) (string, error) {
	verbs, err := twiml.Parse(doc)
	if err != nil {
		return "", fmt.Errorf("answer is not TwiML: %w", err)
	}
	for _, v := range verbs {
		switch v.Name {
		case "Say":
			fmt.Fprintf(c.out, "pager: %s\n", v.Text)
		case "Play":
			fmt.Fprintf(c.out, "pager plays %s\n", v.Text)
		case "Gather":
			for _, p := range v.Child {
				if p.Name == "Say" {
					fmt.Fprintf(c.out, "pager: %s\n", p.Text)
				}
			}
			f := c.form()
			if c.press != "" {
				fmt.Fprintf(c.out, "caller presses %s\n", c.press)
			} else {
				fmt.Fprintln(c.out, "caller presses nothing")
			}
			f.Set("Digits", c.press)
			return c.post(ctx, v.Attr["action"], f)
		case "Record":
			return c.record(ctx, v)
		case "Redirect":
			return c.post(ctx, v.Text, c.form())
		case "Hangup":
			fmt.Fprintln(c.out, "pager hangs up")
			return "", nil
		}
	}
	fmt.Fprintln(c.out, "(end of the pager's instructions: Twilio hangs up)")
	return "", nil
}

func (c *caller) record(ctx context.Context, v twiml.Node) (string, error) {
	recSID := "RE" + randomHex(16)
	status := c.form()
	status.Del("CallStatus")
	status.Set("RecordingSid", recSID)
	status.Set("RecordingSource", "RecordVerb")
	status.Set("RecordingChannels", "1")
	status.Set("RecordingStartTime", time.Now().UTC().Format(time.RFC1123Z))
	action := c.form()
	action.Set("CallStatus", "completed")
	action.Set("Digits", "hangup")
	if c.hangup {
		fmt.Fprintln(c.out, "caller hangs up without a message")
		status.Set("RecordingStatus", "absent")
		status.Set("RecordingDuration", "0")
		status.Set("ErrorCode", "0")
		action.Set("RecordingDuration", "0")
	} else {
		recURL := c.recording.url + "/2010-04-01/Accounts/" + action.Get("AccountSid") + "/Recordings/" + recSID
		fmt.Fprintf(c.out, "caller leaves a %d-second message (%d bytes), then hangs up\n", c.duration, len(c.recording.audio))
		status.Set("RecordingStatus", "completed")
		status.Set("RecordingDuration", strconv.Itoa(c.duration))
		status.Set("RecordingUrl", recURL)
		status.Set("ErrorCode", "0")
		action.Set("RecordingDuration", strconv.Itoa(c.duration))
		action.Set("RecordingUrl", recURL)
		action.Set("RecordingSid", recSID)
	}
	reply, err := c.post(ctx, v.Attr["action"], action)
	if err != nil {
		return "", err
	}
	if _, err := c.step(ctx, reply); err != nil {
		return "", err
	}
	if cb := v.Attr["recordingStatusCallback"]; cb != "" {
		if _, err := c.post(ctx, cb, status); err != nil {
			return "", fmt.Errorf("recording status callback: %w", err)
		}
		fmt.Fprintln(c.out, "(recording status callback delivered)")
	}
	return "", nil
}

// recordingServer serves the voicemail's audio on loopback, as Twilio's
// media URL would.
type recordingServer struct {
	url     string
	audio   []byte
	fetches atomic.Int64
	srv     *http.Server
}

func serveRecording(audio []byte) (*recordingServer, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	r := &recordingServer{url: "http://" + ln.Addr().String(), audio: audio}
	r.srv = &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if !strings.Contains(req.URL.Path, "/Recordings/RE") {
			http.NotFound(w, req)
			return
		}
		r.fetches.Add(1)
		w.Header().Set("Content-Type", "audio/mpeg")
		_, _ = w.Write(r.audio)
	})}
	go func() { _ = r.srv.Serve(ln) }()
	return r, nil
}

func (r *recordingServer) close() { _ = r.srv.Close() }
