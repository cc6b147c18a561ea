package jobs

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/oncall/pager/store"
)

// StepFunc runs one step. job is a private copy: the handler may read the
// payload and other steps' results but changes to it are not saved; the
// returned result is JSON-encoded into step.Result. Returning an error
// schedules a retry unless it is wrapped with Permanent.
//
// Steps run at least once: a crash, a lost lease or an unrecordable outcome
// runs the step again, so a handler must be idempotent (see the package
// documentation). ctx is cancelled on shutdown and when the lease is lost;
// a handler that ignores it holds the job (renewing its lease) until it
// returns. A handler must not Update its own step: that discards its
// outcome and runs it again.
type StepFunc func(ctx context.Context, job *Job, step *Step) (result any, err error)

// Options tune a Queue; the zero value is usable.
type Options struct {
	// Prefix is where the queue keeps its objects; default "jobs/". A
	// missing trailing slash is added.
	Prefix string
	// Owner identifies this process in leases and must be unique per
	// running process; default Replica (or the host name) plus a random
	// suffix, so an old lease is never mistaken for this run's own work.
	Owner string
	// Replica is the stable identity of this replica across restarts (at
	// most one process runs under it at a time). A process restarted under
	// the same Replica takes back the leases its predecessor left at once,
	// instead of waiting for them to expire: those last renewed before it
	// started. A lease renewed since is respected, so two processes that
	// do share a Replica (an old one still stopping as the new one starts)
	// only hand over what the old one held at that moment, instead of
	// taking each other's jobs for as long as both run. Empty: leases are
	// waited out.
	Replica string
	// Lease is how long a claim lasts without renewal (default 60s): the
	// longest a crashed runner's job waits before another replica takes
	// it over.
	Lease time.Duration
	// Poll is the pause between scans of the store (default 2s). Local
	// enqueues and updates wake the runner at once.
	Poll time.Duration
	// Backoff gives the delay after the attempt-th failure (1-based);
	// default DefaultBackoff.
	Backoff func(attempt int) time.Duration
	// Now is the clock for leases and step schedules; default time.Now.
	Now    func() time.Time
	Logger *slog.Logger
	// Workers bounds the steps running at once, and the jobs claimed at
	// once, so a busy replica leaves work to the others; default 8.
	Workers int
}

// Queue runs durable jobs kept in a store.Store. Several Queues (replicas)
// may share one store.
type Queue struct {
	st      store.Store
	prefix  string
	owner   string
	replica string
	lease   time.Duration
	poll    time.Duration
	backoff func(int) time.Duration
	now     func() time.Time
	// started is when this Queue was made, by now: a lease of our replica
	// renewed later is another live process's (see predecessor).
	started time.Time
	log     *slog.Logger
	jobSem  chan struct{}
	stepSem chan struct{}
	wake    chan struct{}
	// urgent is signalled by a local Enqueue of a job with a first step
	// (HandleFirst), so a scan claiming other jobs stops and starts over.
	urgent chan struct{}
	// backlog counts the jobs with a first step due that the current scan
	// has yet to claim; while it is positive, jobs claimed for their first
	// steps run only those.
	backlog atomic.Int64

	hmu      sync.RWMutex
	handlers map[handlerKey]StepFunc
	byKind   map[Kind]StepFunc // fallbacks, for steps named at run time
	first    map[handlerKey]bool

	mu       sync.Mutex
	cache    map[string]*cached // by ID: the last version seen, to skip unchanged Gets
	inflight map[string]struct{}

	stats struct {
		enqueued, duplicates, stepsDone, stepsFailed, stepsRetried,
		stepsDiscarded, finished, corrupt, storeErrors atomic.Int64
	}
	failing   atomic.Int64 // consecutive store failures
	lastNoise atomic.Int64 // unix nanos of the last failure log
	noisy     atomic.Bool  // a failure was logged since the last success
}

type handlerKey struct {
	kind Kind
	step string
}

type cached struct {
	etag   string
	job    Job
	warned bool // "no handler" already logged for this version
}

