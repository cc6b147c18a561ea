package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/oncall/pager/store"
)

// minWait keeps Run from spinning when a job is due but cannot be claimed
// yet (e.g. its step is running here).
const minWait = 10 * time.Millisecond

// Run processes jobs until ctx ends: it scans active/ every Poll (sooner
// when a local Enqueue or Update wakes it, or a retry falls due), claims due
// jobs and runs their steps. Store outages are logged and retried; they
// never drop a job. On cancellation Run stops starting steps, lets running
// handlers see the cancelled context, records what finished, releases its
// leases and returns ctx.Err(). Steps abandoned this way do not count as
// attempts.
func (q *Queue) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	defer wg.Wait()
	timer := time.NewTimer(q.poll)
	defer timer.Stop()
	for {
		next, err := q.pass(ctx, &wg, true)
		if err != nil && ctx.Err() == nil {
			q.log.Debug("jobs: scan failed", "err", err)
		}
		wait := q.poll
		if !next.IsZero() {
			wait = min(wait, max(next.Sub(q.now()), minWait))
		}
		timer.Reset(wait)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-q.wake:
		case <-timer.C:
		}
	}
}

// RunOnce makes one scan, claims every job that is due now and runs it until
// it has nothing more due, then returns. A step is attempted at most once
// per RunOnce, so a test driving a fake clock sees one attempt per call.
func (q *Queue) RunOnce(ctx context.Context) error {
	var wg sync.WaitGroup
	_, err := q.pass(ctx, &wg, false)
	wg.Wait()
	return err
}

// pass scans active/ once and starts a goroutine (tracked by wg) per
// claimable job, jobs with a first step due (HandleFirst) ahead of the
// others. With stopForUrgent it returns early, before claiming another
// job without a first step, when a local Enqueue brought a job with one:
// the next scan claims that first. It returns when the next known job
// falls due.
func (q *Queue) pass(ctx context.Context, wg *sync.WaitGroup, stopForUrgent bool) (next time.Time, err error) {
	// Signals from before the listing are about jobs it includes.
	select {
	case <-q.urgent:
	default:
	}
	infos, err := q.st.List(ctx, q.activePrefix())
	if q.observe("list", err) != nil {
		return time.Time{}, fmt.Errorf("jobs: list: %w", err)
	}
	seen := make(map[string]struct{}, len(infos))
	defer q.prune(seen)
	type candidate struct {
		id, etag string
		job      Job
		first    bool
	}
	var cands []candidate
	nfirst := 0
	for _, in := range infos {
		if ctx.Err() != nil {
			return next, ctx.Err()
		}
		id, ok := q.idFromKey(in.Key)
		if !ok {
			q.moveAside(ctx, in.Key, nil, errors.New("key is not <valid id>.json"))
			continue
		}
		seen[id] = struct{}{}
		etag, job, ok := q.load(ctx, id, in)
		if !ok {
			continue
		}
		now := q.now()
		claimable, at, unhandled := q.evaluate(&job, now)
		if !at.IsZero() && (next.IsZero() || at.Before(next)) {
			next = at
		}
		if unhandled != "" {
			q.warnUnhandled(id, etag, job.Kind, unhandled)
		}
		if !claimable {
			continue
		}
		c := candidate{id: id, etag: etag, job: job, first: q.firstDue(&job, now)}
		if c.first {
			nfirst++
		}
		cands = append(cands, c)
	}
	slices.SortStableFunc(cands, func(a, b candidate) int {
		switch {
		case a.first == b.first:
			return 0
		case a.first:
			return -1
		default:
			return 1
		}
	})
	q.backlog.Store(int64(nfirst))
	defer q.backlog.Store(0)
	for _, c := range cands {
		// Take a job slot before claiming: a claimed job that waits for a
		// worker would be withheld from replicas that are idle.
		var urgent <-chan struct{}
		if stopForUrgent && !c.first {
			urgent = q.urgent
		}
		select {
		case q.jobSem <- struct{}{}:
		case <-urgent:
			q.signal()
			return next, nil
		case <-ctx.Done():
			return next, ctx.Err()
		}
		if c.first {
			q.backlog.Add(-1)
		}
		if !q.begin(c.id) {
			<-q.jobSem
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() {
				q.end(c.id)
				<-q.jobSem
			}()
			q.work(ctx, c.id, c.etag, c.job, c.first)
		}()
	}
	return next, nil
}

