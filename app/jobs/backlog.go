package jobs

import "time"

// Backlog is the queue as this replica's runner saw it on its last scan of
// active/ (every Poll), with this replica's own enqueues and updates since:
// reading it makes no store call, so a metrics scrape or a readiness probe
// costs nothing.
type Backlog struct {
	// Queued counts jobs with a step still to run (waiting, running or
	// waiting for a retry).
	Queued int
	// Oldest is when the oldest of them was created (zero when none).
	Oldest time.Time
	// NextDue is the earliest time a step of theirs is due (zero when
	// none), and NextDueJob that job's ID. A NextDue long past means the
	// work is not being done.
	NextDue    time.Time
	NextDueJob string
}

// Backlog returns the queue as of the runner's last scan.
func (q *Queue) Backlog() Backlog {
	q.mu.Lock()
	defer q.mu.Unlock()
	var b Backlog
	for id, c := range q.cache {
		j := &c.job
		if j.sealed() || j.Finished() {
			continue
		}
		b.Queued++
		if b.Oldest.IsZero() || j.CreatedAt.Before(b.Oldest) {
			b.Oldest = j.CreatedAt
		}
		if due := j.NextDue(); !due.IsZero() && (b.NextDue.IsZero() || due.Before(b.NextDue) ||
			(due.Equal(b.NextDue) && id < b.NextDueJob)) {
			b.NextDue, b.NextDueJob = due, id
		}
	}
	return b
}
