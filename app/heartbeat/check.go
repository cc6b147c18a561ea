package heartbeat

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/oncall/pager/app/alerts"
	"github.com/oncall/pager/app/jobs"
	"github.com/oncall/pager/app/team"
)

// Job kinds this package runs on the queue.
const (
	// KindCheck: one job per armed deadline, its one step due then.
	KindCheck jobs.Kind = "heartbeat-check"
	// KindRecover: one job per silence that ended, closing its alert and
	// telling whoever acknowledged it.
	KindRecover jobs.Kind = "heartbeat-recover"
)

const (
	stepCheck = "check"
	stepClose = "close"
	stepTell  = "tell"
	// tellAttempts bounds retries of queueing the recovery text; the alert
	// is closed either way.
	tellAttempts = 10
)

type checkPayload struct {
	Name string    `json:"name"`
	Due  time.Time `json:"due"`
}

type recoverPayload struct {
	Name    string `json:"name"`
	AlertID string `json:"alert_id"`
}

// CheckResult is what a check step records.
type CheckResult struct {
	Outcome string    `json:"outcome"`
	Due     time.Time `json:"due,omitzero"`
	AlertID string    `json:"alert_id,omitempty"`
}

// Check outcomes.
const (
	CheckUnknown = "not configured"
	CheckWaiting = "never beaten"
	CheckArmed   = "armed for a later beat"
	CheckLate    = "late"
)

// CloseResult is what a recovery's close step records.
type CloseResult struct {
	AlertID string `json:"alert_id,omitempty"`
	Code    string `json:"code,omitempty"`
	AckedBy string `json:"acked_by,omitempty"`
	// Closed: this recovery closed the alert (not someone before it).
	Closed bool `json:"closed"`
}

// checkJobID names the check for a deadline: replicas arming the same
// deadline queue one job.
func checkJobID(name string, due time.Time) string {
	return fmt.Sprintf("hb-%s-%d", name, due.Unix())
}

// recoverJobID: one recovery per alert, whoever queues it.
func recoverJobID(alertID string) string { return "hbr-" + alertID }

func (s *Service) register(q *jobs.Queue) {
	q.Handle(KindCheck, stepCheck, s.runCheck)
	q.Handle(KindRecover, stepClose, s.runClose)
	q.Handle(KindRecover, stepTell, s.runTell)
}

// arm queues the check for due; a check already queued for it is kept.
func (s *Service) arm(ctx context.Context, name string, due time.Time) error {
	if s.q == nil {
		return errors.New("heartbeat: no job queue")
	}
	payload, err := json.Marshal(checkPayload{Name: name, Due: due})
	if err != nil {
		return fmt.Errorf("heartbeat: encode check: %w", err)
	}
	_, err = s.q.Enqueue(ctx, jobs.Job{ID: checkJobID(name, due), Kind: KindCheck, Payload: payload,
		Steps: []jobs.Step{{Name: stepCheck, NextAt: due}}})
	if err != nil {
		return fmt.Errorf("heartbeat: arm %s: %w", name, err)
	}
	return nil
}

func (s *Service) queueRecovery(ctx context.Context, name, alertID string) error {
	if s.q == nil {
		return errors.New("heartbeat: no job queue")
	}
	payload, err := json.Marshal(recoverPayload{Name: name, AlertID: alertID})
	if err != nil {
		return fmt.Errorf("heartbeat: encode recovery: %w", err)
	}
	_, err = s.q.Enqueue(ctx, jobs.Job{ID: recoverJobID(alertID), Kind: KindRecover, Payload: payload,
		Steps: []jobs.Step{
			{Name: stepClose},
			{Name: stepTell, After: []string{stepClose}, MaxAttempts: tellAttempts},
		}})
	if err != nil {
		return fmt.Errorf("heartbeat: queue recovery of %s: %w", name, err)
	}
	return nil
}

