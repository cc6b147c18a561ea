package audit

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"

	"github.com/oncall/pager/store"
)

// Action names what happened.
type Action string

// Actions recorded by the pager.
const (
	ActionTake           Action = "take"
	ActionTakeRequested  Action = "take_requested"
	ActionTakeCancelled  Action = "take_cancelled"
	ActionConfigChange   Action = "config_change"
	ActionConfigRejected Action = "config_rejected"
	ActionRejected       Action = "request_rejected"
	ActionVoicemail      Action = "voicemail"
	ActionPage           Action = "page"
	// ActionHandOver is the schedule changing who is on call by itself.
	ActionHandOver Action = "handover"
)

// Entry is one audit record.
type Entry struct {
	Time   time.Time `json:"time"`
	Actor  string    `json:"actor"`
	Action Action    `json:"action"`
	Source string    `json:"source,omitempty"`
	Before any       `json:"before,omitempty"`
	After  any       `json:"after,omitempty"`
	Detail string    `json:"detail,omitempty"`
}

// Prefix is where entries live in the store.
const Prefix = "audit/"

// Log writes audit entries.
type Log struct {
	st  store.Store
	now func() time.Time
	log *slog.Logger
}

// New returns an audit log over st.
func New(st store.Store, now func() time.Time, logger *slog.Logger) *Log {
	if now == nil {
		now = time.Now
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Log{st: st, now: now, log: logger}
}

// Record writes e. Keys sort by time (audit/YYYY/MM/DD/<RFC3339Nano>_<rand>.json)
// so an operator can list a day and read it in order.
func (l *Log) Record(ctx context.Context, e Entry) error {
	if e.Time.IsZero() {
		e.Time = l.now()
	}
	e.Time = e.Time.UTC()
	data, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("audit: encode: %w", err)
	}
	var rnd [6]byte
	_, _ = rand.Read(rnd[:])
	key := fmt.Sprintf("%s%s/%s_%s_%s.json", Prefix, e.Time.Format("2006/01/02"),
		e.Time.Format("20060102T150405.000000000Z"), e.Action, hex.EncodeToString(rnd[:]))
	if _, err := l.st.Put(ctx, key, data, store.Cond{IfNoneMatch: true}); err != nil {
		l.log.ErrorContext(ctx, "audit entry not written", "action", e.Action, "actor", e.Actor, "err", err)
		return fmt.Errorf("audit: write %s: %w", key, err)
	}
	return nil
}

// Try records e and only logs a failure: for callers whose main effect has
// already happened and must not be reported as failed because the trail
// could not be written.
func (l *Log) Try(ctx context.Context, e Entry) {
	_ = l.Record(ctx, e)
}

// List reads the entries under prefix (e.g. "audit/2026/11/21/"), oldest first.
func (l *Log) List(ctx context.Context, prefix string) ([]Entry, error) {
	if prefix == "" {
		prefix = Prefix
	}
	infos, err := l.st.List(ctx, prefix)
	if err != nil {
		return nil, fmt.Errorf("audit: list: %w", err)
	}
	out := make([]Entry, 0, len(infos))
	for _, in := range infos {
		obj, err := l.st.Get(ctx, in.Key)
		if err != nil {
			return nil, fmt.Errorf("audit: read %s: %w", in.Key, err)
		}
		var e Entry
		if err := json.Unmarshal(obj.Data, &e); err != nil {
			return nil, fmt.Errorf("audit: decode %s: %w", in.Key, err)
		}
		out = append(out, e)
	}
	return out, nil
}
