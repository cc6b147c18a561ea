package channel

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"mime"
	"net"
	"net/mail"
	"net/smtp"
	"net/textproto"
	"strconv"
	"strings"
	"time"

	"github.com/jordan-wright/email"
)

const defaultSMTPTimeout = 30 * time.Second

// Email sends through an SMTP submission server.
//
// The MIME message is built with github.com/jordan-wright/email, but the SMTP
// conversation is ours: that library's SendWithStartTLS silently falls back
// to cleartext when the server does not offer STARTTLS, skips AUTH when the
// server does not advertise it, and has no timeouts.
type Email struct {
	Server string
	// Port defaults to 587. Port 465 means implicit TLS (SMTPS).
	Port int
	// UseTLS requires STARTTLS; Send fails rather than continue in clear
	// when the server does not offer it.
	UseTLS bool
	// ImplicitTLS speaks TLS from the first byte; implied by Port 465.
	ImplicitTLS bool
	// Username enables AUTH (PLAIN, else LOGIN). The password is only ever
	// sent over TLS, or to a loopback server.
	Username, Password string
	From               string
	To                 []string
	// RootCAs verifies the server certificate; nil means the system pool.
	RootCAs *x509.CertPool
	// Timeout bounds the whole delivery; defaults to 30 s. A shorter
	// context deadline wins.
	Timeout time.Duration
	// HelloName is sent with EHLO; defaults to "localhost".
	HelloName string
}

var _ Sender = Email{}

// String keeps the password out of anything that prints the config.
func (e Email) String() string {
	return fmt.Sprintf("Email{Server:%s Port:%d UseTLS:%t User:%q From:%q To:%q}",
		e.Server, e.port(), e.UseTLS, e.Username, e.From, e.To)
}

// LogValue keeps the password out of slog output.
func (e Email) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("server", e.Server),
		slog.Int("port", e.port()),
		slog.Bool("use_tls", e.UseTLS),
		slog.String("user", e.Username),
		slog.String("from", e.From),
		slog.Any("to", e.To),
	)
}

func (e Email) port() int {
	if e.Port == 0 {
		return 587
	}
	return e.Port
}

