package jobs

import (
	"context"
	"errors"
	"time"

	"github.com/oncall/pager/app/retry"
	"github.com/oncall/pager/store"
)

// DefaultBackoff doubles from 1s to a 5m cap, with "equal jitter" (a random
// point in the upper half) so jobs that failed together during an outage do
// not all retry in the same instant.
func DefaultBackoff(attempt int) time.Duration {
	return retry.Policy{First: time.Second, Max: 5 * time.Minute, Jitter: retry.EqualJitter}.Delay(attempt)
}

// contractErr is a store answer the caller acts on, not an outage.
func contractErr(err error) bool {
	return errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrPrecondition) ||
		errors.Is(err, store.ErrNotModified)
}

// storeOK and storeFailed keep outage logs short however many calls fail:
// one line when failures start (at most one a second, for a flapping
// store), one every noiseEvery while they last, one when calls succeed
// again.
const noiseEvery = 30 * time.Second

func (q *Queue) storeOK() {
	if n := q.failing.Swap(0); n > 0 && q.noisy.Swap(false) {
		q.log.Info("jobs: store calls succeed again", "store", q.st.String(), "failed_in_a_row", n)
	}
}

func (q *Queue) storeFailed(op string, err error) {
	total := q.stats.storeErrors.Add(1)
	n := q.failing.Add(1)
	interval := noiseEvery
	if n == 1 {
		interval = time.Second
	}
	now := time.Now().UnixNano()
	last := q.lastNoise.Load()
	if now-last < int64(interval) || !q.lastNoise.CompareAndSwap(last, now) {
		return
	}
	q.noisy.Store(true)
	q.log.Warn("jobs: store call failed", "store", q.st.String(), "op", op,
		"failed_in_a_row", n, "failed_total", total, "err", err)
}

// observe classifies the result of one store call for the outage log.
func (q *Queue) observe(op string, err error) error {
	if err == nil || contractErr(err) {
		q.storeOK()
	} else {
		q.storeFailed(op, err)
	}
	return err
}

// retry repeats call through outages until it succeeds, gives a contract
// answer (not found, precondition, not modified) or ctx ends.
func (q *Queue) retry(ctx context.Context, op string, call func(context.Context) error) error {
	return retry.Policy{First: 20 * time.Millisecond, Max: 5 * time.Second}.Do(ctx, func(int) (bool, error) {
		err := q.observe(op, call(ctx))
		return err != nil && !contractErr(err), err
	})
}

// detach gives store writes that must outlive a cancelled run (recording a
// finished step, releasing a lease) a short grace period. Trying longer
// than part of the lease is pointless: by then another replica may own the
// job.
func (q *Queue) detach(ctx context.Context) (context.Context, context.CancelFunc) {
	return detachFor(ctx, q.grace())
}

func (q *Queue) grace() time.Duration { return min(q.lease/2, 5*time.Second) }

// detachFor returns a context that ends grace after ctx does.
func detachFor(ctx context.Context, grace time.Duration) (context.Context, context.CancelFunc) {
	d, cancel := context.WithCancel(context.WithoutCancel(ctx))
	stop := context.AfterFunc(ctx, func() {
		t := time.AfterFunc(grace, cancel)
		context.AfterFunc(d, func() { t.Stop() })
	})
	return d, func() {
		stop()
		cancel()
	}
}
