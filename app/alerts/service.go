package alerts

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	mrand "math/rand/v2"
	"strings"
	"time"

	"github.com/oncall/pager/app/jobs"
	"github.com/oncall/pager/app/retry"
	"github.com/oncall/pager/store"
)

// Pager sends pages. It is the outbound path: it picks each user's media
// (SMS naming the reply code, a call reading the summary and offering keys)
// and is called from durable job steps, at least once per step: derive
// idempotency keys from StepRef(ctx).
type Pager interface {
	// Page pages userIDs about a. It returns the deliveries that failed
	// at once (an SMS Twilio refused, already followed by a call), for the
	// Service to record on the alert, and an error when the step should be
	// tried again. An error made only of PageErrors (joined) says the
	// users it does not name were paged: the step's retry leaves them out.
	// Any other error has the retry page everyone again.
	Page(ctx context.Context, a Alert, userIDs []string) ([]Delivery, error)
	// PageDigest sends one page covering the pages held back from a user
	// by throttling.
	PageDigest(ctx context.Context, d Digest) error
}

// PageError is a page that failed for one user, while Page went on to page
// the others.
type PageError struct {
	UserID string
	Err    error
}

func (e *PageError) Error() string { return fmt.Sprintf("page %s: %v", e.UserID, e.Err) }

func (e *PageError) Unwrap() error { return e.Err }

// unpaged lists the users err says Page failed to page; ok is false when
// some part of err names no user, so nobody can be taken as paged.
func unpaged(err error) (users []string, ok bool) {
	for err != nil {
		switch e := err.(type) {
		case *PageError:
			return []string{e.UserID}, true
		case interface{ Unwrap() []error }:
			for _, part := range e.Unwrap() {
				us, ok := unpaged(part)
				if !ok {
					return nil, false
				}
				users = append(users, us...)
			}
			return users, true
		}
		err = errors.Unwrap(err)
	}
	return nil, false
}

// Digest is one page standing for the pages held back from a user.
type Digest struct {
	UserID string
	// Alerts are the alerts held, oldest first, in the state they are in
	// now: some may have been acknowledged or closed meanwhile; none is
	// left out.
	Alerts []Alert
	// More counts pages held beyond MaxHeld (a flood), not listed one by
	// one; the alerts themselves stay open and paging continues by policy.
	More int
}

// Notifier tells people about an alert they were paged for, after it was
// taken: a.State, a.AckedBy and a.ClosedBy say what happened and who did
// it. Called from a durable job step, at least once.
type Notifier interface {
	Notify(ctx context.Context, a Alert, userIDs []string) error
}

// Roster resolves a policy target to user ids when a step fires: the
// current on-call user, a user if enabled, a group's members, everyone.
// Unknown or disabled targets resolve to nobody, not an error.
type Roster interface {
	Members(ctx context.Context, t Target) ([]string, error)
}

// Options wire a Service. Store and Jobs are required to escalate; the rest
// have defaults.
type Options struct {
	// Prefix is where alerts live in the store; default "alerts/".
	Prefix string
	// Jobs runs escalations and digests. New registers the handlers on it;
	// without a queue alerts are stored but nobody is paged.
	Jobs     *jobs.Queue
	Pager    Pager
	Notifier Notifier
	Roster   Roster
	// Settings returns the current escalation settings (the config's
	// "escalation" section); default DefaultSettings. A policy is copied
	// into each alert's escalation when it triggers, so a config change
	// applies to new alerts.
	Settings func() Settings
	// Hold, when set, finds the maintenance window holding a new alert:
	// such an alert is recorded but its escalation starts only when the
	// window ends.
	Hold   Holder
	Now    func() time.Time
	Logger *slog.Logger
}

// Service is the alert domain over one store. Several Services (replicas)
// may share the store.
type Service struct {
	st       store.Store
	prefix   string
	q        *jobs.Queue
	pager    Pager
	notifier Notifier
	roster   Roster
	settings func() Settings
	hold     Holder
	now      func() time.Time
	log      *slog.Logger

	codes codeCache
	locks keyLocks
}

