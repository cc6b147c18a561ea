package jobs

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Kind names a type of job; handlers are registered per kind and step name,
// or per kind alone (Queue.HandleKind).
type Kind string

// StepState is where a step stands. Done and failed are terminal.
type StepState string

// Step states.
const (
	StepPending StepState = "pending"
	StepDone    StepState = "done"
	StepFailed  StepState = "failed"
)

// Lease marks a job as being worked on by one runner until Until. Leases are
// compared against the runners' clocks, so replicas need clocks that agree to
// well within Options.Lease.
type Lease struct {
	Owner string    `json:"owner"`
	Until time.Time `json:"until"`
	// Replica is the owner's stable identity (Options.Replica): a process
	// restarted under the same Replica knows its predecessor is gone and
	// takes the lease back at once, if it was last renewed before that
	// process started.
	Replica string `json:"replica,omitempty"`
	// Since is when the owner claimed the job: a runner that takes the
	// job over knows any step the owner left pending ran, if at all,
	// between Since and Until.
	Since time.Time `json:"since,omitzero"`
}

// Step is one unit of work inside a job. Each step is recorded separately, so
// a crash or retry re-runs only the steps that are not done.
type Step struct {
	Name string `json:"name"`
	// After names steps that must be done before this one may start. A
	// pending step whose dependency failed is failed too (it can never run),
	// with LastError naming the dependency.
	After []string  `json:"after,omitempty"`
	State StepState `json:"state"`
	// Attempts counts finished runs: successes and failures, not runs
	// abandoned because the runner shut down or lost its lease.
	Attempts int `json:"attempts,omitempty"`
	// MaxAttempts bounds retries; 0 retries forever.
	MaxAttempts int `json:"max_attempts,omitempty"`
	// NextAt is when a pending step is due again after a failure; zero is
	// now.
	NextAt    time.Time `json:"next_at,omitzero"`
	LastError string    `json:"last_error,omitempty"`
	// Result is the handler's result, JSON-encoded.
	Result json.RawMessage `json:"result,omitempty"`
	// DoneAt is when the step reached a terminal state.
	DoneAt time.Time `json:"done_at,omitzero"`
	// RunStart and RunEnd bound the step's latest counted run (zero before
	// one): a handler whose failed run may still have had its outside
	// effect (an answer lost after the effect) looks for it only there,
	// not among effects of other jobs or of later runs.
	RunStart time.Time `json:"run_start,omitzero"`
	RunEnd   time.Time `json:"run_end,omitzero"`
}

// Decode unmarshals the step's result into v.
func (s *Step) Decode(v any) error {
	if len(s.Result) == 0 {
		return fmt.Errorf("jobs: step %q has no result", s.Name)
	}
	if err := json.Unmarshal(s.Result, v); err != nil {
		return fmt.Errorf("jobs: decode result of step %q: %w", s.Name, err)
	}
	return nil
}

func (s *Step) terminal() bool { return s.State == StepDone || s.State == StepFailed }

// Job is a durable multi-step job: one JSON object in the store.
type Job struct {
	// ID is chosen by the caller from a natural key (e.g.
	// "vm-<RecordingSid>") so a retried webhook maps to the same job.
	ID      string          `json:"id"`
	Kind    Kind            `json:"kind"`
	Payload json.RawMessage `json:"payload,omitempty"`
	Steps   []Step          `json:"steps"`
	// CreatedAt defaults to the enqueue time.
	CreatedAt time.Time `json:"created_at"`
	// FinishedAt is set, together with the last step outcome, when every
	// step is terminal. An active object with FinishedAt set is sealed: it
	// is only copied to done/ and deleted, never modified.
	FinishedAt time.Time `json:"finished_at,omitzero"`
	Lease      *Lease    `json:"lease,omitempty"`
	// Version counts writes of the object; informational.
	Version int `json:"version"`
	// Token is set by Enqueue, unique to that enqueue: it tells the job
	// one Enqueue created from an earlier one with the same ID.
	Token string `json:"token,omitempty"`
	// TakenOver is set, for the handlers of this run only, when the job
	// was claimed from a runner that held it without releasing it (it
	// crashed, or lost its lease): a pending step may have had its effect
	// already, so a handler with an outside effect should check for it
	// before repeating it.
	TakenOver bool `json:"-"`
	// TakenFrom is, with TakenOver, the lease of the runner it was taken
	// from: the steps it left pending ran within it, if at all.
	TakenFrom *Lease `json:"-"`
}

// Step returns the named step, or nil. The pointer is into j.Steps, so
// Update callbacks may modify the step through it.
func (j *Job) Step(name string) *Step {
	for i := range j.Steps {
		if j.Steps[i].Name == name {
			return &j.Steps[i]
		}
	}
	return nil
}

// Decode unmarshals the job's payload into v.
func (j *Job) Decode(v any) error {
	if err := json.Unmarshal(j.Payload, v); err != nil {
		return fmt.Errorf("jobs: decode payload of %s: %w", j.ID, err)
	}
	return nil
}

// Finished reports whether every step is done or failed.
func (j *Job) Finished() bool {
	for i := range j.Steps {
		if !j.Steps[i].terminal() {
			return false
		}
	}
	return true
}

