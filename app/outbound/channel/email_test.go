package channel_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-sasl"

	"github.com/oncall/pager/app/outbound/channel"
	"github.com/oncall/pager/internal/smtptest"
)

func emailFor(s *smtptest.Server) channel.Email {
	return channel.Email{
		Server:  s.Host(),
		Port:    s.Port(),
		From:    "Pager <pager@example.com>",
		To:      []string{"ops@example.com", "Alerts Team <alerts@example.com>"},
		Timeout: 10 * time.Second,
	}
}

// Dot-stuffing, a line longer than QP's 76 columns and non-ASCII text are
// where MIME encoding usually goes wrong.
const alertBody = "CRITICAL: prod-db-01 disk at 97%\n.\n.leading dot\n" +
	"A very long line that definitely exceeds seventy-six characters so quoted-printable has to soft-wrap it — ok\n" +
	"naïve café ✓"

func only(t *testing.T, s *smtptest.Server) smtptest.Message {
	t.Helper()
	msgs := s.Messages()
	if len(msgs) != 1 {
		t.Fatalf("server holds %d messages, want 1", len(msgs))
	}
	if msgs[0].ParseErr != nil {
		t.Fatalf("message does not parse: %v\n%s", msgs[0].ParseErr, msgs[0].Data)
	}
	return msgs[0]
}

func TestEmailPlainDelivery(t *testing.T) {
	s := smtptest.New(t, smtptest.Options{})
	rcpt, err := emailFor(s).Send(context.Background(), channel.Message{
		NotificationID: "n-42",
		Subject:        "CRITICAL – prod-db-01 disk",
		Body:           alertBody,
	})
	if err != nil {
		t.Fatalf("send: %v", err)
	}
	m := only(t, s)
	if m.From != "pager@example.com" || strings.Join(m.To, " ") != "ops@example.com alerts@example.com" {
		t.Errorf("envelope %q -> %q", m.From, m.To)
	}
	if m.TLS {
		t.Error("plain delivery used TLS")
	}
	p := m.Parsed
	if p.Subject != "CRITICAL – prod-db-01 disk" {
		t.Errorf("subject = %q", p.Subject)
	}
	// DATA always ends the message with CRLF, so the body gains one.
	if p.Text != alertBody+"\n" {
		t.Errorf("body = %q\nwant %q", p.Text, alertBody)
	}
	if len(p.Attachments) != 0 {
		t.Errorf("unexpected attachments %+v", p.Attachments)
	}
	if got := p.Header.Get("Message-Id"); got == "" || got != rcpt.ID {
		t.Errorf("Message-Id %q, receipt ID %q", got, rcpt.ID)
	}
	if got := p.Header.Get("X-Pager-Notification-Id"); got != "n-42" {
		t.Errorf("X-Pager-Notification-Id = %q", got)
	}
	if got := p.Header.Get("Auto-Submitted"); got != "auto-generated" {
		t.Errorf("Auto-Submitted = %q", got)
	}
}

func TestEmailSubjectCannotInjectHeaders(t *testing.T) {
	s := smtptest.New(t, smtptest.Options{})
	_, err := emailFor(s).Send(context.Background(), channel.Message{
		Subject: "down\r\nBcc: attacker@example.net",
		Body:    "x",
	})
	if err != nil {
		t.Fatalf("send: %v", err)
	}
	m := only(t, s)
	if bcc := m.Parsed.Header.Get("Bcc"); bcc != "" {
		t.Fatalf("subject injected a Bcc header: %q", bcc)
	}
	if m.Parsed.Subject != "down Bcc: attacker@example.net" {
		t.Errorf("subject = %q", m.Parsed.Subject)
	}
}

func TestEmailAttachmentsArriveIntact(t *testing.T) {
	bin := make([]byte, 10_000)
	if _, err := rand.Read(bin); err != nil {
		t.Fatal(err)
	}
	// Bytes that trip naive encoders: CRLF, a lone dot line, NULs.
	copy(bin, "\r\n.\r\n\x00\x00")
	atts := []channel.Attachment{
		{Name: `graph "p99".png`, ContentType: "image/png", Data: bin},
		{Name: "résumé.txt", ContentType: "text/plain; charset=utf-8", Data: []byte("ünïcode\nlines\n")},
		{Name: "", ContentType: "bogus\r\nX-Injected: yes", Data: []byte{1, 2, 3}},
	}
	s := smtptest.New(t, smtptest.Options{})
	_, err := emailFor(s).Send(context.Background(), channel.Message{
		Subject:     "graphs",
		Body:        "see attached",
		Attachments: atts,
	})
	if err != nil {
		t.Fatalf("send: %v", err)
	}
	p := only(t, s).Parsed
	if p.Subject != "graphs" || p.Text != "see attached" {
		t.Errorf("subject %q body %q", p.Subject, p.Text)
	}
	want := []smtptest.Attachment{
		{Name: `graph "p99".png`, ContentType: "image/png", Data: bin},
		{Name: "résumé.txt", ContentType: "text/plain", Data: atts[1].Data},
		{Name: "attachment-3", ContentType: "application/octet-stream", Data: atts[2].Data},
	}
	if len(p.Attachments) != len(want) {
		t.Fatalf("got %d attachments, want %d", len(p.Attachments), len(want))
	}
	for i, w := range want {
		g := p.Attachments[i]
		if g.Name != w.Name || g.ContentType != w.ContentType || !bytes.Equal(g.Data, w.Data) {
			t.Errorf("attachment %d = {%q %q %d bytes}, want {%q %q %d bytes}",
				i, g.Name, g.ContentType, len(g.Data), w.Name, w.ContentType, len(w.Data))
		}
	}
	if bytes.Contains(only(t, s).Data, []byte("\nX-Injected")) {
		t.Error("attachment content type injected a header")
	}
}

