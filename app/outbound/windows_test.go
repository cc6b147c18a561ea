package outbound

import (
	"slices"
	"testing"
	"time"

	"github.com/oncall/pager/app/jobs"
	"github.com/oncall/pager/app/twilio"
)

// A step looks for its earlier send only where an earlier run could have
// made it: its last run, the lease of the runner it was taken from; a job
// stored before those were kept falls back to everything since it was
// created.
func TestRunWindows(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	at := func(m int) time.Time { return t0.Add(time.Duration(m) * time.Minute) }
	span := func(a, b int) twilio.Window { return twilio.Window{Start: at(a).Add(-skew), End: at(b).Add(skew)} }
	now := at(60)
	for name, tc := range map[string]struct {
		job  jobs.Job
		step jobs.Step
		want []twilio.Window
	}{
		"retry": {
			step: jobs.Step{Attempts: 1, RunStart: at(10), RunEnd: at(11)},
			want: []twilio.Window{span(10, 11)},
		},
		"takeover of an expired lease": {
			job:  jobs.Job{TakenOver: true, TakenFrom: &jobs.Lease{Since: at(20), Until: at(25)}},
			want: []twilio.Window{span(20, 25)},
		},
		"takeover of a live lease (a restart)": {
			job:  jobs.Job{TakenOver: true, TakenFrom: &jobs.Lease{Since: at(50), Until: at(61)}},
			want: []twilio.Window{span(50, 60)},
		},
		"retry, then takeover": {
			job:  jobs.Job{TakenOver: true, TakenFrom: &jobs.Lease{Since: at(20), Until: at(25)}},
			step: jobs.Step{Attempts: 1, RunStart: at(10), RunEnd: at(11)},
			want: []twilio.Window{span(10, 11), span(20, 25)},
		},
		"retry stored untimed": {
			step: jobs.Step{Attempts: 1},
			want: []twilio.Window{span(0, 60)},
		},
		"takeover of an untimed lease": {
			job:  jobs.Job{TakenOver: true, TakenFrom: &jobs.Lease{Until: at(25)}},
			step: jobs.Step{Attempts: 1, RunStart: at(10), RunEnd: at(11)},
			want: []twilio.Window{span(0, 60)},
		},
	} {
		tc.job.CreatedAt = t0
		if got := runWindows(&tc.job, &tc.step, now); !slices.Equal(got, tc.want) {
			t.Errorf("%s: windows %v, want %v", name, got, tc.want)
		}
	}
}
