package jobs_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/oncall/pager/app/jobs"
	"github.com/oncall/pager/internal/testclock"
)

// A burst of jobs on one worker: each job's first step (HandleFirst) runs
// before any job's other steps, except for the last job claimed, which
// finds no backlog and runs everything. The other steps run on the next
// scan. With Handle instead, each job runs to the end before the next.
func TestFirstStepsRunAheadOfABacklog(t *testing.T) {
	for _, first := range []bool{true, false} {
		t.Run(fmt.Sprintf("first=%v", first), func(t *testing.T) {
			clk := testclock.New()
			q := jobs.New(newLocal(t, t.TempDir()), jobs.Options{Now: clk.Now, Workers: 1, Logger: testLogger(t)})
			ok := func(context.Context, *jobs.Job, *jobs.Step) (any, error) { return "ok", nil }
			q.Handle("vm", "page", ok)
			if first {
				q.HandleFirst("vm", "store", ok)
			} else {
				q.Handle("vm", "store", ok)
			}
			const n = 4
			for i := range n {
				// The first step is not listed first: its order in the job
				// does not matter.
				mustEnqueue(t, q, jobs.Job{ID: fmt.Sprintf("vm-%d", i), Kind: "vm",
					Steps: []jobs.Step{{Name: "page"}, {Name: "store"}}})
			}
			count := func() (stored, paged int) {
				for i := range n {
					j := mustGet(t, q, fmt.Sprintf("vm-%d", i))
					if stepState(t, j, "store").State == jobs.StepDone {
						stored++
					}
					if stepState(t, j, "page").State == jobs.StepDone {
						paged++
					}
				}
				return stored, paged
			}
			runOnce(t, q)
			stored, paged := count()
			want := 1
			if !first {
				want = n
			}
			if stored != n || paged != want {
				t.Fatalf("after one scan: %d stored, %d paged; want %d, %d", stored, paged, n, want)
			}
			runOnce(t, q)
			if stored, paged := count(); stored != n || paged != n {
				t.Fatalf("after two scans: %d stored, %d paged; want all %d", stored, paged, n)
			}
			if s := q.Stats(); s.StepsDone != 2*n || s.JobsFinished != n {
				t.Errorf("stats %+v: want %d steps done, %d jobs finished", s, 2*n, n)
			}
		})
	}
}

// Without a backlog a first step runs beside the job's others, in one claim.
func TestFirstStepWithoutBacklogRunsWithTheRest(t *testing.T) {
	clk := testclock.New()
	q := jobs.New(newLocal(t, t.TempDir()), jobs.Options{Now: clk.Now, Workers: 1, Logger: testLogger(t)})
	ok := func(context.Context, *jobs.Job, *jobs.Step) (any, error) { return "ok", nil }
	q.Handle("vm", "page", ok)
	q.HandleFirst("vm", "store", ok)
	mustEnqueue(t, q, jobs.Job{ID: "vm-1", Kind: "vm", Steps: []jobs.Step{{Name: "page"}, {Name: "store"}}})
	runOnce(t, q)
	j := mustGet(t, q, "vm-1")
	if j.FinishedAt.IsZero() || j.Failed() {
		t.Fatalf("one scan left %s", fmtSteps(j))
	}
}
