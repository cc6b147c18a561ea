package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/oncall/pager/app"
	"github.com/oncall/pager/app/notification"
	"github.com/oncall/pager/app/team"
)

// notifyCmd is `oncall-pager notify test USER_CHANNEL_OR_GROUP`: one test message through
// the same durable outbound path alerts take, waited for, with the result of
// every route printed, so a channel is checked before anyone relies on it.
func notifyCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "test" {
		return usageError{errors.New("want: notify test USER_CHANNEL_OR_GROUP")}
	}
	fs := flag.NewFlagSet("notify test", flag.ContinueOnError)
	fs.SetOutput(stderr)
	msg := fs.String("message", "Test message from the on-call pager: if you can read this, this channel works.", "text to send")
	wait := fs.Duration("wait", time.Minute, "how long to wait for every route to finish")
	if err := fs.Parse(args[1:]); err != nil {
		return usageError{err}
	}
	if fs.NArg() != 1 {
		return usageError{errors.New("want: notify test USER_CHANNEL_OR_GROUP")}
	}
	target := fs.Arg(0)
	s, err := app.SettingsFromEnv(os.Getenv)
	if err != nil {
		return err
	}
	a, err := app.New(ctx, s, app.Options{Logger: newLogger(s, stderr)})
	if err != nil {
		return err
	}
	recs, err := testRecipients(a.Team.Current(), target)
	if err != nil {
		return err
	}
	n := notification.Notification{ID: notification.NewID(), Source: "test:" + target, Subject: "Pager test",
		Message: *msg, Recipients: recs, APIKey: "cli", Created: time.Now()}
	if err := a.Notifications.Notify(ctx, a.Jobs, n); err != nil {
		return fmt.Errorf("queue test message: %w", err)
	}
	if a.Twilio.DryRun() {
		fmt.Fprintln(stderr, "note: Twilio is in dry-run mode (no TWILIO_ACCOUNT_SID): texts and calls are logged, not sent")
	}
	ctx, cancel := context.WithTimeout(ctx, *wait)
	defer cancel()
	var rep notification.Report
	for {
		if err := a.Jobs.RunOnce(ctx); err != nil && ctx.Err() == nil {
			return err
		}
		if rep, err = a.Notifications.GetNotification(ctx, a.Jobs, n.ID, nil); err != nil && ctx.Err() == nil {
			return err
		}
		if rep.State != "sending" || ctx.Err() != nil {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	out, _ := json.MarshalIndent(rep, "", "  ")
	fmt.Fprintf(stdout, "%s\n", out)
	if rep.State != "done" {
		return fmt.Errorf("test notification %s: %s (the report above says which route and why)", n.ID, orDefault(rep.State, "unknown"))
	}
	fmt.Fprintf(stdout, "test notification %s: every route accepted the message\n", n.ID)
	return nil
}

// testRecipients are whom `notify test` reaches for target: a user, a
// notification channel, or every member of a group (those left out are
// reported in the result). A name that is several of these is taken in that
// order.
func testRecipients(cfg *team.Config, target string) ([]notification.Recipient, error) {
	rec, err := notification.ResolveContact(cfg, target)
	if errors.Is(err, notification.ErrUnknown) {
		rec, err = notification.ResolveChannel(cfg, target)
	}
	if errors.Is(err, notification.ErrUnknown) {
		_, recs, gerr := notification.ResolveGroup(cfg, target)
		if gerr == nil {
			for _, r := range recs {
				if r.Skipped == "" && len(r.Routes) > 0 {
					return recs, nil
				}
			}
			return nil, fmt.Errorf("group %s has no member with an enabled route", target)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("%q is neither an enabled user, an enabled notification channel nor an enabled group", target)
	}
	if rec.Skipped != "" || len(rec.Routes) == 0 {
		return nil, fmt.Errorf("%s has no enabled route: %s", target, rec.Skipped)
	}
	return []notification.Recipient{rec}, nil
}
