package jobs

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"runtime/debug"
	"sync"
	"time"

	"github.com/oncall/pager/store"
)

var (
	errLeaseLost = errors.New("jobs: lease taken over by another runner")
	errGone      = errors.New("jobs: job object gone")
)

// maxErrorLen bounds LastError so a handler returning a huge error (a whole
// HTTP body) cannot bloat the job object.
const maxErrorLen = 2048

// claim is a job this Queue holds the lease on. All writes go through
// mutate, which serialises them and merges with concurrent writers.
type claim struct {
	q    *Queue
	id   string
	kind Kind
	key  string
	sctx context.Context // for store writes; outlives a cancelled run briefly

	mu       sync.Mutex
	job      Job    // latest version known, as written or read
	etag     string // of job
	lost     bool   // the lease now belongs to another runner
	gone     bool   // active/ object deleted or unreadable
	released bool   // lease given back with work left
	// interrupted: shutdown cut a step short, perhaps mid-send.
	interrupted bool
	// takenOver: claimed from a runner that had not released the job.
	takenOver bool
	takenFrom *Lease // the lease taken over, with takenOver
	cancel    context.CancelCauseFunc
	// first: claimed for a first step (HandleFirst); under a backlog of
	// such jobs its other steps are left for later.
	first bool
}

// process runs due steps in parallel, starting each step as soon as its
// dependencies are recorded done, until nothing more is due; then it seals
// and finishes the job or releases the lease.
func (h *claim) process(ctx context.Context) {
	q := h.q
	// Steps already running get half the shutdown grace period rather than
	// being cut off mid-send: a text whose request reached Twilio but whose
	// answer was abandoned would otherwise be sent again after a restart.
	// The other half is left for recording outcomes and releasing the
	// lease. No new step starts once ctx is done.
	graceCtx, stopGrace := detachFor(ctx, q.grace()/2)
	defer stopGrace()
	stepCtx, cancel := context.WithCancelCause(graceCtx)
	defer cancel(nil)
	h.mu.Lock()
	h.cancel = cancel
	h.mu.Unlock()

	renewCtx, stopRenew := context.WithCancel(h.sctx)
	renewed := make(chan struct{})
	go func() {
		defer close(renewed)
		h.renew(renewCtx)
	}()

	attempted := make(map[string]bool)
	finished := make(chan struct{})
	running := 0
	for {
		if ctx.Err() == nil && stepCtx.Err() == nil {
			h.mu.Lock()
			snap, stop := h.job, h.lost || h.gone || h.job.sealed()
			h.mu.Unlock()
			now := q.now()
			// First steps start first; the others wait while jobs with a
			// first step due wait for a worker.
			holdBack := h.first && q.backlog.Load() > 0
			for _, firstPass := range []bool{true, false} {
				for i := range snap.Steps {
					s := &snap.Steps[i]
					if stop || attempted[s.Name] || s.State != StepPending || s.NextAt.After(now) || !snap.depsDone(s) {
						continue
					}
					if first := q.isFirst(snap.Kind, s.Name); first != firstPass || (!first && holdBack) {
						continue
					}
					fn := q.handler(snap.Kind, s.Name)
					if fn == nil {
						continue
					}
					attempted[s.Name] = true
					running++
					go func(job Job, name string) {
						defer func() { finished <- struct{}{} }()
						h.runStep(stepCtx, job, name, fn)
					}(snap.clone(), s.Name)
				}
			}
		}
		if running == 0 {
			break
		}
		<-finished
		running--
	}
	stopRenew()
	<-renewed
	h.settle()
}

