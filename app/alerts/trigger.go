package alerts

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/oncall/pager/app/jobs"
	"github.com/oncall/pager/store"
)

// dedupRecord is the dedup index slot of one problem: which alert is open
// for it.
type dedupRecord struct {
	DedupKey string    `json:"dedup_key"`
	AlertID  string    `json:"alert_id"`
	At       time.Time `json:"at"`
}

// TriggerOptions adjust how a new alert escalates.
type TriggerOptions struct {
	// PrePaged are users the caller has paged about the problem itself
	// (the voicemail job texts and calls the on-call): they count as paged
	// by the first round of the escalation, which pages only the others, so
	// nobody gets the same page twice; later rounds page them as usual.
	// They are recorded as paged, so they are told who took the alert and
	// a bare ACK from them finds it.
	PrePaged []string
}

// Trigger records a trigger event. While an alert with the same routing key
// and dedup key is open, the event is counted on it (created false) and
// nobody is paged again; otherwise a new alert is created with a reply code
// and its escalation is enqueued. Safe to call concurrently from several
// replicas: one alert results.
func (s *Service) Trigger(ctx context.Context, ev Event) (Alert, bool, error) {
	return s.TriggerWith(ctx, ev, TriggerOptions{})
}

// TriggerWith is Trigger with options, which apply only when the alert is
// created.
func (s *Service) TriggerWith(ctx context.Context, ev Event, opts TriggerOptions) (Alert, bool, error) {
	a, created, err := s.trigger(ctx, ev, opts)
	if err != nil || len(opts.PrePaged) == 0 || !a.State.Open() || a.Code == "" {
		return a, created, err
	}
	// The paged index names the reply code, so it is written once the
	// alert has one; a caller retrying after a failure here rewrites it.
	for _, u := range a.PrePaged {
		if err := s.notePaged(ctx, u, a); err != nil {
			return a, created, err
		}
	}
	return a, created, nil
}

func (s *Service) trigger(ctx context.Context, ev Event, opts TriggerOptions) (Alert, bool, error) {
	if ev.Action != "" && ev.Action != EventTrigger {
		return Alert{}, false, fmt.Errorf("%w: Trigger with action %q", ErrInvalid, ev.Action)
	}
	if strings.TrimSpace(ev.Summary) == "" {
		return Alert{}, false, fmt.Errorf("%w: empty summary", ErrInvalid)
	}
	if ev.DedupKey == "" {
		// Nothing to deduplicate against: a problem of its own.
		ev.DedupKey = s.newID()
	}
	key := s.dedupKey(ev.RoutingKey, ev.DedupKey)
	for range maxRetries {
		var rec dedupRecord
		ref, held, err := s.readSlot(ctx, key, &rec)
		if err != nil {
			return Alert{}, false, err
		}
		if !held {
			id := s.newID()
			err := s.claimSlot(ctx, ref, dedupRecord{DedupKey: ev.DedupKey, AlertID: id, At: s.now().UTC()})
			if errors.Is(err, errConflict) {
				continue
			}
			if err != nil {
				return Alert{}, false, err
			}
			rec.AlertID = id
		}
		a, _, err := s.getOpen(ctx, rec.AlertID)
		switch {
		case errors.Is(err, store.ErrNotFound):
			// The slot names an alert that is not in open/: its creator is
			// still writing it or crashed before it did. Create it; of
			// several who try, the conditional create picks one. Closed
			// alerts free their slot before leaving open/, so a slot naming
			// one in closed/ can only be left over from a failed close.
			if _, err := s.st.Get(ctx, s.closedKey(rec.AlertID)); err == nil {
				if err := s.freeSlot(ctx, ref); err != nil && !errors.Is(err, errConflict) {
					return Alert{}, false, err
				}
				continue
			}
			a, created, err := s.createWith(ctx, rec.AlertID, key, ev, opts)
			if err != nil {
				return Alert{}, false, err
			}
			if !created {
				continue // someone else created it: count ours on it
			}
			a, err = s.complete(ctx, a)
			return a, true, err
		case err != nil:
			return Alert{}, false, fmt.Errorf("alerts: trigger: %w", err)
		case !a.State.Open():
			// Closing right now. Free the slot for the closer (whichever of
			// us frees it first wins) and start a new alert.
			if err := s.freeSlot(ctx, ref); err != nil && !errors.Is(err, errConflict) {
				return Alert{}, false, err
			}
			continue
		}
		a, err = s.modify(ctx, a.ID, func(x *Alert) (bool, error) {
			if !x.State.Open() {
				return false, nil
			}
			x.Triggers++
			x.LastTriggeredAt = s.now().UTC()
			return true, nil
		})
		if errors.Is(err, store.ErrNotFound) {
			continue // closed and moved meanwhile
		}
		if err != nil {
			return Alert{}, false, err
		}
		if !a.State.Open() {
			continue
		}
		a, err = s.complete(ctx, a)
		return a, false, err
	}
	return Alert{}, false, fmt.Errorf("alerts: trigger %q: %w", ev.DedupKey, errConflict)
}

