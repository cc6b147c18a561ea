package alerts

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/oncall/pager/store"
)

// A per-user index of the alerts last paged to them answers "ACK" without
// a code: the latest alert paged to that person.

type pagedRef struct {
	AlertID string    `json:"alert_id"`
	Code    string    `json:"code,omitempty"`
	At      time.Time `json:"at"`
}

type pagedIndex struct {
	UserID string     `json:"user_id"`
	Recent []pagedRef `json:"recent"` // oldest first
}

// maxRecent bounds the index; with more alerts than this open at once a
// bare ACK is ambiguous anyway.
const maxRecent = 20

// notePaged records that a was paged to user just now.
func (s *Service) notePaged(ctx context.Context, user string, a Alert) error {
	key := s.pagedKey(user)
	defer s.locks.lock(key)()
	for range maxRetries {
		idx := pagedIndex{UserID: user}
		etag, err := s.getJSON(ctx, key, &idx)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("alerts: paged index of %s: %w", user, err)
		}
		idx.Recent = slices.DeleteFunc(idx.Recent, func(r pagedRef) bool { return r.AlertID == a.ID })
		idx.Recent = append(idx.Recent, pagedRef{AlertID: a.ID, Code: a.Code, At: s.now().UTC()})
		if n := len(idx.Recent); n > maxRecent {
			idx.Recent = idx.Recent[n-maxRecent:]
		}
		cond := store.Cond{IfMatch: etag}
		if etag == "" {
			cond = store.Cond{IfNoneMatch: true}
		}
		_, err = s.putJSON(ctx, key, &idx, cond)
		if errors.Is(err, store.ErrPrecondition) || errors.Is(err, store.ErrNotFound) {
			if err := backoff(ctx); err != nil {
				return err
			}
			continue
		}
		if err != nil {
			return fmt.Errorf("alerts: paged index of %s: %w", user, err)
		}
		return nil
	}
	return fmt.Errorf("alerts: paged index of %s: %w", user, errConflict)
}

// LatestPagedTo is the alert most recently paged to userID that is still
// open; if none is, the most recent one whatever its state (so "ACK" can
// answer "already closed"). ErrNotFound when nothing was paged to them.
func (s *Service) LatestPagedTo(ctx context.Context, userID string) (Alert, error) {
	var idx pagedIndex
	if _, err := s.getJSON(ctx, s.pagedKey(userID), &idx); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return Alert{}, fmt.Errorf("%w: nothing paged to %s", ErrNotFound, userID)
		}
		return Alert{}, err
	}
	var newest *Alert
	for i := len(idx.Recent) - 1; i >= 0; i-- {
		a, err := s.Get(ctx, idx.Recent[i].AlertID)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return Alert{}, err
		}
		if a.State.Open() {
			return a, nil
		}
		if newest == nil {
			newest = &a
		}
	}
	if newest == nil {
		return Alert{}, fmt.Errorf("%w: nothing paged to %s", ErrNotFound, userID)
	}
	return *newest, nil
}
