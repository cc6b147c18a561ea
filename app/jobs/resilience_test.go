package jobs_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/oncall/pager/app/jobs"
	"github.com/oncall/pager/internal/testclock"
)

func TestStoreOutageLosesNoStep(t *testing.T) {
	ctx := context.Background()
	clk := testclock.New()
	fs := &faultStore{Store: newLocal(t, t.TempDir())}
	q := jobs.New(fs, jobs.Options{Now: clk.Now, Logger: testLogger(t), Workers: 4})
	runs := newCounter()
	var outageOnce sync.Once
	handle := func(_ context.Context, j *jobs.Job, s *jobs.Step) (any, error) {
		runs.inc(j, s)
		if s.Name == "a" {
			// The store goes away while steps are running and comes
			// back a little later: the outcomes must still be recorded.
			outageOnce.Do(func() {
				fs.down.Store(true)
				time.AfterFunc(100*time.Millisecond, func() { fs.down.Store(false) })
			})
		}
		return s.Name + "-" + j.ID, nil
	}
	q.Handle("k", "a", handle)
	q.Handle("k", "b", handle)

	// While the store is down, Enqueue reports failure instead of
	// pretending the job is safe, and a scan runs nothing.
	fs.down.Store(true)
	if _, err := q.Enqueue(ctx, oneStep("lost", "k", "a")); err == nil {
		t.Fatal("Enqueue during outage returned nil")
	}
	if err := q.RunOnce(ctx); err == nil {
		t.Fatal("RunOnce during outage returned nil")
	}
	fs.down.Store(false)

	const n = 20
	for i := range n {
		mustEnqueue(t, q, jobs.Job{ID: fmt.Sprintf("j-%02d", i), Kind: "k",
			Steps: []jobs.Step{{Name: "a"}, {Name: "b", After: []string{"a"}}}})
	}
	for range 20 {
		_ = q.RunOnce(ctx) // may fail while the store is down
		if infos, err := fs.Store.List(ctx, "jobs/done/"); err == nil && len(infos) == n {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	for i := range n {
		id := fmt.Sprintf("j-%02d", i)
		j := mustGet(t, q, id)
		if !j.Finished() || j.Failed() {
			t.Errorf("%s: %s", id, fmtSteps(j))
		}
		for _, s := range []string{"a", "b"} {
			if c := runs.get(id + "/" + s); c != 1 {
				t.Errorf("%s/%s ran %d times, want 1", id, s, c)
			}
		}
	}
	if q.Stats().StoreErrors == 0 {
		t.Fatal("outage not observed; the test did not test anything")
	}
}

// Every 7th store call fails, half of them after the write took effect
// (like a timeout on a write that did happen). Steps still run exactly once.
func TestFlakyStoreRunsEachStepOnce(t *testing.T) {
	ctx := context.Background()
	clk := testclock.New()
	fs := &faultStore{Store: newLocal(t, t.TempDir())}
	q := jobs.New(fs, jobs.Options{Now: clk.Now, Logger: testLogger(t)})
	runs := newCounter()
	handle := func(_ context.Context, j *jobs.Job, s *jobs.Step) (any, error) {
		runs.inc(j, s)
		return nil, nil
	}
	q.Handle("k", "a", handle)
	q.Handle("k", "b", handle)
	const n = 15
	for i := range n {
		mustEnqueue(t, q, jobs.Job{ID: fmt.Sprintf("f-%02d", i), Kind: "k",
			Steps: []jobs.Step{{Name: "a"}, {Name: "b", After: []string{"a"}}}})
	}
	fs.failEvery.Store(7)
	for range 50 {
		_ = q.RunOnce(ctx)
		if infos, err := fs.Store.List(ctx, "jobs/active/"); err == nil && len(infos) == 0 {
			break
		}
	}
	fs.failEvery.Store(0)
	for i := range n {
		id := fmt.Sprintf("f-%02d", i)
		if j := mustGet(t, q, id); !j.Finished() {
			t.Errorf("%s: %s", id, fmtSteps(j))
		}
		for _, s := range []string{"a", "b"} {
			if c := runs.get(id + "/" + s); c != 1 {
				t.Errorf("%s/%s ran %d times, want 1", id, s, c)
			}
		}
	}
	if infos, _ := fs.Store.List(ctx, "jobs/done/"); len(infos) != n {
		t.Fatalf("%d jobs in done/, want %d", len(infos), n)
	}
}

func TestTwoReplicasRunEachStepOnce(t *testing.T) {
	dir := t.TempDir()
	const n = 50
	var counts [n][3]atomic.Int32
	handle := func(_ context.Context, j *jobs.Job, s *jobs.Step) (any, error) {
		var i int
		if _, err := fmt.Sscanf(j.ID, "r-%d", &i); err != nil {
			return nil, jobs.Permanent(err)
		}
		counts[i][s.Name[0]-'a'].Add(1)
		return nil, nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	var (
		wg       sync.WaitGroup
		replicas []*jobs.Queue
	)
	for _, owner := range []string{"replica-1", "replica-2"} {
		// Separate store handles, as two processes would have.
		q := jobs.New(newLocal(t, dir), jobs.Options{Owner: owner, Poll: 20 * time.Millisecond,
			Workers: 4, Logger: testLogger(t)})
		for _, s := range []string{"a", "b", "c"} {
			q.Handle("k", s, handle)
		}
		replicas = append(replicas, q)
		wg.Go(func() {
			if err := q.Run(ctx); !errors.Is(err, context.Canceled) {
				t.Errorf("Run: %v", err)
			}
		})
	}
	for i := range n {
		mustEnqueue(t, replicas[i%2], jobs.Job{ID: fmt.Sprintf("r-%02d", i), Kind: "k",
			Steps: []jobs.Step{{Name: "a"}, {Name: "b", After: []string{"a"}}, {Name: "c"}}})
	}
	st := newLocal(t, dir)
	deadline := time.Now().Add(15 * time.Second)
	for {
		infos, err := st.List(context.Background(), "jobs/done/")
		if err == nil && len(infos) == n {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d jobs done before the deadline", len(infos), n)
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	wg.Wait()
	for i := range n {
		for s := range 3 {
			if c := counts[i][s].Load(); c != 1 {
				t.Errorf("r-%02d/%c ran %d times, want 1", i, 'a'+s, c)
			}
		}
	}
	var done, finished int64
	for _, q := range replicas {
		done += q.Stats().StepsDone
		finished += q.Stats().JobsFinished
	}
	if done != 3*n || finished != n {
		t.Fatalf("replicas recorded %d steps and %d jobs, want %d and %d", done, finished, 3*n, n)
	}
	if infos, _ := st.List(context.Background(), "jobs/active/"); len(infos) != 0 {
		t.Fatalf("%d jobs left in active/", len(infos))
	}
}

// A runner shut down mid-step does not count the abandoned run as an
// attempt; it keeps its lease, since the step may have sent before it was
// cut, so a new process (another owner) completes it once the lease ends,
// told it took the job over.
func TestCancelledRunnerIsResumedByNewOwner(t *testing.T) {
	clk := testclock.New()
	dir := t.TempDir()
	first := jobs.New(newLocal(t, dir), jobs.Options{Now: clk.Now, Owner: "first", Logger: testLogger(t)})
	started := make(chan struct{})
	first.Handle("vm", "upload", func(ctx context.Context, _ *jobs.Job, _ *jobs.Step) (any, error) {
		close(started)
		<-ctx.Done()
		return nil, ctx.Err()
	})
	mustEnqueue(t, first, jobs.Job{ID: "vm-9", Kind: "vm",
		Steps: []jobs.Step{{Name: "upload"}, {Name: "notify", After: []string{"upload"}}}})
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan error)
	go func() { stopped <- first.RunOnce(ctx) }()
	<-started
	cancel()
	<-stopped

	j := mustGet(t, first, "vm-9")
	if u := stepState(t, j, "upload"); u.State != jobs.StepPending || u.Attempts != 0 || j.Lease == nil || j.Lease.Owner != "first" {
		t.Fatalf("after shutdown: %s lease %+v; want upload pending, no attempt, first's lease kept", fmtSteps(j), j.Lease)
	}

	second := jobs.New(newLocal(t, dir), jobs.Options{Now: clk.Now, Owner: "second", Logger: testLogger(t)})
	runs := newCounter()
	var takenOver atomic.Bool
	for _, s := range []string{"upload", "notify"} {
		second.Handle("vm", s, func(_ context.Context, j *jobs.Job, s *jobs.Step) (any, error) {
			runs.inc(j, s)
			if s.Name == "upload" {
				takenOver.Store(j.TakenOver)
			}
			return nil, nil
		})
	}
	runOnce(t, second)
	if runs.get("vm-9/upload") != 0 {
		t.Fatal("another owner ran the cut step while the lease was live")
	}
	clk.Advance(61 * time.Second) // the default lease, and a second
	runOnce(t, second)
	if j := mustGet(t, second, "vm-9"); !j.Finished() || runs.get("vm-9/upload") != 1 || runs.get("vm-9/notify") != 1 {
		t.Fatalf("not resumed: %s runs %v", fmtSteps(j), runs.m)
	}
	if !takenOver.Load() {
		t.Fatal("the cut step resumed as a fresh run; want it taken over, so its sends are looked up first")
	}
}

// A runner that dies mid-step (here: hangs, never returning in time) keeps
// its lease; another owner takes over only once the lease expires, and the
// dead runner's late outcome cannot overwrite the finished job.
func TestCrashedRunnerLeaseExpiresAndJobIsTakenOver(t *testing.T) {
	clk := testclock.New()
	dir := t.TempDir()
	const lease = time.Minute
	crashed := jobs.New(newLocal(t, dir), jobs.Options{Now: clk.Now, Owner: "crashed", Lease: lease, Logger: testLogger(t)})
	started, release := make(chan struct{}), make(chan struct{})
	crashed.Handle("vm", "upload", func(context.Context, *jobs.Job, *jobs.Step) (any, error) {
		close(started)
		<-release
		return "from-crashed", nil
	})
	mustEnqueue(t, crashed, oneStep("vm-7", "vm", "upload"))
	zombie := make(chan error)
	go func() { zombie <- crashed.RunOnce(context.Background()) }()
	<-started

	heir := jobs.New(newLocal(t, dir), jobs.Options{Now: clk.Now, Owner: "heir", Lease: lease, Logger: testLogger(t)})
	runs := newCounter()
	heir.Handle("vm", "upload", func(_ context.Context, j *jobs.Job, s *jobs.Step) (any, error) {
		runs.inc(j, s)
		return "from-heir", nil
	})
	runOnce(t, heir)
	if runs.get("vm-7/upload") != 0 {
		t.Fatal("job taken over while the lease was live")
	}
	if j := mustGet(t, heir, "vm-7"); j.Lease == nil || j.Lease.Owner != "crashed" {
		t.Fatalf("lease = %+v", j.Lease)
	}

	clk.Advance(lease + time.Second)
	runOnce(t, heir)
	j := mustGet(t, heir, "vm-7")
	if !j.Finished() || runs.get("vm-7/upload") != 1 || string(stepState(t, j, "upload").Result) != `"from-heir"` {
		t.Fatalf("after lease expiry: %s", fmtSteps(j))
	}

	close(release)
	<-zombie
	j = mustGet(t, heir, "vm-7")
	if string(stepState(t, j, "upload").Result) != `"from-heir"` || stepState(t, j, "upload").Attempts != 1 {
		t.Fatalf("late outcome of the dead runner overwrote the job: %s", fmtSteps(j))
	}
	if exists(t, newLocal(t, dir), "jobs/active/vm-7.json") {
		t.Fatal("late outcome resurrected the job in active/")
	}
}

// A step already sending when the runner shuts down is allowed to finish
// and is recorded, so a restart does not send it again. In a bubble, so
// "just after the shutdown began" is 50 ms of the grace period however
// slow the machine.
func TestShutdownLetsInFlightStepFinish(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dir := t.TempDir()
		var runs atomic.Int32
		release := make(chan struct{})
		started := make(chan struct{})
		first := jobs.New(newLocal(t, dir), jobs.Options{Owner: "first", Lease: 4 * time.Second, Logger: testLogger(t)})
		first.Handle("page", "text", func(ctx context.Context, _ *jobs.Job, _ *jobs.Step) (any, error) {
			runs.Add(1)
			close(started)
			select { // the provider has the request; its answer is on the way
			case <-release:
				return "sent", nil
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		})
		mustEnqueue(t, first, jobs.Job{ID: "p-1", Kind: "page", Steps: []jobs.Step{{Name: "text"}}})
		ctx, cancel := context.WithCancel(context.Background())
		stopped := make(chan error)
		go func() { stopped <- first.RunOnce(ctx) }()
		<-started
		cancel()
		time.Sleep(50 * time.Millisecond) // the answer arrives just after the shutdown began (fake time: exactly)
		close(release)
		<-stopped

		second := jobs.New(newLocal(t, dir), jobs.Options{Owner: "second", Lease: 4 * time.Second, Logger: testLogger(t)})
		second.Handle("page", "text", func(context.Context, *jobs.Job, *jobs.Step) (any, error) {
			runs.Add(1)
			return "sent again", nil
		})
		if err := second.RunOnce(context.Background()); err != nil {
			t.Fatal(err)
		}
		if n := runs.Load(); n != 1 {
			t.Fatalf("text step ran %d times across a graceful restart, want 1", n)
		}
		if s := stepState(t, mustGet(t, second, "p-1"), "text"); s.State != jobs.StepDone {
			t.Fatalf("step after shutdown: %+v", s)
		}
	})
}

// Issue 9 item 9: a process restarted under the same Replica (a new Owner)
// takes back its predecessor's claims at once instead of waiting out the
// lease, and its handler is told the step may already have had its effect
// (TakenOver). Another replica still waits for the lease.
func TestRestartedReplicaTakesBackItsClaimsAtOnce(t *testing.T) {
	clk := testclock.New()
	dir := t.TempDir()
	const lease = time.Minute
	dead := jobs.New(newLocal(t, dir), jobs.Options{Now: clk.Now, Replica: "r1", Lease: lease, Logger: testLogger(t)})
	started, release := make(chan struct{}), make(chan struct{})
	dead.Handle("vm", "upload", func(context.Context, *jobs.Job, *jobs.Step) (any, error) {
		close(started)
		<-release
		return nil, errors.New("killed")
	})
	mustEnqueue(t, dead, oneStep("vm-8", "vm", "upload"))
	zombie := make(chan error)
	go func() { zombie <- dead.RunOnce(context.Background()) }()
	<-started
	defer func() { close(release); <-zombie }()

	var takenOver atomic.Bool
	var takenFrom atomic.Pointer[jobs.Lease]
	handler := func(_ context.Context, j *jobs.Job, _ *jobs.Step) (any, error) {
		takenOver.Store(j.TakenOver)
		takenFrom.Store(j.TakenFrom)
		return "done", nil
	}
	other := jobs.New(newLocal(t, dir), jobs.Options{Now: clk.Now, Replica: "r2", Lease: lease, Logger: testLogger(t)})
	otherRuns := newCounter()
	other.Handle("vm", "upload", func(ctx context.Context, j *jobs.Job, s *jobs.Step) (any, error) {
		otherRuns.inc(j, s)
		return handler(ctx, j, s)
	})
	runOnce(t, other)
	if otherRuns.get("vm-8/upload") != 0 {
		t.Fatal("another replica took the job while the lease was live")
	}

	restarted := jobs.New(newLocal(t, dir), jobs.Options{Now: clk.Now, Replica: "r1", Lease: lease, Logger: testLogger(t)})
	if restarted.Owner() == dead.Owner() {
		t.Fatalf("owner %q reused: two incarnations must be told apart", dead.Owner())
	}
	restarted.Handle("vm", "upload", handler)
	runOnce(t, restarted)
	j := mustGet(t, restarted, "vm-8")
	if !j.Finished() {
		t.Fatalf("restarted replica did not take back its claim at once: %s lease %+v", fmtSteps(j), j.Lease)
	}
	if !takenOver.Load() {
		t.Fatal("handler not told the step may have run before")
	}
	// The handler is told when its predecessor could have run the step.
	if l := takenFrom.Load(); l == nil || l.Owner != dead.Owner() || !l.Since.Equal(testclock.StartTime()) || !l.Until.Equal(testclock.StartTime().Add(lease)) {
		t.Fatalf("handler told the lease taken over was %+v; want %s's, from %s for %s", l, dead.Owner(), testclock.StartTime(), lease)
	}
}

// A counted run is timed in the step, so a handler whose run failed after
// its outside effect knows when to look for that effect.
func TestStepRunIsTimed(t *testing.T) {
	clk := testclock.New()
	q := jobs.New(newLocal(t, t.TempDir()), jobs.Options{Now: clk.Now, Logger: testLogger(t), Backoff: func(int) time.Duration { return time.Minute }})
	q.Handle("vm", "upload", func(context.Context, *jobs.Job, *jobs.Step) (any, error) {
		clk.Advance(7 * time.Second)
		return nil, errors.New("answer lost")
	})
	mustEnqueue(t, q, oneStep("vm-9", "vm", "upload"))
	start := clk.Now()
	runOnce(t, q)
	s := mustGet(t, q, "vm-9").Steps[0]
	if s.Attempts != 1 || !s.RunStart.Equal(start) || !s.RunEnd.Equal(start.Add(7*time.Second)) {
		t.Fatalf("after a failed run: %d attempts, run %s to %s; want 1, %s to %s", s.Attempts, s.RunStart, s.RunEnd, start, start.Add(7*time.Second))
	}
}

// Two live processes under one Replica (an old one still stopping as a new
// one starts in the same folder): neither takes a lease the other claimed
// or renewed after the later of them started, whichever way round, since
// that would cancel a running step and send what it sent again.
func TestProcessesSharingAReplicaKeepOffEachOthersLeases(t *testing.T) {
	clk := testclock.New()
	dir := t.TempDir()
	const lease = time.Minute
	var mu sync.Mutex
	ran := map[string][]string{} // job -> the processes that ran its step
	started := make(chan struct{}, 2)
	release := make(chan struct{})
	start := func(name, holds string) *jobs.Queue {
		q := jobs.New(newLocal(t, dir), jobs.Options{Now: clk.Now, Replica: "r1", Lease: lease, Logger: testLogger(t)})
		q.Handle("vm", "upload", func(ctx context.Context, j *jobs.Job, _ *jobs.Step) (any, error) {
			mu.Lock()
			ran[j.ID] = append(ran[j.ID], name)
			mu.Unlock()
			if j.ID != holds {
				return "uploaded", nil
			}
			started <- struct{}{}
			select {
			case <-release:
				return "uploaded", nil
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		})
		return q
	}
	runs := func(id string) []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), ran[id]...)
	}
	old := start("old", "vm-1")
	clk.Advance(time.Second)
	newer := start("new", "vm-2")
	clk.Advance(time.Second)

	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer func() {
		cancel()
		close(release)
		wg.Wait()
	}()
	runInBackground := func(q *jobs.Queue) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = q.RunOnce(ctx)
		}()
		<-started
	}

	mustEnqueue(t, old, oneStep("vm-1", "vm", "upload"))
	runInBackground(old)
	runOnce(t, newer)
	if r := runs("vm-1"); len(r) != 1 || r[0] != "old" {
		t.Fatalf("vm-1 ran on %v, want only on the old process, whose lease is live", r)
	}
	if l := mustGet(t, newer, "vm-1").Lease; l == nil || l.Owner != old.Owner() {
		t.Fatalf("vm-1 lease %+v, want the old process's", l)
	}

	mustEnqueue(t, newer, oneStep("vm-2", "vm", "upload"))
	runInBackground(newer)
	runOnce(t, old)
	if r := runs("vm-2"); len(r) != 1 || r[0] != "new" {
		t.Fatalf("vm-2 ran on %v, want only on the new process, whose lease is live", r)
	}
	if l := mustGet(t, old, "vm-2").Lease; l == nil || l.Owner != newer.Owner() {
		t.Fatalf("vm-2 lease %+v, want the new process's", l)
	}
}
