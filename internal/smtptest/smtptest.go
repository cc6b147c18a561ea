package smtptest

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"log"
	"net"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// Options configures a Server.
type Options struct {
	// TLS offers STARTTLS with a self-signed certificate generated at start;
	// trust it through CertPool. When TLS is set, AUTH is only advertised
	// after STARTTLS, as real submission servers do.
	TLS bool
	// ImplicitTLS makes the listener speak TLS from the first byte (SMTPS,
	// the port-465 style) instead of offering STARTTLS.
	ImplicitTLS bool
	// Username and Password, when Username is set, make AUTH PLAIN/LOGIN
	// mandatory before MAIL FROM.
	Username, Password string
	// AuthMechanisms limits what AUTH advertises; default PLAIN and LOGIN.
	AuthMechanisms []string
}

// Message is one accepted message.
type Message struct {
	From string
	To   []string
	// Data is the message exactly as received after dot-unstuffing.
	Data []byte
	// TLS reports whether the message was transferred over TLS.
	TLS bool
	// AuthUser is the user that authenticated the session, if any.
	AuthUser string
	// Parsed is the decoded view of Data; nil when ParseErr is set.
	Parsed   *Parsed
	ParseErr error
}

// Server is a running test SMTP server. It is closed by t.Cleanup.
type Server struct {
	opts   Options
	ln     *listener
	srv    *smtp.Server
	pool   *x509.CertPool
	tlsCfg *tls.Config

	mu       sync.Mutex
	msgs     []Message
	changed  chan struct{} // closed and replaced whenever msgs grows
	refuseAt map[stage]int
}

type stage int

const (
	stageMail stage = iota
	stageData
)

// New starts a server on 127.0.0.1 with an ephemeral port.
func New(t testing.TB, opts Options) *Server {
	t.Helper()
	s := &Server{
		opts:     opts,
		changed:  make(chan struct{}),
		refuseAt: make(map[stage]int),
	}
	if opts.TLS || opts.ImplicitTLS {
		cert, pool, err := selfSigned()
		if err != nil {
			t.Fatalf("smtptest: certificate: %v", err)
		}
		s.pool = pool
		s.tlsCfg = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}

	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("smtptest: listen: %v", err)
	}
	s.ln = newListener(raw)

	srv := smtp.NewServer(smtp.BackendFunc(s.newSession))
	srv.Domain = "localhost"
	srv.ReadTimeout = 10 * time.Second
	srv.WriteTimeout = 10 * time.Second
	srv.MaxMessageBytes = 25 << 20
	srv.MaxRecipients = 100
	// go-smtp logs through the standard logger by default; tests should not
	// be noisy about clients hanging up, which is often the point of a test.
	srv.ErrorLog = log.New(io.Discard, "", 0)
	if opts.TLS {
		srv.TLSConfig = s.tlsCfg
	}
	// Over plain TCP, AUTH is only advertised when explicitly allowed; on
	// loopback that is fine and lets tests cover AUTH without TLS.
	srv.AllowInsecureAuth = !opts.TLS
	s.srv = srv

	var served net.Listener = s.ln
	if opts.ImplicitTLS {
		served = tls.NewListener(s.ln, s.tlsCfg)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(served)
	}()
	t.Cleanup(func() {
		_ = srv.Close()
		<-done
	})
	return s
}

// Addr is host:port.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Host is the IP the server listens on (the certificate covers it).
func (s *Server) Host() string { return s.ln.Addr().(*net.TCPAddr).IP.String() }

// Port is the TCP port the server listens on.
func (s *Server) Port() int { return s.ln.Addr().(*net.TCPAddr).Port }

// CertPool trusts the server's self-signed certificate; nil without TLS.
func (s *Server) CertPool() *x509.CertPool { return s.pool }

// Messages returns the messages accepted so far. The slice is a copy; treat
// the messages themselves as read-only.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.msgs...)
}

// WaitMessages blocks until at least n messages were accepted and returns
// all of them, or returns ctx's error together with what arrived so far.
func (s *Server) WaitMessages(ctx context.Context, n int) ([]Message, error) {
	for {
		s.mu.Lock()
		msgs := append([]Message(nil), s.msgs...)
		changed := s.changed
		s.mu.Unlock()
		if len(msgs) >= n {
			return msgs, nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return msgs, ctx.Err()
		}
	}
}

// RefuseNext answers the next n MAIL FROM commands with 451 (temporary
// failure), before any data is transferred.
func (s *Server) RefuseNext(n int) { s.refuse(stageMail, n) }

// RefuseNextData accepts the next n transactions up to the end of DATA and
// then answers 451, i.e. after the client has sent the whole message.
func (s *Server) RefuseNextData(n int) { s.refuse(stageData, n) }

func (s *Server) refuse(at stage, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.refuseAt[at] = n
}

// takeRefusal consumes one pending refusal for the stage, if any.
func (s *Server) takeRefusal(at stage) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.refuseAt[at] > 0 {
		s.refuseAt[at]--
		return true
	}
	return false
}

// Down drops every open connection and answers new ones with a 421 greeting
// ("service not available") and a hang-up, until Up.
func (s *Server) Down() { s.ln.setDown(true) }

// Up accepts connections normally again.
func (s *Server) Up() { s.ln.setDown(false) }

