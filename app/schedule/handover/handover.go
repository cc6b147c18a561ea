package handover

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/oncall/pager/app/audit"
	"github.com/oncall/pager/app/jobs"
	"github.com/oncall/pager/app/jsondoc"
	"github.com/oncall/pager/app/schedule"
	"github.com/oncall/pager/app/team"
)

// Job kinds and steps.
const (
	KindHandOver jobs.Kind = "handover"
	KindReminder jobs.Kind = "shift_reminder"

	stepPlan  = "plan"
	stepApply = "apply"
	stepText  = "text"
)

// Config is the part of the team manager hand-overs need.
type Config interface {
	Current() *team.Config
	Update(ctx context.Context, actor string, mutate func(cfg *team.Config, doc *jsondoc.Doc) error) (*team.Config, error)
	Status() team.Status
}

// Texter queues a durable text; the same id twice sends once.
type Texter interface {
	TextOnce(ctx context.Context, id, from, to, body string) error
}

// Options wire a Service.
type Options struct {
	Config Config
	Jobs   *jobs.Queue
	Texter Texter
	Audit  *audit.Log
	Now    func() time.Time
	Logger *slog.Logger
}

// Service plans and applies hand-overs.
type Service struct {
	cfg   Config
	q     *jobs.Queue
	text  Texter
	audit *audit.Log
	now   func() time.Time
	log   *slog.Logger

	mu sync.Mutex
	// queued are job ids this process already enqueued (or found it need
	// not), so a planning tick that finds nothing new makes no store call.
	queued map[string]bool
}

// Planning horizons.
const (
	// horizon is how far ahead the next change is looked for.
	horizon = 120 * 24 * time.Hour
	// lateAfter: a hand-over applied later than this after its boundary
	// says it is late.
	lateAfter = time.Minute
)

// New builds the service and registers its job handlers on o.Jobs (before
// the runner starts).
func New(o Options) *Service {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Service{cfg: o.Config, q: o.Jobs, text: o.Texter, audit: o.Audit, now: o.Now, log: o.Logger, queued: map[string]bool{}}
	s.q.Handle(KindHandOver, stepPlan, s.plan)
	s.q.Handle(KindHandOver, stepApply, s.apply)
	s.q.Handle(KindReminder, stepText, s.remind)
	return s
}

// payload of both job kinds.
type payload struct {
	// Boundary is when the shift starts (Unix seconds).
	Boundary int64 `json:"boundary"`
	// CatchUp marks a hand-over re-applied after an upload.
	CatchUp bool `json:"catch_up,omitempty"`
	// Member is, for a reminder, who starts then.
	Member string `json:"member,omitempty"`
}

// HandOverID is the job id of the hand-over at boundary b: every replica
// derives the same one, so the store holds one job per boundary.
func HandOverID(b time.Time) string { return "handover-" + strconv.FormatInt(b.Unix(), 10) }

// reminderID names member's reminder of the shift starting at b. Team
// member ids may be anything ("bob@example.com") and job ids may not, so an
// id that would not fit goes in as a hash (the payload names the member);
// one that fits stays as it was, or a reminder queued before an upgrade
// would be sent again under the new id.
func reminderID(b time.Time, member string) string {
	id := "reminder-" + strconv.FormatInt(b.Unix(), 10) + "-"
	if len(id)+len(member) <= maxIDLen && member != "" && strings.Trim(member, idChars) == "" {
		return id + member
	}
	sum := sha256.Sum256([]byte(member))
	return id + "sha256." + hex.EncodeToString(sum[:12])
}

// What a job id may hold after its first character, and how long it may
// be (jobs refuses anything else).
const (
	idChars  = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-"
	maxIDLen = 128
)