// New returns a Queue over st. Register handlers with Handle or HandleKind,
// then call Run.
func New(st store.Store, opts Options) *Queue {
	q := &Queue{
		st:       st,
		prefix:   opts.Prefix,
		owner:    opts.Owner,
		replica:  opts.Replica,
		lease:    opts.Lease,
		poll:     opts.Poll,
		backoff:  opts.Backoff,
		now:      opts.Now,
		log:      opts.Logger,
		wake:     make(chan struct{}, 1),
		urgent:   make(chan struct{}, 1),
		handlers: make(map[handlerKey]StepFunc),
		byKind:   make(map[Kind]StepFunc),
		first:    make(map[handlerKey]bool),
		cache:    make(map[string]*cached),
		inflight: make(map[string]struct{}),
	}
	if q.prefix == "" {
		q.prefix = "jobs/"
	}
	if !strings.HasSuffix(q.prefix, "/") {
		q.prefix += "/"
	}
	if q.owner == "" {
		host, _ := os.Hostname()
		if opts.Replica != "" {
			host = opts.Replica
		}
		if host == "" {
			host = "jobs"
		}
		q.owner = host + "-" + strings.ToLower(rand.Text()[:10])
	}
	if q.lease <= 0 {
		q.lease = 60 * time.Second
	}
	if q.poll <= 0 {
		q.poll = 2 * time.Second
	}
	if q.backoff == nil {
		q.backoff = DefaultBackoff
	}
	if q.now == nil {
		q.now = time.Now
	}
	q.started = q.now()
	if q.log == nil {
		q.log = slog.New(slog.DiscardHandler)
	}
	workers := opts.Workers
	if workers <= 0 {
		workers = 8
	}
	q.jobSem = make(chan struct{}, workers)
	q.stepSem = make(chan struct{}, workers)
	return q
}

// Owner is the lease owner name of this replica.
func (q *Queue) Owner() string { return q.owner }

// Handle registers fn for step of jobs of kind. A step without a handler on
// this replica is left for a replica that has one.
func (q *Queue) Handle(kind Kind, step string, fn StepFunc) {
	q.hmu.Lock()
	defer q.hmu.Unlock()
	q.handlers[handlerKey{kind, step}] = fn
}

// HandleFirst registers fn like Handle, for a step that runs ahead of other
// work: a short step that makes something safe (storing a voicemail) and
// must not queue behind slow ones (pages waiting for a send rate) when a
// burst of jobs arrives. A scan claims jobs with a first step due before
// any other, and a claimed job starts its first steps before its others.
// While more such jobs wait for a worker than there are workers, a job
// claimed for its first steps runs only those and is then handed back (one
// more lease write and claim), so its other steps run once that backlog is
// cleared. Without a backlog a first step runs like any other.
func (q *Queue) HandleFirst(kind Kind, step string, fn StepFunc) {
	q.hmu.Lock()
	defer q.hmu.Unlock()
	q.handlers[handlerKey{kind, step}] = fn
	q.first[handlerKey{kind, step}] = true
}

// HandleKind registers fn for every step of jobs of kind that has no
// handler of its own (Handle). It is for kinds whose step names are data,
// such as one step per recipient, which no replica could list up front.
func (q *Queue) HandleKind(kind Kind, fn StepFunc) {
	q.hmu.Lock()
	defer q.hmu.Unlock()
	q.byKind[kind] = fn
}

// handler is the step's own handler, else its kind's.
func (q *Queue) handler(kind Kind, step string) StepFunc {
	q.hmu.RLock()
	defer q.hmu.RUnlock()
	if fn := q.handlers[handlerKey{kind, step}]; fn != nil {
		return fn
	}
	return q.byKind[kind]
}

// isFirst: the step was registered with HandleFirst.
func (q *Queue) isFirst(kind Kind, step string) bool {
	q.hmu.RLock()
	defer q.hmu.RUnlock()
	return q.first[handlerKey{kind, step}]
}

