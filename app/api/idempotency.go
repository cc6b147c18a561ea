package api

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/oncall/pager/app/notification"
	"github.com/oncall/pager/app/retention"
	"github.com/oncall/pager/store"
)

// IdempotencyTTL is how long an Idempotency-Key is remembered: a client
// retrying within it gets the first answer; after it the key is free again.
const IdempotencyTTL = 24 * time.Hour

// idempotencyPrefix holds one small object per (API key, Idempotency-Key).
const idempotencyPrefix = "api/idempotency/"

// IdempotencyExpiry has the retention pass delete records claim no longer
// honours, and none it still does; claim replaces an expired record in
// place, so each is read again before it goes.
func IdempotencyExpiry() retention.Expiry {
	return retention.Expiry{Name: "idempotency keys", Prefix: idempotencyPrefix, Field: "created", After: IdempotencyTTL, InPlace: true}
}

// errKeyReused: the Idempotency-Key was used, within its TTL, for another
// request.
var errKeyReused = errors.New("Idempotency-Key already used for a different request")

// idempotency maps a client's Idempotency-Key to the notification it
// created, with a fingerprint of the request, so a retry finds the same
// notification and a different request under the same key is refused. The
// notification ID itself stays random: nobody can compute it from the key.
type idempotency struct {
	st  store.Store
	now func() time.Time
}

type idemRecord struct {
	NotificationID string    `json:"notification_id"`
	Fingerprint    string    `json:"fingerprint"`
	Created        time.Time `json:"created"`
}

// fingerprint identifies a request: its target and every field.
func fingerprint(source string, fields map[string]string) string {
	keys := make([]string, 0, len(fields))
	for k := range fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	h := sha256.New()
	fmt.Fprintf(h, "%q", source)
	for _, k := range keys {
		h.Write([]byte{0})
		fmt.Fprintf(h, "%q=%q", k, fields[k])
	}
	return hex.EncodeToString(h.Sum(nil))
}

func (i *idempotency) key(apiKey, idem string) string {
	sum := sha256.Sum256(append(append([]byte(apiKey), 0), idem...))
	return idempotencyPrefix + hex.EncodeToString(sum[:16]) + ".json"
}

// claim returns the notification ID for (apiKey, idem): the one recorded
// for the same request within IdempotencyTTL, or a new random one it
// records. errKeyReused when the key was used for another request.
func (i *idempotency) claim(ctx context.Context, apiKey, idem, fp string) (string, error) {
	key := i.key(apiKey, idem)
	for try := 0; try < 5; try++ {
		now := i.now().UTC()
		rec := idemRecord{NotificationID: notification.NewID(), Fingerprint: fp, Created: now}
		cond := store.Cond{IfNoneMatch: true}
		obj, err := i.st.Get(ctx, key)
		switch {
		case err == nil:
			var old idemRecord
			if json.Unmarshal(obj.Data, &old) == nil && now.Sub(old.Created) < IdempotencyTTL {
				if old.Fingerprint != fp {
					return "", errKeyReused
				}
				return old.NotificationID, nil
			}
			cond = store.Cond{IfMatch: obj.ETag} // expired: the key is free again
		case !errors.Is(err, store.ErrNotFound):
			return "", fmt.Errorf("api: idempotency key: %w", err)
		}
		data, _ := json.Marshal(rec)
		_, err = i.st.Put(ctx, key, data, cond)
		switch {
		case err == nil:
			return rec.NotificationID, nil
		case errors.Is(err, store.ErrPrecondition):
			continue // a concurrent request claimed it: read theirs
		default:
			return "", fmt.Errorf("api: idempotency key: %w", err)
		}
	}
	return "", fmt.Errorf("api: idempotency key: too much contention")
}
