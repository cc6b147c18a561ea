// Package retry is the pager's one backoff helper: how long to pause before
// the next attempt (Policy.Delay, also used by the job queue to schedule a
// failed step) and a loop that tries again until done (Policy.Do).
package retry
