package outbound

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/oncall/pager/app/outbound/channel"
	"github.com/oncall/pager/app/team"
)

// unreachable is a mail server that never answers, as the embedded
// default's placeholder: every try is a temporary failure.
type unreachable struct{ tries *int }

func (u unreachable) Send(context.Context, channel.Message) (channel.Receipt, error) {
	*u.tries++
	return channel.Receipt{}, errors.New("dial tcp localhost:25: connection refused")
}

// In a dry run an email is logged with what it would have said and counts
// as sent, so the step does not retry for ever against a placeholder mail
// server; otherwise the mail server is tried.
func TestEmailDryRunLogsInsteadOfSending(t *testing.T) {
	ms := team.MailSettings{MailServer: "localhost", MailPort: 25, FromEmail: "oncall@example.com"}
	msg := channel.Message{Subject: "Voicemail from +15555550123", Body: "Listen: https://x/media/a.mp3",
		Attachments: []channel.Attachment{{Name: "vm.mp3", Data: []byte("ID3")}}}
	for _, dry := range []bool{true, false} {
		var logs bytes.Buffer
		tries := 0
		o := New(Options{DryRunEmail: dry, Logger: slog.New(slog.NewJSONHandler(&logs, nil)),
			Email: func(channel.Email) channel.Sender { return unreachable{&tries} }})
		r, err := o.Email(context.Background(), ms, []string{"sre@example.com"}, msg)
		if dry {
			if err != nil || tries != 0 || r.ID == "" {
				t.Fatalf("dry run: receipt %+v, err %v, %d tries of the mail server", r, err, tries)
			}
			for _, want := range []string{"email dry run", msg.Subject, "vm.mp3", "s***@example.com"} {
				if !strings.Contains(logs.String(), want) {
					t.Errorf("dry-run log lacks %q:\n%s", want, logs.String())
				}
			}
			continue
		}
		if err == nil || tries != 1 {
			t.Fatalf("real run: err %v after %d tries; want the mail server's failure", err, tries)
		}
	}
}
