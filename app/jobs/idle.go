package jobs

import (
	"context"
	"errors"
	"fmt"

	"github.com/oncall/pager/store"
)

// Idle reports whether this Queue has nothing to do now: no job of it is
// being worked on, and no job in the store is due by its clock (a pending
// step it has a handler for, a finished job still to move to done/, an
// expired lease to take over). A retry scheduled for later, a step no
// handler here can run and a job under another replica's live lease do not
// count: with a clock that only moves when told, an idle Queue stays idle
// until something is enqueued or the clock moves. It only reads: an
// unreadable object counts as work (the runner moves it aside).
func (q *Queue) Idle(ctx context.Context) (bool, error) {
	if q.busy() {
		return false, nil
	}
	infos, err := q.st.List(ctx, q.activePrefix())
	if err != nil {
		return false, fmt.Errorf("jobs: list: %w", err)
	}
	now := q.now()
	for _, in := range infos {
		id, ok := q.idFromKey(in.Key)
		if !ok {
			return false, nil
		}
		j, err := q.peek(ctx, id, in)
		if errors.Is(err, store.ErrNotFound) {
			continue // finished since the listing
		}
		if errors.Is(err, ErrCorrupt) {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		if claimable, _, _ := q.evaluate(&j, now); claimable {
			return false, nil
		}
	}
	// A job claimed after the listing was due at the listing, so this
	// second look only matters for one that began meanwhile.
	return !q.busy(), nil
}

// busy: a job is being worked on by this Queue.
func (q *Queue) busy() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.inflight) > 0
}

// peek is load without side effects: the cached version when its ETag is
// unchanged, else the stored one, decoded.
func (q *Queue) peek(ctx context.Context, id string, in store.Info) (Job, error) {
	q.mu.Lock()
	c := q.cache[id]
	q.mu.Unlock()
	if c != nil && c.etag == in.ETag {
		return c.job, nil
	}
	obj, err := q.st.Get(ctx, in.Key)
	if err != nil {
		return Job{}, err
	}
	return decode(id, obj.Data)
}
