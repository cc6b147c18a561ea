package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/oncall/pager/app/console"
	"github.com/oncall/pager/app/jobs"
	"github.com/oncall/pager/app/notification"
	"github.com/oncall/pager/app/outbound"
	"github.com/oncall/pager/app/outbound/channel"
	"github.com/oncall/pager/app/server"
	"github.com/oncall/pager/app/signin"
	"github.com/oncall/pager/app/team"
)

// newConsole builds the web console over the same services as the SMS
// commands.
func (a *App) newConsole(onCall console.OnCall, vm console.Voicemails, poll time.Duration) (*console.Console, error) {
	codes := codeSender{a: a}
	a.Jobs.Handle(kindSignInEmail, stepSend, codes.sendEmail)
	a.SignIn = signin.New(signin.Options{Store: a.Store, Config: a.Team, Sender: codes, Now: a.now, Logger: a.Log})
	return console.New(console.Options{
		BaseURL:       a.Settings.BaseURL,
		Team:          a.Team,
		Alerts:        a.Alerts,
		OnCall:        onCall,
		Voicemails:    vm,
		Notifications: notifications{a: a},
		Audit:         a.Audit,
		SignIn:        a.SignIn,
		Texter:        texter{q: outbound.TextQueue{Q: a.Jobs}, now: a.now},
		PollInterval:  poll,
		ClientIP:      server.ClientIP(a.Settings.TrustedProxies),
		OnRefuse:      a.rejects.RejectAddr,
		Now:           a.now,
		Logger:        a.Log,
	})
}

// kindSignInEmail is the durable email copy of a sign-in code.
const (
	kindSignInEmail jobs.Kind = "signin-email"
	stepSend                  = "send"
)

// codeSender delivers sign-in codes: a durable text from the control
// number, and a durable email when the member has an email channel.
type codeSender struct{ a *App }

type signInEmail struct {
	To   string `json:"to"`
	Code string `json:"code"`
}

func (s codeSender) SendCode(ctx context.Context, u team.User, code string) error {
	a := s.a
	cfg := a.Team.Current()
	body := fmt.Sprintf("Your pager console sign-in code is %s. It works once, for %d minutes. If you did not ask for it, ignore this text.",
		code, int(signin.CodeTTL.Minutes()))
	id := fmt.Sprintf("signin-%d-%s", a.now().UnixNano(), strings.TrimPrefix(u.Phone, "+"))
	if err := (outbound.TextQueue{Q: a.Jobs}).Enqueue(ctx, id, outbound.Text{From: cfg.CurrentConfig.FromPhone, To: u.Phone, Body: body}); err != nil {
		return err
	}
	if a.Twilio.DryRun() {
		// Without Twilio nobody receives the text: the operator trying
		// the embedded default reads the code here.
		a.Log.Warn("console sign-in code (Twilio dry run: not texted)", "user", u.ID, "code", code)
	}
	if uc, ok := u.Channels[team.MediumEmail]; ok && uc.IsEnabled() {
		to := uc.Address
		if to == "" {
			to = u.Email
		}
		if to != "" {
			payload, _ := json.Marshal(signInEmail{To: to, Code: code})
			if _, err := a.Jobs.Enqueue(ctx, jobs.Job{ID: id + "-email", Kind: kindSignInEmail, Payload: payload,
				Steps: []jobs.Step{{Name: stepSend, MaxAttempts: 5}}}); err != nil {
				a.Log.Error("console: sign-in code email not queued", "user", u.ID, "err", err)
			}
		}
	}
	return nil
}

func (s codeSender) sendEmail(ctx context.Context, job *jobs.Job, _ *jobs.Step) (any, error) {
	var m signInEmail
	if err := job.Decode(&m); err != nil {
		return nil, jobs.Permanent(err)
	}
	// A code outlives its use by minutes only; a late email is noise.
	if s.a.now().Sub(job.CreatedAt) > signin.CodeTTL {
		return map[string]string{"skipped": "code expired"}, nil
	}
	ms := s.a.Team.Current().CurrentConfig.MailSettings
	_, err := s.a.Outbound.Email(ctx, ms, []string{m.To}, channel.Message{
		Subject: "Your pager sign-in code",
		Body: fmt.Sprintf("Your pager console sign-in code is %s.\n\nIt works once, for %d minutes. If you did not ask for it, ignore this message.\n",
			m.Code, int(signin.CodeTTL.Minutes())),
	})
	if err != nil {
		return nil, err
	}
	return map[string]string{"to": m.To}, nil
}

// notifications are the alert API's reports and test pages for the console.
type notifications struct{ a *App }

func (n notifications) Report(ctx context.Context, id string) (notification.Report, error) {
	// Signed-in team members read every report, as a can_read key does.
	return n.a.Notifications.GetNotification(ctx, n.a.Jobs, id, nil)
}

// TestPage sends a test message to every enabled route of u through the
// alert API's durable path, as `notify test` does.
func (n notifications) TestPage(ctx context.Context, u team.User) (string, error) {
	rec, err := notification.ResolveContact(n.a.Team.Current(), u.ID)
	if err != nil {
		return "", err
	}
	if rec.Skipped != "" || len(rec.Routes) == 0 {
		return "", errors.New("you have no enabled channel")
	}
	note := notification.Notification{ID: notification.NewID(), Source: "test:" + u.ID, Subject: "Pager test",
		Message:    "Test page from the on-call pager console: if you can read this, this channel works.",
		Recipients: []notification.Recipient{rec}, APIKey: "console", Created: n.a.now()}
	if err := n.a.Notifications.Notify(ctx, n.a.Jobs, note); err != nil {
		return "", err
	}
	n.a.Log.Info("console: test page sent", "user", u.ID, "notification", note.ID)
	return note.ID, nil
}