// Send delivers m to all of To in one SMTP transaction. Receipt.ID is the
// Message-Id header.
func (e Email) Send(ctx context.Context, m Message) (Receipt, error) {
	from, to, err := e.envelope()
	if err != nil {
		return Receipt{}, err
	}
	msgID, err := messageID(from, m.NotificationID)
	if err != nil {
		return Receipt{}, temporary(0, "email: %w", err)
	}
	raw, err := e.render(m, msgID)
	if err != nil {
		return Receipt{}, permanent(0, "email: build message: %w", err)
	}

	timeout := e.Timeout
	if timeout <= 0 {
		timeout = defaultSMTPTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	if err := e.deliver(ctx, from, to, raw); err != nil {
		return Receipt{}, err
	}
	return Receipt{ID: msgID, Detail: fmt.Sprintf("accepted by %s for %d recipient(s)", e.Server, len(to))}, nil
}

// envelope validates the addresses up front: a bad one is a configuration
// error, and jordan-wright/email would otherwise copy an unparsable From
// header through verbatim.
func (e Email) envelope() (string, []string, error) {
	if e.Server == "" {
		return "", nil, permanent(0, "email: server is required")
	}
	from, err := mail.ParseAddress(e.From)
	if err != nil {
		return "", nil, permanent(0, "email: from address %q: %w", e.From, err)
	}
	if len(e.To) == 0 {
		return "", nil, permanent(0, "email: no recipients")
	}
	to := make([]string, 0, len(e.To))
	for _, a := range e.To {
		addr, err := mail.ParseAddress(a)
		if err != nil {
			return "", nil, permanent(0, "email: recipient %q: %w", a, err)
		}
		to = append(to, addr.Address)
	}
	return from.Address, to, nil
}

func (e Email) render(m Message, msgID string) ([]byte, error) {
	em := email.NewEmail()
	em.From = e.From
	em.To = e.To
	// A subject is one line; jordan-wright encodes control characters, but
	// a folded-looking subject reads badly in every client.
	em.Subject = strings.Join(strings.Fields(m.Subject), " ")
	em.Text = []byte(m.Body)
	em.Headers.Set("Message-Id", msgID)
	// RFC 3834: keeps vacation responders from answering the pager.
	em.Headers.Set("Auto-Submitted", "auto-generated")
	if m.NotificationID != "" {
		em.Headers.Set("X-Pager-Notification-Id", m.NotificationID)
	}
	for i, a := range m.Attachments {
		name := strings.Join(strings.Fields(a.Name), " ")
		if name == "" {
			name = "attachment-" + strconv.Itoa(i+1)
		}
		at, err := em.Attach(bytes.NewReader(a.Data), name, attachmentType(a.ContentType))
		if err != nil {
			return nil, fmt.Errorf("attachment %q: %w", name, err)
		}
		// The library writes filename="<name>" unescaped; a quote or a
		// non-ASCII character would break the header. FormatMediaType
		// quotes, and uses RFC 2231 for non-ASCII names.
		disp := mime.FormatMediaType("attachment", map[string]string{"filename": name})
		if disp == "" {
			disp = "attachment"
		}
		at.Header.Set("Content-Disposition", disp)
		// The library's default Content-ID is "<filename>", which is not a
		// valid msg-id for most names.
		at.Header.Set("Content-ID", fmt.Sprintf("<att%d.%s", i+1, strings.TrimPrefix(msgID, "<")))
	}
	return em.Bytes()
}

// attachmentType passes through a well-formed media type and falls back to
// octet-stream, so a bad value cannot inject headers into the MIME part.
func attachmentType(ct string) string {
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil {
		return "application/octet-stream"
	}
	if s := mime.FormatMediaType(mt, params); s != "" {
		return s
	}
	return "application/octet-stream"
}

func messageID(from, notificationID string) (string, error) {
	var b [12]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("message id: %w", err)
	}
	domain := "localhost"
	if i := strings.LastIndexByte(from, '@'); i >= 0 && i < len(from)-1 {
		domain = from[i+1:]
	}
	local := hex.EncodeToString(b[:])
	if safe := msgIDSafe(notificationID); safe != "" {
		local = safe + "." + local
	}
	return "<" + local + "@" + domain + ">", nil
}

// msgIDSafe keeps the characters that are valid unquoted in a msg-id.
func msgIDSafe(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 128 && (r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_.", r)) {
			return r
		}
		return -1
	}, s)
}

func (e Email) tlsConfig() *tls.Config {
	return &tls.Config{ServerName: e.Server, RootCAs: e.RootCAs, MinVersion: tls.VersionTLS12}
}

func (e Email) deliver(ctx context.Context, from string, to []string, msg []byte) error {
	addr := net.JoinHostPort(e.Server, strconv.Itoa(e.port()))
	implicit := e.ImplicitTLS || e.port() == 465

	var d net.Dialer
	raw, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return smtpFailure(ctx, "connect to "+addr, err)
	}
	defer raw.Close()
	// net/smtp has no context support: unblock any read or write as soon as
	// ctx is done. (Not a socket deadline copied from ctx: that could fire
	// first and hide that the context expired.)
	stop := context.AfterFunc(ctx, func() { _ = raw.SetDeadline(time.Unix(1, 0)) })
	defer stop()

	conn := raw
	if implicit {
		tc := tls.Client(raw, e.tlsConfig())
		if err := tc.HandshakeContext(ctx); err != nil {
			return smtpFailure(ctx, "TLS handshake", err)
		}
		conn = tc
	}

	c, err := smtp.NewClient(conn, e.Server)
	if err != nil {
		return smtpFailure(ctx, "greeting", err)
	}
	defer c.Close()
	hello := e.HelloName
	if hello == "" {
		hello = "localhost"
	}
	if err := c.Hello(hello); err != nil {
		return smtpFailure(ctx, "EHLO", err)
	}

	if e.UseTLS && !implicit {
		if ok, _ := c.Extension("STARTTLS"); !ok {
			return permanent(0, "email: %s does not offer STARTTLS; refusing to send in clear", addr)
		}
		if err := c.StartTLS(e.tlsConfig()); err != nil {
			return smtpFailure(ctx, "STARTTLS", err)
		}
	}

	if e.Username != "" {
		auth, err := e.auth(c)
		if err != nil {
			return err
		}
		if err := c.Auth(auth); err != nil {
			return smtpFailure(ctx, "AUTH", err)
		}
	}

	if err := c.Mail(from); err != nil {
		return smtpFailure(ctx, "MAIL FROM", err)
	}
	for _, rcpt := range to {
		if err := c.Rcpt(rcpt); err != nil {
			return smtpFailure(ctx, "RCPT TO "+rcpt, err)
		}
	}
	w, err := c.Data()
	if err != nil {
		return smtpFailure(ctx, "DATA", err)
	}
	if _, err := w.Write(msg); err != nil {
		return smtpFailure(ctx, "DATA", err)
	}
	// Close reads the server's verdict on the message itself.
	if err := w.Close(); err != nil {
		return smtpFailure(ctx, "end of DATA", err)
	}
	// The message is accepted; a failed QUIT changes nothing for it.
	_ = c.Quit()
	return nil
}