// Failed reports whether any step failed.
func (j *Job) Failed() bool {
	for i := range j.Steps {
		if j.Steps[i].State == StepFailed {
			return true
		}
	}
	return false
}

// Reopen makes the named step pending and due now, with a fresh attempt
// budget; its previous Result and LastError stay visible to the handler.
// Steps that depend on it are not reopened: reopen them too if they must run
// again. Meant for Update callbacks (e.g. a delivery status callback reports
// that a sent notification failed).
func (j *Job) Reopen(name string) error {
	s := j.Step(name)
	if s == nil {
		return fmt.Errorf("jobs: job %s has no step %q", j.ID, name)
	}
	s.State = StepPending
	s.Attempts = 0
	s.NextAt = time.Time{}
	s.DoneAt = time.Time{}
	return nil
}

func (j *Job) sealed() bool { return !j.FinishedAt.IsZero() }

// clone copies what the queue mutates (steps and lease); After, Payload and
// Result are never modified in place, so they are shared.
func (j *Job) clone() Job {
	c := *j
	c.Steps = append([]Step(nil), j.Steps...)
	if j.Lease != nil {
		l := *j.Lease
		c.Lease = &l
	}
	return c
}

func (j *Job) depsDone(s *Step) bool {
	for _, dep := range s.After {
		if d := j.Step(dep); d == nil || d.State != StepDone {
			return false
		}
	}
	return true
}

// cascade fails pending steps whose dependency failed: they can never run,
// and the job must still finish.
func (j *Job) cascade(now time.Time) bool {
	changed := false
	for again := true; again; {
		again = false
		for i := range j.Steps {
			s := &j.Steps[i]
			if s.State != StepPending {
				continue
			}
			for _, dep := range s.After {
				if d := j.Step(dep); d != nil && d.State == StepFailed {
					s.State = StepFailed
					s.LastError = fmt.Sprintf("not run: dependency %q failed", dep)
					s.DoneAt = now
					changed, again = true, true
					break
				}
			}
		}
	}
	return changed
}

// ID rules: the ID becomes part of a store key, so it is restricted to a
// charset that is safe on every store and file system, and starts with a
// letter or digit so it can never be "." / ".." or a hidden file.
const maxIDLen = 128

// ErrInvalidJob is wrapped by Enqueue and Update when a job is malformed.
var ErrInvalidJob = errors.New("jobs: invalid job")

func validID(id string) bool {
	if id == "" || len(id) > maxIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case (c == '.' || c == '_' || c == '-') && i > 0:
		default:
			return false
		}
	}
	return true
}

func checkID(id string) error {
	if !validID(id) {
		return fmt.Errorf("%w: id %q: want 1-%d of [A-Za-z0-9._-], starting with a letter or digit", ErrInvalidJob, id, maxIDLen)
	}
	return nil
}

// validate checks what the runner relies on: unique step names, known
// dependencies and no cycles (a cycle would leave steps pending forever).
func (j *Job) validate() error {
	if err := checkID(j.ID); err != nil {
		return err
	}
	if j.Kind == "" {
		return fmt.Errorf("%w: %s: empty kind", ErrInvalidJob, j.ID)
	}
	if len(j.Steps) == 0 {
		return fmt.Errorf("%w: %s: no steps", ErrInvalidJob, j.ID)
	}
	if len(j.Payload) > 0 && !json.Valid(j.Payload) {
		return fmt.Errorf("%w: %s: payload is not JSON", ErrInvalidJob, j.ID)
	}
	idx := make(map[string]int, len(j.Steps))
	for i := range j.Steps {
		s := &j.Steps[i]
		if s.Name == "" {
			return fmt.Errorf("%w: %s: step %d has no name", ErrInvalidJob, j.ID, i)
		}
		if _, dup := idx[s.Name]; dup {
			return fmt.Errorf("%w: %s: duplicate step %q", ErrInvalidJob, j.ID, s.Name)
		}
		idx[s.Name] = i
		switch s.State {
		case StepPending, StepDone, StepFailed:
		default:
			return fmt.Errorf("%w: %s: step %q: unknown state %q", ErrInvalidJob, j.ID, s.Name, s.State)
		}
	}
	// Kahn's algorithm: every step must become reachable once its
	// dependencies are.
	indeg := make([]int, len(j.Steps))
	next := make([][]int, len(j.Steps))
	for i := range j.Steps {
		for _, dep := range j.Steps[i].After {
			d, ok := idx[dep]
			if !ok {
				return fmt.Errorf("%w: %s: step %q depends on unknown step %q", ErrInvalidJob, j.ID, j.Steps[i].Name, dep)
			}
			indeg[i]++
			next[d] = append(next[d], i)
		}
	}
	queue := make([]int, 0, len(j.Steps))
	for i, n := range indeg {
		if n == 0 {
			queue = append(queue, i)
		}
	}
	for k := 0; k < len(queue); k++ {
		for _, n := range next[queue[k]] {
			if indeg[n]--; indeg[n] == 0 {
				queue = append(queue, n)
			}
		}
	}
	if len(queue) != len(j.Steps) {
		return fmt.Errorf("%w: %s: step dependencies form a cycle", ErrInvalidJob, j.ID)
	}
	return nil
}
