package retention

import (
	"context"
	"encoding/json"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/oncall/pager/store"
	"github.com/oncall/pager/store/storetest"
)

func TestParseAge(t *testing.T) {
	for v, want := range map[string]time.Duration{"7d": 7 * Day, "90d": 90 * Day, "36h": 36 * time.Hour, "0": 0, "keep": 0} {
		if got, err := ParseAge(v); err != nil || got != want {
			t.Errorf("ParseAge(%q) = %v, %v; want %v", v, got, err, want)
		}
	}
	for _, v := range []string{"", "-1d", "soon", "0d", "-5h"} {
		if _, err := ParseAge(v); err == nil {
			t.Errorf("ParseAge(%q) accepted", v)
		}
	}
}

// The S3 lifecycle rule shipped in deploy/ expires each kind at the age the
// default policy keeps it (a day later for the per-caller windows, whose
// key is the window's start), and leaves audit entries and recordings alone.
func TestS3LifecycleMatchesDefaultPolicy(t *testing.T) {
	data, err := os.ReadFile("../../deploy/s3-lifecycle.json")
	if err != nil {
		t.Fatal(err)
	}
	var lc struct {
		Rules []struct {
			ID         string
			Filter     struct{ Prefix string }
			Status     string
			Expiration struct{ Days int }
		}
	}
	if err := json.Unmarshal(data, &lc); err != nil {
		t.Fatal(err)
	}
	p := DefaultPolicy()
	want := map[string]time.Duration{"jobs/done/ntf-": p.Notifications, "notifications/": p.Notifications,
		"alerts/closed/": p.Alerts, "pagerline/callers/": p.Dedup + Day, "console/sessions/": p.Dedup + Day}
	for _, r := range lc.Rules {
		prefix := r.Filter.Prefix
		if r.Status != "Enabled" {
			if prefix != "audit/" && prefix != "recordings/" {
				t.Errorf("rule %s disabled", r.ID)
			}
			continue
		}
		age, ok := want[prefix]
		if !ok && strings.HasPrefix(prefix, "jobs/done/") {
			age, ok = p.Jobs, true
		}
		if !ok {
			t.Errorf("rule %s: prefix %q is no kind of the policy", r.ID, prefix)
			continue
		}
		if got := time.Duration(r.Expiration.Days) * Day; got != age {
			t.Errorf("rule %s: %v, policy keeps %v", r.ID, got, age)
		}
	}
}

// An expired console session nobody signed out of goes a week after its
// expiry; a live one stays.
func TestExpiredConsoleSessionsPruned(t *testing.T) {
	st := storetest.NewMem()
	now := time.Now().Add(9 * Day)
	ctx := context.Background()
	put := func(key string, expires time.Time) {
		data, _ := json.Marshal(map[string]any{"id": key, "expires": expires})
		if _, err := st.Put(ctx, key, data, store.Cond{}); err != nil {
			t.Fatal(err)
		}
	}
	put("console/sessions/old.json", now.Add(-8*Day))
	put("console/sessions/live.json", now.Add(time.Hour))
	p := New(st, Options{Policy: DefaultPolicy(), Now: func() time.Time { return now }})
	removed, err := p.Prune(ctx)
	if err != nil || removed["console sessions"] != 1 {
		t.Fatalf("removed %v, %v; want the expired session", removed, err)
	}
	if _, err := st.Get(ctx, "console/sessions/live.json"); err != nil {
		t.Fatalf("live session: %v", err)
	}
}

// afterList is a store whose List of a prefix runs a hook once the listing
// is taken: a writer racing a pass.
type afterList struct {
	store.Store
	prefix string
	hook   func()
}

func (a afterList) List(ctx context.Context, prefix string) ([]store.Info, error) {
	infos, err := a.Store.List(ctx, prefix)
	if err == nil && prefix == a.prefix && a.hook != nil {
		a.hook()
	}
	return infos, err
}

