package storetest

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/oncall/pager/store"
)

// Mem is an in-memory store.Store for tests and benchmarks that should
// measure the code under test, not a disk or the network. ETags are quoted
// MD5 sums, as S3 and store/local give them. For call counts or outages,
// wrap it in Faulty.
type Mem struct {
	mu     sync.Mutex
	objs   map[string]store.Object
	writes int
	bytes  int
}

var _ store.Store = (*Mem)(nil)

// NewMem returns an empty store.
func NewMem() *Mem { return &Mem{objs: make(map[string]store.Object)} }

// String implements store.Store.
func (m *Mem) String() string { return "mem" }

// Writes reports how many Puts took effect so far and how many bytes they
// wrote; refused conditional writes are not counted.
func (m *Mem) Writes() (n, size int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.writes, m.bytes
}

func (m *Mem) get(key string) (store.Object, error) {
	o, ok := m.objs[key]
	if !ok {
		return store.Object{}, store.ErrNotFound
	}
	// A copy, so a caller editing its bytes cannot change what is stored.
	o.Data = bytes.Clone(o.Data)
	return o, nil
}

// Get implements store.Store.
func (m *Mem) Get(ctx context.Context, key string) (store.Object, error) {
	if err := ctx.Err(); err != nil {
		return store.Object{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.get(key)
}

// GetIfChanged implements store.Store.
func (m *Mem) GetIfChanged(ctx context.Context, key, etag string) (store.Object, error) {
	if err := ctx.Err(); err != nil {
		return store.Object{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if o, ok := m.objs[key]; ok && etag != "" && o.ETag == etag {
		return store.Object{}, store.ErrNotModified
	}
	return m.get(key)
}

// Put implements store.Store.
func (m *Mem) Put(ctx context.Context, key string, data []byte, cond store.Cond) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	cur, exists := m.objs[key]
	if cond.IfNoneMatch && exists || cond.IfMatch != "" && (!exists || cur.ETag != cond.IfMatch) {
		return "", store.ErrPrecondition
	}
	sum := md5.Sum(data)
	o := store.Object{Key: key, Data: bytes.Clone(data), ETag: `"` + hex.EncodeToString(sum[:]) + `"`, Modified: time.Now()}
	m.objs[key] = o
	m.writes++
	m.bytes += len(data)
	return o.ETag, nil
}

// List implements store.Store.
func (m *Mem) List(ctx context.Context, prefix string) ([]store.Info, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []store.Info
	for k, o := range m.objs {
		if strings.HasPrefix(k, prefix) {
			out = append(out, store.Info{Key: k, ETag: o.ETag, Size: int64(len(o.Data)), Modified: o.Modified})
		}
	}
	slices.SortFunc(out, func(a, b store.Info) int { return strings.Compare(a.Key, b.Key) })
	return out, nil
}

// Delete implements store.Store.
func (m *Mem) Delete(ctx context.Context, key string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.objs, key)
	return nil
}