// runStep runs one handler and records its outcome.
func (h *claim) runStep(ctx context.Context, job Job, name string, fn StepFunc) {
	q := h.q
	select {
	case q.stepSem <- struct{}{}:
	case <-ctx.Done():
		return
	}
	defer func() { <-q.stepSem }()
	if ctx.Err() != nil {
		return
	}
	s := job.Step(name)
	before, err := json.Marshal(s)
	if err != nil {
		return
	}
	job.TakenOver = h.takenOver
	if h.takenFrom != nil {
		l := *h.takenFrom
		job.TakenFrom = &l
	}
	start := q.now().UTC()
	res, err := h.call(ctx, fn, &job, s)
	if err != nil && ctx.Err() != nil {
		// Shutdown or lost lease: the failure says nothing about the step,
		// so it is neither recorded nor counted; the step runs again. A
		// shutdown interrupting a step (one waiting for its send slot, say)
		// is the normal end of a drain, not lost work: debug only.
		if cause := context.Cause(ctx); errors.Is(cause, errLeaseLost) || errors.Is(cause, errGone) {
			q.log.Info("jobs: step stopped: the job is no longer ours; whoever holds it runs the step", "id", h.id, "step", name, "cause", cause)
		} else {
			h.mu.Lock()
			h.interrupted = true
			h.mu.Unlock()
			q.log.Debug("jobs: step interrupted by shutdown; it runs again on the next start, not counted as an attempt", "id", h.id, "step", name)
		}
		return
	}
	var raw json.RawMessage
	if err == nil && res != nil {
		if raw, err = json.Marshal(res); err != nil {
			err = Permanent(fmt.Errorf("jobs: encode result: %w", err))
			raw = nil
		}
	}
	h.record(name, before, raw, err, start)
}

func (h *claim) call(ctx context.Context, fn StepFunc, job *Job, s *Step) (res any, err error) {
	defer func() {
		if r := recover(); r != nil {
			h.q.log.Error("jobs: step handler panicked", "id", h.id, "step", s.Name, "panic", r,
				"stack", string(debug.Stack()))
			err = fmt.Errorf("jobs: step handler panicked: %v", r)
		}
	}()
	return fn(withRun(ctx, job, s), job, s)
}

type outcome int

const (
	outDiscarded outcome = iota
	outDone
	outRetry
	outFailed
)

// record merges one step outcome into the latest version of the job. The
// outcome is dropped if the step changed since it started (an Update
// reopened or edited it, or another runner recorded it after our lease
// expired): the newer state wins and the step runs again if it is pending.
func (h *claim) record(name string, before, raw json.RawMessage, runErr error, start time.Time) {
	q := h.q
	var (
		out  outcome
		step Step
	)
	err := h.mutate(h.sctx, func(j *Job, now time.Time) bool {
		s := j.Step(name)
		if s == nil {
			out = outDiscarded
			return false
		}
		if cur, err := json.Marshal(s); err != nil || !bytes.Equal(cur, before) {
			out = outDiscarded
			return false
		}
		out = q.apply(s, raw, runErr, now)
		s.RunStart, s.RunEnd = start, now
		step = *s
		j.cascade(now)
		if j.Finished() && h.owns(j) {
			j.FinishedAt = now
		}
		return true
	})
	if err != nil {
		q.log.Warn("jobs: step outcome not recorded; the step will run again", "id", h.id, "step", name,
			"step_err", runErr, "err", err)
		return
	}
	switch out {
	case outDiscarded:
		q.stats.stepsDiscarded.Add(1)
		q.log.Info("jobs: step changed while it ran; outcome discarded", "id", h.id, "step", name)
	case outDone:
		q.stats.stepsDone.Add(1)
		q.log.Debug("jobs: step done", "id", h.id, "step", name, "attempts", step.Attempts)
	case outRetry:
		q.stats.stepsRetried.Add(1)
		q.log.Warn("jobs: step failed; will retry", "id", h.id, "kind", h.kind, "step", name,
			"attempt", step.Attempts, "next_at", step.NextAt, "err", runErr)
	case outFailed:
		q.stats.stepsFailed.Add(1)
		q.log.Error("jobs: step failed for good", "id", h.id, "kind", h.kind, "step", name,
			"attempts", step.Attempts, "permanent", IsPermanent(runErr), "err", runErr)
	}
}

