package outbound

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/oncall/pager/store"
)

// Replicas share Twilio's rates: a sender number (and the account, for
// calls) is sent from by one replica at a time. That replica holds a short
// lease on it in the store, renewed while it sends; a replica with nothing
// left to send stops renewing and the lease passes to the next one that
// needs it. Each replica's limiter then keeps the rate, and since a lease is
// renewed once less than half of it is left, the last send of one holder is
// at least half a lease (a second by default) before the next holder's
// first: the busiest second never holds sends of two replicas.

// DefaultSenderLease is how long a replica holds a sender number without
// renewing it.
const DefaultSenderLease = 2 * time.Second

type turnRecord struct {
	Owner string    `json:"owner"`
	Until time.Time `json:"until"`
}

// turns are the sender leases of this process.
type turns struct {
	st    store.Store
	owner string
	ttl   time.Duration
	now   func() time.Time
	log   *slog.Logger

	mu   sync.Mutex // one store exchange at a time: they are rare
	held map[string]time.Time
}

func turnKey(key string) string {
	return "outbound/senders/" + strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' {
			return r
		}
		return '_'
	}, key) + ".json"
}

// take makes this process the sender for key, renewing its lease when less
// than half is left. wait > 0: another replica holds key that much longer,
// in the lease version named by etag. A lease still in the version stale
// (this process waited it out already, by its own timer) is over whatever
// the clocks say: its holder did not renew it.
func (t *turns) take(ctx context.Context, key, stale string) (wait time.Duration, etag string, err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	if until, ok := t.held[key]; ok && until.Sub(now) >= t.ttl/2 {
		return 0, "", nil
	}
	k := turnKey(key)
	cond := store.Cond{IfNoneMatch: true}
	obj, err := t.st.Get(ctx, k)
	switch {
	case err == nil:
		var rec turnRecord
		if json.Unmarshal(obj.Data, &rec) == nil && rec.Owner != t.owner && now.Before(rec.Until) && obj.ETag != stale {
			delete(t.held, key)
			return rec.Until.Sub(now), obj.ETag, nil
		}
		cond = store.Cond{IfMatch: obj.ETag}
	case !errors.Is(err, store.ErrNotFound):
		return 0, "", fmt.Errorf("outbound: sender lease %s: %w", key, err)
	}
	until := now.Add(t.ttl).UTC()
	data, _ := json.Marshal(turnRecord{Owner: t.owner, Until: until})
	_, err = t.st.Put(ctx, k, data, cond)
	if errors.Is(err, store.ErrPrecondition) || errors.Is(err, store.ErrNotFound) {
		// Another replica took it at the same moment: look again shortly.
		delete(t.held, key)
		return 50 * time.Millisecond, "", nil
	}
	if err != nil {
		return 0, "", fmt.Errorf("outbound: sender lease %s: %w", key, err)
	}
	t.held[key] = until
	return 0, "", nil
}

// turn waits until this process may send for key. Without a store (one
// process) it is always its turn. waited reports a wait: the rate-limit
// slot taken before it is stale then, and the caller takes another, so
// sends held back while another replica had the number do not go out
// together. A wait longer than maxWait (>= 0) is not made: left says how
// long it would be. When the store cannot be reached the send goes ahead at
// this process's rate: holding pages back during a store outage would be
// worse than a burst above the rate.
func (o *Outbound) turn(ctx context.Context, key string, maxWait time.Duration) (waited bool, left time.Duration, err error) {
	if o.turns == nil {
		return false, 0, nil
	}
	stale := ""
	for {
		wait, etag, err := o.turns.take(ctx, key, stale)
		if err != nil {
			o.log.Warn("outbound: sender lease unavailable; sending at this replica's rate", "key", key, "err", err)
			return waited, 0, nil
		}
		if wait <= 0 {
			return waited, 0, nil
		}
		if maxWait >= 0 && wait > maxWait {
			return waited, wait, nil
		}
		if err := o.sleep(ctx, wait); err != nil {
			return waited, 0, err
		}
		waited, stale = true, etag
	}
}
