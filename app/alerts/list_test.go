package alerts_test

import (
	"context"
	"testing"
	"time"

	"github.com/oncall/pager/app/alerts"
	"github.com/oncall/pager/store/storetest"
)

func TestListNewestFirstPagedAndFiltered(t *testing.T) {
	ctx := context.Background()
	clk := newClock()
	e := newEnv(t, storetest.NewMem(), "r1", clk, &recorder{clk: clk}, testSettings(1))
	var made []alerts.Alert
	for i := range 7 {
		clk.Set(t0.Add(time.Duration(i) * time.Second))
		made = append(made, e.trigger(t, "k"+string(rune('a'+i)), "alert "+string(rune('a'+i))))
	}
	if _, err := e.svc.Ack(ctx, made[1].ID, "alice"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Close(ctx, made[2].ID, "bob"); err != nil {
		t.Fatal(err)
	}

	p, err := e.svc.List(ctx, alerts.Query{Limit: 3})
	if err != nil {
		t.Fatal(err)
	}
	if got := ids(p.Alerts); !equal(got, ids([]alerts.Alert{made[6], made[5], made[4]})) || p.Next != made[4].ID {
		t.Fatalf("first page %v next %q", got, p.Next)
	}
	p, err = e.svc.List(ctx, alerts.Query{Limit: 10, Before: p.Next})
	if err != nil {
		t.Fatal(err)
	}
	if got := ids(p.Alerts); !equal(got, ids([]alerts.Alert{made[3], made[2], made[1], made[0]})) || p.Next != "" {
		t.Fatalf("second page %v next %q", got, p.Next)
	}
	for state, want := range map[string][]alerts.Alert{
		"closed":       {made[2]},
		"acknowledged": {made[1]},
		"open":         {made[6], made[5], made[4], made[3], made[1], made[0]},
	} {
		p, err := e.svc.List(ctx, alerts.Query{State: state})
		if err != nil {
			t.Fatal(err)
		}
		if got := ids(p.Alerts); !equal(got, ids(want)) {
			t.Errorf("state %s: %v, want %v", state, got, ids(want))
		}
	}
	if p, _ := e.svc.List(ctx, alerts.Query{Source: "elsewhere"}); len(p.Alerts) != 0 {
		t.Errorf("source filter kept %v", ids(p.Alerts))
	}
	if _, err := e.svc.List(ctx, alerts.Query{State: "bogus"}); err == nil {
		t.Error("bogus state accepted")
	}
	fp, _ := e.svc.OpenFingerprint(ctx)
	if fp == "" {
		t.Fatal("no fingerprint with open alerts")
	}
	// A new alert changes it, wherever its id sorts; an ack does not.
	e.trigger(t, "kz", "alert z")
	fp2, _ := e.svc.OpenFingerprint(ctx)
	if _, err := e.svc.Ack(ctx, made[0].ID, "bob"); err != nil {
		t.Fatal(err)
	}
	fp3, _ := e.svc.OpenFingerprint(ctx)
	if fp2 == fp || fp3 != fp2 {
		t.Errorf("fingerprints %q %q %q", fp, fp2, fp3)
	}
}

func TestReopenRaisesANewAlertOnce(t *testing.T) {
	ctx := context.Background()
	clk := newClock()
	e := newEnv(t, storetest.NewMem(), "r1", clk, &recorder{clk: clk}, testSettings(1))
	a := e.trigger(t, "disk", "disk full")
	if _, _, err := e.svc.Reopen(ctx, a.ID, "alice"); err == nil {
		t.Fatal("reopened an open alert")
	}
	if _, err := e.svc.Close(ctx, a.ID, "bob"); err != nil {
		t.Fatal(err)
	}
	n, created, err := e.svc.Reopen(ctx, a.ID, "alice")
	if err != nil || !created {
		t.Fatalf("reopen: %v created=%v", err, created)
	}
	if n.ID == a.ID || n.State != alerts.StateTriggered || n.Summary != a.Summary || n.Details["reopened_from"] != a.ID || n.Code == "" {
		t.Fatalf("reopened alert %+v", n)
	}
	again, created, err := e.svc.Reopen(ctx, a.ID, "carol")
	if err != nil || created || again.ID != n.ID {
		t.Fatalf("second reopen: %v created=%v id=%s want %s", err, created, again.ID, n.ID)
	}
	if old, _ := e.svc.Get(ctx, a.ID); old.State != alerts.StateClosed {
		t.Fatalf("closed alert changed: %s", old.State)
	}
}

func ids(as []alerts.Alert) []string {
	out := make([]string, len(as))
	for i, a := range as {
		out[i] = a.ID
	}
	return out
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
