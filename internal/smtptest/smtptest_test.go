package smtptest_test

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/oncall/pager/internal/smtptest"
)

const simple = "From: a@example.com\r\nTo: b@example.com\r\nSubject: =?UTF-8?Q?caf=C3=A9_down?=\r\n\r\nline one\r\nline two\r\n"

func dial(t *testing.T, s *smtptest.Server) *smtp.Client {
	t.Helper()
	c, err := smtp.Dial(s.Addr())
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func dialStartTLS(t *testing.T, s *smtptest.Server) *smtp.Client {
	t.Helper()
	c, err := smtp.DialStartTLS(s.Addr(), &tls.Config{ServerName: s.Host(), RootCAs: s.CertPool()})
	if err != nil {
		t.Fatalf("dial with STARTTLS: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func send(c *smtp.Client, body string) error {
	return c.SendMail("a@example.com", []string{"b@example.com", "c@example.com"}, strings.NewReader(body))
}

func code(err error) int {
	var se *smtp.SMTPError
	if errors.As(err, &se) {
		return se.Code
	}
	return 0
}

func TestPlainDeliveryIsRecordedAndParsed(t *testing.T) {
	s := smtptest.New(t, smtptest.Options{})
	if err := send(dial(t, s), simple); err != nil {
		t.Fatalf("send: %v", err)
	}
	msgs := s.Messages()
	if len(msgs) != 1 {
		t.Fatalf("got %d messages, want 1", len(msgs))
	}
	m := msgs[0]
	if m.From != "a@example.com" || strings.Join(m.To, ",") != "b@example.com,c@example.com" {
		t.Errorf("envelope = %q -> %q", m.From, m.To)
	}
	if m.TLS || m.AuthUser != "" {
		t.Errorf("TLS=%v AuthUser=%q on a plain session", m.TLS, m.AuthUser)
	}
	if m.ParseErr != nil {
		t.Fatalf("parse: %v", m.ParseErr)
	}
	if m.Parsed.Subject != "café down" {
		t.Errorf("subject = %q", m.Parsed.Subject)
	}
	if m.Parsed.Text != "line one\nline two\n" {
		t.Errorf("text = %q", m.Parsed.Text)
	}
	if string(m.Data) != simple {
		t.Errorf("raw data altered:\n%q", m.Data)
	}
}

func TestStartTLSIsOfferedAndVerifiableOnlyWithCertPool(t *testing.T) {
	s := smtptest.New(t, smtptest.Options{TLS: true})

	if ok, _ := dial(t, s).Extension("STARTTLS"); !ok {
		t.Fatal("STARTTLS not advertised")
	}
	// go-smtp's client handshakes lazily, on the next command.
	c, err := smtp.DialStartTLS(s.Addr(), &tls.Config{ServerName: s.Host()})
	if err == nil {
		err = c.Noop()
		c.Close()
	}
	if err == nil {
		t.Fatal("handshake verified without the test CA")
	}

	if err := send(dialStartTLS(t, s), simple); err != nil {
		t.Fatalf("send: %v", err)
	}
	if m := s.Messages(); len(m) != 1 || !m[0].TLS {
		t.Fatalf("messages = %+v, want one over TLS", m)
	}
}

func TestImplicitTLS(t *testing.T) {
	s := smtptest.New(t, smtptest.Options{ImplicitTLS: true})
	c, err := smtp.DialTLS(s.Addr(), &tls.Config{ServerName: "localhost", RootCAs: s.CertPool()})
	if err != nil {
		t.Fatalf("dial TLS: %v", err)
	}
	defer c.Close()
	if err := send(c, simple); err != nil {
		t.Fatalf("send: %v", err)
	}
	if m := s.Messages(); len(m) != 1 || !m[0].TLS {
		t.Fatalf("messages = %+v, want one over TLS", m)
	}
}

func TestAuthRequired(t *testing.T) {
	s := smtptest.New(t, smtptest.Options{Username: "pager", Password: "s3cret"})

	if err := send(dial(t, s), simple); code(err) != 530 {
		t.Errorf("unauthenticated send: err = %v, want 530", err)
	}
	for _, client := range []sasl.Client{
		sasl.NewPlainClient("", "pager", "wrong"),
		sasl.NewLoginClient("pager", "wrong"),
	} {
		// 535 rather than go-smtp's default 454 matters: 4xx says "retry".
		if err := dial(t, s).Auth(client); code(err) != 535 {
			t.Errorf("wrong password: err = %v, want 535", err)
		}
	}
	for _, client := range []sasl.Client{
		sasl.NewPlainClient("", "pager", "s3cret"),
		sasl.NewLoginClient("pager", "s3cret"),
	} {
		c := dial(t, s)
		if err := c.Auth(client); err != nil {
			t.Fatalf("auth: %v", err)
		}
		if err := send(c, simple); err != nil {
			t.Fatalf("send after auth: %v", err)
		}
	}
	msgs := s.Messages()
	if len(msgs) != 2 || msgs[0].AuthUser != "pager" || msgs[1].AuthUser != "pager" {
		t.Fatalf("messages = %+v, want two from pager", msgs)
	}
}

func TestAuthOnlyAfterStartTLSWhenTLSEnabled(t *testing.T) {
	s := smtptest.New(t, smtptest.Options{TLS: true, Username: "pager", Password: "pw"})
	if ok, _ := dial(t, s).Extension("AUTH"); ok {
		t.Fatal("AUTH advertised before STARTTLS")
	}
	c := dialStartTLS(t, s)
	if ok, mechs := c.Extension("AUTH"); !ok || !strings.Contains(mechs, "PLAIN") || !strings.Contains(mechs, "LOGIN") {
		t.Fatalf("AUTH after STARTTLS = %v %q", ok, mechs)
	}
}

func TestRefuseNext(t *testing.T) {
	s := smtptest.New(t, smtptest.Options{})
	s.RefuseNext(1)
	c := dial(t, s)
	if err := send(c, simple); code(err) != 451 {
		t.Fatalf("first send: err = %v, want 451", err)
	}
	if err := send(c, simple); err != nil {
		t.Fatalf("second send: %v", err)
	}
	if n := len(s.Messages()); n != 1 {
		t.Fatalf("%d messages recorded, want 1", n)
	}
}

func TestRefuseNextDataRejectsAfterTransfer(t *testing.T) {
	s := smtptest.New(t, smtptest.Options{})
	s.RefuseNextData(1)
	c := dial(t, s)
	if err := send(c, simple); code(err) != 451 {
		t.Fatalf("first send: err = %v, want 451", err)
	}
	if n := len(s.Messages()); n != 0 {
		t.Fatalf("refused message was recorded")
	}
	if err := send(c, simple); err != nil {
		t.Fatalf("second send: %v", err)
	}
}

func TestDownAnswers421AndDropsSessionsUntilUp(t *testing.T) {
	s := smtptest.New(t, smtptest.Options{})
	live := dial(t, s)
	if err := live.Noop(); err != nil {
		t.Fatal(err)
	}

	s.Down()
	// The client reads the greeting lazily, on its first command.
	if err := dial(t, s).Noop(); code(err) != 421 {
		t.Fatalf("greeting while down: err = %v, want 421", err)
	}
	if err := live.Noop(); err == nil {
		t.Fatal("existing session survived Down")
	}

	s.Up()
	if err := send(dial(t, s), simple); err != nil {
		t.Fatalf("send after Up: %v", err)
	}
}

func TestWaitMessages(t *testing.T) {
	s := smtptest.New(t, smtptest.Options{})

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := s.WaitMessages(ctx, 1); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("empty server: err = %v, want deadline", err)
	}

	errc := make(chan error, 1)
	go func() {
		c, err := smtp.Dial(s.Addr())
		if err != nil {
			errc <- err
			return
		}
		defer c.Close()
		for range 2 {
			if err := send(c, simple); err != nil {
				errc <- err
				return
			}
		}
		errc <- nil
	}()
	ctx, cancel = context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	msgs, err := s.WaitMessages(ctx, 2)
	if err != nil || len(msgs) != 2 {
		t.Fatalf("WaitMessages = %d, %v", len(msgs), err)
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
}

func TestTLSCertCoversLoopbackNames(t *testing.T) {
	s := smtptest.New(t, smtptest.Options{ImplicitTLS: true})
	for _, name := range []string{"localhost", "127.0.0.1"} {
		conn, err := tls.Dial("tcp", s.Addr(), &tls.Config{ServerName: name, RootCAs: s.CertPool()})
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		conn.Close()
	}
	if _, _, err := net.SplitHostPort(s.Addr()); err != nil || s.Port() == 0 {
		t.Errorf("Addr %q Port %d", s.Addr(), s.Port())
	}
}

func TestAuthMechanismsCanBeLimited(t *testing.T) {
	s := smtptest.New(t, smtptest.Options{Username: "u", Password: "p", AuthMechanisms: []string{sasl.Login}})
	if ok, mechs := dial(t, s).Extension("AUTH"); !ok || mechs != "LOGIN" {
		t.Fatalf("AUTH = %v %q, want LOGIN only", ok, mechs)
	}
	if err := dial(t, s).Auth(sasl.NewPlainClient("", "u", "p")); code(err) != 504 {
		t.Fatalf("PLAIN when only LOGIN offered: err = %v, want 504", err)
	}
}
