package jobs

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/oncall/pager/store"
)

// Queued returns the active jobs (queued, running or waiting for a retry),
// oldest first: what an operator looks at, without the done/ history.
func (q *Queue) Queued(ctx context.Context) ([]Job, error) {
	infos, err := q.st.List(ctx, q.activePrefix())
	if q.observe("list", err) != nil {
		return nil, fmt.Errorf("jobs: list active: %w", err)
	}
	out := make([]Job, 0, len(infos))
	for _, in := range infos {
		id, ok := q.idFromKey(in.Key)
		if !ok {
			continue
		}
		// A job the runner saw at the listed version costs no Get.
		j, err := q.peek(ctx, id, in)
		if errors.Is(err, store.ErrNotFound) {
			continue // finished since the listing
		}
		if errors.Is(err, ErrCorrupt) {
			return nil, err
		}
		if err != nil {
			q.observe("get", err)
			return nil, fmt.Errorf("jobs: get %s: %w", id, err)
		}
		if j.FinishedAt.IsZero() && !j.Finished() {
			// peek may return the cache's copy, which callers must not
			// be able to change.
			out = append(out, j.clone())
		}
	}
	slices.SortFunc(out, func(a, b Job) int {
		return cmpTime(a.CreatedAt, b.CreatedAt, a.ID, b.ID)
	})
	return out, nil
}

func cmpTime(a, b time.Time, ida, idb string) int {
	if c := a.Compare(b); c != 0 {
		return c
	}
	return strings.Compare(ida, idb)
}

// NextDue is when the job next has a step to run (zero when none is
// pending): the earliest schedule of its pending steps. A step never tried
// has no schedule (zero NextAt): it has been due since the job was created.
func (j *Job) NextDue() time.Time {
	var due time.Time
	for i := range j.Steps {
		s := &j.Steps[i]
		if s.State != StepPending {
			continue
		}
		at := s.NextAt
		if at.IsZero() {
			at = j.CreatedAt
		}
		if due.IsZero() || at.Before(due) {
			due = at
		}
	}
	return due
}

// Cancel fails every step of job id that has not finished, with reason as
// its error, so nothing more is sent for it; the runner then files it as
// done. Steps already done stay done. Canceling a finished job changes
// nothing.
func (q *Queue) Cancel(ctx context.Context, id, reason string) (Job, error) {
	if reason == "" {
		reason = "canceled"
	}
	now := q.now().UTC()
	return q.Update(ctx, id, func(j *Job) error {
		for i := range j.Steps {
			s := &j.Steps[i]
			if s.State == StepPending {
				s.State, s.LastError, s.DoneAt = StepFailed, "canceled: "+reason, now
			}
		}
		return nil
	})
}