// begin marks id as being worked on by this Queue; false if it already is.
func (q *Queue) begin(id string) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	if _, busy := q.inflight[id]; busy {
		return false
	}
	q.inflight[id] = struct{}{}
	return true
}

func (q *Queue) end(id string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	delete(q.inflight, id)
}

// prune drops cache entries for jobs no longer listed.
func (q *Queue) prune(seen map[string]struct{}) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for id := range q.cache {
		if _, ok := seen[id]; !ok {
			if _, busy := q.inflight[id]; !busy {
				delete(q.cache, id)
			}
		}
	}
}

// load returns the job listed as in, from the cache when its ETag is
// unchanged. The returned job shares memory with the cache: read only.
func (q *Queue) load(ctx context.Context, id string, in store.Info) (string, Job, bool) {
	q.mu.Lock()
	c := q.cache[id]
	q.mu.Unlock()
	if c != nil && c.etag == in.ETag {
		return c.etag, c.job, true
	}
	obj, err := q.st.Get(ctx, in.Key)
	if err := q.observe("get", err); err != nil {
		// Not found: finished since the listing.
		return "", Job{}, false
	}
	j, err := decode(id, obj.Data)
	if err != nil {
		q.moveAside(ctx, in.Key, &obj, err)
		return "", Job{}, false
	}
	q.mu.Lock()
	q.cache[id] = &cached{etag: obj.ETag, job: j}
	q.mu.Unlock()
	return obj.ETag, j, true
}

func (q *Queue) warnUnhandled(id, etag string, kind Kind, step string) {
	q.mu.Lock()
	c := q.cache[id]
	first := c != nil && c.etag == etag && !c.warned
	if first {
		c.warned = true
	}
	q.mu.Unlock()
	if first {
		q.log.Warn("jobs: no handler on this replica for a due step", "id", id, "kind", kind, "step", step)
	}
}

// leaseLive: another runner (or our own running goroutine) holds j.
func (q *Queue) leaseLive(j *Job, now time.Time) bool {
	return j.Lease != nil && now.Before(j.Lease.Until)
}

// predecessor reports whether l was left by an earlier process of this
// replica: that process is gone, since one process runs per replica. Only
// a lease last renewed (its Until less the lease, which a restart keeps)
// no later than this Queue started qualifies: one renewed since belongs to
// a process alive beside us under the same Replica, and taking it would
// cancel its steps and send what they sent again. Equal times count as
// before, since a clock that only moves when told shows a restart at the
// instant of the predecessor's last renewal.
func (q *Queue) predecessor(l *Lease) bool {
	return q.replica != "" && l.Replica == q.replica && l.Owner != q.owner &&
		!l.Until.Add(-q.lease).After(q.started)
}

// evaluate decides whether j needs a runner now. Our own unexpired lease
// does not block: while we run the job it is in q.inflight, which begin
// checks. at is when j next needs attention (a retry or a lease expiry);
// unhandled names a due step this replica has no handler for.
func (q *Queue) evaluate(j *Job, now time.Time) (claimable bool, at time.Time, unhandled string) {
	if q.leaseLive(j, now) && j.Lease.Owner != q.owner && !q.predecessor(j.Lease) {
		return false, j.Lease.Until, ""
	}
	if j.sealed() || j.Finished() {
		return true, time.Time{}, ""
	}
	for i := range j.Steps {
		s := &j.Steps[i]
		if s.State != StepPending {
			continue
		}
		for _, dep := range s.After {
			if d := j.Step(dep); d != nil && d.State == StepFailed {
				return true, time.Time{}, "" // cascade to write
			}
		}
		if !j.depsDone(s) {
			continue
		}
		if q.handler(j.Kind, s.Name) == nil {
			unhandled = s.Name
			continue
		}
		if !s.NextAt.After(now) {
			return true, time.Time{}, ""
		}
		if at.IsZero() || s.NextAt.Before(at) {
			at = s.NextAt
		}
	}
	return false, at, unhandled
}

