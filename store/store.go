package store

import (
	"context"
	"errors"
	"time"
)

var (
	// ErrNotFound: no object under that key.
	ErrNotFound = errors.New("store: object not found")
	// ErrPrecondition: a conditional write lost (If-Match did not match, or
	// If-None-Match found an object). The caller re-reads and decides.
	ErrPrecondition = errors.New("store: precondition failed")
	// ErrNotModified: GetIfChanged found the same ETag.
	ErrNotModified = errors.New("store: not modified")
)

// Object is one stored blob with the version it was read at.
type Object struct {
	Key      string
	Data     []byte
	ETag     string // opaque, compared verbatim; quoted as S3 gives it
	Modified time.Time
}

// Info describes an object without its bytes (List results).
type Info struct {
	Key      string
	ETag     string
	Size     int64
	Modified time.Time
}

// Cond makes a Put conditional. The zero value writes unconditionally.
type Cond struct {
	// IfMatch: write only when the current object has this ETag.
	IfMatch string
	// IfNoneMatch: write only when no object exists under the key (create).
	IfNoneMatch bool
}

// Store is the blob store contract; store/storetest holds the contract test
// every implementation passes.
type Store interface {
	// Get reads an object; ErrNotFound when absent.
	Get(ctx context.Context, key string) (Object, error)
	// GetIfChanged reads the object only when its ETag differs from etag
	// (a conditional GET); ErrNotModified when unchanged.
	GetIfChanged(ctx context.Context, key, etag string) (Object, error)
	// Put writes data under key and returns the new ETag; ErrPrecondition when
	// cond does not hold (nothing is written then).
	Put(ctx context.Context, key string, data []byte, cond Cond) (string, error)
	// List returns the objects whose key starts with prefix, sorted by key.
	List(ctx context.Context, prefix string) ([]Info, error)
	// Delete removes key; deleting an absent key is not an error.
	Delete(ctx context.Context, key string) error
	// String names the store for logs ("dir:./data", "s3://bucket").
	String() string
}

// KeyLister is implemented by stores that can list keys more cheaply than
// List (the local folder store, which must read a file to give its ETag).
type KeyLister interface {
	// Keys returns the keys that start with prefix, sorted.
	Keys(ctx context.Context, prefix string) ([]string, error)
}

// Keys lists the keys under prefix, sorted, without reading the objects where
// the store can avoid it: paginated views (the console) need the names only.
func Keys(ctx context.Context, st Store, prefix string) ([]string, error) {
	if kl, ok := st.(KeyLister); ok {
		return kl.Keys(ctx, prefix)
	}
	infos, err := st.List(ctx, prefix)
	if err != nil {
		return nil, err
	}
	keys := make([]string, len(infos))
	for i, in := range infos {
		keys[i] = in.Key
	}
	return keys, nil
}
