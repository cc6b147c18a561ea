package jobs

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
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
		j, err := q.Get(ctx, id)
		if errors.Is(err, ErrNotFound) {
			continue // finished since the listing
		}
		if err != nil {
			return nil, err
		}
		if j.FinishedAt.IsZero() && !j.Finished() {
			out = append(out, j)
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
// pending): the earliest NextAt of its runnable pending steps.
func (j *Job) NextDue() time.Time {
	var next time.Time
	for i := range j.Steps {
		s := &j.Steps[i]
		if s.State != StepPending {
			continue
		}
		if next.IsZero() || s.NextAt.Before(next) {
			next = s.NextAt
		}
	}
	return next
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
	j, err := q.Update(ctx, id, func(j *Job) error {
		for i := range j.Steps {
			s := &j.Steps[i]
			if s.State == StepPending {
				s.State, s.LastError, s.DoneAt = StepFailed, "canceled: "+reason, now
			}
		}
		return nil
	})
	if err == nil {
		q.signal()
	}
	return j, err
}
