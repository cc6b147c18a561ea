package team

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/oncall/pager/store"
)

// memStore is an in-memory store.Store that counts calls, for tests.
type memStore struct {
	mu   sync.Mutex
	objs map[string]store.Object
	seq  int
	down error // when set, every call fails with it

	gets, getIfChanged, puts int
}

func newMemStore() *memStore { return &memStore{objs: map[string]store.Object{}} }

func (s *memStore) String() string { return "mem:" }

func (s *memStore) counts() (gets, getIfChanged, puts int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.gets, s.getIfChanged, s.puts
}

func (s *memStore) setDown(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.down = err
}

func (s *memStore) Get(_ context.Context, key string) (store.Object, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.gets++
	if s.down != nil {
		return store.Object{}, s.down
	}
	o, ok := s.objs[key]
	if !ok {
		return store.Object{}, store.ErrNotFound
	}
	o.Data = append([]byte(nil), o.Data...)
	return o, nil
}

func (s *memStore) GetIfChanged(_ context.Context, key, etag string) (store.Object, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.getIfChanged++
	if s.down != nil {
		return store.Object{}, s.down
	}
	o, ok := s.objs[key]
	if !ok {
		return store.Object{}, store.ErrNotFound
	}
	if o.ETag == etag {
		return store.Object{}, store.ErrNotModified
	}
	o.Data = append([]byte(nil), o.Data...)
	return o, nil
}

func (s *memStore) Put(_ context.Context, key string, data []byte, cond store.Cond) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.puts++
	if s.down != nil {
		return "", s.down
	}
	cur, exists := s.objs[key]
	if cond.IfNoneMatch && exists {
		return "", store.ErrPrecondition
	}
	if cond.IfMatch != "" && (!exists || cur.ETag != cond.IfMatch) {
		return "", store.ErrPrecondition
	}
	s.seq++
	etag := fmt.Sprintf("%q", fmt.Sprint(s.seq))
	s.objs[key] = store.Object{Key: key, Data: append([]byte(nil), data...), ETag: etag, Modified: time.Unix(int64(s.seq), 0)}
	return etag, nil
}

func (s *memStore) List(_ context.Context, prefix string) ([]store.Info, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.down != nil {
		return nil, s.down
	}
	var out []store.Info
	for k, o := range s.objs {
		if strings.HasPrefix(k, prefix) {
			out = append(out, store.Info{Key: k, ETag: o.ETag, Size: int64(len(o.Data)), Modified: o.Modified})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out, nil
}

func (s *memStore) Delete(_ context.Context, key string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.down != nil {
		return s.down
	}
	delete(s.objs, key)
	return nil
}

// raw is the stored bytes under key, for assertions.
func (s *memStore) raw(key string) []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]byte(nil), s.objs[key].Data...)
}

var errUnreachable = errors.New("dial tcp: connection refused")

var _ store.Store = (*memStore)(nil)
