package team_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/oncall/pager/app/team"
	"github.com/oncall/pager/store"
	"github.com/oncall/pager/store/storetest"
)

func TestReplaceIsConditionalAndValidated(t *testing.T) {
	ctx := context.Background()
	st := storetest.NewMem()
	if _, err := st.Put(ctx, "cfg.json", team.DefaultConfig(), store.Cond{}); err != nil {
		t.Fatal(err)
	}
	m := team.NewManager(st, "cfg.json", team.ManagerOptions{})
	if err := m.Load(ctx); err != nil {
		t.Fatal(err)
	}
	data, etag, err := m.Raw(ctx)
	if err != nil {
		t.Fatal(err)
	}
	bad := strings.Replace(string(data), `"from_phone": "`, `"from_phone": "12`, 1)
	_, _, err = m.Replace(ctx, "alice", []byte(bad), etag)
	var ve *team.ValidationError
	if !errors.As(err, &ve) || len(ve.Problems) == 0 || ve.Problems[0].Path != "current_config.from_phone" {
		t.Fatalf("invalid document: %v", err)
	}
	good := strings.Replace(string(data), `"greeting"`, `"x_note": "edited", "greeting"`, 1)
	if good == string(data) {
		t.Fatal("fixture has no greeting")
	}
	// Someone else writes first: the edit from the old version is refused.
	if _, err := st.Put(ctx, "cfg.json", []byte(strings.Replace(string(data), `"greeting"`, `"x_other": 1, "greeting"`, 1)), store.Cond{}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := m.Replace(ctx, "alice", []byte(good), etag); !errors.Is(err, team.ErrConflict) {
		t.Fatalf("stale edit: %v", err)
	}
	_, etag2, err := m.Raw(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, newTag, err := m.Replace(ctx, "alice", []byte(good), etag2); err != nil || newTag == etag2 {
		t.Fatalf("fresh edit: %v", err)
	}
	if m.Status().ETag == etag2 {
		t.Fatal("replaced config not in use")
	}
}