// firstDue reports whether j has a first step (HandleFirst) that may run now.
func (q *Queue) firstDue(j *Job, now time.Time) bool {
	for i := range j.Steps {
		s := &j.Steps[i]
		if s.State == StepPending && !s.NextAt.After(now) && j.depsDone(s) && q.isFirst(j.Kind, s.Name) {
			return true
		}
	}
	return false
}

// Stats are counters since New, for metrics.
type Stats struct {
	Enqueued   int64 // jobs created by Enqueue
	Duplicates int64 // Enqueue calls for an existing ID
	StepsDone  int64
	// StepsFailed counts steps that became failed (permanent error or
	// attempts exhausted), not individual failed attempts.
	StepsFailed  int64
	StepsRetried int64 // failed attempts that were scheduled again
	// StepsDiscarded counts outcomes not recorded because the step was
	// changed meanwhile (Update, or another runner after lease expiry).
	StepsDiscarded int64
	JobsFinished   int64
	Corrupt        int64 // objects moved to corrupt/
	StoreErrors    int64 // failed store calls (outages), retried
}

// Stats returns the counters.
func (q *Queue) Stats() Stats {
	s := &q.stats
	return Stats{
		Enqueued:       s.enqueued.Load(),
		Duplicates:     s.duplicates.Load(),
		StepsDone:      s.stepsDone.Load(),
		StepsFailed:    s.stepsFailed.Load(),
		StepsRetried:   s.stepsRetried.Load(),
		StepsDiscarded: s.stepsDiscarded.Load(),
		JobsFinished:   s.finished.Load(),
		Corrupt:        s.corrupt.Load(),
		StoreErrors:    s.storeErrors.Load(),
	}
}

func (q *Queue) activeKey(id string) string    { return q.prefix + "active/" + id + ".json" }
func (q *Queue) doneKey(id string) string      { return q.prefix + "done/" + id + ".json" }
func (q *Queue) activePrefix() string          { return q.prefix + "active/" }
func (q *Queue) corruptKey(name string) string { return q.prefix + "corrupt/" + name }

// idFromKey is the inverse of activeKey; ok is false for keys that are not
// ours to parse (they are moved aside as corrupt).
func (q *Queue) idFromKey(key string) (string, bool) {
	name, ok := strings.CutPrefix(key, q.activePrefix())
	if !ok {
		return "", false
	}
	id, ok := strings.CutSuffix(name, ".json")
	return id, ok && validID(id)
}

// ErrNotFound is returned by Get and Update for an unknown job ID.
var ErrNotFound = errors.New("jobs: job not found")

// ErrCorrupt is wrapped when a stored job cannot be parsed.
var ErrCorrupt = errors.New("jobs: corrupt job object")

func decode(id string, data []byte) (Job, error) {
	var j Job
	if err := json.Unmarshal(data, &j); err != nil {
		return Job{}, fmt.Errorf("%w: %s: %w", ErrCorrupt, id, err)
	}
	if j.ID != id {
		return Job{}, fmt.Errorf("%w: %s: object holds id %q", ErrCorrupt, id, j.ID)
	}
	if err := j.validate(); err != nil {
		return Job{}, fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	return j, nil
}

// signalUrgent wakes the runner and stops a scan that is claiming jobs
// without a first step.
func (q *Queue) signalUrgent() {
	select {
	case q.urgent <- struct{}{}:
	default:
	}
	q.signal()
}

func (q *Queue) signal() {
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

func (q *Queue) remember(id, etag string, j *Job) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.cache[id] = &cached{etag: etag, job: j.clone()}
}

func (q *Queue) forget(id string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	delete(q.cache, id)
}

// permanentError marks an error as not worth retrying.
type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

// Permanent wraps err so the step fails at once instead of being retried.
// Permanent(nil) is nil.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &permanentError{err: err}
}

// IsPermanent reports whether err was wrapped with Permanent.
func IsPermanent(err error) bool {
	var p *permanentError
	return errors.As(err, &p)
}
