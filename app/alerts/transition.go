package alerts

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/oncall/pager/store"
)

// Outcome says what a request did to an alert.
type Outcome string

// Outcomes.
const (
	// OutcomeCreated: a trigger opened a new alert.
	OutcomeCreated Outcome = "created"
	// OutcomeDeduplicated: a trigger was counted on the open alert.
	OutcomeDeduplicated Outcome = "deduplicated"
	// OutcomeChanged: the acknowledgement or close took effect.
	OutcomeChanged Outcome = "changed"
	// OutcomeAlreadyAcknowledged: someone acknowledged it before
	// (Alert.AckedBy says who); nothing changed.
	OutcomeAlreadyAcknowledged Outcome = "already_acknowledged"
	// OutcomeAlreadyClosed: it was closed before (Alert.ClosedBy); nothing
	// changed. States never move backwards.
	OutcomeAlreadyClosed Outcome = "already_closed"
)

// Transition is the result of Ack, Close or Apply.
type Transition struct {
	Alert   Alert
	Outcome Outcome
	// Told are the people already paged for the alert, other than the
	// actor, who are being told who took it (through the Notifier, from
	// the escalation job). Set when the request took effect.
	Told []string
}

// Changed reports whether the request took effect.
func (t Transition) Changed() bool { return t.Outcome == OutcomeChanged || t.Outcome == OutcomeCreated }

// Ack acknowledges the alert named by ref (its id or reply code) for actor
// (a user id, or "api:<name>"): the escalation stops at once and everyone
// already paged is told who took it. Acknowledging an acknowledged or closed
// alert changes nothing and says so in the Outcome.
func (s *Service) Ack(ctx context.Context, ref, actor string) (Transition, error) {
	a, err := s.resolveRef(ctx, ref)
	if err != nil {
		return Transition{}, err
	}
	return s.ack(ctx, a.ID, actor)
}

// Close closes the alert named by ref: its escalation stops, its reply code
// and dedup key are freed (a new trigger opens a new alert), and, if nobody
// had acknowledged it, everyone paged is told. Closing a closed alert
// changes nothing.
func (s *Service) Close(ctx context.Context, ref, actor string) (Transition, error) {
	a, err := s.resolveRef(ctx, ref)
	if err != nil {
		return Transition{}, err
	}
	return s.close(ctx, a.ID, actor)
}

// resolveRef finds an alert by reply code or id.
func (s *Service) resolveRef(ctx context.Context, ref string) (Alert, error) {
	ref = strings.TrimLeft(strings.TrimSpace(ref), "#")
	if isCode(ref) {
		return s.ByCode(ctx, ref)
	}
	return s.Get(ctx, ref)
}

func (s *Service) ack(ctx context.Context, id, actor string) (Transition, error) {
	var out Outcome
	a, err := s.modify(ctx, id, func(x *Alert) (bool, error) {
		switch x.State {
		case StateTriggered:
			now := s.now().UTC()
			x.State, x.AckedBy, x.AckedAt = StateAcknowledged, actor, now
			x.log(Entry{Time: now, Actor: actor, Action: ActionAcknowledged})
			out = OutcomeChanged
			return true, nil
		case StateAcknowledged:
			out = OutcomeAlreadyAcknowledged
		default:
			out = OutcomeAlreadyClosed
		}
		return false, nil
	})
	if errors.Is(err, store.ErrNotFound) {
		return s.closedTransition(ctx, id)
	}
	if err != nil {
		return Transition{}, err
	}
	t := Transition{Alert: a, Outcome: out}
	// Repeated for an alert already acknowledged: an earlier Ack may have
	// failed after the state change, and stopping is idempotent.
	if out != OutcomeAlreadyClosed {
		if err := s.stopEscalation(ctx, a.ID, stepNotifyAck); err != nil {
			return t, err
		}
	}
	if out == OutcomeChanged {
		s.log.InfoContext(ctx, "alerts: alert acknowledged", "id", a.ID, "code", a.Code, "by", actor)
		t.Told = others(a.PagedUsers, actor)
	}
	return t, nil
}

