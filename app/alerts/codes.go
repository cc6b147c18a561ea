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
// to each new alert, so with a few alerts open the team texts "1a", not
// "a7f3a". Each code is a slot (codes/<n>.json) naming its alert. When the
// alert closes its code rests for CodeQuiet before another alert gets it:
// a late "1c" meant for the closed alert then finds no alert instead of
// closing the next one.
type codeRecord struct {
	Code    string    `json:"code"`
	AlertID string    `json:"alert_id"`
	At      time.Time `json:"at"`
	// ReleasedAt is when the alert holding the code closed; the code is
	// free again CodeQuiet later.
	ReleasedAt time.Time `json:"released_at,omitzero"`
}

// CodeQuiet is how long a closed alert's reply code rests before it is
// given to another alert (documented in the README).
const CodeQuiet = 24 * time.Hour

// resting reports whether the code was released less than CodeQuiet ago.
func (r codeRecord) resting(now time.Time) bool {
	return !r.ReleasedAt.IsZero() && now.Sub(r.ReleasedAt) < CodeQuiet
}

// codeCache remembers which reply codes are taken, so allocation starts at
// the lowest probably-free code instead of probing from 1. The store is the
// truth: a stale cache costs one failed conditional create.
type codeCache struct {
	mu      sync.Mutex
	used    []uint64 // bitset by code number
	loaded  time.Time
	byAlert map[string]int // claims in progress by this process
	// released remembers, by code, the slot version last read and when it
	// was released (zero: held), so a refresh reads only changed slots.
	released map[int]slotSeen
}

type slotSeen struct {
	etag       string
	releasedAt time.Time
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
		if held && rec.AlertID == alertID && rec.ReleasedAt.IsZero() {
			return code, nil
		}
		if held && rec.resting(s.now()) {
			s.codes.taken(n, alertID)
			skip[n] = true
			continue
		}
		if held && rec.ReleasedAt.IsZero() {
			stale, err := s.staleHolder(ctx, rec.AlertID)
			if err != nil {
				return "", err
			}
			if !stale {
				s.codes.taken(n, alertID)
				skip[n] = true
				continue
			}
			if s.now().Sub(rec.At) < CodeQuiet {
				// Its alert may have been paged with it and closed without
				// releasing it (a crash): let it rest from now.
				s.log.InfoContext(ctx, "alerts: a code held by an alert that is not open rests before reuse", "code", code, "held_by", rec.AlertID)
				rec.ReleasedAt = s.now().UTC()
				if err := s.claimSlot(ctx, ref, rec); err != nil && !errors.Is(err, errConflict) {
					return "", err
				}
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

// releaseCode releases code if alertID still holds it: it rests for
// CodeQuiet when the alert may have been paged with it (rest), else it is
// free at once (a code claimed for an alert that got another).
func (s *Service) releaseCode(ctx context.Context, code, alertID string, rest bool) error {
	if code == "" {
		return nil
	}
	for range maxRetries {
		var rec codeRecord
		ref, held, err := s.readSlot(ctx, s.codeKey(code), &rec)
		if err != nil {
			return err
		}
		if !held || rec.AlertID != alertID || !rec.ReleasedAt.IsZero() {
			return nil
		}
		if rest {
			rec.ReleasedAt = s.now().UTC()
			err = s.claimSlot(ctx, ref, rec)
			if errors.Is(err, errConflict) {
				continue
			}
			return err
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
	if !held || !rec.ReleasedAt.IsZero() {
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
// without reading them; a slot that is not empty is read only when it
// changed since it was last read, to learn whether it rests and until when.
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
	c.mu.Lock()
	seen := c.released
	c.mu.Unlock()
	next := map[int]slotSeen{}
	now := s.now()
	for _, in := range infos {
		name := strings.TrimSuffix(strings.TrimPrefix(in.Key, s.prefix+"codes/"), ".json")
		n, err := strconv.Atoi(name)
		if err != nil || n <= 0 || in.Size == 0 {
			continue
		}
		sn, ok := seen[n]
		if !ok || sn.etag != in.ETag {
			var rec codeRecord
			ref, held, err := s.readSlot(ctx, in.Key, &rec)
			if err != nil {
				return err
			}
			if !held {
				continue
			}
			sn = slotSeen{etag: ref.etag, releasedAt: rec.ReleasedAt}
		}
		next[n] = sn
		if sn.releasedAt.IsZero() || now.Sub(sn.releasedAt) < CodeQuiet {
			used = setBit(used, n, true)
		}
	}
	c.mu.Lock()
	c.used, c.loaded, c.released = used, s.now(), next
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
