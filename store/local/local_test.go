package local_test

import (
	"bytes"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"testing"

	"github.com/oncall/pager/store"
	"github.com/oncall/pager/store/local"
	"github.com/oncall/pager/store/storetest"
)

func newStore(t testing.TB, dir string) *local.Store {
	t.Helper()
	s, err := local.New(dir)
	if err != nil {
		t.Fatalf("local.New(%q): %v", dir, err)
	}
	return s
}

func TestContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return newStore(t, t.TempDir()) })
}

func TestContractFaultyPassThrough(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return storetest.Faulty(newStore(t, t.TempDir())) })
}

func TestString(t *testing.T) {
	dir := t.TempDir()
	if got, want := newStore(t, dir).String(), "dir:"+dir; got != want {
		t.Fatalf("String() = %q, want %q", got, want)
	}
}

func TestETagIsQuotedMD5(t *testing.T) {
	s := newStore(t, t.TempDir())
	data := []byte("same shape as S3")
	sum := md5.Sum(data)
	want := `"` + hex.EncodeToString(sum[:]) + `"`
	etag, err := s.Put(t.Context(), "k", data, store.Cond{})
	if err != nil {
		t.Fatal(err)
	}
	if etag != want {
		t.Fatalf("ETag = %s, want %s", etag, want)
	}
}