// New returns a Service over st and registers its job handlers on
// opts.Jobs.
func New(st store.Store, opts Options) *Service {
	s := &Service{
		st:       st,
		prefix:   opts.Prefix,
		q:        opts.Jobs,
		pager:    opts.Pager,
		notifier: opts.Notifier,
		roster:   opts.Roster,
		settings: opts.Settings,
		hold:     opts.Hold,
		now:      opts.Now,
		log:      opts.Logger,
	}
	if s.prefix == "" {
		s.prefix = "alerts/"
	}
	if !strings.HasSuffix(s.prefix, "/") {
		s.prefix += "/"
	}
	if s.settings == nil {
		s.settings = DefaultSettings
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.q != nil {
		s.register(s.q)
	}
	return s
}

func (s *Service) openKey(id string) string   { return s.prefix + "open/" + id + ".json" }
func (s *Service) closedKey(id string) string { return s.prefix + "closed/" + id + ".json" }
func (s *Service) codeKey(code string) string { return s.prefix + "codes/" + code + ".json" }
func (s *Service) dedupKey(scope, key string) string {
	return s.prefix + "dedup/" + hashOf(scope, key) + ".json"
}
func (s *Service) pagedKey(user string) string { return s.prefix + "paged/" + hashOf(user) + ".json" }
func (s *Service) throttleKey(user string) string {
	return s.prefix + "throttle/" + hashOf(user) + ".json"
}

// hashOf names an object after outside strings (dedup keys, user ids) that
// may hold any character, joined unambiguously.
func hashOf(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		fmt.Fprintf(h, "%d:%s", len(p), p)
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// newID makes an alert id that sorts by creation time and is safe as a job
// id and store key: "a" + UTC timestamp + random suffix.
func (s *Service) newID() string {
	return "a" + s.now().UTC().Format("20060102150405") + "-" + strings.ToLower(rand.Text()[:8])
}

// validAlertID: ids come back from users (ACK <id>); only ours are store
// keys.
func validAlertID(id string) bool {
	if len(id) < 2 || len(id) > 64 || id[0] != 'a' {
		return false
	}
	for i := 1; i < len(id); i++ {
		c := id[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '-') {
			return false
		}
	}
	return true
}

// getJSON reads key into v and returns its ETag.
func (s *Service) getJSON(ctx context.Context, key string, v any) (string, error) {
	obj, err := s.st.Get(ctx, key)
	if err != nil {
		return "", err
	}
	if err := json.Unmarshal(obj.Data, v); err != nil {
		return "", fmt.Errorf("%w: %s: %w", ErrCorrupt, key, err)
	}
	return obj.ETag, nil
}

func (s *Service) putJSON(ctx context.Context, key string, v any, cond store.Cond) (string, error) {
	data, err := json.Marshal(v)
	if err != nil {
		return "", fmt.Errorf("alerts: encode %s: %w", key, err)
	}
	return s.st.Put(ctx, key, data, cond)
}

// getOpen reads an open alert. ErrNotFound (wrapped store.ErrNotFound) when
// it is not in open/.
func (s *Service) getOpen(ctx context.Context, id string) (Alert, string, error) {
	var a Alert
	etag, err := s.getJSON(ctx, s.openKey(id), &a)
	return a, etag, err
}

// Get returns the alert with id, open or closed.
func (s *Service) Get(ctx context.Context, id string) (Alert, error) {
	if !validAlertID(id) {
		return Alert{}, fmt.Errorf("%w: %q", ErrNotFound, id)
	}
	for _, key := range []string{s.openKey(id), s.closedKey(id)} {
		var a Alert
		_, err := s.getJSON(ctx, key, &a)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return Alert{}, fmt.Errorf("alerts: get %s: %w", id, err)
		}
		return a, nil
	}
	return Alert{}, fmt.Errorf("%w: %s", ErrNotFound, id)
}

// errConflict: a conditional write lost; read again.
var errConflict = errors.New("alerts: conflict")

// maxRetries bounds read-modify-write loops; contention on one alert is a
// handful of writers at most, so running out means something is wrong.
const maxRetries = 50

// modify applies fn to the open alert id with If-Match, repeating on
// conflict. fn returns false to write nothing. It returns the alert as
// stored afterwards.
func (s *Service) modify(ctx context.Context, id string, fn func(a *Alert) (bool, error)) (Alert, error) {
	defer s.locks.lock(s.openKey(id))()
	for range maxRetries {
		a, etag, err := s.getOpen(ctx, id)
		if err != nil {
			return Alert{}, err
		}
		next := a.clone()
		changed, err := fn(&next)
		if err != nil || !changed {
			return a, err
		}
		next.UpdatedAt = s.now().UTC()
		data, err := json.Marshal(&next)
		if err != nil {
			return Alert{}, fmt.Errorf("alerts: encode %s: %w", id, err)
		}
		_, err = s.st.Put(ctx, s.openKey(id), data, store.Cond{IfMatch: etag})
		if errors.Is(err, store.ErrPrecondition) || errors.Is(err, store.ErrNotFound) {
			if err := backoff(ctx); err != nil {
				return Alert{}, err
			}
			continue
		}
		if err != nil {
			// The store may have committed the write and lost only its
			// answer: the change took effect when the alert now stored is
			// exactly ours, and its caller must go on (stop the
			// escalation, tell the others) rather than report a failure.
			if obj, gerr := s.st.Get(ctx, s.openKey(id)); gerr == nil && bytes.Equal(obj.Data, data) {
				return next, nil
			}
			return Alert{}, fmt.Errorf("alerts: update %s: %w", id, err)
		}
		return next, nil
	}
	return Alert{}, fmt.Errorf("alerts: update %s: %w", id, errConflict)
}

// backoff pauses briefly between conditional-write retries so competing
// replicas spread out.
func backoff(ctx context.Context) error {
	return retry.Sleep(ctx, time.Duration(1+mrand.IntN(4))*time.Millisecond)
}

type refKey struct{}

// StepRef is the "<job id>/<step>" of the escalation or digest step a Pager
// or Notifier call runs in: an idempotency key for the outbound path, so a
// step that runs again does not send twice where the provider can tell.
func StepRef(ctx context.Context) string {
	r, _ := ctx.Value(refKey{}).(string)
	return r
}

func withRef(ctx context.Context, ref string) context.Context {
	return context.WithValue(ctx, refKey{}, ref)
}

// notFoundIfMissing turns the store's not-found into the package's.
func notFoundIfMissing(id string, err error) error {
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	return err
}
