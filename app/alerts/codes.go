package alerts

import (
	"context"
	"errors"
	"fmt"
	"math/bits"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/oncall/pager/store"
)

// Reply codes are small numbers ("1", "2", …): the lowest free one is given
// to each new alert and freed when it closes, so with a few alerts open the
// team texts "1a", not "a7f3a". Each code is a slot (codes/<n>.json) naming
// its alert.
type codeRecord struct {
	Code    string    `json:"code"`
	AlertID string    `json:"alert_id"`
	At      time.Time `json:"at"`
}

// codeCache remembers which reply codes are taken, so allocation starts at
// the lowest probably-free code instead of probing from 1. The store is the
// truth: a stale cache costs one failed conditional create.
type codeCache struct {
	mu      sync.Mutex
	used    []uint64 // bitset by code number
	loaded  time.Time
	byAlert map[string]int // claims in progress by this process
}

// codeRefresh is how often the cache of taken codes is reloaded to learn
// codes other replicas freed.
const codeRefresh = 30 * time.Second

// maxCodeProbes bounds one allocation; beyond it something is wrong with
// the store.
const maxCodeProbes = 100000

// allocCode claims the lowest free code for alertID. A claim left by an
// earlier attempt for the same alert is reused, and a code held by an alert
// that is no longer open is taken over.
func (s *Service) allocCode(ctx context.Context, alertID string) (string, error) {
	if err := s.refreshCodes(ctx, false); err != nil {
		return "", err
	}
	skip := map[int]bool{}
	for range maxCodeProbes {
		n := s.codes.pick(alertID, skip)
		code := strconv.Itoa(n)
		var rec codeRecord
		ref, held, err := s.readSlot(ctx, s.codeKey(code), &rec)
		if err != nil {
			return "", err
		}
		if held && rec.AlertID == alertID {
			return code, nil
		}
		if held {
			stale, err := s.staleHolder(ctx, rec.AlertID)
			if err != nil {
				return "", err
			}
			if !stale {
				s.codes.taken(n, alertID)
				skip[n] = true
				continue
			}
			s.log.InfoContext(ctx, "alerts: taking over a code held by an alert that is not open", "code", code, "held_by", rec.AlertID)
		}
		err = s.claimSlot(ctx, ref, codeRecord{Code: code, AlertID: alertID, At: s.now().UTC()})
		if errors.Is(err, errConflict) {
			continue // re-read the same code: maybe a concurrent claim for this alert
		}
		if err != nil {
			return "", err
		}
		return code, nil
	}
	return "", fmt.Errorf("alerts: no free reply code after %d probes", maxCodeProbes)
}

// staleHolder reports whether a code or dedup holder is no longer open: its
// alert is gone from open/. A holder whose alert is in open/ but closed is
// being closed right now; the closer frees the slot itself.
func (s *Service) staleHolder(ctx context.Context, alertID string) (bool, error) {
	_, err := s.st.Get(ctx, s.openKey(alertID))
	switch {
	case err == nil:
		return false, nil
	case errors.Is(err, store.ErrNotFound):
		return true, nil
	default:
		return false, fmt.Errorf("alerts: check %s: %w", alertID, err)
	}
}

// releaseCode frees code if alertID still holds it.
func (s *Service) releaseCode(ctx context.Context, code, alertID string) error {
	if code == "" {
		return nil
	}
	for range maxRetries {
		var rec codeRecord
		ref, held, err := s.readSlot(ctx, s.codeKey(code), &rec)
		if err != nil {
			return err
		}
		if !held || rec.AlertID != alertID {
			return nil
		}
		err = s.freeSlot(ctx, ref)
		if errors.Is(err, errConflict) {
			continue
		}
		if err != nil {
			return err
		}
		if n, err := strconv.Atoi(code); err == nil {
			s.codes.free(n, alertID)
		}
		return nil
	}
	return fmt.Errorf("alerts: free code %s: %w", code, errConflict)
}