func TestInvalidKeys(t *testing.T) {
	parent := t.TempDir()
	dir := filepath.Join(parent, "data")
	s := newStore(t, dir)
	ctx := t.Context()
	bad := []string{
		"",
		"/etc/passwd",
		"../escape",
		"a/../../escape",
		"a/..",
		"..",
		`a\b`,
		"a\x00b",
		"a//b",
		"a/./b",
		"./a",
		"a/",
		".lock",
		"a/.tmp-123",
	}
	for _, key := range bad {
		if _, err := s.Put(ctx, key, []byte("x"), store.Cond{}); !errors.Is(err, local.ErrInvalidKey) {
			t.Errorf("Put(%q) = %v, want ErrInvalidKey", key, err)
		}
		if _, err := s.Get(ctx, key); !errors.Is(err, local.ErrInvalidKey) {
			t.Errorf("Get(%q) = %v, want ErrInvalidKey", key, err)
		}
		if _, err := s.GetIfChanged(ctx, key, `"x"`); !errors.Is(err, local.ErrInvalidKey) {
			t.Errorf("GetIfChanged(%q) = %v, want ErrInvalidKey", key, err)
		}
		if err := s.Delete(ctx, key); !errors.Is(err, local.ErrInvalidKey) {
			t.Errorf("Delete(%q) = %v, want ErrInvalidKey", key, err)
		}
	}
	for _, prefix := range []string{"../", "/", "a/../..", `a\`, "\x00"} {
		if _, err := s.List(ctx, prefix); !errors.Is(err, local.ErrInvalidKey) {
			t.Errorf("List(%q) = %v, want ErrInvalidKey", prefix, err)
		}
	}
	// Nothing may have been written next to the data folder.
	entries, err := os.ReadDir(parent)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || entries[0].Name() != "data" {
		t.Fatalf("files appeared outside the store: %v", entries)
	}
	// Names that merely contain dots are ordinary keys.
	for _, key := range []string{"a..b", ".hidden", "v1.2/x..json"} {
		if _, err := s.Put(ctx, key, []byte("ok"), store.Cond{}); err != nil {
			t.Errorf("Put(%q): %v", key, err)
		}
	}
}

// files lists every regular file under dir, relative and slash-separated.
func files(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p != dir {
			rel, _ := filepath.Rel(dir, p)
			if d.IsDir() {
				rel += "/"
			}
			out = append(out, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestFolderLayout(t *testing.T) {
	dir := t.TempDir()
	s := newStore(t, dir)
	ctx := t.Context()
	e, _ := s.Put(ctx, "audit/2026/x.json", []byte("{}"), store.Cond{})
	// Refused writes must leave neither temp files nor folders behind.
	s.Put(ctx, "audit/2026/x.json", []byte("no"), store.Cond{IfNoneMatch: true})
	s.Put(ctx, "ghost/deep/y", []byte("no"), store.Cond{IfMatch: e})
	want := []string{".lock", "audit/", "audit/2026/", "audit/2026/x.json"}
	if got := files(t, dir); !slices.Equal(got, want) {
		t.Fatalf("folder holds %q, want %q", got, want)
	}

	if err := s.Delete(ctx, "audit/2026/x.json"); err != nil {
		t.Fatal(err)
	}
	if got := files(t, dir); !slices.Equal(got, []string{".lock"}) {
		t.Fatalf("after Delete the folder holds %q, want only the lock file", got)
	}
}

func TestListSkipsLeftoverTempFiles(t *testing.T) {
	dir := t.TempDir()
	s := newStore(t, dir)
	ctx := t.Context()
	s.Put(ctx, "jobs/a", []byte("a"), store.Cond{})
	// What a crash between write and rename leaves behind.
	if err := os.WriteFile(filepath.Join(dir, "jobs", ".tmp-12345"), []byte("partial"), 0o600); err != nil {
		t.Fatal(err)
	}
	infos, err := s.List(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(infos) != 1 || infos[0].Key != "jobs/a" {
		t.Fatalf("List = %+v, want only jobs/a", infos)
	}
}

func TestFolderIsNotAnObject(t *testing.T) {
	s := newStore(t, t.TempDir())
	ctx := t.Context()
	s.Put(ctx, "a/b", []byte("b"), store.Cond{})
	if _, err := s.Get(ctx, "a"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Get of a folder = %v, want ErrNotFound", err)
	}
	if err := s.Delete(ctx, "a"); err != nil {
		t.Fatalf("Delete of a folder: %v", err)
	}
	if _, err := s.Get(ctx, "a/b"); err != nil {
		t.Fatalf("Delete of the folder removed what was in it: %v", err)
	}
	// A key under a file cannot exist, so it reads as absent, not as an I/O
	// error.
	if _, err := s.Get(ctx, "a/b/c"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Get under a file = %v, want ErrNotFound", err)
	}
}

// Two Store values on one folder stand in for two replicas: only the flock
// can keep them apart.
func TestTwoReplicasRaceOneWins(t *testing.T) {
	dir := t.TempDir()
	replicas := []*local.Store{newStore(t, dir), newStore(t, dir)}
	for round := range 10 {
		key := fmt.Sprintf("lease/%d", round)
		// A large value widens the read-compare-rename window a missing
		// lock would expose.
		base, err := replicas[0].Put(t.Context(), key, bytes.Repeat([]byte("free"), 64<<10), store.Cond{})
		if err != nil {
			t.Fatal(err)
		}
		var (
			wg   sync.WaitGroup
			mu   sync.Mutex
			wins []int
		)
		for i := range 20 {
			wg.Go(func() {
				_, err := replicas[i%2].Put(t.Context(), key, []byte("held by "+strconv.Itoa(i)), store.Cond{IfMatch: base})
				switch {
				case err == nil:
					mu.Lock()
					wins = append(wins, i)
					mu.Unlock()
				case !errors.Is(err, store.ErrPrecondition):
					t.Errorf("writer %d: %v", i, err)
				}
			})
		}
		wg.Wait()
		if len(wins) != 1 {
			t.Fatalf("round %d: winners %v, want exactly one", round, wins)
		}
	}
}

// increment does a read-modify-write of a decimal counter, retrying on
// ErrPrecondition like every caller of the store does.
func increment(t testing.TB, s store.Store, key string) {
	for {
		obj, err := s.Get(t.Context(), key)
		if err != nil {
			t.Errorf("Get: %v", err)
			return
		}
		n, _ := strconv.Atoi(string(obj.Data))
		_, err = s.Put(t.Context(), key, []byte(strconv.Itoa(n+1)), store.Cond{IfMatch: obj.ETag})
		if err == nil {
			return
		}
		if !errors.Is(err, store.ErrPrecondition) {
			t.Errorf("Put: %v", err)
			return
		}
	}
}

const (
	childEnv   = "LOCAL_STORE_TEST_CHILD_DIR"
	childCount = 40
)

// TestChildIncrementer is the body of the cross-process test; it does
// nothing unless started by TestProcessesShareFolder.
func TestChildIncrementer(t *testing.T) {
	dir := os.Getenv(childEnv)
	if dir == "" {
		t.Skip("helper for TestProcessesShareFolder")
	}
	s := newStore(t, dir)
	for range childCount {
		increment(t, s, "counter")
	}
}

// Separate processes share only the folder; no update may be lost.
func TestProcessesShareFolder(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns processes")
	}
	dir := t.TempDir()
	s := newStore(t, dir)
	if _, err := s.Put(t.Context(), "counter", []byte("0"), store.Cond{}); err != nil {
		t.Fatal(err)
	}
	const procs = 4
	var cmds []*exec.Cmd
	var outs []*bytes.Buffer
	for range procs {
		cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^TestChildIncrementer$", "-test.count=1")
		cmd.Env = append(os.Environ(), childEnv+"="+dir)
		out := new(bytes.Buffer)
		cmd.Stdout, cmd.Stderr = out, out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cmds, outs = append(cmds, cmd), append(outs, out)
	}
	// This process races them too.
	for range childCount {
		increment(t, s, "counter")
	}
	for i, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			t.Fatalf("child %d: %v\n%s", i, err, outs[i])
		}
	}
	obj, err := s.Get(t.Context(), "counter")
	if err != nil {
		t.Fatal(err)
	}
	if want := strconv.Itoa((procs + 1) * childCount); string(obj.Data) != want {
		t.Fatalf("counter = %s after %s increments: updates were lost", obj.Data, want)
	}
}

func TestFaultyWrapper(t *testing.T) {
	f := storetest.Faulty(newStore(t, t.TempDir()))
	ctx := t.Context()
	if _, err := f.Put(ctx, "k", []byte("v"), store.Cond{}); err != nil {
		t.Fatal(err)
	}
	f.Down()
	_, err := f.Get(ctx, "k")
	if !errors.Is(err, storetest.ErrInjected) || errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Get while down = %v, want ErrInjected", err)
	}
	f.Up()
	f.FailNext(2)
	_, err1 := f.Get(ctx, "k")
	_, err2 := f.List(ctx, "")
	_, err3 := f.Get(ctx, "k")
	if !errors.Is(err1, storetest.ErrInjected) || !errors.Is(err2, storetest.ErrInjected) || err3 != nil {
		t.Fatalf("FailNext(2): %v, %v, %v; want two injected failures then success", err1, err2, err3)
	}
	want := map[string]int{"Put": 1, "Get": 3, "List": 1}
	if got := f.Requests(); !maps.Equal(got, want) {
		t.Fatalf("Requests() = %v, want %v", got, want)
	}
}

func BenchmarkLocalPut(b *testing.B) {
	s := newStore(b, b.TempDir())
	data := bytes.Repeat([]byte("x"), 4<<10)
	b.SetBytes(int64(len(data)))
	for i := 0; b.Loop(); i++ {
		if _, err := s.Put(b.Context(), "bench/"+strconv.Itoa(i%64), data, store.Cond{}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkLocalPutIfMatch(b *testing.B) {
	s := newStore(b, b.TempDir())
	data := bytes.Repeat([]byte("x"), 4<<10)
	etag, err := s.Put(b.Context(), "bench/cas", data, store.Cond{})
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	for i := 0; b.Loop(); i++ {
		data[0] = byte(i)
		if etag, err = s.Put(b.Context(), "bench/cas", data, store.Cond{IfMatch: etag}); err != nil {
			b.Fatal(err)
		}
	}
}