func (s *Service) close(ctx context.Context, id, actor string) (Transition, error) {
	var (
		out  Outcome
		prev State
	)
	a, err := s.modify(ctx, id, func(x *Alert) (bool, error) {
		prev = x.State
		if x.State == StateClosed {
			out = OutcomeAlreadyClosed
			return false, nil
		}
		now := s.now().UTC()
		x.State, x.ClosedBy, x.ClosedAt = StateClosed, actor, now
		x.log(Entry{Time: now, Actor: actor, Action: ActionClosed})
		out = OutcomeChanged
		return true, nil
	})
	if errors.Is(err, store.ErrNotFound) {
		return s.closedTransition(ctx, id)
	}
	if err != nil {
		return Transition{}, err
	}
	t := Transition{Alert: a, Outcome: out}
	// Whoever closed it first may have stopped halfway; finishing is
	// idempotent, so a repeated Close completes it.
	notify := ""
	if out == OutcomeChanged && prev == StateTriggered {
		notify = stepNotifyClose
	}
	if err := s.stopEscalation(ctx, a.ID, notify); err != nil {
		return t, err
	}
	if err := s.finishClose(ctx, a.ID); err != nil {
		return t, err
	}
	if out == OutcomeChanged {
		s.log.InfoContext(ctx, "alerts: alert closed", "id", a.ID, "code", a.Code, "by", actor)
		if prev == StateTriggered {
			t.Told = others(a.PagedUsers, actor)
		}
	}
	return t, nil
}

// closedTransition answers a request for an alert already moved to closed/.
func (s *Service) closedTransition(ctx context.Context, id string) (Transition, error) {
	var a Alert
	if _, err := s.getJSON(ctx, s.closedKey(id), &a); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return Transition{}, fmt.Errorf("%w: %s", ErrNotFound, id)
		}
		return Transition{}, fmt.Errorf("alerts: get %s: %w", id, err)
	}
	return Transition{Alert: a, Outcome: OutcomeAlreadyClosed}, nil
}

// finishClose frees a closed alert's dedup slot and reply code, then moves
// it from open/ to closed/. Each step is idempotent.
func (s *Service) finishClose(ctx context.Context, id string) error {
	obj, err := s.st.Get(ctx, s.openKey(id))
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("alerts: close %s: %w", id, err)
	}
	var a Alert
	if err := json.Unmarshal(obj.Data, &a); err != nil {
		return fmt.Errorf("%w: %s: %w", ErrCorrupt, id, err)
	}
	if a.State != StateClosed {
		return fmt.Errorf("alerts: close %s: state is %s", id, a.State)
	}
	if err := s.freeDedup(ctx, a); err != nil {
		return err
	}
	if err := s.releaseCode(ctx, a.Code, a.ID, true); err != nil {
		return err
	}
	// Copy what is stored now (later history included), then delete open/
	// only if nobody changed it meanwhile.
	for range maxRetries {
		if _, err := s.st.Put(ctx, s.closedKey(id), obj.Data, store.Cond{}); err != nil {
			return fmt.Errorf("alerts: close %s: %w", id, err)
		}
		_, err := s.st.GetIfChanged(ctx, s.openKey(id), obj.ETag)
		switch {
		case errors.Is(err, store.ErrNotModified):
			if err := s.st.Delete(ctx, s.openKey(id)); err != nil {
				return fmt.Errorf("alerts: close %s: %w", id, err)
			}
			return nil
		case errors.Is(err, store.ErrNotFound):
			return nil
		case err != nil:
			return fmt.Errorf("alerts: close %s: %w", id, err)
		}
		if obj, err = s.st.Get(ctx, s.openKey(id)); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				return nil
			}
			return fmt.Errorf("alerts: close %s: %w", id, err)
		}
	}
	return fmt.Errorf("alerts: close %s: %w", id, errConflict)
}

func (s *Service) freeDedup(ctx context.Context, a Alert) error {
	if a.DedupSlot == "" {
		return nil
	}
	for range maxRetries {
		var rec dedupRecord
		ref, held, err := s.readSlot(ctx, a.DedupSlot, &rec)
		if err != nil {
			return err
		}
		if !held || rec.AlertID != a.ID {
			return nil
		}
		if err := s.freeSlot(ctx, ref); !errors.Is(err, errConflict) {
			return err
		}
	}
	return fmt.Errorf("alerts: free dedup key of %s: %w", a.ID, errConflict)
}

// sweepAge leaves alerts alone while a request may still be working on
// them.
const sweepAge = time.Minute

// Sweep finishes what a crash left half done: closes that did not free
// their code or leave open/, and alerts without a reply code or
// escalation. Run it now and then (at start-up, every few minutes); it
// returns how many alerts it repaired.
func (s *Service) Sweep(ctx context.Context) (int, error) {
	infos, err := s.st.List(ctx, s.prefix+"open/")
	if err != nil {
		return 0, fmt.Errorf("alerts: sweep: %w", err)
	}
	n := 0
	cut := s.now().Add(-sweepAge)
	for _, in := range infos {
		id := strings.TrimSuffix(strings.TrimPrefix(in.Key, s.prefix+"open/"), ".json")
		a, _, err := s.getOpen(ctx, id)
		if err != nil || a.UpdatedAt.After(cut) {
			continue
		}
		switch {
		case a.State == StateClosed:
			if err := s.stopEscalation(ctx, a.ID, ""); err != nil {
				return n, err
			}
			if err := s.finishClose(ctx, a.ID); err != nil {
				return n, err
			}
			n++
		case a.Code == "" || (a.Escalation == "" && s.q != nil && !s.heldNow(a)):
			if _, err := s.complete(ctx, a); err != nil {
				return n, err
			}
			n++
		}
	}
	freed, err := s.sweepSlots(ctx, cut)
	if err != nil {
		return n, err
	}
	if n += freed; n > 0 {
		s.log.WarnContext(ctx, "alerts: sweep repaired what was left half done", "count", n)
	}
	return n, s.refreshCodes(ctx, true)
}

