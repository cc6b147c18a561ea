package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"

	"github.com/oncall/pager/store"
)

// Run runs the store contract against fresh stores from newStore (one per
// subtest, so subtests never see each other's keys).
func Run(t *testing.T, newStore func(t *testing.T) store.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s store.Store)
	}{
		{"GetMissing", testGetMissing},
		{"RoundTrip", testRoundTrip},
		{"KeyCharacters", testKeyCharacters},
		{"ETagChanges", testETagChanges},
		{"GetIfChanged", testGetIfChanged},
		{"IfNoneMatch", testIfNoneMatch},
		{"IfMatch", testIfMatch},
		{"IfMatchMissing", testIfMatchMissing},
		{"IfMatchRace", testIfMatchRace},
		{"List", testList},
		{"Delete", testDelete},
		{"Canceled", testCanceled},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newStore(t)
			if s.String() == "" {
				t.Fatal("String() is empty; logs could not name the store")
			}
			tc.fn(t, s)
		})
	}
}

func mustPut(t *testing.T, s store.Store, key string, data []byte) string {
	t.Helper()
	etag, err := s.Put(t.Context(), key, data, store.Cond{})
	if err != nil {
		t.Fatalf("Put(%q): %v", key, err)
	}
	if etag == "" {
		t.Fatalf("Put(%q) returned an empty ETag", key)
	}
	return etag
}

func mustGet(t *testing.T, s store.Store, key string) store.Object {
	t.Helper()
	obj, err := s.Get(t.Context(), key)
	if err != nil {
		t.Fatalf("Get(%q): %v", key, err)
	}
	return obj
}

func wantErr(t *testing.T, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("%s: got error %v, want %v", what, err, want)
	}
}

