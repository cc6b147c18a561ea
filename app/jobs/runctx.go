package jobs

import "context"

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
