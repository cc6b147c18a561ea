package retention

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/oncall/pager/store"
)

// Policy is how long each kind is kept; 0 keeps it for ever.
type Policy struct {
	// Jobs: finished jobs (jobs/done/), but a notification's delivery jobs
	// follow Notifications, as they are its report.
	Jobs time.Duration
	// Dedup: free alert dedup slots, the pager line's per-caller windows,
	// and expired console sessions.
	Dedup time.Duration
	// Alerts: closed alerts (alerts/closed/), counted from their close.
	Alerts time.Duration
	// Notifications: RedFlash notification records and their delivery
	// jobs, counted from their creation.
	Notifications time.Duration
	// Audit: audit entries (audit/YYYY/MM/DD/), by their day.
	Audit time.Duration
	// Recordings: stored voicemails and their metadata (recordings/).
	Recordings time.Duration
}

// Day is 24 hours, the unit retention settings are given in.
const Day = 24 * time.Hour

// DefaultPolicy keeps jobs and dedup slots a week, closed alerts and
// notifications 90 days, and audit entries and recordings for ever.
func DefaultPolicy() Policy {
	return Policy{Jobs: 7 * Day, Dedup: 7 * Day, Alerts: 90 * Day, Notifications: 90 * Day}
}

// ParseAge reads a retention setting: "7d", a Go duration ("36h"), or "0"
// / "keep" for ever.
func ParseAge(v string) (time.Duration, error) {
	v = strings.TrimSpace(v)
	if v == "0" || strings.EqualFold(v, "keep") {
		return 0, nil
	}
	if n, ok := strings.CutSuffix(v, "d"); ok {
		days, err := strconv.Atoi(n)
		if err != nil || days <= 0 {
			return 0, fmt.Errorf("want a number of days like 7d, got %q", v)
		}
		return time.Duration(days) * Day, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("want days like 7d, a duration like 36h, or keep; got %q", v)
	}
	return d, nil
}

// Options wire a Pruner.
type Options struct {
	Policy Policy
	// Expiring are kinds whose lifetime their writer fixes, not the
	// policy: one Pruner then lists and deletes everything that ages out.
	Expiring []Expiry
	Now      func() time.Time
	Logger   *slog.Logger
}

// Expiry is a kind of short-lived record (an Idempotency-Key, a webhook
// delivery marker) that its writer stops honouring After its own time.
type Expiry struct {
	Name   string
	Prefix string
	// Field is the top-level JSON time the record's lifetime counts from.
	Field string
	// After is the writer's lifetime itself, not a policy: a shorter one
	// would delete records their writer still honours.
	After time.Duration
	// InPlace: the writer replaces an expired record under the same key
	// (a reused Idempotency-Key), so a record is read again before it is
	// deleted.
	InPlace bool
}

// Pruner applies a Policy to a store. Its passes read each object at most
// once per process (their times are remembered by version), so a pass
// costs a listing per kind plus the objects new since the last one.
type Pruner struct {
	st       store.Store
	p        Policy
	expiring []Expiry
	now      func() time.Time
	log      *slog.Logger

	mu   sync.Mutex
	seen map[string]seenObject
}

// seenObject is what a pass learned about an object version: the time its
// age counts from.
type seenObject struct {
	etag string
	at   time.Time
}

// New returns a Pruner over st.
func New(st store.Store, o Options) *Pruner {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return &Pruner{st: st, p: o.Policy, expiring: o.Expiring, now: o.Now, log: o.Logger, seen: map[string]seenObject{}}
}

// Removed counts what a pass deleted, by kind.
type Removed map[string]int

// Prune deletes what the policy no longer keeps. It stops at the first
// store error (the next pass goes on), returning what it removed so far.
func (p *Pruner) Prune(ctx context.Context) (Removed, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	removed := Removed{}
	now := p.now()
	type kind struct {
		name   string
		prefix string
		age    func(key string) time.Duration // 0: keep
		when   func(ctx context.Context, in store.Info) (time.Time, bool, error)
		// inPlace: a writer may give an object a later time under the
		// same key, so the version listed is checked again before it is
		// deleted. The other kinds are written once, or rewritten only
		// long before they are due (a reopened job) or without a later
		// time (a caller window): that read would be wasted on every
		// deletion.
		inPlace bool
	}
	kinds := []kind{
		{"jobs", "jobs/done/", func(key string) time.Duration {
			if strings.HasPrefix(key, "jobs/done/ntf-") {
				return p.p.Notifications
			}
			return p.p.Jobs
		}, p.contentTime("finished_at"), false},
		{"notifications", "notifications/", func(string) time.Duration { return p.p.Notifications }, p.contentTime("created"), false},
		{"alerts", "alerts/closed/", func(string) time.Duration { return p.p.Alerts }, p.contentTime("closed_at"), false},
		// A free slot is claimed again in place.
		{"dedup", "alerts/dedup/", func(string) time.Duration { return p.p.Dedup }, p.freeSince, true},
		// A window is rewritten, but its time is its key.
		{"callers", "pagerline/callers/", func(string) time.Duration { return p.p.Dedup }, unixInKey, false},
		// Console sign-in sessions last 12 h; one never signed out of
		// stays until it is pruned, counted from its expiry.
		{"console sessions", "console/sessions/", func(string) time.Duration { return p.p.Dedup }, p.contentTime("expires"), false},
		{"audit", "audit/", func(string) time.Duration { return p.p.Audit }, auditDay, false},
		{"recordings", "recordings/", func(string) time.Duration { return p.p.Recordings }, recordingTime, false},
	}
	for _, e := range p.expiring {
		kinds = append(kinds, kind{e.Name, e.Prefix, func(string) time.Duration { return e.After }, p.contentTime(e.Field), e.InPlace})
	}
	for _, k := range kinds {
		if k.age("") == 0 && k.age(k.prefix+"ntf-") == 0 {
			continue
		}
		infos, err := p.st.List(ctx, k.prefix)
		if err != nil {
			return removed, fmt.Errorf("retention: list %s: %w", k.prefix, err)
		}
		live := map[string]bool{}
		for _, in := range infos {
			live[in.Key] = true
			age := k.age(in.Key)
			if age == 0 {
				continue
			}
			// Written recently by its own clock: young, no need to read
			// it (the store's time says when it last changed).
			if !in.Modified.IsZero() && now.Sub(in.Modified) < age {
				continue
			}
			at, ok, err := k.when(ctx, in)
			if err != nil {
				return removed, err
			}
			if !ok || now.Sub(at) < age {
				continue
			}
			gone, err := p.delete(ctx, in, k.inPlace)
			if err != nil {
				return removed, err
			}
			if !gone {
				continue
			}
			delete(live, in.Key)
			removed[k.name]++
		}
		for key := range p.seen {
			if strings.HasPrefix(key, k.prefix) && !live[key] {
				delete(p.seen, key)
			}
		}
	}
	if n := removed.total(); n > 0 {
		p.log.Info("retention: removed what the policy no longer keeps", "removed", map[string]int(removed))
	}
	return removed, nil
}

