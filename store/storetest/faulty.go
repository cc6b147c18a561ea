package storetest

import (
	"context"
	"errors"
	"fmt"

	"github.com/oncall/pager/store"
)

// ErrInjected is what FaultyStore returns while failing: never ErrNotFound,
// ErrPrecondition or ErrNotModified, like a real outage.
var ErrInjected = errors.New("storetest: injected outage")

// FaultyStore wraps any store.Store with the same outage switch as Fault,
// for code tested against a local folder.
type FaultyStore struct {
	s store.Store
	g gate
}

var _ store.Store = (*FaultyStore)(nil)

// Faulty wraps s; it passes everything through until Down or FailNext.
func Faulty(s store.Store) *FaultyStore { return &FaultyStore{s: s} }

// Down makes every call fail with ErrInjected until Up.
func (f *FaultyStore) Down() { f.g.setDown(true) }

// Up ends an outage started by Down.
func (f *FaultyStore) Up() { f.g.setDown(false) }

// FailNext fails the next n calls.
func (f *FaultyStore) FailNext(n int) { f.g.setFailNext(n) }

// Requests counts calls by method name ("Get", "GetIfChanged", "Put",
// "List", "Delete"), failed ones included.
func (f *FaultyStore) Requests() map[string]int { return f.g.snapshot() }

// Total is the sum of Requests.
func (f *FaultyStore) Total() int { return total(f.g.snapshot()) }

// ResetRequests zeroes the counters.
func (f *FaultyStore) ResetRequests() { f.g.reset() }

func (f *FaultyStore) check(op, key string) error {
	if fail, _ := f.g.admit(op); fail {
		return fmt.Errorf("%s %q on %s: %w", op, key, f.s, ErrInjected)
	}
	return nil
}

// Get implements store.Store.
func (f *FaultyStore) Get(ctx context.Context, key string) (store.Object, error) {
	if err := f.check("Get", key); err != nil {
		return store.Object{}, err
	}
	return f.s.Get(ctx, key)
}

// GetIfChanged implements store.Store.
func (f *FaultyStore) GetIfChanged(ctx context.Context, key, etag string) (store.Object, error) {
	if err := f.check("GetIfChanged", key); err != nil {
		return store.Object{}, err
	}
	return f.s.GetIfChanged(ctx, key, etag)
}

// Put implements store.Store.
func (f *FaultyStore) Put(ctx context.Context, key string, data []byte, cond store.Cond) (string, error) {
	if err := f.check("Put", key); err != nil {
		return "", err
	}
	return f.s.Put(ctx, key, data, cond)
}

// List implements store.Store.
func (f *FaultyStore) List(ctx context.Context, prefix string) ([]store.Info, error) {
	if err := f.check("List", prefix); err != nil {
		return nil, err
	}
	return f.s.List(ctx, prefix)
}

// Delete implements store.Store.
func (f *FaultyStore) Delete(ctx context.Context, key string) error {
	if err := f.check("Delete", key); err != nil {
		return err
	}
	return f.s.Delete(ctx, key)
}

// String names the wrapped store.
func (f *FaultyStore) String() string { return "faulty(" + f.s.String() + ")" }