func TestEmailStartTLS(t *testing.T) {
	s := smtptest.New(t, smtptest.Options{TLS: true})
	e := emailFor(s)
	e.UseTLS = true
	e.RootCAs = s.CertPool()
	if _, err := e.Send(context.Background(), channel.Message{Subject: "s", Body: "b"}); err != nil {
		t.Fatalf("send: %v", err)
	}
	if !only(t, s).TLS {
		t.Fatal("message was not sent over TLS")
	}
}

func TestEmailStartTLSUntrustedCertificateIsPermanent(t *testing.T) {
	s := smtptest.New(t, smtptest.Options{TLS: true})
	e := emailFor(s)
	e.UseTLS = true // system roots: the self-signed cert must not verify
	_, err := e.Send(context.Background(), channel.Message{Subject: "s", Body: "b"})
	if err == nil || !channel.IsPermanent(err) {
		t.Fatalf("err = %v, want permanent certificate error", err)
	}
	if n := len(s.Messages()); n != 0 {
		t.Fatalf("%d messages delivered despite failed verification", n)
	}
}

func TestEmailUseTLSRefusesServerWithoutStartTLS(t *testing.T) {
	s := smtptest.New(t, smtptest.Options{})
	e := emailFor(s)
	e.UseTLS = true
	_, err := e.Send(context.Background(), channel.Message{Subject: "s", Body: "b"})
	if err == nil || !strings.Contains(err.Error(), "STARTTLS") {
		t.Fatalf("err = %v, want STARTTLS refusal", err)
	}
	if !channel.IsPermanent(err) {
		t.Errorf("missing STARTTLS should be permanent: %v", err)
	}
	if n := len(s.Messages()); n != 0 {
		t.Fatalf("%d messages sent in clear", n)
	}
}

func TestEmailImplicitTLS(t *testing.T) {
	s := smtptest.New(t, smtptest.Options{ImplicitTLS: true, Username: "pager", Password: "pw"})
	e := emailFor(s)
	e.ImplicitTLS = true
	e.RootCAs = s.CertPool()
	e.Username, e.Password = "pager", "pw"
	if _, err := e.Send(context.Background(), channel.Message{Subject: "s", Body: "b"}); err != nil {
		t.Fatalf("send: %v", err)
	}
	if m := only(t, s); !m.TLS || m.AuthUser != "pager" {
		t.Fatalf("TLS=%v AuthUser=%q", m.TLS, m.AuthUser)
	}
}

func TestEmailAuth(t *testing.T) {
	const password = "correct horse battery staple"
	for _, mech := range []string{sasl.Plain, sasl.Login} {
		t.Run(mech, func(t *testing.T) {
			s := smtptest.New(t, smtptest.Options{
				TLS: true, Username: "pager", Password: password, AuthMechanisms: []string{mech},
			})
			e := emailFor(s)
			e.UseTLS = true
			e.RootCAs = s.CertPool()
			e.Username = "pager"

			e.Password = "wrong " + password
			_, err := e.Send(context.Background(), channel.Message{Subject: "s", Body: "b"})
			var ce *channel.Error
			if !errors.As(err, &ce) || !ce.Permanent || ce.Code != 535 {
				t.Fatalf("wrong password: err = %#v, want permanent 535", err)
			}
			if strings.Contains(err.Error(), password) {
				t.Fatalf("error reveals the password: %v", err)
			}

			e.Password = password
			if _, err := e.Send(context.Background(), channel.Message{Subject: "s", Body: "b"}); err != nil {
				t.Fatalf("send: %v", err)
			}
			if m := only(t, s); m.AuthUser != "pager" || !m.TLS {
				t.Fatalf("AuthUser=%q TLS=%v", m.AuthUser, m.TLS)
			}
		})
	}
}

