package metrics

import (
	"context"
	"errors"
	"time"

	"github.com/oncall/pager/store"
)

// Store wraps st so every call is counted and timed by operation, and
// failures (not the contract's answers: not found, precondition failed,
// not modified) counted as errors.
func (m *Metrics) Store(st store.Store) store.Store { return &meteredStore{st: st, m: m} }

type meteredStore struct {
	st store.Store
	m  *Metrics
}

func (s *meteredStore) observe(op string, start time.Time, err error) {
	s.m.storeCalls.WithLabelValues(op).Inc()
	s.m.storeDur.WithLabelValues(op).Observe(time.Since(start).Seconds())
	if err != nil && !errors.Is(err, store.ErrNotFound) && !errors.Is(err, store.ErrPrecondition) &&
		!errors.Is(err, store.ErrNotModified) {
		s.m.storeErrors.WithLabelValues(op).Inc()
	}
}

func (s *meteredStore) Get(ctx context.Context, key string) (store.Object, error) {
	start := time.Now()
	o, err := s.st.Get(ctx, key)
	s.observe("get", start, err)
	return o, err
}

func (s *meteredStore) GetIfChanged(ctx context.Context, key, etag string) (store.Object, error) {
	start := time.Now()
	o, err := s.st.GetIfChanged(ctx, key, etag)
	s.observe("get_if_changed", start, err)
	return o, err
}

func (s *meteredStore) Put(ctx context.Context, key string, data []byte, cond store.Cond) (string, error) {
	op := "put"
	if cond.IfMatch != "" || cond.IfNoneMatch {
		op = "put_conditional"
	}
	start := time.Now()
	etag, err := s.st.Put(ctx, key, data, cond)
	s.observe(op, start, err)
	return etag, err
}

func (s *meteredStore) List(ctx context.Context, prefix string) ([]store.Info, error) {
	start := time.Now()
	infos, err := s.st.List(ctx, prefix)
	s.observe("list", start, err)
	return infos, err
}

func (s *meteredStore) Delete(ctx context.Context, key string) error {
	start := time.Now()
	err := s.st.Delete(ctx, key)
	s.observe("delete", start, err)
	return err
}

func (s *meteredStore) String() string { return s.st.String() }