// runCheck is the timer: it finds the heartbeat beaten since (and re-arms
// for the new deadline) or silent (and raises the alert).
func (s *Service) runCheck(ctx context.Context, job *jobs.Job, _ *jobs.Step) (any, error) {
	var p checkPayload
	if err := job.Decode(&p); err != nil {
		return nil, jobs.Permanent(err)
	}
	for range maxRetries {
		hb, ok := s.cfg.Current().Heartbeat(p.Name)
		if !ok {
			return CheckResult{Outcome: CheckUnknown}, nil
		}
		rec, etag, err := s.read(ctx, p.Name)
		if err != nil {
			return nil, err
		}
		if rec.Last.IsZero() {
			return CheckResult{Outcome: CheckWaiting}, nil
		}
		if rec.Late != nil {
			if rec.Late.AlertID != "" {
				return CheckResult{Outcome: CheckLate, Due: rec.Late.Due, AlertID: rec.Late.AlertID}, nil
			}
			// Marked late by a check that stopped before its alert.
			return s.raise(ctx, hb, rec)
		}
		now := s.now().UTC()
		due := rec.Last.Add(hb.Deadline())
		if now.Before(due) {
			// Beating, yet an alert of it is open: the beat that ended its
			// silence did not get to queue the recovery. Queue it now.
			if err := s.healOpenAlert(ctx, p.Name); err != nil {
				return nil, err
			}
			if rec.Armed.After(now) && !due.Before(rec.Armed) {
				// A later beat armed a check of its own.
				return CheckResult{Outcome: CheckArmed, Due: rec.Armed}, nil
			}
			if err := s.arm(ctx, p.Name, due); err != nil {
				return nil, err
			}
			next := rec
			next.Armed = due
			written, err := s.write(ctx, next, etag)
			if err != nil {
				return nil, err
			}
			if written {
				return CheckResult{Outcome: CheckArmed, Due: due}, nil
			}
			continue
		}
		next := rec
		next.Armed = time.Time{}
		next.Late = &Late{Beat: rec.Last, Due: due}
		written, err := s.write(ctx, next, etag)
		if err != nil {
			return nil, err
		}
		if !written {
			continue // a beat landed: look again
		}
		s.log.Warn("heartbeat: no beat in time", "heartbeat", p.Name, "last", rec.Last, "due", due)
		return s.raise(ctx, hb, next)
	}
	return nil, fmt.Errorf("heartbeat: check %s: %w", p.Name, errConflict)
}

// raise triggers the alert for the silence in rec and records its id. A
// beat that landed meanwhile has queued a recovery that may have found no
// alert yet: then this closes it.
func (s *Service) raise(ctx context.Context, hb team.Heartbeat, rec Record) (any, error) {
	late := *rec.Late
	a, _, err := s.alerts.Trigger(ctx, s.event(hb, rec))
	if err != nil {
		return nil, fmt.Errorf("heartbeat: raise %s: %w", rec.Name, err)
	}
	for range maxRetries {
		cur, etag, err := s.read(ctx, rec.Name)
		if err != nil {
			return nil, err
		}
		if cur.Late == nil || !cur.Late.Beat.Equal(late.Beat) {
			if _, err := s.alerts.Close(ctx, a.ID, actor(rec.Name)); err != nil && !errors.Is(err, alerts.ErrNotFound) {
				return nil, err
			}
			return CheckResult{Outcome: CheckLate, Due: late.Due, AlertID: a.ID}, nil
		}
		if cur.Late.AlertID == a.ID {
			break
		}
		next := cur
		l := *cur.Late
		l.AlertID = a.ID
		next.Late = &l
		ok, err := s.write(ctx, next, etag)
		if err != nil {
			return nil, err
		}
		if ok {
			break
		}
	}
	return CheckResult{Outcome: CheckLate, Due: late.Due, AlertID: a.ID}, nil
}

