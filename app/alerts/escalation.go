package alerts

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/oncall/pager/app/jobs"
	"github.com/oncall/pager/app/retry"
	"github.com/oncall/pager/store"
)

// Job kinds this package runs on the queue.
const (
	// KindEscalation: one job per alert, one step per planned page, each
	// due at its time (Step.NextAt); acknowledging marks the rest done.
	KindEscalation jobs.Kind = "alert-escalation"
	// KindDigest: one job per throttled batch, due when the person's
	// throttle window reopens.
	KindDigest jobs.Kind = "alert-digest"
)

const (
	stepNotifyAck   = "notify-ack"
	stepNotifyClose = "notify-close"
	stepDigest      = "send"
	// pageAttempts bounds retries of one page (the outbound path failing
	// outright); the next step pages on its own time regardless.
	pageAttempts = 10
	// notifyAttempts bounds retries of telling people who took an alert.
	notifyAttempts = 10
)

// Step results, recorded in the job for operators.
const (
	PageSent      = "paged"
	PageSkipped   = "skipped"
	PageNobody    = "nobody"
	PageCancelled = "cancelled"
)

// PageResult is what a page step records.
type PageResult struct {
	Status string `json:"status"`
	Reason string `json:"reason,omitempty"`
	// Users were paged now; Throttled were over their limit and get the
	// page in their next digest.
	Users     []string `json:"users,omitempty"`
	Throttled []string `json:"throttled,omitempty"`
}

type escalationPayload struct {
	AlertID string `json:"alert_id"`
	Policy  Policy `json:"policy"`
	// PrePaged were paged by the alert's source (TriggerOptions): the
	// first round does not page them again.
	PrePaged []string `json:"pre_paged,omitempty"`
	// Reached are, by step name, the users an attempt of that step paged
	// before another user's page failed it. The step's result is only
	// written once it succeeds, so without this its retry would page them
	// a second time.
	Reached map[string][]string `json:"reached,omitempty"`
}

func escalationID(alertID string) string { return "esc-" + alertID }

func pageStepName(round, step int) string { return fmt.Sprintf("page-%d-%d", round, step) }

func parsePageStep(name string) (round, step int, ok bool) {
	rest, ok := strings.CutPrefix(name, "page-")
	if !ok {
		return 0, 0, false
	}
	r, st, ok := strings.Cut(rest, "-")
	if !ok {
		return 0, 0, false
	}
	round, err1 := strconv.Atoi(r)
	step, err2 := strconv.Atoi(st)
	return round, step, err1 == nil && err2 == nil
}

func encodePayload(v any) (json.RawMessage, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("alerts: encode job payload: %w", err)
	}
	return b, nil
}

// register installs the step handlers. Step names are fixed per (round,
// step) so every replica can handle every escalation, whatever policy it
// was planned with.
func (s *Service) register(q *jobs.Queue) {
	for r := 0; r <= MaxRepeat; r++ {
		for i := range MaxPolicySteps {
			q.Handle(KindEscalation, pageStepName(r, i), s.runPage)
		}
	}
	q.Handle(KindEscalation, stepNotifyAck, s.runNotify)
	q.Handle(KindEscalation, stepNotifyClose, s.runNotify)
	q.Handle(KindDigest, stepDigest, s.runDigest)
	q.Handle(KindRelease, stepRelease, s.runRelease)
}

