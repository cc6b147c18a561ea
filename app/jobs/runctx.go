package jobs

import (
	"context"
	"errors"
	"time"

	"github.com/oncall/pager/app/retry"
)

type runKey struct{}

type run struct {
	job  *Job
	step *Step
}

// withRun marks ctx as a step's run, for code the handler calls that does
// not take the job itself (a pager's send, several calls down).
func withRun(ctx context.Context, job *Job, step *Step) context.Context {
	return context.WithValue(ctx, runKey{}, run{job: job, step: step})
}

// Running returns the job and step whose run ctx belongs to, if any. The
// outbound path asks it so that a send made from any step, however deep,
// is looked up on Twilio before it is made again after a crash or a lost
// answer (outbound.SendText, StartCall). Both are the handler's copies:
// read them, never change them.
func Running(ctx context.Context) (*Job, *Step, bool) {
	r, ok := ctx.Value(runKey{}).(run)
	return r.job, r.step, ok
}

// RecordWait is how long a callback about a step's send (Twilio's status
// callback) waits for the step to record that send: Twilio can call back
// within milliseconds of accepting it, before the step's outcome is stored,
// and does not call again.
const RecordWait = 5 * time.Second

// AwaitRecord runs record until it stops answering notYet, the caller's
// error for "the step has not recorded this send yet", for at most
// RecordWait, and returns record's last error. The step itself is never
// touched meanwhile: changing a running step would send again.
func AwaitRecord(ctx context.Context, notYet error, record func(attempt int) error) error {
	wctx, cancel := context.WithTimeout(ctx, RecordWait)
	defer cancel()
	return retry.Policy{First: 20 * time.Millisecond, Max: 500 * time.Millisecond}.Do(wctx, func(attempt int) (bool, error) {
		err := record(attempt)
		return errors.Is(err, notYet), err
	})
}
