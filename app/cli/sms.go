package cli

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/oncall/pager/app"
	"github.com/oncall/pager/app/twilio"
	"github.com/oncall/pager/twiml"
)

// sms plays a team member texting the control number: it posts the webhook
// Twilio would, signed as Twilio signs it, and prints the pager's replies.
func sms(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	s, _ := app.SettingsFromEnv(os.Getenv)
	fs := flag.NewFlagSet("sms", flag.ContinueOnError)
	fs.SetOutput(stderr)
	from := fs.String("from", "", "the member's number, E.164 (required)")
	to := fs.String("to", "", "the control number (current_config.from_phone)")
	target := fs.String("url", "http://"+dialable(s.ListenAddr), "where the pager listens")
	base := fs.String("base-url", s.BaseURL, "ONCALL_APP_BASE_URL the pager signs against")
	path := fs.String("path", "/msgcontrol/entry", "webhook path")
	if err := fs.Parse(args); err != nil {
		return usageError{err}
	}
	if *from == "" || fs.NArg() == 0 {
		return usageError{fmt.Errorf("want --from +1... and a message, e.g. oncall-pager sms --from +15555550101 WHO")}
	}
	if !strings.HasPrefix(*from, "+") {
		return usageError{fmt.Errorf("--from %q: want the member's number in E.164, with + and the country code, e.g. +15555550102", *from)}
	}
	form := url.Values{
		"MessageSid": {"SM" + randomHex(16)},
		"AccountSid": {orDefault(s.TwilioAccountSID, "AC"+strings.Repeat("0", 32))},
		"From":       {*from},
		"To":         {*to},
		"Body":       {strings.Join(fs.Args(), " ")},
		"NumMedia":   {"0"},
		"ApiVersion": {"2010-04-01"},
	}
	replies, err := postWebhook(ctx, strings.TrimRight(*target, "/")+*path, strings.TrimRight(*base, "/")+*path, s.TwilioAuthToken, form)
	if err != nil {
		return err
	}
	msgs, err := twiml.Messages(replies)
	if err != nil {
		return fmt.Errorf("reply is not TwiML: %w", err)
	}
	if len(msgs) == 0 {
		fmt.Fprintln(stdout, "(no reply)")
	}
	for _, m := range msgs {
		fmt.Fprintln(stdout, m)
	}
	return nil
}

func postWebhook(ctx context.Context, target, signedURL, token string, form url.Values) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, strings.NewReader(form.Encode()))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if token != "" {
		req.Header.Set(twilio.SignatureHeader, twilio.Sign(token, signedURL, form))
	}
	client := &http.Client{Timeout: 20 * time.Second}
	resp, err := client.Do(req)
	if err != nil {
		return "", fmt.Errorf("post %s: %w", target, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return "", err
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return "", fmt.Errorf("%s answered %s: %s", target, resp.Status, strings.TrimSpace(string(body)))
	}
	return string(body), nil
}

func dialable(addr string) string {
	if strings.HasPrefix(addr, ":") {
		return "127.0.0.1" + addr
	}
	return strings.Replace(addr, "0.0.0.0", "127.0.0.1", 1)
}

func orDefault(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