func (s *Server) record(m Message) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.msgs = append(s.msgs, m)
	close(s.changed)
	s.changed = make(chan struct{})
}

var (
	errTempRefused = &smtp.SMTPError{
		Code:         451,
		EnhancedCode: smtp.EnhancedCode{4, 3, 0},
		Message:      "Temporary failure injected by smtptest",
	}
	// go-smtp answers a non-SMTPError from a SASL server with 454 (a
	// temporary code), which would make a wrong password look retryable.
	errBadCredentials = smtp.ErrAuthFailed
	errNeedAuth       = &smtp.SMTPError{
		Code:         530,
		EnhancedCode: smtp.EnhancedCode{5, 7, 0},
		Message:      "Authentication required",
	}
)

func (s *Server) newSession(c *smtp.Conn) (smtp.Session, error) {
	_, isTLS := c.TLSConnectionState()
	return &session{srv: s, tls: isTLS}, nil
}

type session struct {
	srv      *Server
	tls      bool
	authUser string
	from     string
	to       []string
}

var _ smtp.AuthSession = (*session)(nil)

func (s *session) AuthMechanisms() []string {
	if s.srv.opts.Username == "" {
		return nil
	}
	if m := s.srv.opts.AuthMechanisms; len(m) > 0 {
		return m
	}
	return []string{sasl.Plain, sasl.Login}
}

func (s *session) Auth(mech string) (sasl.Server, error) {
	if !slices.Contains(s.AuthMechanisms(), mech) {
		return nil, smtp.ErrAuthUnknownMechanism
	}
	check := func(username, password string) error {
		if username != s.srv.opts.Username || password != s.srv.opts.Password {
			return errBadCredentials
		}
		s.authUser = username
		return nil
	}
	switch mech {
	case sasl.Plain:
		return sasl.NewPlainServer(func(identity, username, password string) error {
			if identity != "" && identity != username {
				return errBadCredentials
			}
			return check(username, password)
		}), nil
	case sasl.Login:
		return &loginServer{check: check}, nil
	}
	return nil, smtp.ErrAuthUnknownMechanism
}

func (s *session) Mail(from string, _ *smtp.MailOptions) error {
	if s.srv.opts.Username != "" && s.authUser == "" {
		return errNeedAuth
	}
	if s.srv.takeRefusal(stageMail) {
		return errTempRefused
	}
	s.from = from
	return nil
}

func (s *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.to = append(s.to, to)
	return nil
}

func (s *session) Data(r io.Reader) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	if s.srv.takeRefusal(stageData) {
		return errTempRefused
	}
	m := Message{
		From:     s.from,
		To:       append([]string(nil), s.to...),
		Data:     data,
		TLS:      s.tls,
		AuthUser: s.authUser,
	}
	m.Parsed, m.ParseErr = Parse(data)
	s.srv.record(m)
	return nil
}

func (s *session) Reset() {
	s.from = ""
	s.to = nil
}

func (s *session) Logout() error { return nil }

// loginServer is the server half of the (non-standard but ubiquitous) LOGIN
// mechanism; go-sasl only ships the client half.
type loginServer struct {
	step     int
	username string
	check    func(username, password string) error
}

func (l *loginServer) Next(response []byte) ([]byte, bool, error) {
	switch l.step {
	case 0:
		l.step = 1
		if response == nil {
			return []byte("Username:"), false, nil
		}
		fallthrough
	case 1:
		l.username = string(response)
		l.step = 2
		return []byte("Password:"), false, nil
	case 2:
		l.step = 3
		if err := l.check(l.username, string(response)); err != nil {
			return nil, true, err
		}
		return nil, true, nil
	}
	return nil, true, sasl.ErrUnexpectedClientResponse
}

// listener lets Down refuse service at the connection level, the way a
// server that is shutting down or overloaded does, and drop live sessions.
type listener struct {
	net.Listener

	mu    sync.Mutex
	down  bool
	conns map[*trackedConn]struct{}
}

func newListener(l net.Listener) *listener {
	return &listener{Listener: l, conns: make(map[*trackedConn]struct{})}
}

func (l *listener) setDown(down bool) {
	l.mu.Lock()
	l.down = down
	var drop []*trackedConn
	if down {
		for c := range l.conns {
			drop = append(drop, c)
		}
	}
	l.mu.Unlock()
	for _, c := range drop {
		_ = c.Close()
	}
}

func (l *listener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		l.mu.Lock()
		down := l.down
		var tc *trackedConn
		if !down {
			tc = &trackedConn{Conn: c, l: l}
			l.conns[tc] = struct{}{}
		}
		l.mu.Unlock()
		if !down {
			return tc, nil
		}
		_ = c.SetWriteDeadline(time.Now().Add(time.Second))
		_, _ = io.WriteString(c, "421 4.3.2 localhost Service not available\r\n")
		_ = c.Close()
	}
}

type trackedConn struct {
	net.Conn
	l    *listener
	once sync.Once
}

func (c *trackedConn) Close() error {
	c.once.Do(func() {
		c.l.mu.Lock()
		delete(c.l.conns, c)
		c.l.mu.Unlock()
	})
	err := c.Conn.Close()
	if errors.Is(err, net.ErrClosed) {
		return nil
	}
	return err
}
