package api

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/oncall/pager/app/alerts"
	"github.com/oncall/pager/app/audit"
	"github.com/oncall/pager/app/jobs"
	"github.com/oncall/pager/app/keygate"
	"github.com/oncall/pager/app/notification"
	"github.com/oncall/pager/app/team"
	"github.com/oncall/pager/app/twilio"
	"github.com/oncall/pager/store"
)

// ActionNotification is the audit action of an accepted notification.
const ActionNotification audit.Action = "notification"

// ConfigSource is the team config in use (team.Manager).
type ConfigSource interface {
	Current() *team.Config
}

// Notifier queues notifications and reports on them (notification.Service).
type Notifier interface {
	Notify(ctx context.Context, q *jobs.Queue, n notification.Notification) error
	GetNotification(ctx context.Context, q *jobs.Queue, id string, may func(apiKey string) bool) (notification.Report, error)
	RecordStatus(ctx context.Context, q *jobs.Queue, s notification.Status, now time.Time) (bool, error)
}

// AlertTrigger raises alerts (alerts.Service), for events that page.
type AlertTrigger interface {
	Trigger(ctx context.Context, ev alerts.Event) (alerts.Alert, bool, error)
}

// Auditor records audit entries (audit.Log).
type Auditor interface {
	Try(ctx context.Context, e audit.Entry)
}

// Options wire the API.
type Options struct {
	Config        ConfigSource
	Jobs          *jobs.Queue
	Notifications Notifier
	Audit         Auditor
	// Alerts raises the alerts of events configured to page.
	Alerts AlertTrigger
	Logger *slog.Logger
	Now    func() time.Time
	// MaxBody caps request bodies; default DefaultMaxBody (64 KiB).
	MaxBody int64
	// Store keeps Idempotency-Key records (required for the header to
	// work; without it the header is refused).
	Store store.Store
	// Keys checks API keys and each key's budget (shared with the intake
	// and heartbeats) and records refused requests (bad key, over the
	// limit, unreadable). Nil: a gate over Config of its own.
	Keys keygate.Keys
	// StoreRetries is how often an enqueue that failed on a store error is
	// tried again before the request is answered 503 (default 2).
	StoreRetries int
}

// Handler serves the alert API.
type Handler struct {
	keys    keygate.Keys
	idem    *idempotency
	cfg     ConfigSource
	q       *jobs.Queue
	out     Notifier
	audit   Auditor
	alerts  AlertTrigger
	log     *slog.Logger
	now     func() time.Time
	maxBody int64
	retries int
}

// New returns the API's handlers.
func New(o Options) *Handler {
	h := &Handler{cfg: o.Config, q: o.Jobs, out: o.Notifications, audit: o.Audit, alerts: o.Alerts, log: o.Logger, now: o.Now,
		maxBody: o.MaxBody, retries: o.StoreRetries, keys: o.Keys}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	if h.now == nil {
		h.now = time.Now
	}
	if h.maxBody <= 0 {
		h.maxBody = DefaultMaxBody
	}
	if h.retries <= 0 {
		h.retries = 2
	}
	if h.audit == nil {
		h.audit = nopAudit{}
	}
	if o.Store != nil {
		h.idem = &idempotency{st: o.Store, now: h.now}
	}
	if h.keys == nil {
		h.keys = keygate.New(keygate.Options{Config: o.Config, Logger: h.log})
	}
	return h
}

type nopAudit struct{}

func (nopAudit) Try(context.Context, audit.Entry) {}

// answer is every JSON answer's shape; fields that do not apply are left
// out.
type answer struct {
	Message        string    `json:"message"`
	NotificationID string    `json:"notification_id,omitempty"`
	Recipients     int       `json:"recipients,omitempty"`
	Skipped        []skipped `json:"skipped,omitempty"`
	MissingFields  []string  `json:"missing_fields,omitempty"`
	// An event that pages answers with its alert and reply code.
	AlertID  string         `json:"alert_id,omitempty"`
	Code     string         `json:"code,omitempty"`
	DedupKey string         `json:"dedup_key,omitempty"`
	Outcome  alerts.Outcome `json:"outcome,omitempty"`
}

type skipped struct {
	Contact string `json:"contact"`
	Reason  string `json:"reason"`
}

func reply(c echo.Context, status int, a answer) error { return c.JSON(status, a) }

// caller is an authenticated request.
type caller struct {
	req     Request
	keyName string
	key     team.APIKey
	cfg     *team.Config
}