// ByCode returns the open alert holding reply code.
func (s *Service) ByCode(ctx context.Context, code string) (Alert, error) {
	code = strings.TrimLeft(strings.TrimSpace(code), "#")
	if !isCode(code) {
		return Alert{}, fmt.Errorf("%w: code %q", ErrNotFound, code)
	}
	var rec codeRecord
	_, held, err := s.readSlot(ctx, s.codeKey(code), &rec)
	if err != nil {
		return Alert{}, err
	}
	if !held {
		return Alert{}, fmt.Errorf("%w: code %s", ErrNotFound, code)
	}
	a, _, err := s.getOpen(ctx, rec.AlertID)
	if errors.Is(err, store.ErrNotFound) || (err == nil && (a.Code != code || !a.State.Open())) {
		return Alert{}, fmt.Errorf("%w: code %s", ErrNotFound, code)
	}
	if err != nil {
		return Alert{}, fmt.Errorf("alerts: code %s: %w", code, err)
	}
	return a, nil
}

// isCode: 1 to 6 digits, no leading zero.
func isCode(s string) bool {
	if len(s) == 0 || len(s) > 6 || s[0] == '0' {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// refreshCodes reloads the cache from one listing when it is old (or
// force): free slots are empty objects, so sizes tell taken from free
// without reading them.
func (s *Service) refreshCodes(ctx context.Context, force bool) error {
	c := &s.codes
	c.mu.Lock()
	fresh := !c.loaded.IsZero() && s.now().Sub(c.loaded) < codeRefresh
	c.mu.Unlock()
	if fresh && !force {
		return nil
	}
	infos, err := s.st.List(ctx, s.prefix+"codes/")
	if err != nil {
		return fmt.Errorf("alerts: list codes: %w", err)
	}
	used := []uint64{}
	for _, in := range infos {
		name := strings.TrimSuffix(strings.TrimPrefix(in.Key, s.prefix+"codes/"), ".json")
		n, err := strconv.Atoi(name)
		if err != nil || n <= 0 || in.Size == 0 {
			continue
		}
		used = setBit(used, n, true)
	}
	c.mu.Lock()
	c.used, c.loaded = used, s.now()
	for _, n := range c.byAlert {
		c.used = setBit(c.used, n, true)
	}
	c.mu.Unlock()
	return nil
}

// pick is the code to try for alertID: the one this process is already
// claiming for it (so concurrent completions of one alert agree), else the
// lowest code not known taken, reserved at once.
func (c *codeCache) pick(alertID string, skip map[int]bool) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.byAlert == nil {
		c.byAlert = map[string]int{}
	}
	if n, ok := c.byAlert[alertID]; ok && !skip[n] {
		return n
	}
	n := c.lowestFree(skip)
	c.used = setBit(c.used, n, true)
	c.byAlert[alertID] = n
	return n
}

// taken marks n as held by another alert.
func (c *codeCache) taken(n int, alertID string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.used = setBit(c.used, n, true)
	if c.byAlert[alertID] == n {
		delete(c.byAlert, alertID)
	}
}

// settled forgets the claim in progress for alertID once its code is
// stored in the alert.
func (c *codeCache) settled(alertID string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.byAlert, alertID)
}

// free marks n free after alertID released it.
func (c *codeCache) free(n int, alertID string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.used = setBit(c.used, n, false)
	if c.byAlert[alertID] == n {
		delete(c.byAlert, alertID)
	}
}

// lowestFree is the lowest code not known taken and not in skip. Called
// with c.mu held.
func (c *codeCache) lowestFree(skip map[int]bool) int {
	for w := 0; ; w++ {
		var word uint64
		if w < len(c.used) {
			word = c.used[w]
		}
		for word != ^uint64(0) {
			b := bits.TrailingZeros64(^word)
			n := w*64 + b
			if n > 0 && !skip[n] {
				return n
			}
			word |= 1 << b
		}
	}
}

func setBit(bs []uint64, n int, v bool) []uint64 {
	w := n / 64
	for len(bs) <= w {
		bs = append(bs, 0)
	}
	if v {
		bs[w] |= 1 << (n % 64)
	} else {
		bs[w] &^= 1 << (n % 64)
	}
	return bs
}
