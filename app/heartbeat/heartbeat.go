package heartbeat

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/oncall/pager/app/alerts"
	"github.com/oncall/pager/app/jobs"
	"github.com/oncall/pager/app/keygate"
	"github.com/oncall/pager/app/team"
	"github.com/oncall/pager/store"
)

// Alerts is the alert domain (alerts.Service) as heartbeats use it.
type Alerts interface {
	Trigger(ctx context.Context, ev alerts.Event) (alerts.Alert, bool, error)
	Close(ctx context.Context, ref, actor string) (alerts.Transition, error)
	ByDedupKey(ctx context.Context, routingKey, dedupKey string) (alerts.Alert, error)
}

// ConfigSource is the team config in force (team.Manager).
type ConfigSource interface {
	Current() *team.Config
}

// Teller texts one team member (the outbound path). Called from a job step,
// which may run more than once (a retry, a crashed replica's job taken
// over): the same id twice must text once.
type Teller interface {
	Tell(ctx context.Context, id, userID, text string) error
}

// Options wire a Service. Jobs, Alerts and Config are required.
type Options struct {
	// Prefix is where records live in the store; default "heartbeats/".
	Prefix string
	Jobs   *jobs.Queue
	Alerts Alerts
	Config ConfigSource
	// Teller tells whoever acknowledged a heartbeat's alert that it beat
	// again; without one nobody is told.
	Teller Teller
	// Keys checks API keys and their rate limit: the gate the intake and
	// the API use, so a key has one budget for events and beats. Required
	// to serve beats.
	Keys   keygate.Keys
	Now    func() time.Time
	Logger *slog.Logger
}

// Service records beats and checks deadlines. Several Services (replicas)
// may share one store.
type Service struct {
	st     store.Store
	prefix string
	q      *jobs.Queue
	alerts Alerts
	cfg    ConfigSource
	teller Teller
	keys   keygate.Keys
	now    func() time.Time
	log    *slog.Logger
}

