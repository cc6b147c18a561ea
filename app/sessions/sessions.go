package sessions

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/oncall/pager/store"
)

// Kind is the kind of pending confirmation.
type Kind string

// KindTake is a pending TAKE of the pager.
const KindTake Kind = "take"

// Session is an open confirmation window.
type Session struct {
	Kind   Kind   `json:"kind"`
	Phone  string `json:"phone"`
	UserID string `json:"user_id"`
	// PrevOnCallID is who was on call when the question was asked; a
	// confirmation only wins if that is still true, so two members racing
	// to confirm cannot both believe they hold the pager.
	PrevOnCallID string `json:"prev_oncall_id"`
	// Until, for a TAKE under a schedule, is when the override it creates
	// ends.
	Until   time.Time `json:"until,omitzero"`
	Created time.Time `json:"created"`
	Expires time.Time `json:"expires"`
}

// ErrNone means there is no open (unexpired) window for that number.
var ErrNone = errors.New("sessions: no open session")

// Prefix is where sessions live in the store.
const Prefix = "sessions/"

// Store reads and writes sessions.
type Store struct {
	st  store.Store
	now func() time.Time
}

// New returns a session store over st.
func New(st store.Store, now func() time.Time) *Store {
	if now == nil {
		now = time.Now
	}
	return &Store{st: st, now: now}
}

func key(phone string) string {
	return Prefix + strings.TrimPrefix(phone, "+") + ".json"
}

// Open starts (or restarts) the window for s.Phone.
func (s *Store) Open(ctx context.Context, sess Session) error {
	data, err := json.Marshal(sess)
	if err != nil {
		return fmt.Errorf("sessions: encode: %w", err)
	}
	if _, err := s.st.Put(ctx, key(sess.Phone), data, store.Cond{}); err != nil {
		return fmt.Errorf("sessions: open: %w", err)
	}
	return nil
}

// Take reads and closes the open window for phone in one conditional step,
// so a duplicate C (a retry, a second replica) cannot confirm twice.
// ErrNone when there is no window or it has expired.
func (s *Store) Take(ctx context.Context, phone string) (Session, error) {
	obj, err := s.st.Get(ctx, key(phone))
	if errors.Is(err, store.ErrNotFound) {
		return Session{}, ErrNone
	}
	if err != nil {
		return Session{}, fmt.Errorf("sessions: read: %w", err)
	}
	var sess Session
	if err := json.Unmarshal(obj.Data, &sess); err != nil {
		_ = s.st.Delete(ctx, key(phone))
		return Session{}, ErrNone
	}
	if !s.now().Before(sess.Expires) {
		_ = s.st.Delete(ctx, key(phone))
		return Session{}, ErrNone
	}
	// Claim by overwriting with a tombstone conditioned on the ETag we read:
	// only one of two racing confirmations gets past this point.
	if _, err := s.st.Put(ctx, key(phone), []byte(`{"closed":true}`), store.Cond{IfMatch: obj.ETag}); err != nil {
		if errors.Is(err, store.ErrPrecondition) {
			return Session{}, ErrNone
		}
		return Session{}, fmt.Errorf("sessions: close: %w", err)
	}
	return sess, nil
}

// Restore reopens a window that Take closed when the confirmation could not
// be completed for a reason worth retrying (the store failed mid-way), so the
// member can send C again instead of starting over.
func (s *Store) Restore(ctx context.Context, sess Session) error {
	return s.Open(ctx, sess)
}

// Close ends the window for phone (after success or cancel).
func (s *Store) Close(ctx context.Context, phone string) error {
	if err := s.st.Delete(ctx, key(phone)); err != nil {
		return fmt.Errorf("sessions: close: %w", err)
	}
	return nil
}

// Peek reads the open window for phone without closing it; ErrNone when
// there is none or it has expired.
func (s *Store) Peek(ctx context.Context, phone string) (Session, error) {
	obj, err := s.st.Get(ctx, key(phone))
	if errors.Is(err, store.ErrNotFound) {
		return Session{}, ErrNone
	}
	if err != nil {
		return Session{}, fmt.Errorf("sessions: read: %w", err)
	}
	var sess Session
	if err := json.Unmarshal(obj.Data, &sess); err != nil || sess.Kind == "" || !s.now().Before(sess.Expires) {
		return Session{}, ErrNone
	}
	return sess, nil
}
