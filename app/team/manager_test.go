package team

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/oncall/pager/internal/testlog"

	"github.com/oncall/pager/app/jsondoc"
	"github.com/oncall/pager/internal/testclock"
	"github.com/oncall/pager/store"
	"github.com/oncall/pager/store/storetest"
)

const key = "oncall_config.json"

type fixture struct {
	mem   *storetest.Mem
	st    *storetest.FaultyStore // counts calls, and takes the store down
	m     *Manager
	logs  *testlog.Buffer
	clock *testclock.Clock
}

func newFixture(t *testing.T, initial []byte) *fixture {
	t.Helper()
	mem := storetest.NewMem()
	f := &fixture{mem: mem, st: storetest.Faulty(mem), logs: &testlog.Buffer{}, clock: testclock.At(time.Unix(1700000000, 0))}
	if initial != nil {
		f.put(t, initial)
	}
	f.m = f.manager(f.st)
	return f
}

func (f *fixture) manager(st store.Store) *Manager {
	return NewManager(st, key, ManagerOptions{
		Logger: slog.New(slog.NewJSONHandler(f.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Now:    f.clock.Now,
	})
}

// put is an ops upload.
func (f *fixture) put(t *testing.T, data []byte) string {
	t.Helper()
	etag, err := f.st.Put(context.Background(), key, data, store.Cond{})
	if err != nil {
		t.Fatal(err)
	}
	return etag
}

// counts is how many calls of each kind reached the store, failed ones
// included.
func (f *fixture) counts() (gets, getIfChanged, puts int) {
	n := f.st.Requests()
	return n["Get"], n["GetIfChanged"], n["Put"]
}

// raw is the stored bytes under k, read around the call counters.
func (f *fixture) raw(k string) []byte {
	obj, _ := f.mem.Get(context.Background(), k) // absent: no bytes
	return obj.Data
}

// stored parses what is in the store now.
func (f *fixture) stored(t *testing.T) (*Config, *jsondoc.Doc) {
	t.Helper()
	raw := f.raw(key)
	cfg, err := Parse(raw)
	if err != nil {
		t.Fatalf("store holds an invalid config: %v\n%s", err, raw)
	}
	doc, _ := jsondoc.Parse(raw)
	return cfg, doc
}

func TestLoadNotFound(t *testing.T) {
	f := newFixture(t, nil)
	err := f.m.Load(context.Background())
	if !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Load on an empty store = %v; want ErrNotFound", err)
	}
	if f.m.Current() != nil || f.m.Status().Healthy {
		t.Error("no config, yet Current or Status says otherwise")
	}
	// What the app does on first start: seed, then load.
	if _, err := f.st.Put(context.Background(), key, DefaultConfig(), store.Cond{IfNoneMatch: true}); err != nil {
		t.Fatal(err)
	}
	if err := f.m.Load(context.Background()); err != nil {
		t.Fatal(err)
	}
	if oc, ok := f.m.Current().OnCall(); !ok || oc.ID != "alice" {
		t.Errorf("OnCall after seeding = %+v, %v", oc, ok)
	}
}

func TestLoadInvalid(t *testing.T) {
	f := newFixture(t, []byte(`{"available_users": 1}`))
	err := f.m.Load(context.Background())
	if !IsValidationError(err) {
		t.Fatalf("Load = %v; want a validation error", err)
	}
	st := f.m.Status()
	if f.m.Current() != nil || st.Healthy || st.Degraded || len(st.Problems) != 2 {
		t.Errorf("after an invalid first load: current=%v status=%+v", f.m.Current(), st)
	}
}

func TestRefreshMakesNoGetWhenUnchanged(t *testing.T) {
	f := newFixture(t, seedConfig(t))
	ctx := context.Background()
	if err := f.m.Load(ctx); err != nil {
		t.Fatal(err)
	}
	first := f.m.Current()
	for range 3 {
		if err := f.m.Refresh(ctx); err != nil {
			t.Fatal(err)
		}
	}
	gets, conditional, _ := f.counts()
	if gets != 1 || conditional != 3 {
		t.Errorf("Get %d times, GetIfChanged %d times; want 1 and 3", gets, conditional)
	}
	if f.m.Current() != first {
		t.Error("an unchanged config was swapped")
	}
	f.clock.Advance(time.Minute)
	if st := f.m.Status(); !st.Healthy || !st.LastCheck.Equal(f.clock.Now().Add(-time.Minute)) || st.LoadedAt.After(st.LastCheck) {
		t.Errorf("status %+v", st)
	}

	// A change is picked up by the conditional GET, still without a Get.
	f.put(t, edit(t, seedConfig(t), map[string]any{"current_config.session_lifetime": 120}))
	if err := f.m.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if got := f.m.Current().CurrentConfig.SessionLifetime; got != 120 {
		t.Errorf("session_lifetime = %d after refresh, want 120", got)
	}
	if gets, _, _ := f.counts(); gets != 1 {
		t.Errorf("Get %d times", gets)
	}
}

func TestRefreshKeepsLastGoodConfig(t *testing.T) {
	f := newFixture(t, seedConfig(t))
	ctx := context.Background()
	if err := f.m.Load(ctx); err != nil {
		t.Fatal(err)
	}
	good := f.m.Current()
	goodETag := f.m.Status().ETag

	// Ops upload a config with two mistakes.
	broken := edit(t, seedConfig(t), map[string]any{
		"current_config.pager_phone":          "800-CALL-NOW",
		"available_users.users.bob.phone":     "",
		"current_config.mail_settings.secret": "ignored",
	})
	brokenETag := f.put(t, broken)
	err := f.m.Refresh(ctx)
	if !IsValidationError(err) {
		t.Fatalf("Refresh = %v; want the validation error", err)
	}
	if f.m.Current() != good {
		t.Fatal("a broken upload replaced the good config")
	}
	st := f.m.Status()
	wantPaths := []string{"available_users.users.bob.phone", "current_config.pager_phone"}
	if !st.Healthy || !st.Degraded || st.ETag != goodETag || !slices.Equal(problemPaths(st.Problems), wantPaths) || st.LastError == "" {
		t.Errorf("status after broken upload: %+v", st)
	}
	logs := f.logs.String()
	for _, p := range wantPaths {
		if !strings.Contains(logs, `"level":"ERROR"`) || !strings.Contains(logs, `"path":"`+p+`"`) {
			t.Errorf("problem at %s not logged at error level:\n%s", p, logs)
		}
	}
	if !strings.Contains(logs, brokenETag[1:len(brokenETag)-1]) {
		t.Errorf("rejected version not named in logs:\n%s", logs)
	}

	// Same broken object: reported once, not on every tick.
	before := strings.Count(f.logs.String(), `"level":"ERROR"`)
	if err := f.m.Refresh(ctx); err != nil {
		t.Errorf("second Refresh of the same broken object = %v", err)
	}
	if after := strings.Count(f.logs.String(), `"level":"ERROR"`); after != before {
		t.Errorf("the same broken object was logged again (%d → %d error lines)", before, after)
	}
	if !f.m.Status().Degraded {
		t.Error("still broken in the store, but no longer degraded")
	}

	// Ops fix it.
	f.put(t, edit(t, seedConfig(t), map[string]any{"current_config.pager_phone": "+18005550000"}))
	if err := f.m.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	st = f.m.Status()
	if !st.Healthy || st.Degraded || len(st.Problems) != 0 || st.LastError != "" {
		t.Errorf("status after the fix: %+v", st)
	}
	if got := f.m.Current().CurrentConfig.PagerPhone; got != "+18005550000" {
		t.Errorf("pager_phone = %s after the fix", got)
	}
}

func TestRefreshStoreUnreachable(t *testing.T) {
	f := newFixture(t, seedConfig(t))
	ctx := context.Background()
	if err := f.m.Load(ctx); err != nil {
		t.Fatal(err)
	}
	good := f.m.Current()
	f.st.Down()
	if err := f.m.Refresh(ctx); !errors.Is(err, storetest.ErrInjected) {
		t.Errorf("Refresh = %v; want the store's error wrapped", err)
	}
	st := f.m.Status()
	if st.Healthy || st.Degraded || !strings.Contains(st.LastError, "injected outage") || f.m.Current() != good {
		t.Errorf("status with the store down: %+v", st)
	}
	f.st.Up()
	if err := f.m.Refresh(ctx); err != nil || !f.m.Status().Healthy {
		t.Errorf("back up: %v, %+v", err, f.m.Status())
	}
	// A deleted config keeps the pager running on the last one, degraded.
	if err := f.st.Delete(ctx, key); err != nil {
		t.Fatal(err)
	}
	if err := f.m.Refresh(ctx); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Refresh after delete = %v", err)
	}
	if st := f.m.Status(); st.Healthy || !st.Degraded || f.m.Current() != good {
		t.Errorf("status after delete: %+v", st)
	}
}

