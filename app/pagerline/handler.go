package pagerline

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/oncall/pager/app/alerts"
	"github.com/oncall/pager/app/audit"
	"github.com/oncall/pager/app/jobs"
	"github.com/oncall/pager/app/outbound"
	"github.com/oncall/pager/app/team"
	"github.com/oncall/pager/app/twilio"
	"github.com/oncall/pager/store"
)

// Config is the part of the team manager the pager line needs.
type Config interface {
	Current() *team.Config
}

// Recordings fetches, lists and deletes recordings on Twilio, and looks up
// the calls they belong to.
type Recordings interface {
	FetchRecording(ctx context.Context, recordingURL string) ([]byte, string, error)
	DeleteRecording(ctx context.Context, recordingSID string) error
	ListRecordings(ctx context.Context, since time.Time) ([]twilio.Recording, error)
	FetchCall(ctx context.Context, callSID string) (twilio.CallInfo, error)
}

// Alerts makes each voicemail an alert (alerts.Service).
type Alerts interface {
	TriggerWith(ctx context.Context, ev alerts.Event, opts alerts.TriggerOptions) (alerts.Alert, bool, error)
}

// Handler serves the pager line and runs the voicemail jobs.
type Handler struct {
	alerts Alerts
	cfg    Config
	base   string
	st     store.Store
	q      *jobs.Queue
	out    *outbound.Outbound
	rec    Recordings
	audit  *audit.Log
	signer *Signer
	refuse func(c echo.Context, reason string)
	now    func() time.Time
	log    *slog.Logger

	callerLimit  int
	callerWindow time.Duration

	// life ends with the process (Run's context): background retries of a
	// voicemail enqueue die with it, as they would in a crash, and the
	// reconciliation sweep picks the voicemail up after the restart.
	mu   sync.Mutex
	life context.Context
}

// Options wires a Handler.
type Options struct {
	Config     Config
	BaseURL    string
	Store      store.Store
	Jobs       *jobs.Queue
	Outbound   *outbound.Outbound
	Recordings Recordings
	Audit      *audit.Log
	// Alerts, when set, makes each voicemail an alert whose escalation
	// goes on past the on-call if nobody acknowledges it.
	Alerts Alerts
	Now    func() time.Time
	Logger *slog.Logger
	// OnRefuse learns of each refused media link with a fixed reason
	// (server.Rejections bounds what that leaves behind). Nil: a debug
	// line each.
	OnRefuse func(c echo.Context, reason string)
	// CallerLimit is the pages one caller may cause per CallerWindow
	// (defaults DefaultCallerLimit, DefaultCallerWindow).
	CallerLimit  int
	CallerWindow time.Duration
}

// New returns the pager-line handler and registers its job steps on o.Jobs.
func New(o Options) *Handler {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	h := &Handler{alerts: o.Alerts, cfg: o.Config, base: o.BaseURL, st: o.Store, q: o.Jobs, out: o.Outbound,
		rec: o.Recordings, audit: o.Audit, signer: NewSigner(o.Store, o.Now), now: o.Now, log: o.Logger,
		life: context.Background(), callerLimit: o.CallerLimit, callerWindow: o.CallerWindow, refuse: o.OnRefuse}
	if h.refuse == nil {
		h.refuse = func(c echo.Context, reason string) {
			h.log.DebugContext(c.Request().Context(), "pagerline: media link refused", "reason", reason)
		}
	}
	if h.callerLimit <= 0 {
		h.callerLimit = DefaultCallerLimit
	}
	if h.callerWindow <= 0 {
		h.callerWindow = DefaultCallerWindow
	}
	h.register()
	return h
}
