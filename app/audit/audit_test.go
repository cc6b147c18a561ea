package audit_test

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/oncall/pager/app/audit"
	"github.com/oncall/pager/store"
	"github.com/oncall/pager/store/storetest"
)

// counting counts Gets, to show a page reads only what it shows.
type counting struct {
	store.Store
	gets atomic.Int64
}

func (c *counting) Get(ctx context.Context, key string) (store.Object, error) {
	c.gets.Add(1)
	return c.Store.Get(ctx, key)
}

func TestPageNewestFirstAcrossMonthsWithFilters(t *testing.T) {
	ctx := context.Background()
	st := &counting{Store: storetest.NewMem()}
	now := time.Date(2026, 12, 1, 5, 0, 0, 0, time.UTC)
	l := audit.New(st, func() time.Time { return now }, nil)
	// 30 entries, one every 2 days going back: they span two months.
	for i := range 30 {
		actor, action := "alice", audit.ActionTake
		if i%3 == 0 {
			actor, action = "bob", audit.ActionTakeRequested
		}
		if err := l.Record(ctx, audit.Entry{Time: now.Add(-time.Duration(i) * 48 * time.Hour), Actor: actor, Action: action, Detail: "n" + string(rune('A'+i))}); err != nil {
			t.Fatal(err)
		}
	}
	st.gets.Store(0)
	p, err := l.Page(ctx, audit.Query{Limit: 4})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Entries) != 4 || p.Entries[0].Detail != "nA" || p.Entries[3].Detail != "nD" || p.Next == "" {
		t.Fatalf("first page: %+v next %q", p.Entries, p.Next)
	}
	if n := st.gets.Load(); n != 4 {
		t.Errorf("first page read %d objects, want 4", n)
	}
	var all []string
	for _, e := range p.Entries {
		all = append(all, e.Detail)
	}
	for p.Next != "" {
		if p, err = l.Page(ctx, audit.Query{Limit: 7, Before: p.Next}); err != nil {
			t.Fatal(err)
		}
		for _, e := range p.Entries {
			all = append(all, e.Detail)
		}
	}
	if len(all) != 30 || all[29] != "n"+string(rune('A'+29)) {
		t.Fatalf("paging gave %d entries: %v", len(all), all)
	}
	p, err = l.Page(ctx, audit.Query{Action: audit.ActionTakeRequested, Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Entries) != 10 {
		t.Fatalf("action filter: %d entries", len(p.Entries))
	}
	p, err = l.Page(ctx, audit.Query{Actor: "alice", Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Entries) != 20 || strings.Contains(p.Entries[0].Actor, "bob") {
		t.Fatalf("actor filter: %d entries", len(p.Entries))
	}
}
