package summary

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/oncall/pager/app/alerts"
	"github.com/oncall/pager/app/heartbeat"
	"github.com/oncall/pager/app/jobs"
	"github.com/oncall/pager/app/outbound"
	"github.com/oncall/pager/app/team"
)

// Alerts is what the summary reads of the alert domain (alerts.Service).
type Alerts interface {
	Open(ctx context.Context) ([]alerts.Alert, error)
	CreatedSince(ctx context.Context, since time.Time) ([]string, error)
	Get(ctx context.Context, id string) (alerts.Alert, error)
}

// Heartbeats lists heartbeats and their states (heartbeat.Service).
type Heartbeats interface {
	List(ctx context.Context) ([]heartbeat.Status, error)
}

// ConfigSource is the team config in force.
type ConfigSource interface {
	Current() *team.Config
}

// Sender delivers the summary: a text to one user, an email to the team.
// Text is called from a job step, which may run more than once (a retry, a
// crashed replica's job taken over): the same id twice must text once.
type Sender interface {
	Text(ctx context.Context, id, userID, body string) error
	Email(ctx context.Context, subject, body string) error
}

// NextOnCall says who takes over next and when, from a schedule. Optional:
// without one the summary does not say.
type NextOnCall func(ctx context.Context, after time.Time) (name string, at time.Time, ok bool, err error)

// Options wire a Service; all but Next, Logger and Now are required.
type Options struct {
	Next       NextOnCall
	Jobs       *jobs.Queue
	Alerts     Alerts
	Heartbeats Heartbeats
	Config     ConfigSource
	Sender     Sender
	Now        func() time.Time
	Logger     *slog.Logger
}

// Service schedules and sends daily summaries.
type Service struct {
	q    *jobs.Queue
	al   Alerts
	hb   Heartbeats
	cfg  ConfigSource
	send Sender
	next NextOnCall
	now  func() time.Time
	log  *slog.Logger

	mu     sync.Mutex
	queued string // the last job id Ensure queued
}

// KindSummary is the daily summary job.
const KindSummary jobs.Kind = "daily-summary"

const (
	stepText  = "text"
	stepEmail = "email"
	stepNext  = "next"
	attempts  = 10
)

type payload struct {
	At  time.Time `json:"at"`
	Clk string    `json:"clock"` // the configured HH:MM it was queued for
}

// New returns a Service and registers its job handlers.
func New(o Options) *Service {
	s := &Service{q: o.Jobs, al: o.Alerts, hb: o.Heartbeats, cfg: o.Config, send: o.Sender, next: o.Next, now: o.Now, log: o.Logger}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	s.q.Handle(KindSummary, stepText, s.runText)
	s.q.Handle(KindSummary, stepEmail, s.runEmail)
	s.q.Handle(KindSummary, stepNext, s.runNext)
	return s
}

func jobID(at time.Time, loc *time.Location) string {
	return "sum-" + at.In(loc).Format("20060102-1504")
}

// Ensure queues the next summary when the config asks for one. Cheap when
// it already did: Run calls it on every config check.
func (s *Service) Ensure(ctx context.Context) error {
	return s.queueAfter(ctx, s.now())
}

func (s *Service) queueAfter(ctx context.Context, t time.Time) error {
	cfg := s.cfg.Current()
	if cfg == nil || cfg.DailySummary == nil {
		return nil
	}
	loc := cfg.CurrentConfig.Location()
	at, err := cfg.DailySummary.Next(t, loc)
	if err != nil {
		return err
	}
	id := jobID(at, loc)
	s.mu.Lock()
	done := s.queued == id
	s.mu.Unlock()
	if done {
		return nil
	}
	data, err := json.Marshal(payload{At: at.UTC(), Clk: cfg.DailySummary.At})
	if err != nil {
		return err
	}
	j := jobs.Job{ID: id, Kind: KindSummary, Payload: data, Steps: []jobs.Step{
		{Name: stepText, NextAt: at, MaxAttempts: attempts},
		{Name: stepEmail, NextAt: at, MaxAttempts: attempts},
		{Name: stepNext, NextAt: at},
	}}
	if _, err := s.q.Enqueue(ctx, j); err != nil {
		return fmt.Errorf("summary: queue %s: %w", id, err)
	}
	s.mu.Lock()
	s.queued = id
	s.mu.Unlock()
	return nil
}