// apply writes one attempt's outcome into s.
func (q *Queue) apply(s *Step, raw json.RawMessage, err error, now time.Time) outcome {
	s.Attempts++
	if err == nil {
		s.State = StepDone
		s.Result = raw
		s.LastError = ""
		s.NextAt = time.Time{}
		s.DoneAt = now
		return outDone
	}
	msg := err.Error()
	if len(msg) > maxErrorLen {
		msg = msg[:maxErrorLen]
	}
	s.LastError = msg
	if IsPermanent(err) || (s.MaxAttempts > 0 && s.Attempts >= s.MaxAttempts) {
		s.State = StepFailed
		s.NextAt = time.Time{}
		s.DoneAt = now
		return outFailed
	}
	s.NextAt = now.Add(q.backoff(s.Attempts))
	return outRetry
}

func (h *claim) owns(j *Job) bool {
	return j.Lease != nil && j.Lease.Owner == h.q.owner
}

// mutate applies fn to the latest version and writes it conditionally. On a
// conflict it re-reads and applies fn again, which is safe because every fn
// here touches only our lease or one step. Outages are retried until ctx
// ends. fn returning false means nothing to write.
func (h *claim) mutate(ctx context.Context, fn func(j *Job, now time.Time) bool) error {
	q := h.q
	h.mu.Lock()
	defer h.mu.Unlock()
	for {
		if h.gone {
			return errGone
		}
		c := h.job.clone()
		if !fn(&c, q.now().UTC()) {
			return nil
		}
		c.Version++
		data, err := json.Marshal(&c)
		if err != nil {
			return fmt.Errorf("jobs: encode %s: %w", h.id, err)
		}
		var etag string
		err = q.retry(ctx, "put", func(ctx context.Context) error {
			var err error
			etag, err = q.st.Put(ctx, h.key, data, store.Cond{IfMatch: h.etag})
			return err
		})
		switch {
		case err == nil:
			h.job, h.etag = c, etag
			q.remember(h.id, etag, &c)
			return nil
		case errors.Is(err, store.ErrPrecondition), errors.Is(err, store.ErrNotFound):
			if err := h.refresh(ctx); err != nil {
				return err
			}
		default:
			return err
		}
	}
}

// refresh re-reads the job after a lost conditional write. Called with h.mu
// held.
func (h *claim) refresh(ctx context.Context) error {
	q := h.q
	var obj store.Object
	err := q.retry(ctx, "get", func(ctx context.Context) error {
		var err error
		obj, err = q.st.Get(ctx, h.key)
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		h.gone = true
		h.cancel(errGone)
		q.forget(h.id)
		return errGone
	}
	if err != nil {
		return err
	}
	j, err := decode(h.id, obj.Data)
	if err != nil {
		// The next scan moves it aside.
		h.gone = true
		h.cancel(err)
		return err
	}
	h.job, h.etag = j, obj.ETag
	q.remember(h.id, obj.ETag, &j)
	if j.Lease != nil && j.Lease.Owner != q.owner && !h.lost {
		h.lost = true
		h.cancel(errLeaseLost)
		q.log.Warn("jobs: lease lost to another runner", "id", h.id, "lease", j.Lease)
	}
	return nil
}

// renew extends the lease every third of its length while steps run.
func (h *claim) renew(ctx context.Context) {
	q := h.q
	t := time.NewTicker(max(q.lease/3, time.Millisecond))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		err := h.mutate(ctx, func(j *Job, now time.Time) bool {
			if !h.owns(j) || j.sealed() {
				return false
			}
			j.Lease.Until = now.Add(q.lease)
			return true
		})
		if errors.Is(err, errGone) {
			return
		}
	}
}

