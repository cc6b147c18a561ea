package team

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/oncall/pager/app/jsondoc"
	"github.com/oncall/pager/app/retry"
	"github.com/oncall/pager/store"
)

// ManagerOptions are a Manager's optional collaborators.
type ManagerOptions struct {
	Logger *slog.Logger     // nil: discard
	Now    func() time.Time // nil: time.Now
}

// Status describes the config the pager runs on, for health checks.
type Status struct {
	// Healthy: the store answered the last check and a good config is loaded.
	Healthy bool `json:"healthy"`
	// Degraded: the newest object in the store is invalid (or gone), so the
	// pager keeps running on the last good config; Problems says why.
	Degraded bool `json:"degraded"`
	// ETag, LoadedAt: version of the config in use, and when it was taken up.
	ETag      string    `json:"etag"`
	LoadedAt  time.Time `json:"loaded_at"`
	LastCheck time.Time `json:"last_check"`
	LastError string    `json:"last_error,omitempty"`
	Problems  []Problem `json:"problems,omitempty"`
	// Warnings about the config in use.
	Warnings []Problem `json:"warnings,omitempty"`
}

// Manager keeps the current good config in memory, follows changes in the
// store, and writes changes back without losing concurrent edits.
type Manager struct {
	st  store.Store
	key string
	log *slog.Logger
	now func() time.Time

	cur atomic.Pointer[Config]

	// update serialises this process's own Updates: they would only make
	// each other retry. Other replicas and ops are handled by If-Match.
	update chan struct{}

	mu sync.Mutex // guards the fields below
	// gen counts config swaps, so a slow Refresh does not replace a config
	// that an Update installed while it was reading.
	gen int
	// seen is the ETag of the newest object examined, good or bad, for
	// conditional GETs: a broken upload is reported once, not on every tick.
	seen   string
	status Status
	// warned holds the warnings already logged, so one that stays (the
	// example API key) is logged once per start, not after every TAKE.
	warned map[string]bool

	reloads struct{ unchanged, loaded, rejected, failed atomic.Int64 }
}

// Reloads count the manager's reads of the stored config by outcome since
// NewManager, for metrics.
type Reloads struct {
	Unchanged int64 // the object had not changed (conditional GET)
	Loaded    int64 // a changed, valid config was taken up
	Rejected  int64 // a changed config failed validation; the last good one stays
	Failed    int64 // the store did not answer, or the object is gone
}

// Reloads returns the counts.
func (m *Manager) Reloads() Reloads {
	r := &m.reloads
	return Reloads{Unchanged: r.unchanged.Load(), Loaded: r.loaded.Load(),
		Rejected: r.rejected.Load(), Failed: r.failed.Load()}
}

// NewManager returns a Manager for the config under key in st. Call Load
// before Current.
func NewManager(st store.Store, key string, opts ManagerOptions) *Manager {
	m := &Manager{st: st, key: key, log: opts.Logger, now: opts.Now, update: make(chan struct{}, 1)}
	if m.log == nil {
		m.log = slog.New(slog.DiscardHandler)
	}
	if m.now == nil {
		m.now = time.Now
	}
	return m
}

// Current is the config in use, nil before a successful Load. It is shared:
// do not modify it.
func (m *Manager) Current() *Config { return m.cur.Load() }

// Status reports the state of the config in use.
func (m *Manager) Status() Status {
	m.mu.Lock()
	defer m.mu.Unlock()
	s := m.status
	s.Problems = append([]Problem(nil), s.Problems...)
	s.Warnings = append([]Problem(nil), s.Warnings...)
	return s
}

// Load reads the config. An absent object gives an error wrapping
// store.ErrNotFound (the caller may seed DefaultConfig and retry); an invalid
// one an error wrapping *ValidationError.
func (m *Manager) Load(ctx context.Context) error {
	return m.fetch(ctx, "")
}

// Refresh takes up a changed config. It asks the store with a conditional
// GET, so an unchanged config costs no download. A changed config that does
// not validate is rejected: the last good one stays in use, the problems are
// logged and kept in Status, and the error is returned.
func (m *Manager) Refresh(ctx context.Context) error {
	m.mu.Lock()
	seen := m.seen
	m.mu.Unlock()
	return m.fetch(ctx, seen)
}