// runPage fires one step of an escalation: unless the alert was taken
// meanwhile, it resolves the step's targets now, records them as paged,
// holds back pages over each person's throttle and pages the rest.
func (s *Service) runPage(ctx context.Context, job *jobs.Job, step *jobs.Step) (any, error) {
	var p escalationPayload
	if err := job.Decode(&p); err != nil {
		return nil, jobs.Permanent(err)
	}
	round, idx, ok := parsePageStep(step.Name)
	if !ok || idx >= len(p.Policy.Steps) {
		return nil, jobs.Permanent(fmt.Errorf("alerts: step %s is not in the policy", step.Name))
	}
	ref := job.ID + "/" + step.Name
	a, _, err := s.getOpen(ctx, p.AlertID)
	if err == nil && a.Code == "" && a.State == StateTriggered {
		a, err = s.awaitCode(ctx, a)
	}
	if errors.Is(err, store.ErrNotFound) {
		return PageResult{Status: PageSkipped, Reason: "closed"}, nil
	}
	if err != nil {
		return nil, err
	}
	if a.State != StateTriggered {
		return PageResult{Status: PageSkipped, Reason: string(a.State)}, nil
	}
	users, err := s.members(ctx, p.Policy.Steps[idx].Targets)
	if err != nil {
		return nil, err
	}
	where := fmt.Sprintf("round %d step %d", round+1, idx+1)
	if round == 0 && len(p.PrePaged) > 0 {
		before := len(users)
		users = slices.DeleteFunc(users, func(u string) bool { return slices.Contains(p.PrePaged, u) })
		if len(users) == 0 && before > 0 {
			// The source paged everyone this step would: it is done.
			return PageResult{Status: PageSkipped, Reason: "already paged"}, nil
		}
	}
	if len(users) == 0 {
		s.log.WarnContext(ctx, "alerts: escalation step reaches nobody", "id", a.ID, "step", step.Name, "targets", p.Policy.Steps[idx].Targets)
		_, err := s.modify(ctx, a.ID, func(x *Alert) (bool, error) {
			x.log(Entry{Time: s.now().UTC(), Action: ActionNobody, Detail: where + ": no one to page", Ref: ref})
			return true, nil
		})
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return nil, err
		}
		return PageResult{Status: PageNobody}, nil
	}
	// Record before paging, conditionally on the alert still being
	// triggered: an acknowledgement that lands first stops this page, and
	// one that lands after tells these people who took it.
	still := false
	a, err = s.modify(ctx, a.ID, func(x *Alert) (bool, error) {
		if still = x.State == StateTriggered; !still {
			return false, nil
		}
		now := s.now().UTC()
		x.addPaged(users)
		x.LastPaged = now
		x.log(Entry{Time: now, Action: ActionPaged, Detail: where + ": " + strings.Join(users, ", "), Ref: ref})
		return true, nil
	})
	if errors.Is(err, store.ErrNotFound) {
		return PageResult{Status: PageSkipped, Reason: "closed"}, nil
	}
	if err != nil {
		return nil, err
	}
	if !still {
		return PageResult{Status: PageSkipped, Reason: string(a.State)}, nil
	}

	var now, held []string
	for _, u := range users {
		ok, err := s.admit(ctx, u, ref, a.ID)
		if err != nil {
			return nil, err
		}
		if ok {
			now = append(now, u)
		} else {
			held = append(held, u)
		}
	}
	if len(held) > 0 {
		_, err := s.modify(ctx, a.ID, func(x *Alert) (bool, error) {
			x.log(Entry{Time: s.now().UTC(), Action: ActionThrottled, Detail: "held for the next digest: " + strings.Join(held, ", "), Ref: ref})
			return true, nil
		})
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return nil, err
		}
	}
	for _, u := range now {
		if err := s.notePaged(ctx, u, a); err != nil {
			return nil, err
		}
	}
	if len(now) > 0 {
		if s.pager == nil {
			return nil, jobs.Permanent(errors.New("alerts: no Pager configured"))
		}
		todo := slices.DeleteFunc(slices.Clone(now), func(u string) bool { return slices.Contains(p.Reached[step.Name], u) })
		var (
			failed []Delivery
			err    error
		)
		if len(todo) > 0 {
			failed, err = s.pager.Page(withRef(ctx, ref), a, todo)
		}
		for _, d := range failed {
			if _, rerr := s.RecordDelivery(ctx, a.ID, d); rerr != nil && !errors.Is(rerr, ErrNotFound) {
				s.log.WarnContext(ctx, "alerts: refused page not recorded", "id", a.ID, "user", d.UserID, "err", rerr)
			}
		}
		if err != nil {
			s.noteReached(ctx, job.ID, step.Name, todo, err)
			return nil, fmt.Errorf("alerts: page %s: %w", a.ID, err)
		}
	}
	return PageResult{Status: PageSent, Users: now, Throttled: held}, nil
}

// codeWait bounds how long a page waits for its alert's reply code.
const codeWait = 2 * time.Second

// awaitCode waits for a's reply code: complete queues the escalation a
// moment before it writes the code, and a page sent in between would carry
// none, so nobody could answer it by code. A code still missing after
// codeWait (its writer died in between) is not waited for: the page goes
// out without one rather than late, and Sweep gives the alert its code.
func (s *Service) awaitCode(ctx context.Context, a Alert) (Alert, error) {
	wctx, cancel := context.WithTimeout(ctx, codeWait)
	defer cancel()
	err := retry.Policy{First: 10 * time.Millisecond, Max: 200 * time.Millisecond}.Do(wctx, func(int) (bool, error) {
		b, _, err := s.getOpen(ctx, a.ID)
		if err != nil {
			return false, err
		}
		a = b
		return a.Code == "" && a.State == StateTriggered, nil
	})
	return a, err
}

