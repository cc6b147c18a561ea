package alerts

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/oncall/pager/store"
)

// A slot is an object that names at most one holder: the dedup index entry
// of a problem, a reply code. It is absent, free (empty body) or held, and
// every change is conditional on the version read. The store has no
// conditional delete, so slots are freed by emptying them with If-Match,
// never deleted: an unconditional delete could remove a claim another
// replica just made.
type slotRef struct {
	key  string
	etag string // "" when absent
}

// readSlot reads key into v. held is false for an absent or free slot.
func (s *Service) readSlot(ctx context.Context, key string, v any) (ref slotRef, held bool, err error) {
	ref.key = key
	obj, err := s.st.Get(ctx, key)
	if errors.Is(err, store.ErrNotFound) {
		return ref, false, nil
	}
	if err != nil {
		return ref, false, fmt.Errorf("alerts: read %s: %w", key, err)
	}
	ref.etag = obj.ETag
	if len(obj.Data) == 0 {
		return ref, false, nil
	}
	if err := json.Unmarshal(obj.Data, v); err != nil {
		// Treat an unreadable slot as free: it is overwritten conditionally,
		// and the alternative is a problem that can never page again.
		s.log.ErrorContext(ctx, "alerts: unreadable slot; reusing it", "key", key, "err", err)
		return ref, false, nil
	}
	return ref, true, nil
}

// claimSlot writes v into the slot if it is still as read. errConflict when
// someone changed it first.
func (s *Service) claimSlot(ctx context.Context, ref slotRef, v any) error {
	cond := store.Cond{IfMatch: ref.etag}
	if ref.etag == "" {
		cond = store.Cond{IfNoneMatch: true}
	}
	_, err := s.putJSON(ctx, ref.key, v, cond)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, store.ErrPrecondition), errors.Is(err, store.ErrNotFound):
		return errConflict
	default:
		return fmt.Errorf("alerts: write %s: %w", ref.key, err)
	}
}

// freeSlot empties the slot if it is still as read.
func (s *Service) freeSlot(ctx context.Context, ref slotRef) error {
	if ref.etag == "" {
		return nil
	}
	_, err := s.st.Put(ctx, ref.key, nil, store.Cond{IfMatch: ref.etag})
	switch {
	case err == nil:
		return nil
	case errors.Is(err, store.ErrPrecondition), errors.Is(err, store.ErrNotFound):
		return errConflict
	default:
		return fmt.Errorf("alerts: free %s: %w", ref.key, err)
	}
}
