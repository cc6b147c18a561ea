package alerts

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/oncall/pager/app/jobs"
	"github.com/oncall/pager/store"
)

// Per-person throttling. Each user has one object recording the pages sent
// in the last window and the pages held back. A page is sent while fewer
// than MaxPages went out in the window and nothing is held; otherwise it is
// held, and a digest job due when the window reopens sends everything held
// as one page. Holding everything once anything is held keeps the order and
// means the digest always finds its slot free.

type sentPage struct {
	At  time.Time `json:"at"`
	Ref string    `json:"ref"`
}

type heldPage struct {
	AlertID string    `json:"alert_id"`
	At      time.Time `json:"at"`
}

type throttleState struct {
	UserID string     `json:"user_id"`
	Sent   []sentPage `json:"sent,omitempty"`
	Held   []heldPage `json:"held,omitempty"`
	// Digest is the job that will send Held, due at FlushAt; Seq numbers
	// the digests so each gets a fresh job id.
	Digest  string    `json:"digest,omitempty"`
	FlushAt time.Time `json:"flush_at,omitzero"`
	Seq     int       `json:"seq"`
	// More counts pages held once Held was full.
	More int `json:"more,omitempty"`
}

// MaxHeld bounds the alerts listed in one digest (and the throttle object):
// beyond it held pages are counted, not listed.
const MaxHeld = 50

func (st *throttleState) prune(now time.Time, window time.Duration) {
	cut := now.Add(-window)
	st.Sent = slices.DeleteFunc(st.Sent, func(p sentPage) bool { return !p.At.After(cut) })
}

// reopensAt is when the oldest page in the window leaves it.
func (st *throttleState) reopensAt(now time.Time, window time.Duration) time.Time {
	if len(st.Sent) == 0 {
		return now
	}
	oldest := st.Sent[0].At
	for _, p := range st.Sent[1:] {
		if p.At.Before(oldest) {
			oldest = p.At
		}
	}
	if t := oldest.Add(window); t.After(now) {
		return t
	}
	return now
}

type digestPayload struct {
	UserID string `json:"user_id"`
}

func digestID(user string, seq int, at time.Time) string {
	return "digest-" + hashOf(user)[:16] + "-" + strconv.Itoa(seq) + "-" + strconv.FormatInt(at.Unix(), 10)
}

// admit decides whether user may be paged now for the page ref (a job
// step) about alertID, or the page is held for the next digest. Asking
// again for the same page gives the same answer.
func (s *Service) admit(ctx context.Context, user, ref, alertID string) (bool, error) {
	th := s.settings().Throttle.withDefaults()
	key := s.throttleKey(user)
	defer s.locks.lock(key)()
	for range maxRetries {
		st := throttleState{UserID: user}
		etag, err := s.getJSON(ctx, key, &st)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return false, fmt.Errorf("alerts: throttle of %s: %w", user, err)
		}
		now := s.now().UTC()
		st.prune(now, th.Window)
		if slices.ContainsFunc(st.Sent, func(p sentPage) bool { return p.Ref == ref }) {
			return true, nil
		}
		if slices.ContainsFunc(st.Held, func(p heldPage) bool { return p.AlertID == alertID }) {
			return false, nil
		}
		allowed := len(st.Held) == 0 && st.More == 0 && len(st.Sent) < th.MaxPages
		if allowed {
			st.Sent = append(st.Sent, sentPage{At: now, Ref: ref})
		} else {
			if len(st.Held) < MaxHeld {
				st.Held = append(st.Held, heldPage{AlertID: alertID, At: now})
			} else {
				st.More++
			}
			if st.Digest == "" {
				if err := s.scheduleDigest(ctx, &st, now, th.Window); err != nil {
					return false, err
				}
			}
		}
		cond := store.Cond{IfMatch: etag}
		if etag == "" {
			cond = store.Cond{IfNoneMatch: true}
		}
		_, err = s.putJSON(ctx, key, &st, cond)
		if errors.Is(err, store.ErrPrecondition) || errors.Is(err, store.ErrNotFound) {
			if err := backoff(ctx); err != nil {
				return false, err
			}
			continue
		}
		if err != nil {
			return false, fmt.Errorf("alerts: throttle of %s: %w", user, err)
		}
		if !allowed {
			s.log.InfoContext(ctx, "alerts: page held back by throttling", "user", user, "alert", alertID, "digest_at", st.FlushAt)
		}
		return allowed, nil
	}
	return false, fmt.Errorf("alerts: throttle of %s: %w", user, errConflict)
}

