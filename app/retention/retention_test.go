package retention

import (
	"context"
	"encoding/json"
	"os"
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