func (r Removed) total() int {
	n := 0
	for _, v := range r {
		n += v
	}
	return n
}

// delete removes in.Key and reports whether this pass removed in's
// version. With recheck it deletes only while the key still holds that
// version, so an object rewritten since the listing (a free slot claimed
// again, an expired Idempotency-Key reused) stays, uncounted. The store has
// no conditional delete, so a rewrite landing between that check and the
// delete is still lost (the slot's alert no longer dedups, the key's retry
// queues anew); the window is one round trip, and only an object free for
// a week or expired for a day can be caught in it.
func (p *Pruner) delete(ctx context.Context, in store.Info, recheck bool) (bool, error) {
	if recheck && in.ETag != "" {
		_, err := p.st.GetIfChanged(ctx, in.Key, in.ETag)
		switch {
		case errors.Is(err, store.ErrNotFound):
			return false, nil
		case err == nil:
			return false, nil // changed since the listing
		case !errors.Is(err, store.ErrNotModified):
			return false, fmt.Errorf("retention: %s: %w", in.Key, err)
		}
	}
	if err := p.st.Delete(ctx, in.Key); err != nil && !errors.Is(err, store.ErrNotFound) {
		return false, fmt.Errorf("retention: delete %s: %w", in.Key, err)
	}
	delete(p.seen, in.Key)
	return true, nil
}

// contentTime reads the named top-level time field of a JSON object (once
// per version).
func (p *Pruner) contentTime(field string) func(ctx context.Context, in store.Info) (time.Time, bool, error) {
	return func(ctx context.Context, in store.Info) (time.Time, bool, error) {
		if s, ok := p.seen[in.Key]; ok && s.etag == in.ETag {
			return s.at, !s.at.IsZero(), nil
		}
		obj, err := p.st.Get(ctx, in.Key)
		if errors.Is(err, store.ErrNotFound) {
			return time.Time{}, false, nil
		}
		if err != nil {
			return time.Time{}, false, fmt.Errorf("retention: read %s: %w", in.Key, err)
		}
		var v map[string]json.RawMessage
		var at time.Time
		if json.Unmarshal(obj.Data, &v) == nil {
			_ = json.Unmarshal(v[field], &at)
		}
		// An object without the time (unreadable, or not finished) is
		// kept: it is remembered as such until it changes.
		p.seen[in.Key] = seenObject{etag: obj.ETag, at: at}
		return at, !at.IsZero(), nil
	}
}

// freeSince: a dedup slot is free when empty; its age counts from when a
// pass first saw it empty (a held slot is never removed).
func (p *Pruner) freeSince(_ context.Context, in store.Info) (time.Time, bool, error) {
	if in.Size != 0 {
		return time.Time{}, false, nil
	}
	s, ok := p.seen[in.Key]
	if !ok || s.etag != in.ETag {
		p.seen[in.Key] = seenObject{etag: in.ETag, at: p.now()}
		return time.Time{}, false, nil
	}
	return s.at, true, nil
}

// unixInKey: pagerline/callers/<caller>/<unix seconds>.json.
func unixInKey(_ context.Context, in store.Info) (time.Time, bool, error) {
	base := in.Key[strings.LastIndex(in.Key, "/")+1:]
	n, err := strconv.ParseInt(strings.TrimSuffix(base, ".json"), 10, 64)
	if err != nil {
		return time.Time{}, false, nil
	}
	return time.Unix(n, 0), true, nil
}

// auditDay: audit/YYYY/MM/DD/..., aged from the end of that day.
func auditDay(_ context.Context, in store.Info) (time.Time, bool, error) {
	rest := strings.TrimPrefix(in.Key, "audit/")
	if len(rest) < 10 {
		return time.Time{}, false, nil
	}
	d, err := time.Parse("2006/01/02", rest[:10])
	if err != nil {
		return time.Time{}, false, nil
	}
	return d.Add(Day), true, nil
}

// recordingTime: recordings/<YYYY-MM-DD_HHMMSS>_<sid>.(mp3|json).
func recordingTime(_ context.Context, in store.Info) (time.Time, bool, error) {
	rest := strings.TrimPrefix(in.Key, "recordings/")
	if len(rest) < 17 {
		return time.Time{}, false, nil
	}
	t, err := time.Parse("2006-01-02_150405", rest[:17])
	if err != nil {
		return time.Time{}, false, nil
	}
	return t, true, nil
}
