package api

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/oncall/pager/store/storetest"
)

// An Idempotency-Key maps the same request to one random notification id,
// refuses a different request, and is free again after IdempotencyTTL.
func TestIdempotencyKeyExpires(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 12, 1, 6, 0, 0, 0, time.UTC)
	i := &idempotency{st: storetest.NewMem(), now: func() time.Time { return now }}
	a := fingerprint("contact:alice", map[string]string{"message": "db1 down"})
	b := fingerprint("contact:alice", map[string]string{"message": "db2 down"})
	id1, err := i.claim(ctx, "nagios", "k", a)
	if err != nil {
		t.Fatal(err)
	}
	if id2, _ := i.claim(ctx, "nagios", "k", a); id2 != id1 {
		t.Fatalf("same request: %s then %s", id1, id2)
	}
	if _, err := i.claim(ctx, "nagios", "k", b); !errors.Is(err, errKeyReused) {
		t.Fatalf("other request: %v, want errKeyReused", err)
	}
	if id, _ := i.claim(ctx, "other", "k", b); id == id1 || id == "" {
		t.Fatalf("another API key's Idempotency-Key: %q", id)
	}
	now = now.Add(IdempotencyTTL - time.Second)
	if _, err := i.claim(ctx, "nagios", "k", b); !errors.Is(err, errKeyReused) {
		t.Fatalf("just before expiry: %v", err)
	}
	now = now.Add(2 * time.Second)
	id3, err := i.claim(ctx, "nagios", "k", b)
	if err != nil || id3 == id1 {
		t.Fatalf("after expiry: %q %v, want a new id", id3, err)
	}
}
