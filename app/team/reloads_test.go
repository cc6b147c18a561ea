package team

import (
	"context"
	"testing"
)

// Each read of the stored config is counted by what came of it, for the
// config-reload metrics an operator alerts on.
func TestReloadsCountOutcomes(t *testing.T) {
	f := newFixture(t, seedConfig(t))
	ctx := context.Background()
	if err := f.m.Load(ctx); err != nil {
		t.Fatal(err)
	}
	_ = f.m.Refresh(ctx) // unchanged
	f.put(t, edit(t, seedConfig(t), map[string]any{"current_config.pager_phone": "800-CALL-NOW"}))
	_ = f.m.Refresh(ctx) // rejected
	f.st.Down()
	_ = f.m.Refresh(ctx) // failed
	f.st.Up()
	f.put(t, edit(t, seedConfig(t), map[string]any{"current_config.pager_phone": "+18005550000"}))
	_ = f.m.Refresh(ctx) // loaded
	want := Reloads{Unchanged: 1, Loaded: 2, Rejected: 1, Failed: 1}
	if got := f.m.Reloads(); got != want {
		t.Fatalf("Reloads = %+v; want %+v", got, want)
	}
}