// auth picks a mechanism the server offers. An advertised-AUTH check is
// needed because net/smtp (like jordan-wright/email) would otherwise let the
// message go out unauthenticated.
func (e Email) auth(c *smtp.Client) (smtp.Auth, error) {
	if _, isTLS := c.TLSConnectionState(); !isTLS && !isLoopback(e.Server) {
		return nil, permanent(0, "email: AUTH with %s: %w", e.Server, errCleartextAuth)
	}
	ok, params := c.Extension("AUTH")
	if !ok {
		return nil, permanent(0, "email: %s does not offer AUTH (is TLS required first?)", e.Server)
	}
	mechs := strings.Fields(strings.ToUpper(params))
	for _, m := range mechs {
		if m == "PLAIN" {
			return smtp.PlainAuth("", e.Username, e.Password, e.Server), nil
		}
	}
	for _, m := range mechs {
		if m == "LOGIN" {
			return &loginAuth{username: e.Username, password: e.Password, host: e.Server}, nil
		}
	}
	return nil, permanent(0, "email: %s offers no supported AUTH mechanism (has %s)", e.Server, params)
}

// smtpFailure classifies err: SMTP 5xx replies are permanent and 4xx
// temporary; certificate problems are permanent; everything else (network,
// timeouts) is temporary.
func smtpFailure(ctx context.Context, stage string, err error) *Error {
	var reply *textproto.Error
	if errors.As(err, &reply) {
		return &Error{Permanent: reply.Code >= 500, Code: reply.Code, Err: fmt.Errorf("email: %s: %w", stage, err)}
	}
	if ctxErr := ctx.Err(); ctxErr != nil {
		return temporary(0, "email: %s: %w: %w", stage, ctxErr, err)
	}
	e := temporary(0, "email: %s: %w", stage, err)
	e.Permanent = permanentTransport(err)
	return e
}

var errCleartextAuth = errors.New("refusing to send the password over an unencrypted connection")

// loginAuth implements the LOGIN mechanism, which net/smtp lacks but many
// submission servers (Exchange among them) still require.
type loginAuth struct {
	username, password, host string
	step                     int
}

func (a *loginAuth) Start(server *smtp.ServerInfo) (string, []byte, error) {
	// Mirrors smtp.PlainAuth: never hand a password to a cleartext peer.
	if !server.TLS && !isLoopback(server.Name) {
		return "", nil, errCleartextAuth
	}
	if server.Name != a.host {
		return "", nil, errors.New("wrong host name")
	}
	a.step = 0
	return "LOGIN", nil, nil
}

func (a *loginAuth) Next(_ []byte, more bool) ([]byte, error) {
	if !more {
		return nil, nil
	}
	// Prompts ("Username:", "Password:") vary between servers; the order
	// does not.
	a.step++
	switch a.step {
	case 1:
		return []byte(a.username), nil
	case 2:
		return []byte(a.password), nil
	}
	return nil, errors.New("unexpected LOGIN challenge")
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
