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

	// mu guards keys and what they hold; it is never held across a store
	// call, so a slow store delays only the sends of the key it is asked
	// about.
	mu   sync.Mutex
	keys map[string]*senderTurn
}

// senderTurn is this process's side of one key's lease.
type senderTurn struct {
	// exchange admits one store exchange for the key at a time (a channel,
	// so that waiting for it ends with the caller's context). Other
	// processes are kept out by the conditional Put, not by this.
	exchange chan struct{}

	// The rest is guarded by turns.mu.
	until time.Time // this process holds the lease until then (zero: not)
	// rounds counts finished exchanges; failed is the last one's store
	// error. A caller that waited for the key while an exchange failed
	// takes that failure as its own instead of asking the unreachable
	// store again: otherwise every send queued behind it waits its own
	// timeout in turn.
	rounds uint64
	failed error
	// down: the last exchange failed, and that was logged; the next
	// failures are not, so an outage logs once per key, not once per send.
	down bool
}

func turnKey(key string) string {
	return "outbound/senders/" + strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' {
			return r
		}
		return '_'
	}, key) + ".json"
}

// fresh: the lease is held with at least half of it left, so it is not
// renewed yet.
func (t *turns) fresh(s *senderTurn, now time.Time) bool {
	return !s.until.IsZero() && s.until.Sub(now) >= t.ttl/2
}

// take makes this process the sender for key, renewing its lease when less
// than half is left. wait > 0: another replica holds key that much longer,
// in the lease version named by etag. A lease still in the version stale
// (this process waited it out already, by its own timer) is over whatever
// the clocks say: its holder did not renew it. An error is the store's
// (the exchange is cut off after half a lease: the S3 client has no
// deadline of its own) unless ctx ended.
func (t *turns) take(ctx context.Context, key, stale string) (wait time.Duration, etag string, err error) {
	t.mu.Lock()
	s := t.keys[key]
	if s == nil {
		s = &senderTurn{exchange: make(chan struct{}, 1)}
		t.keys[key] = s
	}
	if t.fresh(s, t.now()) {
		t.mu.Unlock()
		return 0, "", nil
	}
	seen := s.rounds
	t.mu.Unlock()

	select {
	case s.exchange <- struct{}{}:
	case <-ctx.Done():
		return 0, "", ctx.Err()
	}
	defer func() { <-s.exchange }()

	t.mu.Lock()
	now := t.now()
	if t.fresh(s, now) {
		t.mu.Unlock()
		return 0, "", nil
	}
	if s.rounds != seen && s.failed != nil {
		err := s.failed
		t.mu.Unlock()
		return 0, "", err
	}
	t.mu.Unlock()

	xctx, cancel := context.WithTimeout(ctx, t.ttl/2)
	wait, etag, until, err := t.exchangeLease(xctx, key, stale, now)
	cancel()
	if err != nil && ctx.Err() != nil {
		// The caller gave up: that says nothing about the store.
		return 0, "", ctx.Err()
	}

	t.mu.Lock()
	s.rounds++
	s.failed = err
	wasDown := s.down
	s.down = err != nil
	if err == nil {
		s.until = until
	}
	t.mu.Unlock()
	switch {
	case err != nil && !wasDown:
		t.log.Warn("outbound: sender lease unavailable; sending at this replica's rate until the store answers", "key", key, "err", err)
	case err == nil && wasDown:
		t.log.Info("outbound: sender lease store reachable again", "key", key)
	}
	return wait, etag, err
}

// exchangeLease is take's store exchange, as of now. until is when this
// process holds the lease till: zero when it does not.
func (t *turns) exchangeLease(ctx context.Context, key, stale string, now time.Time) (wait time.Duration, etag string, until time.Time, err error) {
	k := turnKey(key)
	cond := store.Cond{IfNoneMatch: true}
	obj, err := t.st.Get(ctx, k)
	switch {
	case err == nil:
		var rec turnRecord
		if json.Unmarshal(obj.Data, &rec) == nil && rec.Owner != t.owner && now.Before(rec.Until) && obj.ETag != stale {
			return rec.Until.Sub(now), obj.ETag, time.Time{}, nil
		}
		cond = store.Cond{IfMatch: obj.ETag}
	case !errors.Is(err, store.ErrNotFound):
		return 0, "", time.Time{}, fmt.Errorf("outbound: sender lease %s: %w", key, err)
	}
	until = now.Add(t.ttl).UTC()
	data, _ := json.Marshal(turnRecord{Owner: t.owner, Until: until})
	_, err = t.st.Put(ctx, k, data, cond)
	if errors.Is(err, store.ErrPrecondition) || errors.Is(err, store.ErrNotFound) {
		// Another replica took it at the same moment: look again shortly.
		return 50 * time.Millisecond, "", time.Time{}, nil
	}
	if err != nil {
		return 0, "", time.Time{}, fmt.Errorf("outbound: sender lease %s: %w", key, err)
	}
	return 0, "", until, nil
}

// turn waits until this process may send for key. Without a store (one
// process) it is always its turn. waited reports a wait: the rate-limit
// slot taken before it is stale then, and the caller takes another, so
// sends held back while another replica had the number do not go out
// together. With maxWait >= 0, turn waits no more than maxWait in all (a
// holder that keeps renewing would otherwise keep the caller waiting round
// after round): left then says how long the holder's lease has to run. When
// the store cannot be reached the send goes ahead at this process's rate:
// holding pages back during a store outage would be worse than a burst
// above the rate.
func (o *Outbound) turn(ctx context.Context, key string, maxWait time.Duration) (waited bool, left time.Duration, err error) {
	if o.turns == nil {
		return false, 0, nil
	}
	stale := ""
	var spent time.Duration
	for {
		wait, etag, err := o.turns.take(ctx, key, stale)
		if err != nil {
			if ctx.Err() != nil {
				return waited, 0, ctx.Err()
			}
			return waited, 0, nil
		}
		if wait <= 0 {
			return waited, 0, nil
		}
		if maxWait >= 0 && spent+wait > maxWait {
			return waited, wait, nil
		}
		if err := o.sleep(ctx, wait); err != nil {
			return waited, 0, err
		}
		spent += wait
		waited, stale = true, etag
	}
}