func TestEmailWithoutCredentialsAgainstAuthServerIsPermanent(t *testing.T) {
	s := smtptest.New(t, smtptest.Options{Username: "pager", Password: "pw"})
	_, err := emailFor(s).Send(context.Background(), channel.Message{Subject: "s", Body: "b"})
	if !channel.IsPermanent(err) {
		t.Fatalf("err = %v, want permanent", err)
	}
}

func TestEmailAuthNotOfferedIsAnError(t *testing.T) {
	// The server never advertises AUTH before STARTTLS; without UseTLS we
	// must fail rather than send unauthenticated (what jordan-wright/email
	// does).
	s := smtptest.New(t, smtptest.Options{TLS: true, Username: "pager", Password: "pw"})
	e := emailFor(s)
	e.Username, e.Password = "pager", "pw"
	_, err := e.Send(context.Background(), channel.Message{Subject: "s", Body: "b"})
	if err == nil || !strings.Contains(err.Error(), "AUTH") || !channel.IsPermanent(err) {
		t.Fatalf("err = %v, want permanent AUTH error", err)
	}
	if n := len(s.Messages()); n != 0 {
		t.Fatalf("%d messages sent", n)
	}
}

func TestEmailRefusedIsTemporaryThenSucceeds(t *testing.T) {
	for name, refuse := range map[string]func(*smtptest.Server){
		"MAIL": func(s *smtptest.Server) { s.RefuseNext(1) },
		"DATA": func(s *smtptest.Server) { s.RefuseNextData(1) },
	} {
		t.Run(name, func(t *testing.T) {
			s := smtptest.New(t, smtptest.Options{})
			refuse(s)
			e := emailFor(s)
			_, err := e.Send(context.Background(), channel.Message{Subject: "s", Body: "b"})
			var ce *channel.Error
			if !errors.As(err, &ce) || ce.Permanent || ce.Code != 451 {
				t.Fatalf("first send: err = %v, want temporary 451", err)
			}
			if _, err := e.Send(context.Background(), channel.Message{Subject: "s", Body: "b"}); err != nil {
				t.Fatalf("retry: %v", err)
			}
			only(t, s)
		})
	}
}

func TestEmailServerDownIsTemporary(t *testing.T) {
	s := smtptest.New(t, smtptest.Options{})
	s.Down()
	e := emailFor(s)
	_, err := e.Send(context.Background(), channel.Message{Subject: "s", Body: "b"})
	var ce *channel.Error
	if !errors.As(err, &ce) || ce.Permanent || ce.Code != 421 {
		t.Fatalf("err = %v, want temporary 421", err)
	}
	s.Up()
	if _, err := e.Send(context.Background(), channel.Message{Subject: "s", Body: "b"}); err != nil {
		t.Fatalf("after Up: %v", err)
	}
}

func TestEmailTimeoutOnSilentServer(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err == nil {
			accepted <- c // hold it open, never greet
		}
	}()
	defer func() {
		select {
		case c := <-accepted:
			c.Close()
		default:
		}
	}()
	addr := ln.Addr().(*net.TCPAddr)
	e := channel.Email{Server: "127.0.0.1", Port: addr.Port, From: "a@example.com", To: []string{"b@example.com"},
		Timeout: 200 * time.Millisecond}
	_, err = e.Send(context.Background(), channel.Message{Subject: "s", Body: "b"})
	if !errors.Is(err, context.DeadlineExceeded) || channel.IsPermanent(err) {
		t.Fatalf("err = %v, want temporary deadline exceeded", err)
	}
}

func TestEmailConfigErrorsArePermanent(t *testing.T) {
	for name, e := range map[string]channel.Email{
		"no server":    {From: "a@example.com", To: []string{"b@example.com"}},
		"bad from":     {Server: "127.0.0.1", From: "not an address", To: []string{"b@example.com"}},
		"no to":        {Server: "127.0.0.1", From: "a@example.com"},
		"bad to":       {Server: "127.0.0.1", From: "a@example.com", To: []string{"b@example.com\r\nBcc: x@y"}},
		"injected frm": {Server: "127.0.0.1", From: "a@example.com\r\nBcc: x@y", To: []string{"b@example.com"}},
	} {
		if _, err := e.Send(context.Background(), channel.Message{Subject: "s"}); !channel.IsPermanent(err) {
			t.Errorf("%s: err = %v, want permanent", name, err)
		}
	}
}

func TestEmailConfigNeverPrintsPassword(t *testing.T) {
	e := channel.Email{Server: "smtp.example.com", Username: "u", Password: "hunter2-secret", From: "a@example.com"}
	var logged bytes.Buffer
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("channel", "email", e)
	for _, out := range []string{fmt.Sprintf("%v %+v %s", e, e, &e), logged.String()} {
		if strings.Contains(out, "hunter2") {
			t.Fatalf("password printed: %s", out)
		}
		if !strings.Contains(out, "smtp.example.com") {
			t.Fatalf("config not printed at all: %s", out)
		}
	}
}
