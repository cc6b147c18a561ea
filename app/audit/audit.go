package audit

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"
	"unicode/utf8"

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
	// The web console's own actions (app/console); the actor is the
	// signed-in member.
	ActionSignIn         Action = "signin"
	ActionSignInRefused  Action = "signin_refused"
	ActionSignOut        Action = "signout"
	ActionAlertAck       Action = "alert_ack"
	ActionAlertClose     Action = "alert_close"
	ActionAlertReopen    Action = "alert_reopen"
	ActionTestPage       Action = "test_page"
	ActionAPIKeyMint     Action = "apikey_mint"
	ActionAPIKeyRevoke   Action = "apikey_revoke"
	ActionCalendarMint   Action = "calendar_token_mint"
	ActionCalendarRevoke Action = "calendar_token_revoke"
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

// Field caps of an entry (bytes).
const (
	MaxField  = 128
	MaxDetail = 512
)

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "..."
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
	// Actor, source and detail may carry what a client sent; an entry
	// must not grow with it.
	e.Actor, e.Source, e.Detail = truncate(e.Actor, MaxField), truncate(e.Source, MaxField), truncate(e.Detail, MaxDetail)
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

// Query selects a page of the audit log, newest first.
type Query struct {
	// Actor and Action keep the entries with that actor or action; "" keeps
	// all.
	Actor  string
	Action Action
	// Before is the cursor: only entries whose key sorts before it.
	Before string
	// Limit is the page size; default 50, at most 200.
	Limit int
}

// Page is one page of entries and the cursor of the next ("" at the end).
type Page struct {
	Entries []Entry
	Next    string
}

// pageMonths is how far back a page looks for entries: the log is listed
// one month folder at a time, newest first, so a page costs a listing per
// month it spans, never the whole log.
const pageMonths = 24

// maxScan bounds the entries read for one page when the actor filter skips
// most of them; the page comes back short with a cursor.
const maxScan = 500

// Page returns entries newest first, reading only those it returns (and
// those the actor filter skips: the action is in the key, the actor only in
// the object).
func (l *Log) Page(ctx context.Context, q Query) (Page, error) {
	if q.Limit <= 0 {
		q.Limit = 50
	}
	q.Limit = min(q.Limit, 200)
	month := l.now().UTC()
	if rest := strings.TrimPrefix(q.Before, Prefix); len(rest) >= 7 {
		// audit/YYYY/MM/...: start in the cursor's month.
		if t, err := time.Parse("2006/01", rest[:7]); err == nil {
			month = t
		}
	}
	var p Page
	scanned := 0
	var last string
	for range pageMonths {
		keys, err := store.Keys(ctx, l.st, Prefix+month.Format("2006/01/"))
		if err != nil {
			return Page{}, fmt.Errorf("audit: list: %w", err)
		}
		for i := len(keys) - 1; i >= 0; i-- {
			k := keys[i]
			if q.Before != "" && k >= q.Before {
				continue
			}
			if q.Action != "" && actionOfKey(k) != q.Action {
				continue
			}
			if len(p.Entries) == q.Limit || scanned == maxScan {
				p.Next = last
				return p, nil
			}
			scanned++
			last = k
			obj, err := l.st.Get(ctx, k)
			if errors.Is(err, store.ErrNotFound) {
				continue
			}
			if err != nil {
				return Page{}, fmt.Errorf("audit: read %s: %w", k, err)
			}
			var e Entry
			if err := json.Unmarshal(obj.Data, &e); err != nil {
				continue // a damaged entry does not hide the others
			}
			if q.Actor != "" && e.Actor != q.Actor {
				continue
			}
			p.Entries = append(p.Entries, e)
		}
		month = time.Date(month.Year(), month.Month()-1, 1, 0, 0, 0, 0, time.UTC)
	}
	return p, nil
}

// actionOfKey reads the action out of an entry's key
// (<time>_<action>_<random>.json); actions may hold underscores.
func actionOfKey(key string) Action {
	name := strings.TrimSuffix(key[strings.LastIndex(key, "/")+1:], ".json")
	first, last := strings.Index(name, "_"), strings.LastIndex(name, "_")
	if first < 0 || last <= first {
		return ""
	}
	return Action(name[first+1 : last])
}