// work claims and runs one job.
func (q *Queue) work(ctx context.Context, id, etag string, j Job, first bool) {
	sctx, cancel := q.detach(ctx)
	defer cancel()
	h := q.claim(ctx, sctx, id, etag, j)
	if h == nil {
		return
	}
	h.first = first
	h.process(ctx)
	if h.released {
		// A retry due before the next poll, or a step reopened while we
		// held the job (its wake-up found us busy), should not wait for
		// the poll.
		now := q.now()
		if ok, at, _ := q.evaluate(&h.job, now); ok || (!at.IsZero() && at.Sub(now) < q.poll) {
			d := minWait
			if !ok {
				d = max(at.Sub(now), minWait)
			}
			time.AfterFunc(d, q.signal)
		}
	}
}

// claim takes the job with a conditional write of our lease. A lost race
// re-reads and re-decides, so a job another replica just claimed is
// skipped. Returns nil when the job is not ours to run.
func (q *Queue) claim(ctx, sctx context.Context, id, etag string, j Job) *claim {
	key := q.activeKey(id)
	for range 3 {
		now := q.now()
		if ok, _, _ := q.evaluate(&j, now); !ok {
			return nil
		}
		c := j.clone()
		takenOver := j.Lease != nil && j.Lease.Owner != q.owner
		var from *Lease
		if takenOver {
			l := *j.Lease
			from = &l
		}
		c.Lease = &Lease{Owner: q.owner, Replica: q.replica, Until: now.Add(q.lease).UTC(), Since: now.UTC()}
		c.cascade(now.UTC())
		if c.Finished() && !c.sealed() {
			c.FinishedAt = now.UTC()
		}
		c.Version++
		data, err := json.Marshal(&c)
		if err != nil {
			q.log.Error("jobs: encode", "id", id, "err", err)
			return nil
		}
		newTag, err := q.st.Put(ctx, key, data, store.Cond{IfMatch: etag})
		switch q.observe("put", err); {
		case err == nil:
			q.remember(id, newTag, &c)
			if takenOver {
				q.log.Info("jobs: took over a job its runner did not release", "id", id, "from", j.Lease.Owner)
			}
			return &claim{q: q, id: id, kind: c.Kind, key: key, sctx: sctx, job: c, etag: newTag, cancel: func(error) {}, takenOver: takenOver, takenFrom: from}
		case errors.Is(err, store.ErrPrecondition), errors.Is(err, store.ErrNotFound):
		default:
			return nil // outage: logged; the next scan tries again
		}
		obj, err := q.st.Get(ctx, key)
		if q.observe("get", err) != nil {
			if errors.Is(err, store.ErrNotFound) {
				q.forget(id)
			}
			return nil
		}
		if j, err = decode(id, obj.Data); err != nil {
			q.moveAside(ctx, key, &obj, err)
			return nil
		}
		etag = obj.ETag
		q.remember(id, etag, &j)
	}
	return nil
}

// moveAside copies an unreadable object to corrupt/ and removes it from
// active/, so one bad object neither blocks the queue nor vanishes.
func (q *Queue) moveAside(ctx context.Context, key string, obj *store.Object, cause error) {
	if obj == nil {
		o, err := q.st.Get(ctx, key)
		if q.observe("get", err) != nil {
			return
		}
		obj = &o
	}
	name := strings.TrimPrefix(key, q.activePrefix())
	dst := q.corruptKey(name)
	_, err := q.st.Put(ctx, dst, obj.Data, store.Cond{IfNoneMatch: true})
	if errors.Is(q.observe("put", err), store.ErrPrecondition) {
		dst = q.corruptKey(fmt.Sprintf("%s.%d", name, q.now().UnixNano()))
		_, err = q.st.Put(ctx, dst, obj.Data, store.Cond{IfNoneMatch: true})
		q.observe("put", err)
	}
	if err != nil {
		q.log.Error("jobs: unreadable job object; could not move it aside", "key", key, "cause", cause, "err", err)
		return
	}
	// Only delete the version we copied: a fixed object written meanwhile
	// stays.
	_, err = q.st.GetIfChanged(ctx, key, obj.ETag)
	if !errors.Is(q.observe("get", err), store.ErrNotModified) {
		q.log.Error("jobs: unreadable job object copied aside but changed meanwhile; left in place",
			"key", key, "copy", dst, "cause", cause)
		return
	}
	if err := q.observe("delete", q.st.Delete(ctx, key)); err != nil {
		q.log.Error("jobs: unreadable job object copied aside; delete failed", "key", key, "copy", dst, "err", err)
		return
	}
	q.stats.corrupt.Add(1)
	q.log.Error("jobs: unreadable job object moved aside", "key", key, "to", dst, "err", cause)
}
