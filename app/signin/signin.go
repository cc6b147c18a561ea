package signin

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"strings"
	"time"

	"github.com/oncall/pager/app/server"
	"github.com/oncall/pager/app/team"
	"github.com/oncall/pager/store"
)

// Lifetimes and limits. Documented in the README's Console section.
const (
	// CodeTTL is how long a sign-in code works.
	CodeTTL = 5 * time.Minute
	// SessionTTL is how long a session lasts from sign-in (absolute: a
	// console left open overnight asks for a new code in the morning).
	SessionTTL = 12 * time.Hour
	// MaxWrongCodes voids a code after that many wrong guesses.
	MaxWrongCodes = 5
	// CodesPerNumber codes may be sent to one member per LimitWindow.
	CodesPerNumber = 3
	// RequestsPerClient sign-in requests (codes asked and codes tried) are
	// accepted from one client address per LimitWindow.
	RequestsPerClient = 20
	// LimitWindow is the window of both limits.
	LimitWindow = 15 * time.Minute
)

// Errors.
var (
	// ErrLimited: too many requests from this client or for this number.
	ErrLimited = errors.New("signin: too many attempts, wait a few minutes")
	// ErrBadCode: wrong, expired, used or voided code, or unknown number.
	ErrBadCode = errors.New("signin: wrong or expired code")
	// ErrNoSession: no valid session for the cookie.
	ErrNoSession = errors.New("signin: not signed in")
)

// Config is the team config in use (team.Manager).
type Config interface {
	Current() *team.Config
}

// Sender delivers a code to a member: an SMS through the durable outbound
// path, and an email when the member has an email channel.
type Sender interface {
	SendCode(ctx context.Context, u team.User, code string) error
}

// Options wire a Service.
type Options struct {
	Store  store.Store
	Config Config
	Sender Sender
	Now    func() time.Time
	Logger *slog.Logger
}

// Session is a signed-in member's session, as stored.
type Session struct {
	ID      string    `json:"id"`
	UserID  string    `json:"user_id"`
	Created time.Time `json:"created"`
	Expires time.Time `json:"expires"`
	// CSRF is the token every form of this session carries.
	CSRF string `json:"csrf"`
}

// Service issues codes and sessions.
type Service struct {
	st     store.Store
	cfg    Config
	sender Sender
	now    func() time.Time
	log    *slog.Logger
	keys   *keyRing
	client *limiter
}

// New returns a sign-in service.
func New(o Options) *Service {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return &Service{st: o.Store, cfg: o.Config, sender: o.Sender, now: o.Now, log: o.Logger,
		keys: &keyRing{st: o.Store, now: o.Now}, client: newLimiter(RequestsPerClient, LimitWindow, 10000, o.Now)}
}

const (
	codesPrefix    = "console/codes/"
	sessionsPrefix = "console/sessions/"
)

// codeRecord is a member's outstanding code and recent sends.
type codeRecord struct {
	Salt    string      `json:"salt,omitempty"`
	Hash    string      `json:"hash,omitempty"`
	Expires time.Time   `json:"expires,omitzero"`
	Wrong   int         `json:"wrong,omitempty"`
	Sent    []time.Time `json:"sent,omitempty"`
}