// create writes a new alert for ev under id; created is false when it
// exists already.
func (s *Service) create(ctx context.Context, id, slotKey string, ev Event) (Alert, bool, error) {
	return s.createWith(ctx, id, slotKey, ev, TriggerOptions{})
}

func (s *Service) createWith(ctx context.Context, id, slotKey string, ev Event, opts TriggerOptions) (Alert, bool, error) {
	now := s.now().UTC()
	a := Alert{
		ID:              id,
		Summary:         pageSummary(ev.Summary),
		Source:          ev.Source,
		Severity:        ev.Severity,
		Origin:          ev.Integration,
		DedupKey:        ev.DedupKey,
		DedupSlot:       slotKey,
		Route:           routeOf(ev.RoutingKey),
		State:           StateTriggered,
		Details:         maps.Clone(ev.Details),
		Links:           slices.Clone(ev.Links),
		CreatedAt:       now,
		UpdatedAt:       now,
		Triggers:        1,
		LastTriggeredAt: now,
	}
	detail := string(ev.Integration)
	if ev.Source != "" {
		detail += " " + ev.Source
	}
	a.log(Entry{Time: now, Action: ActionTriggered, Detail: strings.TrimSpace(detail)})
	for _, u := range opts.PrePaged {
		if u != "" && !slices.Contains(a.PrePaged, u) {
			a.PrePaged = append(a.PrePaged, u)
		}
	}
	if len(a.PrePaged) > 0 {
		a.addPaged(a.PrePaged)
		a.LastPaged = now
		by := ev.Source
		if by == "" {
			by = string(ev.Integration)
		}
		a.log(Entry{Time: now, Action: ActionPaged, Detail: "already paged by " + by + ": " + strings.Join(a.PrePaged, ", ")})
	}
	_, err := s.putJSON(ctx, s.openKey(id), &a, store.Cond{IfNoneMatch: true})
	switch {
	case errors.Is(err, store.ErrPrecondition):
		return Alert{}, false, nil
	case err != nil:
		return Alert{}, false, fmt.Errorf("alerts: create %s: %w", id, err)
	}
	s.log.InfoContext(ctx, "alerts: alert triggered", "id", id, "origin", ev.Integration, "source", ev.Source)
	return a, true, nil
}

// complete gives an open alert what a crash may have left it without: a
// reply code and its escalation, or its hold while a maintenance window
// holds it. Cheap when both are there.
func (s *Service) complete(ctx context.Context, a Alert) (Alert, error) {
	if !a.State.Open() || (a.Code != "" && (a.Escalation != "" || s.q == nil)) {
		return a, nil
	}
	code := a.Code
	if code == "" {
		var err error
		if code, err = s.allocCode(ctx, a.ID); err != nil {
			return a, err
		}
	}
	esc := a.Escalation
	var (
		window string
		until  time.Time
		held   bool
	)
	if esc == "" && s.q != nil {
		window, until, held = s.holdFor(a)
	}
	if esc == "" && s.q != nil && !held {
		if a.Held != nil && a.Held.Released.IsZero() {
			// The window is over: the escalation starts now.
			b, err := s.modify(ctx, a.ID, func(x *Alert) (bool, error) {
				if x.Held == nil || !x.Held.Released.IsZero() {
					return false, nil
				}
				now := s.now().UTC()
				h := *x.Held
				h.Released = now
				x.Held = &h
				x.log(Entry{Time: now, Action: ActionReleased, Detail: "maintenance window " + h.Window + " over"})
				return true, nil
			})
			if errors.Is(err, store.ErrNotFound) {
				return a, nil
			}
			if err != nil {
				return a, err
			}
			a = b
		}
		var err error
		if esc, err = s.enqueueEscalation(ctx, a); err != nil {
			return a, err
		}
	}
	b := a
	// A held alert that has its code has nothing to write here; reading it
	// again would cost every repeated trigger during the window.
	if code != a.Code || esc != a.Escalation {
		var err error
		b, err = s.modify(ctx, a.ID, func(x *Alert) (bool, error) {
			if !x.State.Open() {
				return false, nil
			}
			changed := false
			if x.Code == "" {
				x.Code, changed = code, true
			}
			if x.Escalation == "" && esc != "" {
				x.Escalation, changed = esc, true
			}
			return changed, nil
		})
		switch {
		case errors.Is(err, store.ErrNotFound):
			b = a // closed and moved meanwhile
			b.State = StateClosed
		case err != nil:
			// The write may have landed: freeing the code could give it to
			// a second alert. Kept claimed for this alert, the next
			// completion (a repeated trigger, Sweep) reuses it.
			return a, err
		}
		s.codes.settled(a.ID)
	}
	if b.Code != code {
		// Closed meanwhile, or a concurrent completion gave it another code.
		if rerr := s.releaseCode(ctx, code, a.ID, false); rerr != nil {
			s.log.WarnContext(ctx, "alerts: unused reply code not freed; Sweep frees it", "code", code, "err", rerr)
		}
	}
	if !held || !b.State.Open() {
		return b, nil
	}
	return s.holdAlert(ctx, b, window, until)
}

