package jobs_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/oncall/pager/internal/testlog"

	"github.com/oncall/pager/app/jobs"
	"github.com/oncall/pager/store"
	"github.com/oncall/pager/store/local"
)

func newLocal(t testing.TB, dir string) store.Store {
	t.Helper()
	st, err := local.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

var errOutage = errors.New("faultstore: simulated outage")

// faultStore wraps a store to simulate outages: while down every call
// fails; failEvery makes every n-th call fail, alternating between failing
// before the call reaches the store and after it took effect (a timeout on
// a write that did happen). before, when set, runs ahead of each call.
type faultStore struct {
	store.Store
	down      atomic.Bool
	failEvery atomic.Int64
	calls     atomic.Int64
	before    atomic.Pointer[func(op, key string, cond store.Cond)]
}

func (f *faultStore) fault(op, key string, cond store.Cond) (pre, post bool) {
	if h := f.before.Load(); h != nil {
		(*h)(op, key, cond)
	}
	if f.down.Load() {
		return true, false
	}
	if n := f.failEvery.Load(); n > 0 {
		c := f.calls.Add(1)
		if c%n == 0 {
			return (c/n)%2 == 0, (c/n)%2 == 1
		}
	}
	return false, false
}

func (f *faultStore) Get(ctx context.Context, key string) (store.Object, error) {
	pre, post := f.fault("get", key, store.Cond{})
	if pre {
		return store.Object{}, errOutage
	}
	o, err := f.Store.Get(ctx, key)
	if post {
		return store.Object{}, errOutage
	}
	return o, err
}

func (f *faultStore) GetIfChanged(ctx context.Context, key, etag string) (store.Object, error) {
	pre, post := f.fault("getifchanged", key, store.Cond{})
	if pre {
		return store.Object{}, errOutage
	}
	o, err := f.Store.GetIfChanged(ctx, key, etag)
	if post {
		return store.Object{}, errOutage
	}
	return o, err
}

func (f *faultStore) Put(ctx context.Context, key string, data []byte, cond store.Cond) (string, error) {
	pre, post := f.fault("put", key, cond)
	if pre {
		return "", errOutage
	}
	etag, err := f.Store.Put(ctx, key, data, cond)
	if post {
		return "", errOutage
	}
	return etag, err
}

func (f *faultStore) List(ctx context.Context, prefix string) ([]store.Info, error) {
	pre, post := f.fault("list", prefix, store.Cond{})
	if pre {
		return nil, errOutage
	}
	l, err := f.Store.List(ctx, prefix)
	if post {
		return nil, errOutage
	}
	return l, err
}

func (f *faultStore) Delete(ctx context.Context, key string) error {
	pre, post := f.fault("delete", key, store.Cond{})
	if pre {
		return errOutage
	}
	err := f.Store.Delete(ctx, key)
	if post {
		return errOutage
	}
	return err
}

// counter counts step executions by "<job>/<step>".
type counter struct {
	mu sync.Mutex
	m  map[string]int
}

func newCounter() *counter { return &counter{m: make(map[string]int)} }

func (c *counter) inc(job *jobs.Job, step *jobs.Step) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	k := job.ID + "/" + step.Name
	c.m[k]++
	return c.m[k]
}

func (c *counter) get(key string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.m[key]
}

func bufLogger(w *testlog.Buffer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

type tWriter struct{ t testing.TB }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}

func oneStep(id string, kind jobs.Kind, step string) jobs.Job {
	return jobs.Job{ID: id, Kind: kind, Steps: []jobs.Step{{Name: step}}}
}

func mustEnqueue(t testing.TB, q *jobs.Queue, j jobs.Job) {
	t.Helper()
	created, err := q.Enqueue(context.Background(), j)
	if err != nil || !created {
		t.Fatalf("Enqueue(%s) = %v, %v; want true, nil", j.ID, created, err)
	}
}

func mustGet(t testing.TB, q *jobs.Queue, id string) jobs.Job {
	t.Helper()
	j, err := q.Get(context.Background(), id)
	if err != nil {
		t.Fatalf("Get(%s): %v", id, err)
	}
	return j
}

// exists reports whether key is in st.
func exists(t testing.TB, st store.Store, key string) bool {
	t.Helper()
	_, err := st.Get(context.Background(), key)
	switch {
	case err == nil:
		return true
	case errors.Is(err, store.ErrNotFound):
		return false
	}
	t.Fatalf("get %s: %v", key, err)
	return false
}

func runOnce(t testing.TB, q *jobs.Queue) {
	t.Helper()
	if err := q.RunOnce(context.Background()); err != nil {
		t.Fatalf("RunOnce: %v", err)
	}
}

func stepState(t testing.TB, j jobs.Job, name string) *jobs.Step {
	t.Helper()
	s := j.Step(name)
	if s == nil {
		t.Fatalf("job %s has no step %s", j.ID, name)
	}
	return s
}

func fmtSteps(j jobs.Job) string {
	var b strings.Builder
	for _, s := range j.Steps {
		fmt.Fprintf(&b, "%s=%s(%d,%q) ", s.Name, s.State, s.Attempts, s.LastError)
	}
	return b.String()
}
