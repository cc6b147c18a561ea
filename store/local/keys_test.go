package local

import (
	"context"
	"slices"
	"testing"

	"github.com/oncall/pager/store"
)

func TestKeysMatchesList(t *testing.T) {
	st, err := New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, k := range []string{"alerts/open/a2.json", "alerts/open/a1.json", "alerts/closed/a0.json", "alertsx/z.json", "other/b.json"} {
		if _, err := st.Put(ctx, k, []byte("{}"), store.Cond{}); err != nil {
			t.Fatal(err)
		}
	}
	for _, prefix := range []string{"alerts/", "alerts", "alerts/open/", "alerts/open/a1", "missing/", ""} {
		keys, err := store.Keys(ctx, st, prefix)
		if err != nil {
			t.Fatal(err)
		}
		infos, err := st.List(ctx, prefix)
		if err != nil {
			t.Fatal(err)
		}
		var want []string
		for _, in := range infos {
			want = append(want, in.Key)
		}
		if !slices.Equal(keys, want) {
			t.Errorf("Keys(%q) = %v, List gives %v", prefix, keys, want)
		}
	}
}
