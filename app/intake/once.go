package intake

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/oncall/pager/store"
)

// TwilioIdempotencyHeader is the header Twilio repeats on every retry of one
// webhook delivery.
const TwilioIdempotencyHeader = "I-Twilio-Idempotency-Token"

// DefaultOncePrefix is where Once keeps its markers.
const DefaultOncePrefix = "intake/once/"

// Once makes a webhook that the sender retries (Twilio, with the same
// I-Twilio-Idempotency-Token) act once across restarts and replicas: the
// first delivery creates a marker with a conditional write, a repeat finds
// it.
type Once struct {
	st     store.Store
	prefix string
	now    func() time.Time
}

// NewOnce keeps markers under prefix (default DefaultOncePrefix).
func NewOnce(st store.Store, prefix string, now func() time.Time) *Once {
	if prefix == "" {
		prefix = DefaultOncePrefix
	}
	if !strings.HasSuffix(prefix, "/") {
		prefix += "/"
	}
	if now == nil {
		now = time.Now
	}
	return &Once{st: st, prefix: prefix, now: now}
}

type onceMarker struct {
	At time.Time `json:"at"`
}

// First reports whether this is the first delivery of token. An empty token
// (a sender that sends none) is always first. When acting on a first
// delivery fails, call Forget so the sender's retry acts instead of being
// swallowed.
func (o *Once) First(ctx context.Context, token string) (bool, error) {
	if token == "" {
		return true, nil
	}
	data, _ := json.Marshal(onceMarker{At: o.now().UTC()})
	_, err := o.st.Put(ctx, o.key(token), data, store.Cond{IfNoneMatch: true})
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, store.ErrPrecondition):
		return false, nil
	default:
		return false, fmt.Errorf("intake: record delivery: %w", err)
	}
}

// Forget removes token's marker.
func (o *Once) Forget(ctx context.Context, token string) error {
	if token == "" {
		return nil
	}
	if err := o.st.Delete(ctx, o.key(token)); err != nil {
		return fmt.Errorf("intake: forget delivery: %w", err)
	}
	return nil
}

// Sweep deletes markers older than age (Twilio stops retrying within
// minutes; a day is ample) and returns how many it removed.
func (o *Once) Sweep(ctx context.Context, age time.Duration) (int, error) {
	infos, err := o.st.List(ctx, o.prefix)
	if err != nil {
		return 0, fmt.Errorf("intake: sweep: %w", err)
	}
	cut := o.now().Add(-age)
	n := 0
	for _, in := range infos {
		if !in.Modified.IsZero() && in.Modified.After(cut) {
			continue
		}
		obj, err := o.st.Get(ctx, in.Key)
		if err != nil {
			continue
		}
		var m onceMarker
		if json.Unmarshal(obj.Data, &m) == nil && m.At.After(cut) {
			continue
		}
		if err := o.st.Delete(ctx, in.Key); err != nil {
			return n, fmt.Errorf("intake: sweep: %w", err)
		}
		n++
	}
	return n, nil
}

// key hashes the token: it comes from outside and may hold any character.
func (o *Once) key(token string) string {
	sum := sha256.Sum256([]byte(token))
	return o.prefix + hex.EncodeToString(sum[:16]) + ".json"
}
