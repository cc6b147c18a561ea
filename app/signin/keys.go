package signin

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/oncall/pager/store"
)

// keysKey holds the cookie signing keys, newest first, in the store so that
// every replica signs and checks the same cookies.
const keysKey = "secrets/console-session-keys.json"

// keyReload: how often a replica looks for a rotated key when a cookie
// does not verify, so forged cookies cannot make it read the store often.
const keyReload = 10 * time.Second

// keyMaxAge: a replica re-reads the keys at least this often, so a key
// dropped by a rotation elsewhere stops working here within it.
const keyMaxAge = time.Minute

type keyFile struct {
	Keys []storedKey `json:"keys"`
}

type storedKey struct {
	Key     string    `json:"key"` // hex
	Created time.Time `json:"created"`
}

type keyRing struct {
	st  store.Store
	now func() time.Time

	mu     sync.Mutex
	keys   [][]byte
	loaded time.Time
}

// load reads the keys, creating the first when there is none.
func (k *keyRing) load(ctx context.Context) ([][]byte, error) {
	obj, err := k.st.Get(ctx, keysKey)
	if errors.Is(err, store.ErrNotFound) {
		data, _ := json.Marshal(keyFile{Keys: []storedKey{{Key: randomHex(32), Created: k.now().UTC()}}})
		if _, err := k.st.Put(ctx, keysKey, data, store.Cond{IfNoneMatch: true}); err != nil && !errors.Is(err, store.ErrPrecondition) {
			return nil, fmt.Errorf("signin: create key: %w", err)
		}
		obj, err = k.st.Get(ctx, keysKey)
	}
	if err != nil {
		return nil, fmt.Errorf("signin: read keys: %w", err)
	}
	var f keyFile
	if err := json.Unmarshal(obj.Data, &f); err != nil {
		return nil, fmt.Errorf("signin: keys at %s are malformed: %w", keysKey, err)
	}
	var out [][]byte
	for _, sk := range f.Keys {
		b, err := hex.DecodeString(sk.Key)
		if err == nil && len(b) >= 16 {
			out = append(out, b)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("signin: no usable key at %s", keysKey)
	}
	return out, nil
}

// current returns the cached keys, loading them when stale is set (and the
// last load is older than keyReload) or none are cached.
func (k *keyRing) current(ctx context.Context, stale bool) ([][]byte, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	age := k.now().Sub(k.loaded)
	if k.keys != nil && age < keyMaxAge && (!stale || age < keyReload) {
		return k.keys, nil
	}
	keys, err := k.load(ctx)
	if err != nil {
		return nil, err
	}
	k.keys, k.loaded = keys, k.now()
	return keys, nil
}

func mac(key []byte, id string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("console-session\n" + id))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

func (k *keyRing) sign(ctx context.Context, id string) (string, error) {
	// Fresh, so a key rotated on another replica signs new sessions here.
	keys, err := k.current(ctx, true)
	if err != nil {
		return "", err
	}
	return id + "." + mac(keys[0], id), nil
}

func (k *keyRing) verify(ctx context.Context, cookie string) (string, bool) {
	id, sig, ok := strings.Cut(cookie, ".")
	if !ok || len(id) != 48 || len(sig) > 64 {
		return "", false
	}
	if _, err := hex.DecodeString(id); err != nil {
		return "", false
	}
	for _, stale := range []bool{false, true} {
		keys, err := k.current(ctx, stale)
		if err != nil {
			return "", false
		}
		for _, key := range keys {
			if hmac.Equal([]byte(mac(key, id)), []byte(sig)) {
				return id, true
			}
		}
	}
	return "", false
}

func (k *keyRing) rotate(ctx context.Context) error {
	for range 5 {
		obj, err := k.st.Get(ctx, keysKey)
		if errors.Is(err, store.ErrNotFound) {
			if _, err := k.current(ctx, true); err != nil {
				return err
			}
			continue
		}
		if err != nil {
			return fmt.Errorf("signin: read keys: %w", err)
		}
		var f keyFile
		_ = json.Unmarshal(obj.Data, &f)
		f.Keys = append([]storedKey{{Key: randomHex(32), Created: k.now().UTC()}}, f.Keys...)
		f.Keys = f.Keys[:min(2, len(f.Keys))]
		data, _ := json.Marshal(f)
		if _, err := k.st.Put(ctx, keysKey, data, store.Cond{IfMatch: obj.ETag}); errors.Is(err, store.ErrPrecondition) {
			continue
		} else if err != nil {
			return fmt.Errorf("signin: rotate key: %w", err)
		}
		k.mu.Lock()
		k.keys = nil
		k.mu.Unlock()
		return nil
	}
	return errors.New("signin: rotate key: keys kept changing")
}
