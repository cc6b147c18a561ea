package jobs

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/oncall/pager/store"
)

// Enqueue stores j durably before returning. created is false, with a nil
// error and nothing changed, when a job with j.ID is already active or done:
// callers derive IDs from natural keys so a retried webhook is harmless.
//
// Steps default to pending, CreatedAt to now; Lease and FinishedAt are
// cleared. An error means the job may or may not be stored: retry with the
// same ID.
func (q *Queue) Enqueue(ctx context.Context, j Job) (created bool, err error) {
	j = j.clone()
	if j.CreatedAt.IsZero() {
		j.CreatedAt = q.now().UTC()
	}
	for i := range j.Steps {
		if j.Steps[i].State == "" {
			j.Steps[i].State = StepPending
		}
	}
	j.Lease = nil
	j.FinishedAt = time.Time{}
	j.Version = 1
	j.Token = strings.ToLower(rand.Text())
	if err := j.validate(); err != nil {
		return false, err
	}
	data, err := json.Marshal(&j)
	if err != nil {
		return false, fmt.Errorf("jobs: encode %s: %w", j.ID, err)
	}
	if done, _, err := q.isDone(ctx, j.ID, false); err != nil || done {
		return q.dup(err)
	}
	key := q.activeKey(j.ID)
	etag, err := q.st.Put(ctx, key, data, store.Cond{IfNoneMatch: true})
	if errors.Is(q.observe("put", err), store.ErrPrecondition) {
		return q.dup(nil)
	}
	if err != nil {
		return false, fmt.Errorf("jobs: enqueue %s: %w", j.ID, err)
	}
	// Completion writes done/ before deleting active/, so a job that
	// finished between the first check and the create is visible now; the
	// object just created is a duplicate of it. Unless the job in done/ is
	// the one just created, run to the end by another replica already.
	done, token, err := q.isDone(ctx, j.ID, true)
	if done && token == j.Token {
		q.stats.enqueued.Add(1)
		return true, nil
	}
	if err != nil || done {
		if done {
			err = q.retry(ctx, "delete", func(ctx context.Context) error { return q.st.Delete(ctx, key) })
			if err != nil {
				q.log.Error("jobs: duplicate of a finished job left active", "id", j.ID, "err", err)
				return false, fmt.Errorf("jobs: enqueue %s: remove duplicate: %w", j.ID, err)
			}
		}
		return q.dup(err)
	}
	q.stats.enqueued.Add(1)
	q.remember(j.ID, etag, &j)
	if q.firstDue(&j, q.now()) {
		q.signalUrgent()
	} else {
		q.signal()
	}
	return true, nil
}

func (q *Queue) dup(err error) (bool, error) {
	if err != nil {
		return false, err
	}
	q.stats.duplicates.Add(1)
	return false, nil
}

// isDone checks done/. With persist it retries through an outage: after
// the create, giving up would leave a possible duplicate behind.
func (q *Queue) isDone(ctx context.Context, id string, persist bool) (done bool, token string, err error) {
	get := func(ctx context.Context) error {
		obj, err := q.st.Get(ctx, q.doneKey(id))
		if err == nil {
			var j struct {
				Token string `json:"token"`
			}
			_ = json.Unmarshal(obj.Data, &j)
			token = j.Token
		}
		return err
	}
	if persist {
		err = q.retry(ctx, "get", get)
	} else {
		err = q.observe("get", get(ctx))
	}
	switch {
	case err == nil:
		return true, token, nil
	case errors.Is(err, store.ErrNotFound):
		return false, "", nil
	default:
		return false, "", fmt.Errorf("jobs: enqueue %s: check done: %w", id, err)
	}
}

// Get returns the job from active/, or from done/ once it has finished.
// ErrNotFound for an unknown ID.
func (q *Queue) Get(ctx context.Context, id string) (Job, error) {
	if err := checkID(id); err != nil {
		return Job{}, err
	}
	for _, key := range []string{q.activeKey(id), q.doneKey(id)} {
		obj, err := q.st.Get(ctx, key)
		if errors.Is(q.observe("get", err), store.ErrNotFound) {
			continue
		}
		if err != nil {
			return Job{}, fmt.Errorf("jobs: get %s: %w", id, err)
		}
		return decode(id, obj.Data)
	}
	return Job{}, fmt.Errorf("%w: %s", ErrNotFound, id)
}
