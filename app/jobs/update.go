package jobs

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/oncall/pager/app/retry"
	"github.com/oncall/pager/store"
)

// errRetry: lost a race; read again.
var errRetry = errors.New("jobs: retry update")

// Update applies fn to the latest version of job id with a conditional
// read-modify-write, repeating on conflict (so fn may be called several
// times and must only depend on its argument). It is meant for external
// events, e.g. a delivery status callback reopening a step with
// job.Reopen. It returns the job as stored afterwards; when fn changes
// nothing, nothing is written.
//
// fn may change the payload and steps (add, edit, reopen); ID, Lease,
// Version and FinishedAt are kept. Update does not wait for a runner's
// lease: if a step it changes is running, that run's outcome is discarded
// and the step's new state wins.
//
// A finished job is read from done/; if fn changes it, the job moves back
// to active/ (Put if-none-match) and the runner processes it again, then
// writes done/ anew. Until then done/ keeps the previous outcome and Get,
// which prefers active/, returns the reopened job; Enqueue still treats the
// ID as a duplicate.
//
// ErrNotFound for an unknown ID; store errors are returned, not retried,
// so a webhook can answer with an error and be redelivered.
func (q *Queue) Update(ctx context.Context, id string, fn func(*Job) error) (Job, error) {
	if err := checkID(id); err != nil {
		return Job{}, err
	}
	// Lost races are retried at once-ish; a job being moved to done/ is
	// waited for.
	var j Job
	err := retry.Policy{First: 5 * time.Millisecond, Max: 500 * time.Millisecond}.Do(ctx, func(int) (bool, error) {
		var err error
		j, err = q.update(ctx, id, fn)
		return errors.Is(err, errRetry), err
	})
	if errors.Is(err, errRetry) {
		return Job{}, fmt.Errorf("jobs: update %s: %w", id, ctx.Err())
	}
	return j, err
}

func (q *Queue) update(ctx context.Context, id string, fn func(*Job) error) (Job, error) {
	key := q.activeKey(id)
	obj, err := q.st.Get(ctx, key)
	switch q.observe("get", err); {
	case err == nil:
		cur, err := decode(id, obj.Data)
		if err != nil {
			return Job{}, err
		}
		if cur.sealed() {
			// Being moved to done/: wait for that, or finish it for a
			// runner that died halfway.
			if !q.leaseLive(&cur, q.now()) {
				sctx, cancel := q.detach(ctx)
				defer cancel()
				if h := q.claim(ctx, sctx, id, obj.ETag, cur); h != nil {
					h.finish()
				}
			}
			return Job{}, errRetry
		}
		next, changed, err := q.applyUpdate(&cur, fn)
		if err != nil || !changed {
			return cur, err
		}
		return q.writeUpdate(ctx, key, &next, store.Cond{IfMatch: obj.ETag})
	case errors.Is(err, store.ErrNotFound):
		obj, err := q.st.Get(ctx, q.doneKey(id))
		switch q.observe("get", err); {
		case errors.Is(err, store.ErrNotFound):
			return Job{}, fmt.Errorf("%w: %s", ErrNotFound, id)
		case err != nil:
			return Job{}, fmt.Errorf("jobs: update %s: %w", id, err)
		}
		cur, err := decode(id, obj.Data)
		if err != nil {
			return Job{}, err
		}
		next, changed, err := q.applyUpdate(&cur, fn)
		if err != nil || !changed {
			return cur, err
		}
		next.FinishedAt = time.Time{}
		next.Lease = nil
		return q.writeUpdate(ctx, key, &next, store.Cond{IfNoneMatch: true})
	default:
		return Job{}, fmt.Errorf("jobs: update %s: %w", id, err)
	}
}

func (q *Queue) writeUpdate(ctx context.Context, key string, j *Job, cond store.Cond) (Job, error) {
	data, err := json.Marshal(j)
	if err != nil {
		return Job{}, fmt.Errorf("jobs: encode %s: %w", j.ID, err)
	}
	etag, err := q.st.Put(ctx, key, data, cond)
	switch q.observe("put", err); {
	case errors.Is(err, store.ErrPrecondition), errors.Is(err, store.ErrNotFound):
		return Job{}, errRetry
	case err != nil:
		return Job{}, fmt.Errorf("jobs: update %s: %w", j.ID, err)
	}
	q.remember(j.ID, etag, j)
	q.signal()
	return *j, nil
}

// applyUpdate runs fn on a copy of cur and reports whether it changed
// anything worth writing.
func (q *Queue) applyUpdate(cur *Job, fn func(*Job) error) (Job, bool, error) {
	before, err := json.Marshal(cur)
	if err != nil {
		return Job{}, false, fmt.Errorf("jobs: encode %s: %w", cur.ID, err)
	}
	next := cur.clone()
	if err := fn(&next); err != nil {
		return Job{}, false, fmt.Errorf("jobs: update %s: %w", cur.ID, err)
	}
	next.ID, next.Version, next.FinishedAt = cur.ID, cur.Version, cur.FinishedAt
	next.Lease = nil
	if cur.Lease != nil {
		l := *cur.Lease
		next.Lease = &l
	}
	for i := range next.Steps {
		if next.Steps[i].State == "" {
			next.Steps[i].State = StepPending
		}
	}
	if err := next.validate(); err != nil {
		return Job{}, false, fmt.Errorf("jobs: update %s: %w", cur.ID, err)
	}
	next.cascade(q.now().UTC())
	after, err := json.Marshal(&next)
	if err != nil {
		return Job{}, false, fmt.Errorf("jobs: encode %s: %w", cur.ID, err)
	}
	if bytes.Equal(before, after) {
		return *cur, false, nil
	}
	next.Version++
	return next, true, nil
}