// scheduleDigest enqueues the job that sends st.Held when the window
// reopens, before the state naming it is written: a crash in between
// leaves a job that finds itself not named and does nothing, never held
// pages without a job.
func (s *Service) scheduleDigest(ctx context.Context, st *throttleState, now time.Time, window time.Duration) error {
	if s.q == nil {
		return errors.New("alerts: throttled page needs a job queue to send the digest")
	}
	st.Seq++
	at := st.reopensAt(now, window)
	id := digestID(st.UserID, st.Seq, at)
	payload, err := encodePayload(digestPayload{UserID: st.UserID})
	if err != nil {
		return err
	}
	_, err = s.q.Enqueue(ctx, jobs.Job{
		ID: id, Kind: KindDigest, Payload: payload,
		Steps: []jobs.Step{{Name: stepDigest, NextAt: at}}, // retried until sent: never dropped
	})
	if err != nil {
		return fmt.Errorf("alerts: schedule digest for %s: %w", st.UserID, err)
	}
	st.Digest, st.FlushAt = id, at
	return nil
}

// DigestResult is what a digest step records.
type DigestResult struct {
	Status string   `json:"status"`
	Alerts []string `json:"alerts,omitempty"`
	More   int      `json:"more,omitempty"`
}

// runDigest sends a user everything held for them as one page, then
// forgets what it sent. It pages first and records after, so a failure
// leaves everything held for the retry.
func (s *Service) runDigest(ctx context.Context, job *jobs.Job, _ *jobs.Step) (any, error) {
	var p digestPayload
	if err := job.Decode(&p); err != nil {
		return nil, jobs.Permanent(err)
	}
	key := s.throttleKey(p.UserID)
	var st throttleState
	if _, err := s.getJSON(ctx, key, &st); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return DigestResult{Status: "superseded"}, nil
		}
		return nil, err
	}
	if st.Digest != job.ID {
		return DigestResult{Status: "superseded"}, nil
	}
	var (
		batch []Alert
		ids   []string
	)
	for _, h := range st.Held {
		a, err := s.Get(ctx, h.AlertID)
		if errors.Is(err, ErrNotFound) {
			s.log.ErrorContext(ctx, "alerts: held page for an alert that does not exist", "user", p.UserID, "alert", h.AlertID)
			ids = append(ids, h.AlertID)
			continue
		}
		if err != nil {
			return nil, err
		}
		batch = append(batch, a)
		ids = append(ids, h.AlertID)
	}
	ref := job.ID + "/" + stepDigest
	more := st.More
	if len(batch) > 0 || more > 0 {
		if s.pager == nil {
			return nil, errors.New("alerts: no Pager configured")
		}
		for _, a := range batch {
			if a.State.Open() {
				if err := s.notePaged(ctx, p.UserID, a); err != nil {
					return nil, err
				}
			}
		}
		if err := s.pager.PageDigest(withRef(ctx, ref), Digest{UserID: p.UserID, Alerts: batch, More: more}); err != nil {
			return nil, fmt.Errorf("alerts: digest for %s: %w", p.UserID, err)
		}
	}
	if err := s.digestSent(ctx, key, job.ID, ref, ids, more); err != nil {
		return nil, err
	}
	for _, a := range batch {
		_, err := s.modify(ctx, a.ID, func(x *Alert) (bool, error) {
			x.log(Entry{Time: s.now().UTC(), Action: ActionDigest, Detail: "sent to " + p.UserID + " in a digest", Ref: ref})
			return true, nil
		})
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			s.log.WarnContext(ctx, "alerts: digest sent, but not recorded in the history", "id", a.ID, "err", err)
		}
	}
	s.log.InfoContext(ctx, "alerts: digest sent", "user", p.UserID, "alerts", len(batch), "more", more)
	return DigestResult{Status: "sent", Alerts: ids, More: more}, nil
}

// digestSent removes the sent pages from the user's held list, counts the
// digest as a page, and schedules the next digest if more were held
// meanwhile.
func (s *Service) digestSent(ctx context.Context, key, jobID, ref string, sent []string, more int) error {
	th := s.settings().Throttle.withDefaults()
	defer s.locks.lock(key)()
	for range maxRetries {
		var st throttleState
		etag, err := s.getJSON(ctx, key, &st)
		if err != nil {
			return err
		}
		if st.Digest != jobID {
			return nil
		}
		now := s.now().UTC()
		st.prune(now, th.Window)
		st.Held = slices.DeleteFunc(st.Held, func(h heldPage) bool { return slices.Contains(sent, h.AlertID) })
		st.More = max(st.More-more, 0)
		if !slices.ContainsFunc(st.Sent, func(p sentPage) bool { return p.Ref == ref }) {
			st.Sent = append(st.Sent, sentPage{At: now, Ref: ref})
		}
		st.Digest, st.FlushAt = "", time.Time{}
		if len(st.Held) > 0 || st.More > 0 {
			if err := s.scheduleDigest(ctx, &st, now, th.Window); err != nil {
				return err
			}
		}
		_, err = s.putJSON(ctx, key, &st, store.Cond{IfMatch: etag})
		if errors.Is(err, store.ErrPrecondition) || errors.Is(err, store.ErrNotFound) {
			if err := backoff(ctx); err != nil {
				return err
			}
			continue
		}
		if err != nil {
			return fmt.Errorf("alerts: throttle of %s: %w", st.UserID, err)
		}
		return nil
	}
	return fmt.Errorf("alerts: record digest: %w", errConflict)
}