// Run keeps the next summary queued, checking every interval (a config
// change of the time takes effect within it) until ctx ends.
func (s *Service) Run(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if err := s.Ensure(ctx); err != nil && ctx.Err() == nil {
			s.log.Warn("summary: next daily summary not queued; retried later", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// current reports whether the job is still the configured summary (the time
// may have changed or the section gone since it was queued).
func (s *Service) current(job *jobs.Job) (*team.Config, payload, bool) {
	var p payload
	if err := job.Decode(&p); err != nil {
		return nil, p, false
	}
	cfg := s.cfg.Current()
	return cfg, p, cfg != nil && cfg.DailySummary != nil && cfg.DailySummary.At == p.Clk
}

// stale: a summary this late (no replica was up at its time) is news
// no more; the next day's is queued anyway.
const stale = 2 * time.Hour

func (s *Service) runText(ctx context.Context, job *jobs.Job, step *jobs.Step) (any, error) {
	cfg, p, ok := s.current(job)
	if !ok {
		return "not configured", nil
	}
	if s.now().Sub(p.At) > stale {
		return "too late", nil
	}
	oc, ok := cfg.OnCall()
	if !ok {
		return "nobody on call", nil
	}
	f, err := s.gather(ctx, cfg)
	if err != nil {
		return nil, err
	}
	// Named by the step, so a run after the text went out (whose facts may
	// have changed meanwhile) does not send a second one.
	if err := s.send.Text(ctx, job.ID+"."+step.Name, oc.ID, Text(f)); err != nil {
		return nil, fmt.Errorf("summary: text %s: %w", oc.ID, err)
	}
	return "sent to " + oc.ID, nil
}

func (s *Service) runEmail(ctx context.Context, job *jobs.Job, _ *jobs.Step) (any, error) {
	cfg, p, ok := s.current(job)
	if !ok || !cfg.DailySummary.Email {
		return "not configured", nil
	}
	if s.now().Sub(p.At) > stale {
		return "too late", nil
	}
	f, err := s.gather(ctx, cfg)
	if err != nil {
		return nil, err
	}
	subject := "On-call summary " + p.At.In(cfg.CurrentConfig.Location()).Format("Mon 2 Jan")
	if err := s.send.Email(ctx, subject, Email(f)); err != nil {
		return nil, fmt.Errorf("summary: email: %w", err)
	}
	return "sent", nil
}

// runNext queues tomorrow's summary, so the chain does not depend on a
// replica being up at the moment the time changes day.
func (s *Service) runNext(ctx context.Context, job *jobs.Job, _ *jobs.Step) (any, error) {
	var p payload
	if err := job.Decode(&p); err != nil {
		return nil, jobs.Permanent(err)
	}
	return nil, s.queueAfter(ctx, p.At)
}

// Facts are what a summary says.
type Facts struct {
	OnCall string
	// Open alerts, oldest first; Unacked counts the triggered ones.
	Open    []alerts.Alert
	Unacked int
	// Fired are the alerts created in the last 24 hours, newest first
	// (at most maxFired read), FiredCount all of them.
	Fired      []alerts.Alert
	FiredCount int
	// Heartbeats in trouble (late or overdue).
	Heartbeats []heartbeat.Status
	// Windows are the maintenance windows on now.
	Windows []team.ActiveWindow
	// NextName takes over at NextAt (when a schedule says).
	NextName string
	NextAt   time.Time
	Loc      *time.Location
}

const maxFired = 5

func (s *Service) gather(ctx context.Context, cfg *team.Config) (Facts, error) {
	f := Facts{Loc: cfg.CurrentConfig.Location(), Windows: cfg.ActiveWindows(s.now())}
	if oc, ok := cfg.OnCall(); ok {
		f.OnCall = oc.Name
	}
	open, err := s.al.Open(ctx)
	if err != nil {
		return f, err
	}
	f.Open = open
	for _, a := range open {
		if a.State == alerts.StateTriggered {
			f.Unacked++
		}
	}
	ids, err := s.al.CreatedSince(ctx, s.now().Add(-24*time.Hour))
	if err != nil {
		return f, err
	}
	f.FiredCount = len(ids)
	for i := len(ids) - 1; i >= 0 && len(f.Fired) < maxFired; i-- {
		a, err := s.al.Get(ctx, ids[i])
		if errors.Is(err, alerts.ErrNotFound) {
			continue
		}
		if err != nil {
			return f, err
		}
		f.Fired = append(f.Fired, a)
	}
	if s.next != nil {
		name, at, ok, err := s.next(ctx, s.now())
		if err != nil {
			return f, err
		}
		if ok {
			f.NextName, f.NextAt = name, at
		}
	}
	if s.hb != nil {
		list, err := s.hb.List(ctx)
		if err != nil {
			return f, err
		}
		for _, h := range list {
			if h.State == heartbeat.StateLate || h.State == heartbeat.StateOverdue {
				f.Heartbeats = append(f.Heartbeats, h)
			}
		}
	}
	return f, nil
}

// maxSegments bounds the SMS. Counted in segments, not bytes: an alert's
// summary may hold GSM-7 extension characters ([ ] { } | ~ ^ \), which take
// two septets each.
const maxSegments = 2

// Text is the SMS: plain ASCII (GSM-7), at most two segments. Parts are
// added in order of importance while they fit.
func Text(f Facts) string {
	parts := []string{fmt.Sprintf("Daily summary: %d open alert%s (%d unacked).", len(f.Open), plural(len(f.Open)), f.Unacked)}
	parts = append(parts, fmt.Sprintf("Last 24h: %d fired.", f.FiredCount))
	if f.NextName != "" {
		parts = append(parts, fmt.Sprintf("Next on call: %s from %s.", plain(f.NextName, 40), f.NextAt.In(f.Loc).Format("Mon 15:04")))
	}
	if len(f.Heartbeats) > 0 {
		var names []string
		for _, h := range f.Heartbeats {
			names = append(names, h.Name)
		}
		parts = append(parts, "Heartbeats late: "+strings.Join(names, ", ")+".")
	}
	for _, w := range f.Windows {
		parts = append(parts, fmt.Sprintf("Quiet: %s until %s.", w.Name, w.End.In(f.Loc).Format("Mon 15:04")))
	}
	for _, a := range f.Open {
		parts = append(parts, fmt.Sprintf("Open [%s] %s.", a.Code, plain(a.Summary, 60)))
	}
	for _, a := range f.Fired {
		parts = append(parts, fmt.Sprintf("Fired %s %s.", a.CreatedAt.In(f.Loc).Format("15:04"), plain(a.Summary, 50)))
	}
	out := ""
	for _, p := range parts {
		next := strings.TrimSpace(out + " " + p)
		if outbound.Segments(next) > maxSegments {
			break
		}
		out = next
	}
	return out
}

// Email is the longer email body.
func Email(f Facts) string {
	var b strings.Builder
	if f.OnCall != "" {
		fmt.Fprintf(&b, "On call: %s\n", f.OnCall)
	}
	if f.NextName != "" {
		fmt.Fprintf(&b, "Next on call: %s from %s\n", f.NextName, f.NextAt.In(f.Loc).Format("Mon 2 Jan 15:04 MST"))
	}
	b.WriteString("\n")
	fmt.Fprintf(&b, "Open alerts: %d (%d not acknowledged)\n", len(f.Open), f.Unacked)
	for _, a := range f.Open {
		fmt.Fprintf(&b, "  [%s] %s - %s since %s\n", a.Code, a.Summary, a.State, a.CreatedAt.In(f.Loc).Format("Mon 2 Jan 15:04 MST"))
	}
	fmt.Fprintf(&b, "\nFired in the last 24 hours: %d\n", f.FiredCount)
	for _, a := range f.Fired {
		fmt.Fprintf(&b, "  %s %s (%s)\n", a.CreatedAt.In(f.Loc).Format("Mon 15:04"), a.Summary, a.State)
	}
	if len(f.Windows) > 0 {
		b.WriteString("\nMaintenance windows on now (alerts in scope are not paged):\n")
		for _, w := range f.Windows {
			fmt.Fprintf(&b, "  %s until %s: %s\n", w.Name, w.End.In(f.Loc).Format("Mon 2 Jan 15:04 MST"), w.Window.Scope)
		}
	}
	if len(f.Heartbeats) > 0 {
		b.WriteString("\nHeartbeats in trouble:\n")
		for _, h := range f.Heartbeats {
			last := "never"
			if !h.Last.IsZero() {
				last = h.Last.In(f.Loc).Format("Mon 2 Jan 15:04 MST")
			}
			fmt.Fprintf(&b, "  %s: %s, last beat %s\n", h.Name, h.State, last)
		}
	}
	return b.String()
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// plain keeps s to n printable ASCII characters (GSM-7), marking a cut.
func plain(s string, n int) string {
	b := make([]byte, 0, len(s))
	for _, r := range s {
		switch {
		case r == '\u2014' || r == '\u2013':
			r = '-'
		case r < 0x20 || r > 0x7e || r == '`':
			r = '?'
		}
		b = append(b, byte(r))
	}
	if len(b) > n {
		return string(b[:n-3]) + "..."
	}
	return string(b)
}