// fetch reads the object (conditionally when etag is set) and takes it up.
func (m *Manager) fetch(ctx context.Context, etag string) error {
	m.mu.Lock()
	gen := m.gen
	m.mu.Unlock()

	var obj store.Object
	var err error
	if etag == "" {
		obj, err = m.st.Get(ctx, m.key)
	} else {
		obj, err = m.st.GetIfChanged(ctx, m.key, etag)
	}
	now := m.now()

	m.mu.Lock()
	defer m.mu.Unlock()
	m.status.LastCheck = now
	switch {
	case errors.Is(err, store.ErrNotModified):
		m.reloads.unchanged.Add(1)
		m.status.Healthy = m.cur.Load() != nil
		return nil
	case errors.Is(err, store.ErrNotFound):
		m.reloads.failed.Add(1)
		m.seen = ""
		m.status.Healthy = false
		m.status.Degraded = m.cur.Load() != nil
		m.status.LastError = fmt.Sprintf("no config %q in %s", m.key, m.st)
		return fmt.Errorf("team: config %s in %s: %w", m.key, m.st, err)
	case err != nil:
		m.reloads.failed.Add(1)
		m.status.Healthy = false
		m.status.LastError = err.Error()
		return fmt.Errorf("team: read config %s from %s: %w", m.key, m.st, err)
	}

	cfg, perr := Parse(obj.Data)
	m.seen = obj.ETag
	if perr != nil {
		m.reloads.rejected.Add(1)
		var ve *ValidationError
		errors.As(perr, &ve)
		m.status.Healthy = m.cur.Load() != nil
		m.status.Degraded = m.cur.Load() != nil
		m.status.LastError = perr.Error()
		m.status.Problems = ve.Problems
		m.log.Error("team: config in store rejected, keeping the last good one",
			"key", m.key, "store", m.st.String(), "etag", obj.ETag, "problems", len(ve.Problems), "in_use", m.status.ETag)
		for _, p := range ve.Problems {
			m.log.Error("team: config problem", "key", m.key, "etag", obj.ETag, "path", p.Path, "problem", p.Message)
		}
		return fmt.Errorf("team: config %s (etag %s): %w", m.key, obj.ETag, perr)
	}
	m.reloads.loaded.Add(1)
	if m.gen != gen {
		// An Update installed a config it wrote while we were reading; ours
		// may be older. The next Refresh sorts it out.
		return nil
	}
	m.install(cfg, obj.ETag, now)
	return nil
}

// install swaps in a good config; m.mu is held.
func (m *Manager) install(cfg *Config, etag string, now time.Time) {
	changed := etag != m.status.ETag
	m.gen++
	m.seen = etag
	m.cur.Store(cfg)
	m.status.Healthy = true
	m.status.Degraded = false
	m.status.ETag = etag
	m.status.LoadedAt = now
	m.status.LastCheck = now
	m.status.LastError = ""
	m.status.Problems = nil
	m.status.Warnings = append(Warnings(cfg), ScheduleWarnings(cfg, now)...)
	if changed {
		oc := cfg.CurrentConfig.OncallUser.ID
		m.log.Info("team: config loaded", "key", m.key, "etag", etag, "users", len(cfg.AvailableUsers.Users),
			"oncall", oc, "groups", len(cfg.Groups), "events", len(cfg.Events), "api_keys", len(cfg.APIKeys),
			"channels", len(cfg.NotificationChannels), "warnings", len(m.status.Warnings))
		if m.warned == nil || len(m.warned) > 1000 {
			m.warned = map[string]bool{}
		}
		for _, w := range m.status.Warnings {
			if k := w.Path + "\x00" + w.Message; !m.warned[k] {
				m.warned[k] = true
				m.log.Warn("team: config warning", "key", m.key, "etag", etag, "path", w.Path, "warning", w.Message)
			}
		}
	}
}

// Run refreshes the config every interval (30 s when not positive) until ctx
// is done. Failures are logged and retried on the next tick.
func (m *Manager) Run(ctx context.Context, interval time.Duration) {
	if interval <= 0 {
		interval = 30 * time.Second
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		err := m.Refresh(ctx)
		// Rejected configs were logged in detail by Refresh.
		if err != nil && ctx.Err() == nil && !IsValidationError(err) {
			m.log.Error("team: config refresh failed", "key", m.key, "store", m.st.String(), "err", err)
		}
	}
}

// Update attempts; a conflict means someone wrote in between, so a few
// retries are enough unless something rewrites the config in a loop.
const (
	updateAttempts = 5
	updateBackoff  = 20 * time.Millisecond
)