func randomBytes(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func testGetMissing(t *testing.T, s store.Store) {
	_, err := s.Get(t.Context(), "missing/key.json")
	wantErr(t, "Get of a missing key", err, store.ErrNotFound)
	_, err = s.GetIfChanged(t.Context(), "missing/key.json", `"0123456789abcdef0123456789abcdef"`)
	wantErr(t, "GetIfChanged of a missing key", err, store.ErrNotFound)
}

func testRoundTrip(t *testing.T, s store.Store) {
	every := make([]byte, 256)
	for i := range every {
		every[i] = byte(i)
	}
	cases := map[string][]byte{
		"rt/empty":     {},
		"rt/one":       {0},
		"rt/all-bytes": every,
		"rt/1mib.bin":  randomBytes(1<<20, 1),
	}
	for key, data := range cases {
		etag := mustPut(t, s, key, data)
		obj := mustGet(t, s, key)
		if !bytes.Equal(obj.Data, data) {
			t.Errorf("Get(%q) returned %d bytes that differ from the %d written", key, len(obj.Data), len(data))
		}
		if obj.Key != key {
			t.Errorf("Get(%q).Key = %q", key, obj.Key)
		}
		if obj.ETag != etag {
			t.Errorf("Get(%q).ETag = %s, Put returned %s", key, obj.ETag, etag)
		}
		if obj.Modified.IsZero() {
			t.Errorf("Get(%q).Modified is zero", key)
		}
	}
}

func testKeyCharacters(t *testing.T, s store.Store) {
	keys := []string{
		"sp ace/file name.json",
		"unicode/ünïcødé-☎.txt",
		"query/a+b=c&d?e#f%20.json",
		"deep/a/b/c/d/e/f/g.json",
	}
	for i, key := range keys {
		data := []byte(fmt.Sprintf("value %d", i))
		mustPut(t, s, key, data)
		if got := mustGet(t, s, key); !bytes.Equal(got.Data, data) {
			t.Errorf("Get(%q) = %q, want %q", key, got.Data, data)
		}
	}
	infos, err := s.List(t.Context(), "")
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	want := slices.Sorted(slices.Values(keys))
	if got := infoKeys(infos); !slices.Equal(got, want) {
		t.Errorf("List(\"\") = %q, want %q", got, want)
	}
}

func testETagChanges(t *testing.T, s store.Store) {
	e1 := mustPut(t, s, "etag/x", []byte("one"))
	e2 := mustPut(t, s, "etag/x", []byte("two"))
	if e1 == e2 {
		t.Fatalf("ETag %s did not change when the content changed", e1)
	}
	if got := mustGet(t, s, "etag/x"); got.ETag != e2 || string(got.Data) != "two" {
		t.Fatalf("Get after overwrite = %q %s, want \"two\" %s", got.Data, got.ETag, e2)
	}
}

func testGetIfChanged(t *testing.T, s store.Store) {
	ctx := t.Context()
	e1 := mustPut(t, s, "gic/cfg.json", []byte(`{"v":1}`))
	_, err := s.GetIfChanged(ctx, "gic/cfg.json", e1)
	wantErr(t, "GetIfChanged with the current ETag", err, store.ErrNotModified)

	e2 := mustPut(t, s, "gic/cfg.json", []byte(`{"v":2}`))
	obj, err := s.GetIfChanged(ctx, "gic/cfg.json", e1)
	if err != nil {
		t.Fatalf("GetIfChanged with a stale ETag: %v", err)
	}
	if string(obj.Data) != `{"v":2}` || obj.ETag != e2 {
		t.Fatalf("GetIfChanged = %q %s, want the new version %s", obj.Data, obj.ETag, e2)
	}

	obj, err = s.GetIfChanged(ctx, "gic/cfg.json", "")
	if err != nil || obj.ETag != e2 {
		t.Fatalf("GetIfChanged with no ETag = %s, %v; want a plain read of %s", obj.ETag, err, e2)
	}
}

func testIfNoneMatch(t *testing.T, s store.Store) {
	ctx := t.Context()
	create := store.Cond{IfNoneMatch: true}
	etag, err := s.Put(ctx, "inm/lease", []byte("first"), create)
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	_, err = s.Put(ctx, "inm/lease", []byte("second"), create)
	wantErr(t, "second create", err, store.ErrPrecondition)
	if got := mustGet(t, s, "inm/lease"); string(got.Data) != "first" || got.ETag != etag {
		t.Fatalf("after a refused create the object is %q %s, want \"first\" %s", got.Data, got.ETag, etag)
	}
}

func testIfMatch(t *testing.T, s store.Store) {
	ctx := t.Context()
	e1 := mustPut(t, s, "im/doc", []byte("v1"))
	e2, err := s.Put(ctx, "im/doc", []byte("v2"), store.Cond{IfMatch: e1})
	if err != nil {
		t.Fatalf("Put with the current ETag: %v", err)
	}
	if e2 == e1 {
		t.Fatalf("ETag did not change on a conditional update")
	}
	_, err = s.Put(ctx, "im/doc", []byte("v3"), store.Cond{IfMatch: e1})
	wantErr(t, "Put with a stale ETag", err, store.ErrPrecondition)
	if got := mustGet(t, s, "im/doc"); string(got.Data) != "v2" || got.ETag != e2 {
		t.Fatalf("after a refused update the object is %q %s, want \"v2\" %s", got.Data, got.ETag, e2)
	}
}

func testIfMatchMissing(t *testing.T, s store.Store) {
	_, err := s.Put(t.Context(), "imm/ghost", []byte("x"), store.Cond{IfMatch: `"0123456789abcdef0123456789abcdef"`})
	wantErr(t, "If-Match on a missing key", err, store.ErrPrecondition)
	_, err = s.Get(t.Context(), "imm/ghost")
	wantErr(t, "Get after a refused If-Match", err, store.ErrNotFound)
}

func testIfMatchRace(t *testing.T, s store.Store) {
	const racers = 20
	base := mustPut(t, s, "race/counter", []byte("0"))
	var (
		wg      sync.WaitGroup
		start   = make(chan struct{})
		etags   [racers]string
		errs    [racers]error
		payload = func(i int) []byte { return []byte(fmt.Sprintf("writer %d", i)) }
	)
	for i := range racers {
		wg.Go(func() {
			<-start
			etags[i], errs[i] = s.Put(t.Context(), "race/counter", payload(i), store.Cond{IfMatch: base})
		})
	}
	close(start)
	wg.Wait()
	winner := -1
	for i, err := range errs {
		switch {
		case err == nil && winner >= 0:
			t.Fatalf("writers %d and %d both won from the same ETag", winner, i)
		case err == nil:
			winner = i
		case !errors.Is(err, store.ErrPrecondition):
			t.Fatalf("writer %d: %v, want success or ErrPrecondition", i, err)
		}
	}
	if winner < 0 {
		t.Fatal("no writer won")
	}
	got := mustGet(t, s, "race/counter")
	if !bytes.Equal(got.Data, payload(winner)) || got.ETag != etags[winner] {
		t.Fatalf("object is %q %s, want the winner's %q %s", got.Data, got.ETag, payload(winner), etags[winner])
	}
}

func infoKeys(infos []store.Info) []string {
	keys := make([]string, len(infos))
	for i, in := range infos {
		keys[i] = in.Key
	}
	return keys
}

func testList(t *testing.T, s store.Store) {
	ctx := t.Context()
	etags := map[string]string{}
	// Written out of order so sorting is the store's job.
	for _, key := range []string{"list/c", "list/b/2", "other/list/a", "list/a", "list-other/x", "lis", "list/b/1"} {
		etags[key] = mustPut(t, s, key, []byte("data of "+key))
	}
	cases := []struct {
		prefix string
		want   []string
	}{
		{"list/", []string{"list/a", "list/b/1", "list/b/2", "list/c"}},
		{"list/b", []string{"list/b/1", "list/b/2"}},
		{"list/b/", []string{"list/b/1", "list/b/2"}},
		{"list", []string{"list-other/x", "list/a", "list/b/1", "list/b/2", "list/c"}},
		{"list/a", []string{"list/a"}},
		{"nothing/", nil},
		{"", []string{"lis", "list-other/x", "list/a", "list/b/1", "list/b/2", "list/c", "other/list/a"}},
	}
	for _, tc := range cases {
		infos, err := s.List(ctx, tc.prefix)
		if err != nil {
			t.Fatalf("List(%q): %v", tc.prefix, err)
		}
		if got := infoKeys(infos); !slices.Equal(got, tc.want) && !(len(got) == 0 && len(tc.want) == 0) {
			t.Errorf("List(%q) = %q, want %q", tc.prefix, got, tc.want)
		}
		for _, in := range infos {
			if in.ETag != etags[in.Key] {
				t.Errorf("List(%q): %s has ETag %s, Put returned %s", tc.prefix, in.Key, in.ETag, etags[in.Key])
			}
			if want := int64(len("data of " + in.Key)); in.Size != want {
				t.Errorf("List(%q): %s has Size %d, want %d", tc.prefix, in.Key, in.Size, want)
			}
			if in.Modified.IsZero() {
				t.Errorf("List(%q): %s has zero Modified", tc.prefix, in.Key)
			}
		}
	}
}

func testDelete(t *testing.T, s store.Store) {
	ctx := t.Context()
	mustPut(t, s, "del/a/x", []byte("x"))
	mustPut(t, s, "del/keep", []byte("k"))
	for i := range 2 {
		if err := s.Delete(ctx, "del/a/x"); err != nil {
			t.Fatalf("Delete #%d: %v", i+1, err)
		}
	}
	if err := s.Delete(ctx, "del/never-existed"); err != nil {
		t.Fatalf("Delete of a key that never existed: %v", err)
	}
	_, err := s.Get(ctx, "del/a/x")
	wantErr(t, "Get after Delete", err, store.ErrNotFound)
	infos, err := s.List(ctx, "del/")
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	if got := infoKeys(infos); !slices.Equal(got, []string{"del/keep"}) {
		t.Fatalf("List after Delete = %q, want [del/keep]", got)
	}
	// A deleted key can be created again.
	if _, err := s.Put(ctx, "del/a/x", []byte("again"), store.Cond{IfNoneMatch: true}); err != nil {
		t.Fatalf("create after Delete: %v", err)
	}
}

func testCanceled(t *testing.T, s store.Store) {
	mustPut(t, s, "cancel/present", []byte("p"))
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	check := func(op string, err error) {
		t.Helper()
		if !errors.Is(err, context.Canceled) {
			t.Errorf("%s with a canceled context: %v, want context.Canceled", op, err)
		}
	}
	_, err := s.Get(ctx, "cancel/present")
	check("Get", err)
	_, err = s.GetIfChanged(ctx, "cancel/present", `"x"`)
	check("GetIfChanged", err)
	_, err = s.Put(ctx, "cancel/new", []byte("n"), store.Cond{})
	check("Put", err)
	_, err = s.List(ctx, "cancel/")
	check("List", err)
	check("Delete", s.Delete(ctx, "cancel/present"))

	_, err = s.Get(t.Context(), "cancel/new")
	wantErr(t, "Get of a key whose Put was canceled", err, store.ErrNotFound)
	mustGet(t, s, "cancel/present")
}
