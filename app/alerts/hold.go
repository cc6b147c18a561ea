package alerts

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/oncall/pager/app/jobs"
	"github.com/oncall/pager/store"
)

// Hold is an alert's stay in a maintenance window: recorded and visible,
// not paged until Until (the window's end), when its escalation starts if
// it is still triggered.
type Hold struct {
	Window string    `json:"window"`
	Until  time.Time `json:"until"`
	// Released is when the escalation started after the window.
	Released time.Time `json:"released,omitzero"`
}

// Holder finds the maintenance window holding an alert now, if any (the
// config's maintenance_windows, matched on the alert's Route and DedupKey).
type Holder func(a Alert) (window string, until time.Time, ok bool)

// KindRelease: one job per window end that held alerts, due then.
const KindRelease jobs.Kind = "alert-release"

const stepRelease = "release"

// History actions of holds.
const (
	ActionHeld     EntryAction = "held"
	ActionReleased EntryAction = "released"
)

func releaseID(window string, until time.Time) string {
	return fmt.Sprintf("rel-%s-%d", window, until.Unix())
}

// holdFor asks the Holder about a; a voicemail is never held (a customer on
// the phone always reaches someone), nor an alert its source paged itself.
func (s *Service) holdFor(a Alert) (string, time.Time, bool) {
	if s.hold == nil || a.Origin == IntegrationVoicemail || len(a.PrePaged) > 0 {
		return "", time.Time{}, false
	}
	return s.hold(a)
}

// holdAlert records that a is held by window until until and makes sure a
// release job is due then. It returns the alert as stored.
func (s *Service) holdAlert(ctx context.Context, a Alert, window string, until time.Time) (Alert, error) {
	until = until.UTC()
	// Held is recorded only once its release job is stored, so an alert
	// already held by this window until then has its release due: a
	// repeated trigger need not enqueue it again (a read and a failed
	// create each time).
	if a.Held != nil && a.Held.Window == window && a.Held.Until.Equal(until) && a.Held.Released.IsZero() {
		return a, nil
	}
	if err := s.scheduleRelease(ctx, window, until); err != nil {
		return a, err
	}
	b, err := s.modify(ctx, a.ID, func(x *Alert) (bool, error) {
		if !x.State.Open() || x.Escalation != "" {
			return false, nil
		}
		x.Held = &Hold{Window: window, Until: until}
		x.log(Entry{Time: s.now().UTC(), Action: ActionHeld, Detail: fmt.Sprintf("maintenance window %s until %s", window, until.Format(time.RFC3339))})
		return true, nil
	})
	if errors.Is(err, store.ErrNotFound) {
		return a, nil
	}
	if err == nil {
		s.log.InfoContext(ctx, "alerts: alert held by a maintenance window", "id", a.ID, "window", window, "until", until)
	}
	return b, err
}

func (s *Service) scheduleRelease(ctx context.Context, window string, until time.Time) error {
	_, err := s.q.Enqueue(ctx, jobs.Job{ID: releaseID(window, until), Kind: KindRelease,
		Steps: []jobs.Step{{Name: stepRelease, NextAt: until}}})
	if err != nil {
		return fmt.Errorf("alerts: schedule release of window %s: %w", window, err)
	}
	return nil
}

// ReleaseHeld queues, due now, a release of every held alert whose window
// no longer holds it (after a window was ended early). Idempotent.
func (s *Service) ReleaseHeld(ctx context.Context, reason string) error {
	if s.q == nil {
		return nil
	}
	return s.scheduleRelease(ctx, reason, s.now())
}

// runRelease starts the escalation of every held, still open alert whose
// window is over; one held by another window now is held again.
func (s *Service) runRelease(ctx context.Context, _ *jobs.Job, _ *jobs.Step) (any, error) {
	open, err := s.Open(ctx)
	if err != nil {
		return nil, err
	}
	var released []string
	for _, a := range open {
		if a.Held == nil || !a.Held.Released.IsZero() || a.Escalation != "" {
			continue
		}
		if window, until, ok := s.holdFor(a); ok {
			if _, err := s.holdAlert(ctx, a, window, until); err != nil {
				return nil, err
			}
			continue
		}
		b, err := s.complete(ctx, a)
		if err != nil {
			return nil, err
		}
		if b.Escalation != "" {
			released = append(released, a.ID)
		}
	}
	return map[string]string{"released": strings.Join(released, ",")}, nil
}

// escalationStart is when an alert's escalation plan starts: its creation,
// or the end of the window that held it.
func (a Alert) escalationStart() time.Time {
	if a.Held != nil && !a.Held.Released.IsZero() {
		return a.Held.Released
	}
	return a.CreatedAt
}

// heldNow reports whether a is held by a window that still holds it: one
// deleted from the config or ended early lets the sweep release the alert.
func (s *Service) heldNow(a Alert) bool {
	if a.Held == nil || !a.Held.Released.IsZero() || !a.Held.Until.After(s.now()) {
		return false
	}
	_, _, ok := s.holdFor(a)
	return ok
}