func TestRunFollowsTheStoreUntilCancelled(t *testing.T) {
	f := newFixture(t, seedConfig(t))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := f.m.Load(ctx); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		f.m.Run(ctx, time.Millisecond)
		close(done)
	}()
	f.st.Down() // Run must survive errors
	waitFor(t, func() bool { return !f.m.Status().Healthy })
	f.st.Up()
	f.put(t, edit(t, seedConfig(t), map[string]any{"current_config.greeting": "Hello"}))
	waitFor(t, func() bool { return f.m.Current().CurrentConfig.Greeting == "Hello" })
	cancel()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
	if !strings.Contains(f.logs.String(), "injected outage") {
		t.Error("Run did not log the store error")
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached")
		}
		time.Sleep(time.Millisecond)
	}
}

func takeMutation(userID string, now time.Time, calls *atomic.Int32) func(*Config, *jsondoc.Doc) error {
	return func(cfg *Config, doc *jsondoc.Doc) error {
		if calls != nil {
			calls.Add(1)
		}
		u, ok := cfg.UserByID(userID)
		if !ok {
			return fmt.Errorf("no user %s", userID)
		}
		return SetOnCall(doc, u, userID, now)
	}
}

func TestUpdateWritesAndSwaps(t *testing.T) {
	f := newFixture(t, []byte(withUnknowns))
	ctx := context.Background()
	if err := f.m.Load(ctx); err != nil {
		t.Fatal(err)
	}
	cfg, err := f.m.Update(ctx, "bob", takeMutation("bob", f.clock.Now(), nil))
	if err != nil {
		t.Fatal(err)
	}
	if f.m.Current() != cfg {
		t.Error("Update did not install the config it wrote")
	}
	stored, doc := f.stored(t)
	if oc, _ := stored.OnCall(); oc.ID != "bob" || stored.CurrentConfig.LastModifiedUserID != "bob" || stored.CurrentConfig.LastModifiedTime != 1700000000 {
		t.Errorf("stored: %+v", stored.CurrentConfig)
	}
	for _, p := range [][]string{{"zz_first", "note"}, {"a_last"}, {"available_users", "users", "alice", "pronouns"}, {"current_config", "oncall_user", "since"}} {
		if _, ok := doc.Get(p); !ok {
			t.Errorf("Update lost %v", p)
		}
	}
	if st := f.m.Status(); st.ETag == "" || st.Degraded || !st.Healthy {
		t.Errorf("status %+v", st)
	}
	// The next Refresh sees our own write as unchanged.
	gets, _, _ := f.counts()
	if err := f.m.Refresh(ctx); err != nil || f.m.Current() != cfg {
		t.Errorf("Refresh after Update: %v", err)
	}
	if g, _, _ := f.counts(); g != gets {
		t.Error("Refresh downloaded our own write")
	}

	// Taking it again changes nothing and writes nothing.
	_, _, puts := f.counts()
	if _, err := f.m.Update(ctx, "bob", func(cfg *Config, doc *jsondoc.Doc) error {
		oc, _ := cfg.OnCall()
		return doc.Set([]string{"current_config", "oncall_user", "id"}, oc.ID)
	}); err != nil {
		t.Fatal(err)
	}
	if _, _, p := f.counts(); p != puts {
		t.Error("a no-op Update wrote to the store")
	}
}