// Kinds written once cost a listing and a delete per pruned object: no
// read to check a version nobody rewrites, nor to find a time in the key.
func TestWrittenOnceKindsDeletedWithoutReading(t *testing.T) {
	const n = 5
	ctx := context.Background()
	mem := storetest.NewMem()
	st := storetest.Faulty(mem)
	// The store's clock says written now; the pager's is 60 days on.
	now := time.Now().Add(60 * Day)
	for i := range n {
		day := time.Date(2026, 1, 1+i, 0, 0, 0, 0, time.UTC)
		for _, key := range []string{
			"audit/" + day.Format("2006/01/02") + "/e" + strconv.Itoa(i) + ".json",
			"recordings/" + day.Format("2006-01-02_150405") + "_CA" + strconv.Itoa(i) + ".mp3",
		} {
			if _, err := st.Put(ctx, key, []byte("{}"), store.Cond{}); err != nil {
				t.Fatal(err)
			}
		}
		data, _ := json.Marshal(map[string]any{"expires": now.Add(-8 * Day)})
		if _, err := st.Put(ctx, "console/sessions/s"+strconv.Itoa(i)+".json", data, store.Cond{}); err != nil {
			t.Fatal(err)
		}
	}
	p := New(st, Options{Policy: Policy{Audit: 30 * Day, Recordings: 30 * Day, Dedup: 7 * Day}, Now: func() time.Time { return now }})
	st.ResetRequests()
	removed, err := p.Prune(ctx)
	if err != nil || removed["audit"] != n || removed["recordings"] != n || removed["console sessions"] != n {
		t.Fatalf("removed %v, %v; want %d of each", removed, err, n)
	}
	req := st.Requests()
	// A session's time is its content: one read each, and none again.
	if req["Delete"] != 3*n || req["Get"] != n || req["GetIfChanged"] != 0 {
		t.Fatalf("store calls %v; want %d deletes, %d reads of sessions, no conditional reads", req, 3*n, n)
	}
}

// A free dedup slot claimed again after the listing is rewritten in place:
// the pass reads it again before deleting it, and it stays.
func TestClaimedDedupSlotStays(t *testing.T) {
	ctx := context.Background()
	mem := storetest.NewMem()
	for _, key := range []string{"alerts/dedup/a.json", "alerts/dedup/b.json"} {
		if _, err := mem.Put(ctx, key, nil, store.Cond{}); err != nil {
			t.Fatal(err)
		}
	}
	now := time.Now().Add(8 * Day)
	clock := func() time.Time { return now }
	var claim func()
	st := storetest.Faulty(afterList{Store: mem, prefix: "alerts/dedup/", hook: func() {
		if claim != nil {
			claim()
		}
	}})
	p := New(st, Options{Policy: DefaultPolicy(), Now: clock})
	if removed, err := p.Prune(ctx); err != nil || removed["dedup"] != 0 {
		t.Fatalf("first pass removed %v, %v; it only sees the slots free", removed, err)
	}
	now = now.Add(8 * Day)
	claim = func() {
		if _, err := mem.Put(ctx, "alerts/dedup/a.json", []byte(`{"alert_id":"x"}`), store.Cond{}); err != nil {
			t.Error(err)
		}
	}
	st.ResetRequests()
	removed, err := p.Prune(ctx)
	if err != nil || removed["dedup"] != 1 {
		t.Fatalf("removed %v, %v; want only the free slot", removed, err)
	}
	if _, err := mem.Get(ctx, "alerts/dedup/a.json"); err != nil {
		t.Fatalf("slot claimed during the pass: %v", err)
	}
	if _, err := mem.Get(ctx, "alerts/dedup/b.json"); err == nil {
		t.Fatal("free slot kept")
	}
	if req := st.Requests(); req["GetIfChanged"] != 2 || req["Delete"] != 1 {
		t.Fatalf("store calls %v; want each slot checked, one deleted", req)
	}
}

// An expiring kind goes by the record's own time, at its writer's lifetime
// and not a moment before; one its writer replaced after the listing (an
// expired Idempotency-Key used again) stays.
func TestExpiringKindByRecordTime(t *testing.T) {
	ctx := context.Background()
	mem := storetest.NewMem()
	// The store's clock says written now; the records' times say older.
	now := time.Now().Add(3 * Day)
	put := func(key string, created time.Time) {
		data, _ := json.Marshal(map[string]any{"created": created})
		if _, err := mem.Put(ctx, key, data, store.Cond{}); err != nil {
			t.Fatal(err)
		}
	}
	put("api/idempotency/valid.json", now.Add(-Day+time.Second))
	put("api/idempotency/expired.json", now.Add(-Day))
	put("api/idempotency/reused.json", now.Add(-2*Day))
	st := afterList{Store: mem, prefix: "api/idempotency/", hook: func() { put("api/idempotency/reused.json", now) }}
	p := New(st, Options{
		Policy:   Policy{}, // keeps everything else: expiring kinds are not the policy's
		Expiring: []Expiry{{Name: "idempotency keys", Prefix: "api/idempotency/", Field: "created", After: Day, InPlace: true}},
		Now:      func() time.Time { return now },
	})
	removed, err := p.Prune(ctx)
	if err != nil || removed["idempotency keys"] != 1 {
		t.Fatalf("removed %v, %v; want the expired record only", removed, err)
	}
	for key, want := range map[string]bool{"valid": true, "expired": false, "reused": true} {
		if _, err := mem.Get(ctx, "api/idempotency/"+key+".json"); (err == nil) != want {
			t.Errorf("%s: kept %v, want %v", key, err == nil, want)
		}
	}
}