func hashCode(salt, code string) string {
	sum := sha256.Sum256([]byte(salt + ":" + code))
	return hex.EncodeToString(sum[:])
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func newCode() (string, error) {
	n, err := rand.Int(rand.Reader, big.NewInt(1_000_000))
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%06d", n.Int64()), nil
}

// member finds the enabled member with phone.
func (s *Service) member(phone string) (team.User, bool) {
	u, ok := s.cfg.Current().UserByPhone(team.NormalizePhone(strings.TrimSpace(phone)))
	return u, ok && u.IsEnabled()
}

// Request sends a code to the member with phone. An unknown number gets the
// same answer as a known one (nil), so the form does not tell strangers who
// is on the team.
func (s *Service) Request(ctx context.Context, phone, client string) error {
	if !s.client.allow(server.ClientSource(client)) {
		return ErrLimited
	}
	u, ok := s.member(phone)
	if !ok {
		s.log.Warn("signin: code asked for a number that is not an enabled member", "client", client)
		return nil
	}
	code, err := newCode()
	if err != nil {
		return err
	}
	key := codesPrefix + u.ID + ".json"
	now := s.now()
	var rec codeRecord
	obj, err := s.st.Get(ctx, key)
	cond := store.Cond{IfNoneMatch: true}
	switch {
	case errors.Is(err, store.ErrNotFound):
	case err != nil:
		return fmt.Errorf("signin: read code: %w", err)
	default:
		_ = json.Unmarshal(obj.Data, &rec)
		cond = store.Cond{IfMatch: obj.ETag}
	}
	sent := rec.Sent[:0]
	for _, t := range rec.Sent {
		if now.Sub(t) < LimitWindow {
			sent = append(sent, t)
		}
	}
	if len(sent) >= CodesPerNumber {
		// The same answer as for a stranger's number: a refusal here would
		// tell who is on the team.
		s.log.Warn("signin: code limit reached for member, none sent", "user", u.ID, "client", client)
		return nil
	}
	salt := randomHex(16)
	rec = codeRecord{Salt: salt, Hash: hashCode(salt, code), Expires: now.Add(CodeTTL), Sent: append(sent, now)}
	data, _ := json.Marshal(rec)
	if _, err := s.st.Put(ctx, key, data, cond); err != nil {
		if errors.Is(err, store.ErrPrecondition) {
			// Two requests at once: the other one sent a code.
			return nil
		}
		return fmt.Errorf("signin: save code: %w", err)
	}
	if err := s.sender.SendCode(ctx, u, code); err != nil {
		return fmt.Errorf("signin: send code: %w", err)
	}
	s.log.Info("signin: code sent", "user", u.ID, "client", client)
	return nil
}

// Verify checks code for the member with phone and, when right, uses it up
// and starts a session. It returns the session and the cookie value.
//
// Every guess is counted in the store before it is compared, so guesses
// sent at once cannot share one count: at most MaxWrongCodes comparisons
// are ever made against a code.
func (s *Service) Verify(ctx context.Context, phone, code, client string) (Session, string, error) {
	if !s.client.allow(server.ClientSource(client)) {
		return Session{}, "", ErrLimited
	}
	u, ok := s.member(phone)
	code = strings.TrimSpace(code)
	if !ok || len(code) != 6 {
		return Session{}, "", ErrBadCode
	}
	key := codesPrefix + u.ID + ".json"
	rec, etag, err := s.countGuess(ctx, key)
	if err != nil {
		return Session{}, "", err
	}
	if subtle.ConstantTimeCompare([]byte(hashCode(rec.Salt, code)), []byte(rec.Hash)) != 1 {
		s.log.Warn("signin: wrong code", "user", u.ID, "wrong", rec.Wrong, "client", client)
		return Session{}, "", ErrBadCode
	}
	// Use it up (keeping the send times for the limit). A guess counted
	// since changed the ETag: the code is used up over it, as long as it
	// is still this code.
	for range maxStoreRaces {
		data, _ := json.Marshal(codeRecord{Sent: rec.Sent})
		_, err = s.st.Put(ctx, key, data, store.Cond{IfMatch: etag})
		if !errors.Is(err, store.ErrPrecondition) {
			break
		}
		var now codeRecord
		if now, etag, err = s.readCode(ctx, key); err != nil {
			return Session{}, "", err
		}
		if now.Hash != rec.Hash {
			return Session{}, "", ErrBadCode // used meanwhile, or a new code sent
		}
		rec = now
	}
	switch {
	case errors.Is(err, store.ErrPrecondition):
		return Session{}, "", errCodeBusy
	case err != nil:
		return Session{}, "", fmt.Errorf("signin: use code: %w", err)
	}
	now := s.now()
	sess := Session{ID: randomHex(24), UserID: u.ID, Created: now, Expires: now.Add(SessionTTL), CSRF: randomHex(24)}
	data, _ := json.Marshal(sess)
	if _, err := s.st.Put(ctx, sessionsPrefix+sess.ID+".json", data, store.Cond{IfNoneMatch: true}); err != nil {
		return Session{}, "", fmt.Errorf("signin: save session: %w", err)
	}
	cookie, err := s.keys.sign(ctx, sess.ID)
	if err != nil {
		return Session{}, "", err
	}
	s.log.Info("signin: signed in", "user", u.ID, "client", client)
	return sess, cookie, nil
}

// maxStoreRaces bounds the re-reads of a code record that keeps changing
// under a request.
const maxStoreRaces = 8

var errCodeBusy = errors.New("signin: code record changing too fast, try again")

// readCode reads a member's code record; ErrBadCode when there is none.
func (s *Service) readCode(ctx context.Context, key string) (codeRecord, string, error) {
	obj, err := s.st.Get(ctx, key)
	if errors.Is(err, store.ErrNotFound) {
		return codeRecord{}, "", ErrBadCode
	}
	if err != nil {
		return codeRecord{}, "", fmt.Errorf("signin: read code: %w", err)
	}
	var rec codeRecord
	if json.Unmarshal(obj.Data, &rec) != nil {
		return codeRecord{}, "", ErrBadCode
	}
	return rec, obj.ETag, nil
}

// countGuess adds one guess to a live code's count with a conditional
// write, re-reading when another guess got there first. It returns the
// record as counted and its ETag; ErrBadCode when there is no live code
// or its guesses are used up.
func (s *Service) countGuess(ctx context.Context, key string) (codeRecord, string, error) {
	for range maxStoreRaces {
		rec, etag, err := s.readCode(ctx, key)
		if err != nil {
			return codeRecord{}, "", err
		}
		if rec.Hash == "" || !s.now().Before(rec.Expires) || rec.Wrong >= MaxWrongCodes {
			return codeRecord{}, "", ErrBadCode
		}
		rec.Wrong++
		data, _ := json.Marshal(rec)
		etag, err = s.st.Put(ctx, key, data, store.Cond{IfMatch: etag})
		switch {
		case err == nil:
			return rec, etag, nil
		case !errors.Is(err, store.ErrPrecondition):
			return codeRecord{}, "", fmt.Errorf("signin: count guess: %w", err)
		}
	}
	return codeRecord{}, "", errCodeBusy
}

// Check returns the session a cookie value names. A forged or stale cookie
// costs no store read beyond the (cached) keys.
func (s *Service) Check(ctx context.Context, cookie string) (Session, error) {
	id, ok := s.keys.verify(ctx, cookie)
	if !ok {
		return Session{}, ErrNoSession
	}
	obj, err := s.st.Get(ctx, sessionsPrefix+id+".json")
	if errors.Is(err, store.ErrNotFound) {
		return Session{}, ErrNoSession
	}
	if err != nil {
		return Session{}, fmt.Errorf("signin: read session: %w", err)
	}
	var sess Session
	if json.Unmarshal(obj.Data, &sess) != nil || sess.ID != id {
		return Session{}, ErrNoSession
	}
	if !s.now().Before(sess.Expires) {
		_ = s.st.Delete(ctx, sessionsPrefix+id+".json")
		return Session{}, ErrNoSession
	}
	return sess, nil
}

// SignOut ends the session on every replica: its record is deleted.
func (s *Service) SignOut(ctx context.Context, sess Session) error {
	if err := s.st.Delete(ctx, sessionsPrefix+sess.ID+".json"); err != nil {
		return fmt.Errorf("signin: sign out: %w", err)
	}
	return nil
}

// ValidCSRF reports whether token is the session's form token.
func (sess Session) ValidCSRF(token string) bool {
	return sess.CSRF != "" && hmac.Equal([]byte(sess.CSRF), []byte(token))
}

// RotateKey starts signing cookies with a new key. The previous key is
// still accepted (sessions stay signed in); the one before it is dropped,
// which signs out every session older than two rotations.
func (s *Service) RotateKey(ctx context.Context) error {
	return s.keys.rotate(ctx)
}