// racingStore lets ops upload a change just before the first Put, as if
// they had uploaded between the pager's read and its write.
type racingStore struct {
	store.Store
	once     sync.Once
	opsWrite func()
}

func (s *racingStore) Put(ctx context.Context, k string, data []byte, cond store.Cond) (string, error) {
	s.once.Do(s.opsWrite)
	return s.Store.Put(ctx, k, data, cond)
}

func TestUpdateRacingOpsUploadKeepsBoth(t *testing.T) {
	f := newFixture(t, seedConfig(t))
	ctx := context.Background()
	rs := &racingStore{Store: f.st}
	rs.opsWrite = func() {
		f.put(t, edit(t, f.raw(key), map[string]any{
			"ops_note":                       "bob renamed",
			"available_users.users.bob.name": "Robert Roberts",
		}))
	}
	m := f.manager(rs)
	if err := m.Load(ctx); err != nil {
		t.Fatal(err)
	}
	var calls atomic.Int32
	cfg, err := m.Update(ctx, "bob", takeMutation("bob", f.clock.Now(), &calls))
	if err != nil {
		t.Fatal(err)
	}
	if calls.Load() != 2 {
		t.Errorf("mutate ran %d times; want 2 (the first write lost the race)", calls.Load())
	}
	stored, doc := f.stored(t)
	if v, ok := doc.Get([]string{"ops_note"}); !ok || v != "bob renamed" {
		t.Error("the ops upload was lost")
	}
	oc := stored.CurrentConfig.OncallUser
	if oc.ID != "bob" || oc.Name != "Robert Roberts" {
		t.Errorf("the TAKE was lost or applied to stale data: oncall_user %+v", oc)
	}
	if u, _ := cfg.OnCall(); u.Name != "Robert Roberts" || m.Current() != cfg {
		t.Errorf("in-memory config misses a change: %+v", u)
	}
}