// Apply acts on a normalized intake event: trigger, or acknowledge / close
// the open alert with its dedup key (PagerDuty's semantics: an acknowledge
// or resolve for no open alert is dropped, here ErrNotFound). actor names
// who sent it, e.g. "api:<key name>".
func (s *Service) Apply(ctx context.Context, ev Event, actor string) (Transition, error) {
	switch ev.Action {
	case EventTrigger, "":
		a, created, err := s.Trigger(ctx, ev)
		out := OutcomeDeduplicated
		if created {
			out = OutcomeCreated
		}
		return Transition{Alert: a, Outcome: out}, err
	case EventAcknowledge, EventResolve:
		a, err := s.ByDedupKey(ctx, ev.RoutingKey, ev.DedupKey)
		if err != nil {
			return Transition{}, err
		}
		if ev.Action == EventAcknowledge {
			return s.ack(ctx, a.ID, actor)
		}
		return s.close(ctx, a.ID, actor)
	}
	return Transition{}, fmt.Errorf("%w: action %q", ErrInvalid, ev.Action)
}

// ByDedupKey returns the open alert for routingKey and dedupKey.
func (s *Service) ByDedupKey(ctx context.Context, routingKey, dedupKey string) (Alert, error) {
	var rec dedupRecord
	_, held, err := s.readSlot(ctx, s.dedupKey(routingKey, dedupKey), &rec)
	if err != nil {
		return Alert{}, err
	}
	if !held {
		return Alert{}, fmt.Errorf("%w: dedup key %q", ErrNotFound, dedupKey)
	}
	a, _, err := s.getOpen(ctx, rec.AlertID)
	if errors.Is(err, store.ErrNotFound) || (err == nil && !a.State.Open()) {
		return Alert{}, fmt.Errorf("%w: dedup key %q", ErrNotFound, dedupKey)
	}
	if err != nil {
		return Alert{}, fmt.Errorf("alerts: dedup key %q: %w", dedupKey, err)
	}
	return a, nil
}

// enqueueEscalation creates the alert's escalation job with one step per
// planned page, each due at creation + its cumulative delay. The policy is
// copied into the job so a config change does not reshuffle a running
// escalation.
func (s *Service) enqueueEscalation(ctx context.Context, a Alert) (string, error) {
	pol := s.settings().Policy
	if probs := pol.Validate(); len(probs) > 0 {
		s.log.ErrorContext(ctx, "alerts: escalation policy invalid; using the default", "problems", probs)
		pol = DefaultPolicy()
	}
	id := escalationID(a.ID)
	j := jobs.Job{ID: id, Kind: KindEscalation, CreatedAt: a.escalationStart()}
	var err error
	if j.Payload, err = encodePayload(escalationPayload{AlertID: a.ID, Policy: pol, PrePaged: a.PrePaged}); err != nil {
		return "", err
	}
	for _, p := range pol.plan() {
		j.Steps = append(j.Steps, jobs.Step{
			Name:        pageStepName(p.round, p.step),
			NextAt:      a.escalationStart().Add(p.at),
			MaxAttempts: pageAttempts,
		})
	}
	if _, err := s.q.Enqueue(ctx, j); err != nil {
		return "", fmt.Errorf("alerts: enqueue escalation of %s: %w", a.ID, err)
	}
	return id, nil
}

// routeOf keeps a routing key as the alert's route when it names a source
// ("key:<name>", "event:<slug>"); anything else could be a sender's secret
// (PagerDuty's raw routing_key) and is not stored.
func routeOf(routingKey string) string {
	for _, p := range []string{"key:", "event:"} {
		if strings.HasPrefix(routingKey, p) {
			return routingKey
		}
	}
	switch routingKey {
	case "pagerline", "heartbeat":
		return routingKey
	}
	return ""
}