// settle ends our hold on the job: seal it if every step is terminal (and
// finish it), else give the lease back so any replica can pick up the rest.
// A lease whose step shutdown cut short is kept to expire instead: the step
// may have sent before it was cut, and whoever runs it next (this replica
// restarted, at once; another, once the lease ends) is then told it took
// the job over, with when, so the outbound path looks on Twilio first.
func (h *claim) settle() {
	q := h.q
	var released bool
	h.mu.Lock()
	interrupted := h.interrupted
	h.mu.Unlock()
	err := h.mutate(h.sctx, func(j *Job, now time.Time) bool {
		released = false
		if !h.owns(j) || j.sealed() {
			return false
		}
		j.cascade(now)
		if j.Finished() {
			j.FinishedAt = now
			return true
		}
		if interrupted {
			return false
		}
		j.Lease = nil
		released = true
		return true
	})
	if err != nil {
		if !errors.Is(err, errGone) {
			q.log.Warn("jobs: lease not released; it expires by itself", "id", h.id, "err", err)
		}
		return
	}
	h.mu.Lock()
	h.released = released
	finish := h.job.sealed() && h.owns(&h.job)
	h.mu.Unlock()
	if finish {
		h.finish()
	}
}

// finish moves a sealed job to done/: write done, then delete active/.
// Enqueue's dedup relies on that order. done/ is only overwritten by a
// newer version (a reopened job finishing again).
func (h *claim) finish() {
	q := h.q
	ctx := h.sctx
	done := h.job.clone()
	done.Lease = nil
	data, err := json.Marshal(&done)
	if err != nil {
		q.log.Error("jobs: encode", "id", h.id, "err", err)
		return
	}
	dkey := q.doneKey(h.id)
	for {
		var cur store.Object
		err := q.retry(ctx, "get", func(ctx context.Context) error {
			var err error
			cur, err = q.st.Get(ctx, dkey)
			return err
		})
		cond := store.Cond{IfNoneMatch: true}
		switch {
		case errors.Is(err, store.ErrNotFound):
		case err != nil:
			q.log.Warn("jobs: finished job not moved to done/ yet; retried after lease expiry", "id", h.id, "err", err)
			return
		default:
			cond = store.Cond{IfMatch: cur.ETag}
			var prev struct{ Version int }
			if json.Unmarshal(cur.Data, &prev) == nil && prev.Version >= done.Version {
				cond = store.Cond{} // already written by us or a helper: skip
			}
		}
		if cond == (store.Cond{}) {
			break
		}
		err = q.retry(ctx, "put", func(ctx context.Context) error {
			_, err := q.st.Put(ctx, dkey, data, cond)
			return err
		})
		if err == nil {
			break
		}
		if !errors.Is(err, store.ErrPrecondition) && !errors.Is(err, store.ErrNotFound) {
			q.log.Warn("jobs: finished job not moved to done/ yet; retried after lease expiry", "id", h.id, "err", err)
			return
		}
	}
	// Delete only the sealed version we hold; anything else was written by a
	// runner that took over, which will finish it.
	err = q.retry(ctx, "get", func(ctx context.Context) error {
		_, err := q.st.GetIfChanged(ctx, h.key, h.etag)
		return err
	})
	switch {
	case errors.Is(err, store.ErrNotModified):
		err = q.retry(ctx, "delete", func(ctx context.Context) error { return q.st.Delete(ctx, h.key) })
		if err != nil {
			q.log.Warn("jobs: finished job still in active/; retried after lease expiry", "id", h.id, "err", err)
			return
		}
	case errors.Is(err, store.ErrNotFound):
		return // finished by a runner that took over
	case err != nil:
		q.log.Warn("jobs: finished job still in active/; retried after lease expiry", "id", h.id, "err", err)
		return
	default:
		q.log.Warn("jobs: sealed job changed by another runner; leaving it to them", "id", h.id)
		return
	}
	q.forget(h.id)
	q.stats.finished.Add(1)
	q.log.Info("jobs: job finished", "id", h.id, "kind", done.Kind, "failed", done.Failed())
}