// event is the alert for a silence: the summary names when the last beat
// came and from where, in the team's time zone.
func (s *Service) event(hb team.Heartbeat, rec Record) alerts.Event {
	loc := s.cfg.Current().CurrentConfig.Location()
	summary := fmt.Sprintf("%s: no beat since %s", hb.Summary, rec.Last.In(loc).Format("Mon 2 Jan 15:04 MST"))
	if rec.From != "" {
		summary += " from " + rec.From
	}
	if rec.Status != "" {
		st := rec.Status
		if len(st) > 40 {
			st = st[:40]
		}
		summary += " (" + st + ")"
	}
	return alerts.Event{
		Action:      alerts.EventTrigger,
		DedupKey:    dedupKey(rec.Name),
		RoutingKey:  routingKey,
		Summary:     summary,
		Source:      "heartbeat " + rec.Name,
		Severity:    alerts.SeverityCritical,
		Integration: Origin,
		Details: map[string]any{
			"heartbeat": rec.Name,
			"last_beat": rec.Last.Format(time.RFC3339),
			"from":      rec.From,
			"status":    rec.Status,
			"due":       rec.Late.Due.Format(time.RFC3339),
		},
	}
}

// healOpenAlert queues the recovery of an open alert of a heartbeat that
// is beating.
func (s *Service) healOpenAlert(ctx context.Context, name string) error {
	a, err := s.alerts.ByDedupKey(ctx, routingKey, dedupKey(name))
	if errors.Is(err, alerts.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	return s.queueRecovery(ctx, name, a.ID)
}

// runClose closes the alert of a silence that ended.
func (s *Service) runClose(ctx context.Context, job *jobs.Job, _ *jobs.Step) (any, error) {
	var p recoverPayload
	if err := job.Decode(&p); err != nil {
		return nil, jobs.Permanent(err)
	}
	id := p.AlertID
	tr, err := s.alerts.Close(ctx, id, actor(p.Name))
	if errors.Is(err, alerts.ErrNotFound) {
		return CloseResult{AlertID: id}, nil
	}
	if err != nil {
		return nil, err
	}
	a := tr.Alert
	return CloseResult{AlertID: id, Code: a.Code, AckedBy: a.AckedBy, Closed: a.ClosedBy == actor(p.Name)}, nil
}

// runTell tells whoever acknowledged the alert that the heartbeat is back
// and the alert closed (those paged but silent are told by the alert's own
// escalation).
func (s *Service) runTell(ctx context.Context, job *jobs.Job, step *jobs.Step) (any, error) {
	var p recoverPayload
	if err := job.Decode(&p); err != nil {
		return nil, jobs.Permanent(err)
	}
	st := job.Step(stepClose)
	var res CloseResult
	if st == nil || st.Decode(&res) != nil || !res.Closed || res.AckedBy == "" || s.teller == nil {
		return nil, nil
	}
	cfg := s.cfg.Current()
	if _, ok := cfg.UserByID(res.AckedBy); !ok {
		return nil, nil
	}
	rec, _, err := s.read(ctx, p.Name)
	if err != nil {
		return nil, err
	}
	text := TellText(p.Name, res.Code, rec, cfg.CurrentConfig.Location())
	// Named by the step, so the text is queued once however often the step
	// runs.
	if err := s.teller.Tell(ctx, job.ID+"."+step.Name, res.AckedBy, text); err != nil {
		return nil, fmt.Errorf("heartbeat: tell %s: %w", res.AckedBy, err)
	}
	return map[string]string{"told": res.AckedBy}, nil
}

// TellText is the SMS to whoever acknowledged a heartbeat's alert when it
// beats again.
func TellText(name, code string, rec Record, loc *time.Location) string {
	msg := fmt.Sprintf("Heartbeat %s beat again at %s", name, rec.Last.In(loc).Format("15:04 MST"))
	if rec.From != "" {
		msg += " from " + rec.From
	}
	if code != "" {
		return fmt.Sprintf("[%s] %s; alert closed.", code, msg)
	}
	return msg + "; alert closed."
}