// Run plans every interval (and at once) until ctx ends.
func (s *Service) Run(ctx context.Context, interval time.Duration) {
	if interval <= 0 {
		interval = 10 * time.Second
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if err := s.Plan(ctx); err != nil && ctx.Err() == nil {
			s.log.Warn("handover: planning failed; retried on the next tick", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Plan makes sure the store holds a timer job for the next change of
// on-call (and its reminder), and a due one for the shift running now when
// the stored config does not name its member yet (a boundary missed while
// the pager was down, or a schedule that was just uploaded). An ops upload
// that moves the next boundary gets its job on the next Plan; a job left at
// a boundary that no longer is one finds nothing to change.
func (s *Service) Plan(ctx context.Context) error {
	cfg := s.cfg.Current()
	sched, ok := cfg.OnCallSchedule()
	if !ok {
		return nil
	}
	now := s.now()
	var errs []error
	cur, next := sched.Current(now, horizon)
	// A member apply would not hand over to (disabled, or unknown) would
	// get a catch-up on every tick, each changing nothing.
	if cur.Member != "" && cur.Member != cfg.CurrentConfig.OncallUser.ID && cur.Source.Kind != schedule.ByFallback && takes(cfg, cur.Member) {
		// The real start, not a moment inside the shift: it names the job,
		// which must be the same on every tick and every replica. None
		// found (thousands of boundaries back) leaves the hand-over to the
		// next boundary's own job.
		if b, ok := sched.ShiftStart(now); ok {
			errs = append(errs, s.catchUp(ctx, b))
		}
	}
	if !cur.End.IsZero() {
		errs = append(errs, s.enqueue(ctx, HandOverID(cur.End), KindHandOver, cur.End, cur.End, "", false))
		if r := cfg.ReminderBefore(); r > 0 && next != "" && cur.End.Sub(now) > 0 {
			errs = append(errs, s.enqueue(ctx, reminderID(cur.End, next), KindReminder, cur.End, cur.End.Add(-r), next, false))
		}
	}
	return errors.Join(errs...)
}

// catchUp queues the hand-over of the shift that started at b, which the
// stored config does not reflect: the boundary's own job when there is
// none yet (the pager was down, or the schedule is new), else, when that
// job finished and the config was uploaded since with another on-call, a
// job named after the uploaded version (the same on every replica).
func (s *Service) catchUp(ctx context.Context, b time.Time) error {
	id := HandOverID(b)
	s.mu.Lock()
	known := s.queued[id]
	s.mu.Unlock()
	if !known {
		return s.enqueue(ctx, id, KindHandOver, b, b, "", false)
	}
	st := s.cfg.Status()
	sum := sha256.Sum256([]byte(st.ETag))
	again := id + "-" + hex.EncodeToString(sum[:4])
	s.mu.Lock()
	queued := s.queued[again]
	s.mu.Unlock()
	if queued {
		// Queued by this process for the config in use: no store call
		// on every tick.
		return nil
	}
	j, err := s.q.Get(ctx, id)
	if err != nil {
		return fmt.Errorf("handover: %s: %w", id, err)
	}
	if !j.Finished() {
		return nil
	}
	if st.LoadedAt.Before(j.FinishedAt) {
		// The config in use may be from before the job's own write (on
		// another replica): the next refresh shows whether it still
		// disagrees. Until then (a config's LoadedAt stays while its ETag
		// does) there is nothing to look up again.
		s.mark(again)
		return nil
	}
	return s.enqueue(ctx, again, KindHandOver, b, b, "", true)
}

// takes reports whether apply would hand the pager to member.
func takes(cfg *team.Config, member string) bool {
	u, ok := cfg.UserByID(member)
	return ok && u.IsEnabled()
}

// enqueue stores a timer job due at due, once per process (and, by its
// id, once in the store).
func (s *Service) enqueue(ctx context.Context, id string, kind jobs.Kind, boundary, due time.Time, member string, catchUp bool) error {
	s.mu.Lock()
	done := s.queued[id]
	s.mu.Unlock()
	if done {
		return nil
	}
	data, err := json.Marshal(payload{Boundary: boundary.Unix(), Member: member, CatchUp: catchUp})
	if err != nil {
		return err
	}
	j := jobs.Job{ID: id, Kind: kind, Payload: data}
	switch kind {
	case KindHandOver:
		j.Steps = []jobs.Step{{Name: stepPlan, NextAt: due}, {Name: stepApply, After: []string{stepPlan}}}
	default:
		j.Steps = []jobs.Step{{Name: stepText, NextAt: due, MaxAttempts: 5}}
	}
	created, err := s.q.Enqueue(ctx, j)
	if err != nil {
		return fmt.Errorf("handover: queue %s: %w", id, err)
	}
	if created {
		s.log.Info("handover: timer queued", "id", id, "due", due)
	}
	s.mark(id)
	return nil
}

func (s *Service) mark(id string) {
	s.mu.Lock()
	if len(s.queued) > 256 {
		// Old ids are only ever re-enqueued as harmless duplicates.
		clear(s.queued)
	}
	s.queued[id] = true
	s.mu.Unlock()
}

// planned is the plan step's result: who held the pager when the boundary
// came, so a re-run of apply after its own write still tells them.
type planned struct {
	From string `json:"from"`
}

func (s *Service) plan(_ context.Context, _ *jobs.Job, _ *jobs.Step) (any, error) {
	return planned{From: s.cfg.Current().CurrentConfig.OncallUser.ID}, nil
}

// applied is the apply step's result.
type applied struct {
	From    string `json:"from,omitempty"`
	To      string `json:"to,omitempty"`
	Changed bool   `json:"changed"`
	Late    bool   `json:"late,omitempty"`
}

func (s *Service) apply(ctx context.Context, job *jobs.Job, _ *jobs.Step) (any, error) {
	var p payload
	if err := job.Decode(&p); err != nil {
		return nil, jobs.Permanent(err)
	}
	var pl planned
	if err := job.Step(stepPlan).Decode(&pl); err != nil {
		return nil, jobs.Permanent(err)
	}
	boundary := time.Unix(p.Boundary, 0)
	now := s.now()
	var res applied
	var wrote, already, superseded, disabled bool
	var in, out team.User
	cfg, err := s.cfg.Update(ctx, team.ScheduleActor, func(cfg *team.Config, doc *jsondoc.Doc) error {
		wrote, already, superseded, disabled = false, false, false, false
		sched, ok := cfg.OnCallSchedule()
		if !ok {
			return nil
		}
		target, src := sched.Who(now)
		cur := cfg.CurrentConfig
		res = applied{From: cur.OncallUser.ID, To: target}
		if target == "" || src.Kind == schedule.ByFallback {
			return nil
		}
		// A job that runs after the next change (a pager down across
		// several, a slow catch-up) leaves the present shift to that
		// change's own job, so no hand-over is made, or told, twice.
		if sh := sched.Shifts(boundary, 2, now.Add(time.Second)); len(sh) > 1 {
			res.To = ""
			superseded = true
			return nil
		}
		if cur.OncallUser.ID == target {
			// This job's own earlier attempt wrote it and was cut off.
			// (A catch-up cannot tell its own write from a racing one's,
			// so it leaves the texts to whichever wrote.)
			already = !p.CatchUp && cur.LastModifiedUserID == team.ScheduleActor && cur.LastModifiedTime >= p.Boundary && pl.From != target
			if already {
				res.From = pl.From
			}
			return nil
		}
		u, ok := cfg.UserByID(target)
		if !ok {
			return fmt.Errorf("handover: %s is not in available_users", target)
		}
		if !u.IsEnabled() {
			// A disabled member is paged by nobody's rule: the pager stays
			// with whoever has it (config validation warns about this).
			res.To = ""
			disabled = true
			return nil
		}
		in = u
		out, _ = cfg.UserByID(cur.OncallUser.ID)
		wrote = true
		return team.SetOnCall(doc, u, team.ScheduleActor, now)
	})
	if err != nil {
		return nil, err
	}
	res.Changed = wrote || already
	res.Late = now.Sub(boundary) > lateAfter
	if disabled {
		s.log.Error("handover: the schedule names a disabled member; the on-call stays", "id", job.ID, "oncall", res.From)
	}
	if !res.Changed {
		s.log.Info("handover: nothing to change", "id", job.ID, "oncall", res.From, "superseded", superseded)
		return res, nil
	}
	if already {
		in, _ = cfg.UserByID(res.To)
		out, _ = cfg.UserByID(res.From)
	}
	sched, _ := cfg.OnCallSchedule()
	loc := sched.Location()
	shift, next := sched.Current(now, horizon)
	until := ""
	if !shift.End.IsZero() {
		until = " until " + shift.End.In(loc).Format("Mon 2 Jan 15:04")
	}
	late := ""
	switch {
	case p.CatchUp:
		late = " (applied after a config upload that named another on-call)"
	case res.Late:
		late = fmt.Sprintf(" (late: the hand-over was due %s, when the pager was not running)", boundary.In(loc).Format("Mon 2 Jan 15:04"))
	}
	if wrote {
		s.log.Info("handover: on-call changed by the schedule", "id", job.ID, "from", res.From, "to", res.To, "late", res.Late)
		s.audit.Try(ctx, audit.Entry{Actor: team.ScheduleActor, Action: audit.ActionHandOver, Source: job.ID,
			Before: map[string]string{"id": res.From}, After: map[string]string{"id": res.To},
			Detail: "scheduled hand-over" + late})
	}
	from := cfg.CurrentConfig.FromPhone
	var errs []error
	if in.Phone != "" {
		then := ""
		if u, ok := cfg.UserByID(next); ok && next != "" {
			then = ", then " + u.Name
		}
		body := fmt.Sprintf("%s, you are on call%s%s. Text WHO for details.%s", in.Name, until, then, late)
		errs = append(errs, s.text.TextOnce(ctx, job.ID+"-in", from, in.Phone, body))
	}
	if out.Phone != "" && out.ID != in.ID {
		body := fmt.Sprintf("%s, your on-call shift has ended: %s is on call%s.%s", out.Name, in.Name, until, late)
		errs = append(errs, s.text.TextOnce(ctx, job.ID+"-out", from, out.Phone, body))
	}
	// The write is done; a failed queue is retried with the step, and the
	// re-run finds the write its own (already) and queues the texts again
	// under the same ids.
	return res, errors.Join(errs...)
}

func (s *Service) remind(ctx context.Context, job *jobs.Job, _ *jobs.Step) (any, error) {
	var p payload
	if err := job.Decode(&p); err != nil {
		return nil, jobs.Permanent(err)
	}
	cfg := s.cfg.Current()
	sched, ok := cfg.OnCallSchedule()
	if !ok {
		return "no schedule", nil
	}
	start := time.Unix(p.Boundary, 0)
	now := s.now()
	// The schedule may have changed since the reminder was queued.
	if !now.Before(start) {
		return "shift already started", nil
	}
	if who, _ := sched.Who(start); who != p.Member {
		return "shift changed", nil
	}
	if before, _ := sched.Who(start.Add(-time.Second)); before == p.Member {
		return "shift changed", nil
	}
	u, ok := cfg.UserByID(p.Member)
	if !ok || u.Phone == "" || !u.IsEnabled() {
		return "member unknown or disabled", nil
	}
	loc := sched.Location()
	shift, _ := sched.Current(start, horizon)
	until := ""
	if !shift.End.IsZero() {
		until = " until " + shift.End.In(loc).Format("Mon 2 Jan 15:04")
	}
	body := fmt.Sprintf("%s, reminder: you are on call from %s%s.", u.Name, start.In(loc).Format("Mon 2 Jan 15:04"), until)
	if err := s.text.TextOnce(ctx, job.ID, cfg.CurrentConfig.FromPhone, u.Phone, body); err != nil {
		return nil, err
	}
	return "sent", nil
}