// New returns a Service over st and registers its job handlers on
// opts.Jobs.
func New(st store.Store, o Options) *Service {
	s := &Service{st: st, prefix: o.Prefix, q: o.Jobs, alerts: o.Alerts, cfg: o.Config,
		teller: o.Teller, keys: o.Keys, now: o.Now, log: o.Logger}
	if s.prefix == "" {
		s.prefix = "heartbeats/"
	}
	if !strings.HasSuffix(s.prefix, "/") {
		s.prefix += "/"
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.q != nil {
		s.register(s.q)
	}
	return s
}

// Record is what the store keeps of one heartbeat.
type Record struct {
	Name string `json:"name"`
	// Last is the latest beat; zero until the first.
	Last time.Time `json:"last,omitzero"`
	// From says where the latest beat came from: the API key's name and
	// the sender's address.
	From   string `json:"from,omitempty"`
	Status string `json:"status,omitempty"`
	Beats  int64  `json:"beats"`
	// Armed is the deadline a check job is queued for; zero when none is.
	Armed time.Time `json:"armed,omitzero"`
	// Late is set from the check that found the heartbeat silent until the
	// beat that ends the silence.
	Late *Late `json:"late,omitempty"`

	// recovered: Beat ended a silence with this beat.
	recovered bool
}

// Late is one silence of a heartbeat.
type Late struct {
	// Beat is the last beat before the silence: it names the episode.
	Beat time.Time `json:"beat"`
	Due  time.Time `json:"due"`
	// AlertID is the alert raised for it, once it is.
	AlertID string `json:"alert_id,omitempty"`
}

// Source is where a beat came from.
type Source struct {
	Key  string // the API key's name
	Addr string // the sender's address
}

func (src Source) String() string {
	switch {
	case src.Key == "":
		return src.Addr
	case src.Addr == "":
		return "key " + src.Key
	}
	return "key " + src.Key + " at " + src.Addr
}

// MaxStatus bounds the status text a beat may carry; longer texts are cut.
const MaxStatus = 120

// maxRetries bounds conditional-write loops on one record.
const maxRetries = 20

// errConflict: a conditional write kept losing.
var errConflict = errors.New("heartbeat: conflict")

// ErrUnknown is returned for a name the config does not list.
var ErrUnknown = errors.New("heartbeat: no such heartbeat")

// Routing scope and dedup key of heartbeat alerts: one alert per heartbeat
// at a time, apart from every intake key's own.
const routingKey = "heartbeat"

// Origin marks alerts raised by a heartbeat.
const Origin alerts.Integration = "heartbeat"

func dedupKey(name string) string { return "heartbeat/" + name }

func actor(name string) string { return "heartbeat:" + name }

func (s *Service) key(name string) string { return s.prefix + name + ".json" }

// read returns the record and its ETag; an empty ETag when there is none.
func (s *Service) read(ctx context.Context, name string) (Record, string, error) {
	obj, err := s.st.Get(ctx, s.key(name))
	if errors.Is(err, store.ErrNotFound) {
		return Record{Name: name}, "", nil
	}
	if err != nil {
		return Record{}, "", fmt.Errorf("heartbeat: read %s: %w", name, err)
	}
	var r Record
	if err := json.Unmarshal(obj.Data, &r); err != nil {
		return Record{}, "", fmt.Errorf("heartbeat: record %s: %w", name, err)
	}
	r.Name = name
	return r, obj.ETag, nil
}

// write stores r if the record is still at etag ("" = absent); false when
// it changed meanwhile.
func (s *Service) write(ctx context.Context, r Record, etag string) (bool, error) {
	data, err := json.Marshal(&r)
	if err != nil {
		return false, fmt.Errorf("heartbeat: encode %s: %w", r.Name, err)
	}
	cond := store.Cond{IfMatch: etag}
	if etag == "" {
		cond = store.Cond{IfNoneMatch: true}
	}
	_, err = s.st.Put(ctx, s.key(r.Name), data, cond)
	switch {
	case errors.Is(err, store.ErrPrecondition), errors.Is(err, store.ErrNotFound):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("heartbeat: write %s: %w", r.Name, err)
	}
	return true, nil
}

// Beat records a beat of the heartbeat name: in the usual case one
// conditional write. It arms a check for the new deadline when no check is
// armed for an earlier one, and when the heartbeat was late it queues the
// recovery that closes its alert.
func (s *Service) Beat(ctx context.Context, name string, src Source, status string) (Record, error) {
	hb, ok := s.cfg.Current().Heartbeat(name)
	if !ok {
		return Record{}, fmt.Errorf("%w: %q", ErrUnknown, name)
	}
	status = cleanStatus(status)
	for range maxRetries {
		rec, etag, err := s.read(ctx, name)
		if err != nil {
			return Record{}, err
		}
		now := s.now().UTC()
		next := rec
		next.Last, next.From, next.Status, next.Beats = now, src.String(), status, rec.Beats+1
		next.Late = nil
		due := now.Add(hb.Deadline())
		// The check is queued before the record names it, so a crash in
		// between leaves a job that finds nothing to do, never a record
		// that counts on a job that does not exist.
		if rec.Armed.IsZero() || !rec.Armed.After(now) || due.Before(rec.Armed) || rec.Late != nil {
			if err := s.arm(ctx, name, due); err != nil {
				return Record{}, err
			}
			next.Armed = due
		}
		ok, err := s.write(ctx, next, etag)
		if err != nil {
			return Record{}, err
		}
		if ok {
			if rec.Late != nil && rec.Late.AlertID != "" {
				// After the write, so the recovery finds the beat. Lost in
				// a crash here, it is queued by the next check, which finds
				// the alert open for a heartbeat that beats.
				if err := s.queueRecovery(ctx, name, rec.Late.AlertID); err != nil {
					s.log.Error("heartbeat: recovery not queued; the next check queues it", "heartbeat", name, "err", err)
				}
			}
			if rec.Late != nil {
				next.recovered = true
				s.log.Info("heartbeat: beat again after a silence", "heartbeat", name, "from", next.From, "silent_since", rec.Late.Beat)
			}
			return next, nil
		}
	}
	return Record{}, fmt.Errorf("heartbeat: beat %s: %w", name, errConflict)
}

// cleanStatus keeps a beat's status text short and plain: it is shown in an
// SMS.
func cleanStatus(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexAny(s, "\r\n"); i >= 0 {
		s = strings.TrimSpace(s[:i])
	}
	b := make([]byte, 0, min(len(s), MaxStatus))
	for _, r := range s {
		if len(b) >= MaxStatus {
			break
		}
		if r < 0x20 || r > 0x7e || r == '`' {
			r = '?'
		}
		b = append(b, byte(r))
	}
	return string(b)
}

// State is where a heartbeat stands.
type State string

// States.
const (
	// StateWaiting: never beaten; it does not alert until it does.
	StateWaiting State = "waiting"
	StateOK      State = "ok"
	// StateOverdue: its deadline passed and the check is about to run.
	StateOverdue State = "overdue"
	// StateLate: the check found it silent and raised an alert.
	StateLate State = "late"
)

// Status is one heartbeat as `heartbeat list` shows it.
type Status struct {
	Name    string        `json:"name"`
	Every   time.Duration `json:"every"`
	Grace   time.Duration `json:"grace"`
	State   State         `json:"state"`
	Last    time.Time     `json:"last,omitzero"`
	From    string        `json:"from,omitempty"`
	Status  string        `json:"status,omitempty"`
	Due     time.Time     `json:"due,omitzero"`
	AlertID string        `json:"alert_id,omitempty"`
}

// List returns every configured heartbeat's state, by name: one read each.
func (s *Service) List(ctx context.Context) ([]Status, error) {
	cfg := s.cfg.Current()
	if cfg == nil {
		return nil, nil
	}
	names := make([]string, 0, len(cfg.Heartbeats))
	for n := range cfg.Heartbeats {
		names = append(names, n)
	}
	slices.Sort(names)
	now := s.now()
	out := make([]Status, 0, len(names))
	for _, n := range names {
		hb := cfg.Heartbeats[n]
		rec, _, err := s.read(ctx, n)
		if err != nil {
			return nil, err
		}
		st := Status{Name: n, Every: hb.Every.D(), Grace: hb.Grace.D(), Last: rec.Last, From: rec.From, Status: rec.Status}
		switch {
		case rec.Late != nil:
			st.State, st.Due, st.AlertID = StateLate, rec.Late.Due, rec.Late.AlertID
		case rec.Last.IsZero():
			st.State = StateWaiting
		default:
			st.Due = rec.Last.Add(hb.Deadline())
			st.State = StateOK
			if !now.Before(st.Due) {
				st.State = StateOverdue
			}
		}
		out = append(out, st)
	}
	return out, nil
}