// authenticate parses the request and checks its key. On failure it has
// answered already and ok is false.
func (h *Handler) authenticate(c echo.Context) (cl caller, ok bool, err error) {
	req, perr := ParseRequest(c.Request(), h.maxBody)
	if perr != nil {
		var re *RequestError
		if errors.As(perr, &re) {
			h.log.DebugContext(c.Request().Context(), "api: request refused", "path", c.Request().URL.Path, "status", re.Status, "reason", re.Message)
			h.keys.Refuse(c, "unreadable request")
			return cl, false, reply(c, re.Status, answer{Message: re.Message})
		}
		return cl, false, reply(c, http.StatusBadRequest, answer{Message: "malformed request"})
	}
	v := h.keys.Check(c, keygate.ViaAPI, req.Key)
	msg := v.Message()
	switch v.Refused {
	case keygate.Passed:
		return caller{req: req, keyName: v.Name, key: v.Key, cfg: v.Config}, true, nil
	case keygate.NoConfig:
		h.log.ErrorContext(c.Request().Context(), "api: no team config loaded")
	case keygate.OverLimit:
		h.log.DebugContext(c.Request().Context(), "api: request refused: over the key's rate limit", "path", c.Request().URL.Path, "key", v.Name,
			"limit_per_minute", v.Key.RateLimit())
		msg = fmt.Sprintf("Too many requests for this key (%d a minute); retry after the Retry-After delay", v.Key.RateLimit())
	}
	return cl, false, reply(c, v.Status(), answer{Message: msg})
}

// ServeNotification is GET /notification/:id: what became of a
// notification, per recipient and channel. The key that created it may
// ask, and a key with can_read; for any other the notification does not
// exist (404, as for an unknown id, so ids cannot be probed).
func (h *Handler) ServeNotification(c echo.Context) error {
	cl, ok, err := h.authenticate(c)
	if !ok {
		return err
	}
	id := c.Param("id")
	may := func(apiKey string) bool { return apiKey == cl.keyName || cl.key.CanRead }
	rep, gerr := h.out.GetNotification(c.Request().Context(), h.q, id, may)
	switch {
	case errors.Is(gerr, notification.ErrNotPermitted):
		h.log.Info("api: report of another key's notification refused", "notification", id, "key", cl.keyName)
		return reply(c, http.StatusNotFound, answer{Message: "Unknown notification"})
	case notification.IsNotFound(gerr) || errors.Is(gerr, jobs.ErrInvalidJob):
		return reply(c, http.StatusNotFound, answer{Message: "Unknown notification"})
	case gerr != nil:
		h.log.ErrorContext(c.Request().Context(), "api: notification report unavailable", "notification", id, "key", cl.keyName, "err", gerr)
		return reply(c, http.StatusServiceUnavailable, answer{Message: "The notification store is unavailable; retry shortly"})
	}
	return c.JSON(http.StatusOK, rep)
}

// ServeAck is POST /ack?job=<job>&n=<id>&step=<step>: Twilio's delivery
// status callback for a notification's text or call, behind the signature
// check. The status goes into the step's result in the recipient's job; a
// late callback never moves it backwards. Callbacks without job (texts sent
// before it was added) are still taken.
func (h *Handler) ServeAck(c echo.Context) error {
	form, _ := c.FormParams()
	cb := twilio.ParseStatusCallback(form)
	st := notification.Status{
		ID:        c.QueryParam("n"),
		Job:       c.QueryParam("job"),
		Step:      c.QueryParam("step"),
		SID:       cb.SID,
		Status:    cb.Status,
		ErrorCode: cb.ErrorCode,
		Kind:      cb.Kind,
	}
	if st.ID == "" || st.Step == "" || st.Status == "" {
		return reply(c, http.StatusBadRequest, answer{Message: "status callback without n, step or status"})
	}
	lvl := slog.LevelInfo
	if cb.Outcome().Failed {
		lvl = slog.LevelWarn
	}
	h.log.Log(c.Request().Context(), lvl, "api: delivery status", "notification", st.ID, "step", st.Step,
		"sid", st.SID, "status", st.Status, "error_code", st.ErrorCode)
	err := h.recordStatus(c.Request().Context(), st)
	switch {
	case errors.Is(err, notification.ErrUnknownDelivery):
		h.log.DebugContext(c.Request().Context(), "api: status callback for an unknown delivery; answered 204 so Twilio does not retry", "notification", st.ID, "step", st.Step)
	case err != nil:
		h.log.ErrorContext(c.Request().Context(), "api: delivery status not recorded", "notification", st.ID, "step", st.Step, "err", err)
		return reply(c, http.StatusServiceUnavailable, answer{Message: "status not recorded"})
	}
	return c.NoContent(http.StatusNoContent)
}

func (h *Handler) recordStatus(ctx context.Context, st notification.Status) error {
	err := jobs.AwaitRecord(ctx, notification.ErrNotRecordedYet, func(int) error {
		_, err := h.out.RecordStatus(ctx, h.q, st, h.now())
		return err
	})
	if errors.Is(err, notification.ErrNotRecordedYet) {
		h.log.WarnContext(ctx, "api: status callback for a delivery still not recorded; dropped", "notification", st.ID, "step", st.Step, "status", st.Status)
		return nil
	}
	return err
}
