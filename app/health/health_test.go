package health_test

import (
	"context"
	"testing"

	"github.com/oncall/pager/app/health"
	"github.com/oncall/pager/app/team"
	"github.com/oncall/pager/store/storetest"
)

type cfgStatus struct{ st team.Status }

func (c cfgStatus) Status() team.Status { return c.st }

// Readiness follows the write probe down and back up, and says why in a
// fixed reason code; the config's own state comes first.
func TestReadinessFollowsWrites(t *testing.T) {
	ctx := context.Background()
	st := storetest.Faulty(storetest.NewMem())
	cfg := &cfgStatus{st: team.Status{Healthy: true}}
	c := health.New(health.Options{Store: st, Config: cfg, ConfigKey: "oncall_config.json"})
	if r := c.Readiness(); !r.Ready() || r.Reason != "" {
		t.Fatalf("before any probe: %+v", r)
	}
	st.Down()
	if err := c.Probe(ctx); err == nil {
		t.Fatal("probe succeeded on a store that is down")
	}
	if r := c.Readiness(); r.Ready() || r.Status != health.StatusUnhealthy || r.Reason != health.ReasonStoreWriteFailing || r.Detail["error"] == nil {
		t.Fatalf("writes failing: %+v", r)
	}
	st.Up()
	if err := c.Probe(ctx); err != nil {
		t.Fatal(err)
	}
	if r := c.Readiness(); !r.Ready() {
		t.Fatalf("writes back: %+v", r)
	}
	cfg.st = team.Status{Healthy: true, Degraded: true}
	if r := c.Readiness(); r.Status != health.StatusDegraded || r.Reason != health.ReasonConfigInvalid {
		t.Fatalf("degraded config: %+v", r)
	}
	cfg.st = team.Status{Healthy: false, LastError: "s3://bucket: access denied"}
	if r := c.Readiness(); r.Reason != health.ReasonStoreUnreachable || r.Detail["error"] != "s3://bucket: access denied" {
		t.Fatalf("store unreachable: %+v", r)
	}
}