// sweepSlots frees reply codes and dedup keys claimed before cut for an
// alert that is not open with that code: claims whose alert was never
// written, or whose close stopped before freeing them. It empties released
// codes once they have rested.
func (s *Service) sweepSlots(ctx context.Context, cut time.Time) (int, error) {
	n := 0
	for _, dir := range []string{"codes/", "dedup/"} {
		infos, err := s.st.List(ctx, s.prefix+dir)
		if err != nil {
			return n, fmt.Errorf("alerts: sweep: %w", err)
		}
		for _, in := range infos {
			if in.Size == 0 {
				continue
			}
			var (
				code  codeRecord
				dedup dedupRecord
				v     any = &dedup
			)
			if dir == "codes/" {
				v = &code
			}
			ref, held, err := s.readSlot(ctx, in.Key, v)
			if err != nil || !held {
				continue
			}
			if dir == "codes/" && !code.ReleasedAt.IsZero() {
				// Its alert is closed, nothing to look up. Once rested the
				// code is as free as an empty slot, and emptying it lets
				// listings skip it by size instead of every sweep and
				// refresh reading it again.
				if !code.resting(s.now()) {
					if err := s.freeSlot(ctx, ref); err != nil && !errors.Is(err, errConflict) {
						return n, err
					}
				}
				continue
			}
			holder, at := dedup.AlertID, dedup.At
			if dir == "codes/" {
				holder, at = code.AlertID, code.At
			}
			if at.After(cut) {
				continue
			}
			a, _, err := s.getOpen(ctx, holder)
			switch {
			case errors.Is(err, store.ErrNotFound):
			case err != nil:
				return n, fmt.Errorf("alerts: sweep: %w", err)
			case dir == "codes/" && a.Code != code.Code:
			default:
				continue
			}
			if dir == "codes/" {
				// The code may have been paged: it rests like any
				// released code.
				code.ReleasedAt = s.now().UTC()
				if err := s.claimSlot(ctx, ref, code); err != nil && !errors.Is(err, errConflict) {
					return n, err
				}
			} else if err := s.freeSlot(ctx, ref); err != nil && !errors.Is(err, errConflict) {
				return n, err
			}
			s.log.InfoContext(ctx, "alerts: freed a slot whose alert is not open", "key", in.Key, "held_by", holder)
			n++
		}
	}
	return n, nil
}

// Open lists the alerts that are triggered or acknowledged, oldest first.
func (s *Service) Open(ctx context.Context) ([]Alert, error) {
	infos, err := s.st.List(ctx, s.prefix+"open/")
	if err != nil {
		return nil, fmt.Errorf("alerts: list: %w", err)
	}
	out := make([]Alert, 0, len(infos))
	for _, in := range infos {
		var a Alert
		if _, err := s.getJSON(ctx, in.Key, &a); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				continue // closed since the listing
			}
			return nil, fmt.Errorf("alerts: list: %w", err)
		}
		if a.State.Open() {
			out = append(out, a)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].CreatedAt.Before(out[j].CreatedAt) })
	return out, nil
}

func others(users []string, actor string) []string {
	return slices.DeleteFunc(slices.Clone(users), func(u string) bool { return u == actor })
}

// CreatedSince lists the ids of alerts created at or after since, open or
// closed, oldest first. Alert ids start with their creation time, so it
// lists only the days since (store prefixes), not every alert kept.
func (s *Service) CreatedSince(ctx context.Context, since time.Time) ([]string, error) {
	since = since.UTC()
	from := "a" + since.Format("20060102150405")
	var ids []string
	seen := map[string]bool{}
	for day := since.Truncate(24 * time.Hour); !day.After(s.now().UTC()); day = day.Add(24 * time.Hour) {
		for _, dir := range []string{"open/", "closed/"} {
			infos, err := s.st.List(ctx, s.prefix+dir+"a"+day.Format("20060102"))
			if err != nil {
				return nil, fmt.Errorf("alerts: list: %w", err)
			}
			for _, in := range infos {
				id := strings.TrimSuffix(strings.TrimPrefix(in.Key, s.prefix+dir), ".json")
				if id >= from && !seen[id] {
					seen[id] = true
					ids = append(ids, id)
				}
			}
		}
	}
	sort.Strings(ids)
	return ids, nil
}