// Update changes the stored config. It reads the latest object (not the
// cache), calls mutate with the parsed config (for checks; changes to it are
// ignored) and the document (for changes: edits there are what is written,
// with everything else in the file left as it was), validates the result and
// writes it only if the object has not changed since it was read. When it
// has (an ops upload, another replica) it reads again and calls mutate again,
// so mutate must decide from what it is given. An error from mutate aborts
// with nothing written and is returned as is; an invalid result is refused
// with a *ValidationError. On success the new config is in use and returned.
// actor names who made the change, for the log.
func (m *Manager) Update(ctx context.Context, actor string, mutate func(cfg *Config, doc *jsondoc.Doc) error) (*Config, error) {
	select {
	case m.update <- struct{}{}:
		defer func() { <-m.update }()
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	var (
		cfg      *Config
		conflict bool
	)
	// Full jitter, doubling: replicas that collided do not collide again.
	policy := retry.Policy{First: updateBackoff, Jitter: retry.FullJitter, Attempts: updateAttempts}
	err := policy.Do(ctx, func(attempt int) (bool, error) {
		var err error
		cfg, conflict, err = m.tryUpdate(ctx, actor, mutate)
		if conflict && attempt < updateAttempts {
			m.log.Info("team: config changed while updating it, retrying", "key", m.key, "actor", actor, "attempt", attempt)
		}
		return conflict, err
	})
	switch {
	case !conflict:
		return cfg, err
	case ctx.Err() != nil:
		return nil, ctx.Err()
	}
	return nil, fmt.Errorf("team: config %s kept changing, gave up after %d attempts: %w", m.key, updateAttempts, err)
}

// ErrStoredConfigInvalid: the stored config does not validate (a broken
// upload), so Update refuses to change it until ops fix it. The pager keeps
// running on the last good config meanwhile.
var ErrStoredConfigInvalid = errors.New("the stored config is invalid")

// tryUpdate is one read-change-write; conflict reports a lost conditional
// write, worth retrying.
func (m *Manager) tryUpdate(ctx context.Context, actor string, mutate func(cfg *Config, doc *jsondoc.Doc) error) (*Config, bool, error) {
	obj, err := m.st.Get(ctx, m.key)
	if err != nil {
		return nil, false, fmt.Errorf("team: read config %s from %s: %w", m.key, m.st, err)
	}
	doc, err := jsondoc.Parse(obj.Data)
	if err != nil {
		return nil, false, fmt.Errorf("team: config %s: %w, fix it before changing it: %w", m.key, ErrStoredConfigInvalid, err)
	}
	cfg, err := parseDoc(doc)
	if err != nil {
		return nil, false, fmt.Errorf("team: config %s: %w, fix it before changing it: %w", m.key, ErrStoredConfigInvalid, err)
	}
	before, err := doc.Marshal()
	if err != nil {
		return nil, false, fmt.Errorf("team: config %s: %w", m.key, err)
	}
	if err := mutate(cfg, doc); err != nil {
		return nil, false, err
	}
	after, err := doc.Marshal()
	if err != nil {
		return nil, false, fmt.Errorf("team: config %s: %w", m.key, err)
	}
	// Parsed afresh: mutate may have scribbled on cfg.
	next, err := Parse(after)
	if err != nil {
		return nil, false, fmt.Errorf("team: change by %s refused: %w", actor, err)
	}
	if bytes.Equal(before, after) {
		// Nothing to write; what we read is the newest config anyway.
		m.mu.Lock()
		m.install(next, obj.ETag, m.now())
		m.mu.Unlock()
		return next, false, nil
	}
	etag, err := m.st.Put(ctx, m.key, after, store.Cond{IfMatch: obj.ETag})
	if err != nil {
		return nil, errors.Is(err, store.ErrPrecondition), fmt.Errorf("team: write config %s to %s: %w", m.key, m.st, err)
	}
	m.mu.Lock()
	m.install(next, etag, m.now())
	m.mu.Unlock()
	m.log.Info("team: config updated", "key", m.key, "actor", actor, "etag", etag, "previous_etag", obj.ETag)
	return next, false, nil
}

// SetOnCall makes u the on-call user in doc and records who did it and when,
// touching only those keys.
func SetOnCall(doc *jsondoc.Doc, u User, actorID string, now time.Time) error {
	cc := "current_config"
	for _, kv := range []struct {
		p []string
		v any
	}{
		{[]string{cc, "oncall_user", "id"}, u.ID},
		{[]string{cc, "oncall_user", "name"}, u.Name},
		{[]string{cc, "oncall_user", "phone"}, u.Phone},
		{[]string{cc, "last_modified_time"}, now.Unix()},
		{[]string{cc, "last_modified_user_id"}, actorID},
	} {
		if err := doc.Set(kv.p, kv.v); err != nil {
			return err
		}
	}
	return nil
}
