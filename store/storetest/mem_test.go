package storetest_test

import (
	"context"
	"errors"
	"testing"

	"github.com/oncall/pager/store"
	"github.com/oncall/pager/store/storetest"
)

func TestMem(t *testing.T) {
	storetest.Run(t, func(*testing.T) store.Store { return storetest.NewMem() })
}

// Writes is what the notify benchmarks report as writes per message; a
// refused conditional write must not count.
func TestMemWrites(t *testing.T) {
	m := storetest.NewMem()
	ctx := context.Background()
	if _, err := m.Put(ctx, "a", []byte("abc"), store.Cond{}); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Put(ctx, "a", []byte("xy"), store.Cond{IfNoneMatch: true}); !errors.Is(err, store.ErrPrecondition) {
		t.Fatalf("create over an existing key: %v", err)
	}
	if _, err := m.Put(ctx, "b", []byte("xy"), store.Cond{}); err != nil {
		t.Fatal(err)
	}
	if n, size := m.Writes(); n != 2 || size != 5 {
		t.Fatalf("Writes() = %d, %d; want 2, 5", n, size)
	}
}
