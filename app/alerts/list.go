package alerts

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/oncall/pager/store"
)

// Query selects a page of alerts, newest first.
type Query struct {
	// State is "" (all), "open" (triggered or acknowledged), or one State.
	State string
	// Source keeps alerts whose Source equals it; "" keeps all.
	Source string
	// Before is the cursor: only alerts whose id sorts before it (older).
	Before string
	// Limit is the page size; default 25, at most 200.
	Limit int
}

// Page is one page of alerts and the cursor of the next ("" at the end).
type Page struct {
	Alerts []Alert
	Next   string
}

// maxScan bounds the alerts read for one page when a filter skips most of
// them: the page comes back short, with a cursor to go on from.
const maxScan = 500

// List returns a page of alerts, newest first. It lists keys only (alert
// ids sort by creation time) and reads just the alerts it returns, plus
// those a filter skips, so the first page of ten thousand costs one listing
// and a page's worth of reads.
func (s *Service) List(ctx context.Context, q Query) (Page, error) {
	if q.Limit <= 0 {
		q.Limit = 25
	}
	q.Limit = min(q.Limit, 200)
	var dirs []string
	switch q.State {
	case "":
		dirs = []string{"open/", "closed/"}
	case "open", string(StateTriggered), string(StateAcknowledged):
		dirs = []string{"open/"}
	case string(StateClosed):
		dirs = []string{"closed/"}
	default:
		return Page{}, fmt.Errorf("%w: state %q", ErrInvalid, q.State)
	}
	// Each folder's keys come sorted; merging them from the end gives
	// newest first without sorting ten thousand ids. An alert being closed
	// is briefly in both folders; closed/ is the later copy.
	type folder struct {
		dir string
		ids []string
	}
	var fs []*folder
	for _, d := range dirs {
		keys, err := store.Keys(ctx, s.st, s.prefix+d)
		if err != nil {
			return Page{}, fmt.Errorf("alerts: list: %w", err)
		}
		f := &folder{dir: d, ids: make([]string, 0, len(keys))}
		for _, k := range keys {
			id := strings.TrimSuffix(strings.TrimPrefix(k, s.prefix+d), ".json")
			if validAlertID(id) && (q.Before == "" || id < q.Before) {
				f.ids = append(f.ids, id)
			}
		}
		fs = append(fs, f)
	}
	next := func() (id, key string, ok bool) {
		for _, f := range fs {
			if n := len(f.ids); n > 0 && f.ids[n-1] > id {
				id = f.ids[n-1]
			}
		}
		if id == "" {
			return "", "", false
		}
		for _, f := range fs {
			if n := len(f.ids); n > 0 && f.ids[n-1] == id {
				f.ids = f.ids[:n-1]
				key = s.prefix + f.dir + id + ".json"
			}
		}
		return id, key, true
	}
	var p Page
	for scanned, last := 0, ""; ; scanned++ {
		id, key, ok := next()
		if !ok {
			break
		}
		if len(p.Alerts) == q.Limit || scanned == maxScan {
			p.Next = last
			break
		}
		last = id
		var a Alert
		_, err := s.getJSON(ctx, key, &a)
		if errors.Is(err, store.ErrNotFound) && key == s.openKey(id) {
			// Closed since the listing.
			_, err = s.getJSON(ctx, s.closedKey(id), &a)
		}
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return Page{}, fmt.Errorf("alerts: list: %w", err)
		}
		if !matches(a, q) {
			continue
		}
		p.Alerts = append(p.Alerts, a)
	}
	return p, nil
}

func matches(a Alert, q Query) bool {
	switch q.State {
	case "open":
		if !a.State.Open() {
			return false
		}
	case "":
	default:
		if string(a.State) != q.State {
			return false
		}
	}
	return q.Source == "" || a.Source == q.Source
}

// OpenFingerprint is a short digest of which alerts are open ("" when none
// is): the console polls it to learn that the list changed. Every new
// alert starts in open/, so listing that folder's keys (few, and no object
// read) sees it, whatever its id sorts as; a close changes it too, which
// only refreshes the list.
func (s *Service) OpenFingerprint(ctx context.Context) (string, error) {
	keys, err := store.Keys(ctx, s.st, s.prefix+"open/")
	if err != nil {
		return "", fmt.Errorf("alerts: open fingerprint: %w", err)
	}
	if len(keys) == 0 {
		return "", nil
	}
	h := sha256.New()
	for _, k := range keys {
		h.Write([]byte(k))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil)[:8]), nil
}

// Reopen raises a closed alert again, for actor (a person who found the
// problem is not gone). States only move forward, so the closed alert stays
// as it was and a new alert, copying its summary, source and details, is
// triggered and escalated like any other; reopening the same alert again
// while that one is open finds it (same dedup key) instead of a third.
func (s *Service) Reopen(ctx context.Context, id, actor string) (Alert, bool, error) {
	a, err := s.Get(ctx, id)
	if err != nil {
		return Alert{}, false, err
	}
	if a.State != StateClosed {
		return a, false, fmt.Errorf("%w: alert %s is %s, not closed", ErrInvalid, id, a.State)
	}
	details := make(map[string]any, len(a.Details)+2)
	for k, v := range a.Details {
		details[k] = v
	}
	details["reopened_from"] = a.ID
	details["reopened_by"] = actor
	ev := Event{
		Action:      EventTrigger,
		DedupKey:    "reopen-" + a.ID,
		Summary:     a.Summary,
		Source:      a.Source,
		Severity:    a.Severity,
		Details:     details,
		Links:       a.Links,
		RoutingKey:  "reopen",
		Integration: a.Origin,
	}
	n, created, err := s.Trigger(ctx, ev)
	if err != nil {
		return Alert{}, false, err
	}
	if created {
		s.log.Info("alerts: alert reopened", "from", a.ID, "id", n.ID, "code", n.Code, "by", actor)
	}
	return n, created, nil
}
