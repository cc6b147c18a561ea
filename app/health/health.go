package health

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/oncall/pager/app/team"
	"github.com/oncall/pager/store"
)

// Status words.
const (
	StatusOK        = "ok"
	StatusDegraded  = "degraded"
	StatusUnhealthy = "unhealthy"
)

// Reason codes: short, fixed, safe to show anyone.
const (
	ReasonStoreUnreachable  = "store_unreachable"
	ReasonStoreWriteFailing = "store_write_failing"
	ReasonConfigInvalid     = "config_invalid"
)

// ProbeKey is the object the write probe overwrites: one key for every
// replica, so probing never grows the store.
const ProbeKey = "health/probe.json"

// Report is a readiness answer.
type Report struct {
	Status string // StatusOK, StatusDegraded or StatusUnhealthy
	Reason string // a Reason code, empty when ok
	// Detail is for the admin listener only: store, config key, errors,
	// the config's problems (which may quote phone numbers).
	Detail map[string]any
}

// Ready reports whether the pager should get traffic.
func (r Report) Ready() bool { return r.Status == StatusOK }

// ConfigStatus is the config manager (team.Manager).
type ConfigStatus interface {
	Status() team.Status
}

// Checker answers readiness from the config manager's last check and the
// write probe's last outcome; answering never touches the store, so a
// public probe cannot be turned into store traffic.
type Checker struct {
	st        store.Store
	cfg       ConfigStatus
	configKey string
	now       func() time.Time
	log       *slog.Logger

	mu        sync.Mutex
	writeErr  error
	lastOK    time.Time
	lastProbe time.Time
}

// Options wire a Checker.
type Options struct {
	Store     store.Store
	Config    ConfigStatus
	ConfigKey string
	Now       func() time.Time
	Logger    *slog.Logger
}

// New returns a Checker.
func New(o Options) *Checker {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return &Checker{st: o.Store, cfg: o.Config, configKey: o.ConfigKey, now: o.Now, log: o.Logger}
}

// Probe writes the probe object once and remembers the outcome; a change
// of outcome is logged with the store's own error.
func (c *Checker) Probe(ctx context.Context) error {
	at := c.now().UTC()
	_, err := c.st.Put(ctx, ProbeKey, fmt.Appendf(nil, `{"at":%q}`, at.Format(time.RFC3339Nano)), store.Cond{})
	if err != nil && ctx.Err() != nil && errors.Is(err, ctx.Err()) {
		return err // shutting down: not the store's fault
	}
	c.mu.Lock()
	was := c.writeErr
	c.writeErr, c.lastProbe = err, at
	if err == nil {
		c.lastOK = at
	}
	c.mu.Unlock()
	switch {
	case err != nil && was == nil:
		c.log.Error("health: the store refuses writes; not ready until it takes them again", "store", c.st.String(), "key", ProbeKey, "err", err)
	case err == nil && was != nil:
		c.log.Info("health: the store takes writes again; ready", "store", c.st.String())
	}
	return err
}

// Run probes every interval until ctx ends.
func (c *Checker) Run(ctx context.Context, every time.Duration) {
	if every <= 0 {
		every = 10 * time.Second
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		_ = c.Probe(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Readiness is the current answer. Before the first probe the store is
// taken to accept writes: the config was read from it moments ago.
func (c *Checker) Readiness() Report {
	st := c.cfg.Status()
	c.mu.Lock()
	writeErr, lastOK, lastProbe := c.writeErr, c.lastOK, c.lastProbe
	c.mu.Unlock()
	d := map[string]any{
		"store":      c.st.String(),
		"config_key": c.configKey,
		"etag":       st.ETag,
		"loaded_at":  st.LoadedAt,
		"last_check": st.LastCheck,
		"write_probe": map[string]any{
			"key":     ProbeKey,
			"last":    lastProbe,
			"last_ok": lastOK,
		},
	}
	r := Report{Status: StatusOK, Detail: d}
	switch {
	case !st.Healthy:
		r.Status, r.Reason = StatusUnhealthy, ReasonStoreUnreachable
		d["error"] = st.LastError
	case writeErr != nil:
		r.Status, r.Reason = StatusUnhealthy, ReasonStoreWriteFailing
		d["error"] = writeErr.Error()
	case st.Degraded:
		r.Status, r.Reason = StatusDegraded, ReasonConfigInvalid
		d["problems"] = st.Problems
	}
	d["status"], d["reason"] = r.Status, r.Reason
	return r
}