// noteReached records in the escalation job which of paged the failed
// attempt of a page step did reach (err names the others), for the retry
// to leave out. Unrecorded, the retry pages them again: a duplicate page
// beats a missed one.
func (s *Service) noteReached(ctx context.Context, jobID, stepName string, paged []string, err error) {
	failed, ok := unpaged(err)
	if !ok {
		return
	}
	reached := slices.DeleteFunc(slices.Clone(paged), func(u string) bool { return slices.Contains(failed, u) })
	if len(reached) == 0 {
		return
	}
	// The payload, not the step: a step changed while it runs has its
	// outcome discarded, so the failure would be neither counted nor
	// backed off.
	_, uerr := s.q.Update(ctx, jobID, func(j *jobs.Job) error {
		var p escalationPayload
		if err := j.Decode(&p); err != nil {
			return err
		}
		had := p.Reached[stepName]
		add := slices.DeleteFunc(slices.Clone(reached), func(u string) bool { return slices.Contains(had, u) })
		if len(add) == 0 {
			return nil
		}
		if p.Reached == nil {
			p.Reached = map[string][]string{}
		}
		p.Reached[stepName] = append(slices.Clone(had), add...)
		b, err := encodePayload(p)
		if err != nil {
			return err
		}
		j.Payload = b
		return nil
	})
	if uerr != nil {
		s.log.WarnContext(ctx, "alerts: users paged before a failed page not recorded; the retry pages them again",
			"job", jobID, "step", stepName, "users", reached, "err", uerr)
	}
}

// members resolves targets to distinct user ids, in target order.
func (s *Service) members(ctx context.Context, targets []Target) ([]string, error) {
	if s.roster == nil {
		return nil, jobs.Permanent(errors.New("alerts: no Roster configured"))
	}
	var out []string
	for _, t := range targets {
		ids, err := s.roster.Members(ctx, t)
		if err != nil {
			return nil, fmt.Errorf("alerts: resolve %s: %w", t, err)
		}
		for _, id := range ids {
			if id != "" && !slices.Contains(out, id) {
				out = append(out, id)
			}
		}
	}
	return out, nil
}

// stopEscalation marks the alert's pending pages done ("cancelled") and,
// when notify names a step, adds it so the people paged are told. A page
// step running at this moment has its outcome discarded by the queue; it
// already re-checked the alert's state before paging. Idempotent.
func (s *Service) stopEscalation(ctx context.Context, alertID, notify string) error {
	if s.q == nil {
		return nil
	}
	cancelled, err := json.Marshal(PageResult{Status: PageCancelled})
	if err != nil {
		return err
	}
	_, err = s.q.Update(ctx, escalationID(alertID), func(j *jobs.Job) error {
		now := s.now().UTC()
		for i := range j.Steps {
			st := &j.Steps[i]
			if _, _, ok := parsePageStep(st.Name); ok && st.State == jobs.StepPending {
				st.State, st.Result, st.DoneAt = jobs.StepDone, cancelled, now
				st.NextAt, st.LastError = time.Time{}, ""
			}
		}
		if notify != "" && j.Step(stepNotifyAck) == nil && j.Step(stepNotifyClose) == nil {
			j.Steps = append(j.Steps, jobs.Step{Name: notify, State: jobs.StepPending, MaxAttempts: notifyAttempts})
		}
		return nil
	})
	if errors.Is(err, jobs.ErrNotFound) {
		// Not enqueued yet: its page steps will find the alert taken.
		return nil
	}
	if err != nil {
		return fmt.Errorf("alerts: stop escalation of %s: %w", alertID, err)
	}
	return nil
}

// NotifyResult is what a notify step records.
type NotifyResult struct {
	Told []string `json:"told,omitempty"`
}

// runNotify tells everyone paged for the alert, but the person who took
// it, who took it.
func (s *Service) runNotify(ctx context.Context, job *jobs.Job, step *jobs.Step) (any, error) {
	var p escalationPayload
	if err := job.Decode(&p); err != nil {
		return nil, jobs.Permanent(err)
	}
	a, err := s.Get(ctx, p.AlertID)
	if err != nil {
		return nil, err
	}
	actor := a.AckedBy
	if step.Name == stepNotifyClose || actor == "" {
		actor = a.ClosedBy
	}
	users := others(a.PagedUsers, actor)
	if len(users) == 0 {
		return NotifyResult{}, nil
	}
	if s.notifier == nil {
		return nil, jobs.Permanent(errors.New("alerts: no Notifier configured"))
	}
	ref := job.ID + "/" + step.Name
	if err := s.notifier.Notify(withRef(ctx, ref), a, users); err != nil {
		return nil, fmt.Errorf("alerts: tell who took %s: %w", a.ID, err)
	}
	_, err = s.modify(ctx, a.ID, func(x *Alert) (bool, error) {
		x.log(Entry{Time: s.now().UTC(), Action: ActionTold, Detail: strings.Join(users, ", "), Ref: ref})
		return true, nil
	})
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		s.log.WarnContext(ctx, "alerts: told, but not recorded in the history", "id", a.ID, "err", err)
	}
	return NotifyResult{Told: users}, nil
}