func TestUpdateConcurrentFromSeveralReplicas(t *testing.T) {
	f := newFixture(t, seedConfig(t))
	ctx := context.Background()
	// Two replicas on the same store, five writers each.
	replicas := []*Manager{f.manager(f.st), f.manager(f.st)}
	for _, m := range replicas {
		if err := m.Load(ctx); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	errs := make(chan error, 10)
	for i := range 10 {
		wg.Go(func() {
			m := replicas[i%len(replicas)]
			_, err := m.Update(ctx, fmt.Sprint("writer", i), func(_ *Config, doc *jsondoc.Doc) error {
				return doc.Set([]string{fmt.Sprintf("field_%d", i)}, i)
			})
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	_, doc := f.stored(t)
	for i := range 10 {
		if v, ok := doc.Get([]string{fmt.Sprintf("field_%d", i)}); !ok || v != jsonNum(fmt.Sprint(i)) {
			t.Errorf("field_%d lost", i)
		}
	}
}

func TestUpdateRefusesInvalidChange(t *testing.T) {
	f := newFixture(t, seedConfig(t))
	ctx := context.Background()
	if err := f.m.Load(ctx); err != nil {
		t.Fatal(err)
	}
	before := f.raw(key)
	good := f.m.Current()

	_, err := f.m.Update(ctx, "alice", func(_ *Config, doc *jsondoc.Doc) error {
		return doc.Set([]string{"current_config", "pager_phone"}, "12345")
	})
	var ve *ValidationError
	if !errors.As(err, &ve) || !slices.Equal(problemPaths(ve.Problems), []string{"current_config.pager_phone"}) {
		t.Errorf("Update = %v; want the validation error", err)
	}

	errNope := errors.New("not allowed")
	if _, err := f.m.Update(ctx, "alice", func(*Config, *jsondoc.Doc) error { return errNope }); !errors.Is(err, errNope) {
		t.Errorf("Update = %v; want mutate's error", err)
	}
	// A mutate error that happens to wrap a conflict is still not retried.
	var calls atomic.Int32
	wrapped := fmt.Errorf("mine: %w", store.ErrPrecondition)
	if _, err := f.m.Update(ctx, "alice", func(*Config, *jsondoc.Doc) error { calls.Add(1); return wrapped }); err != wrapped || calls.Load() != 1 {
		t.Errorf("Update = %v after %d calls; want mutate's error as is, once", err, calls.Load())
	}

	if _, _, puts := f.counts(); puts != 1 || !bytes.Equal(f.raw(key), before) || f.m.Current() != good {
		t.Errorf("a refused change touched the store (%d puts) or the config in use", puts)
	}
}

func TestUpdateOnBrokenStoredConfig(t *testing.T) {
	f := newFixture(t, seedConfig(t))
	ctx := context.Background()
	if err := f.m.Load(ctx); err != nil {
		t.Fatal(err)
	}
	f.put(t, []byte(`{"available_users": `))
	_, err := f.m.Update(ctx, "bob", takeMutation("bob", f.clock.Now(), nil))
	var se *jsondoc.SyntaxError
	if !errors.As(err, &se) {
		t.Errorf("Update over a broken upload = %v; want the syntax error", err)
	}
	if got := string(f.raw(key)); got != `{"available_users": ` {
		t.Errorf("Update overwrote ops' (broken) upload: %s", got)
	}
}

// conflictStore makes every conditional write lose.
type conflictStore struct{ store.Store }

func (s conflictStore) Put(ctx context.Context, k string, data []byte, cond store.Cond) (string, error) {
	if cond.IfMatch != "" {
		return "", store.ErrPrecondition
	}
	return s.Store.Put(ctx, k, data, cond)
}

func TestUpdateGivesUp(t *testing.T) {
	f := newFixture(t, seedConfig(t))
	m := f.manager(conflictStore{f.st})
	ctx := context.Background()
	var calls atomic.Int32
	_, err := m.Update(ctx, "bob", takeMutation("bob", f.clock.Now(), &calls))
	if !errors.Is(err, store.ErrPrecondition) || calls.Load() != updateAttempts {
		t.Errorf("Update = %v after %d attempts", err, calls.Load())
	}
	// A cancelled context stops the retries.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := m.Update(cctx, "bob", takeMutation("bob", f.clock.Now(), nil)); !errors.Is(err, context.Canceled) {
		t.Errorf("Update with a cancelled context = %v", err)
	}
}

func BenchmarkCurrent(b *testing.B) {
	st := storetest.NewMem()
	if _, err := st.Put(context.Background(), key, DefaultConfig(), store.Cond{}); err != nil {
		b.Fatal(err)
	}
	m := NewManager(st, key, ManagerOptions{})
	if err := m.Load(context.Background()); err != nil {
		b.Fatal(err)
	}
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if m.Current() == nil {
				b.Fatal("nil config")
			}
		}
	})
}
