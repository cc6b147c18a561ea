package team

import (
	"context"
	"errors"
	"fmt"

	"github.com/oncall/pager/store"
)

// ErrConflict: the stored config changed since the version an edit started
// from (a TAKE, an upload, another editor); nothing was written.
var ErrConflict = errors.New("team: the stored config changed since it was read")

// Raw reads the stored config document as it is, with its ETag, for a
// whole-document editor (the console's config page).
func (m *Manager) Raw(ctx context.Context) ([]byte, string, error) {
	obj, err := m.st.Get(ctx, m.key)
	if err != nil {
		return nil, "", fmt.Errorf("team: read config %s from %s: %w", m.key, m.st, err)
	}
	return obj.Data, obj.ETag, nil
}

// Replace writes data as the whole config, but only when it validates and
// the stored object still has the ETag ifMatch the editor started from:
// otherwise ErrConflict (wrapped) and nothing is written, so a concurrent
// TAKE or upload is never overwritten. An invalid document is refused with
// a *ValidationError. On success the new config is in use.
func (m *Manager) Replace(ctx context.Context, actor string, data []byte, ifMatch string) (*Config, string, error) {
	cfg, err := Parse(data)
	if err != nil {
		return nil, "", err
	}
	if ifMatch == "" {
		return nil, "", fmt.Errorf("team: replace needs the ETag the edit started from: %w", ErrConflict)
	}
	select {
	case m.update <- struct{}{}:
		defer func() { <-m.update }()
	case <-ctx.Done():
		return nil, "", ctx.Err()
	}
	etag, err := m.st.Put(ctx, m.key, data, store.Cond{IfMatch: ifMatch})
	if errors.Is(err, store.ErrPrecondition) || errors.Is(err, store.ErrNotFound) {
		return nil, "", fmt.Errorf("team: config %s: %w", m.key, ErrConflict)
	}
	if err != nil {
		return nil, "", fmt.Errorf("team: write config %s to %s: %w", m.key, m.st, err)
	}
	m.mu.Lock()
	m.install(cfg, etag, m.now())
	m.mu.Unlock()
	m.log.Info("team: config replaced", "key", m.key, "actor", actor, "etag", etag, "previous_etag", ifMatch)
	return cfg, etag, nil
}
