package notification

import (
	"log/slog"
	"strings"
	"time"

	"github.com/oncall/pager/app/jobs"
	"github.com/oncall/pager/app/outbound"
	"github.com/oncall/pager/app/team"
	"github.com/oncall/pager/store"
)

// ConfigSource is the team config in use (team.Manager).
type ConfigSource interface {
	Current() *team.Config
}

// Options wire a Service.
type Options struct {
	// Store keeps the notification records (RecordPrefix); Notify needs
	// it. The pager passes the store its job queue uses.
	Store store.Store
	// Config is the team config: named channels and their credentials,
	// mail_settings, the default sender number.
	Config ConfigSource
	// BaseURL is the pager's public URL (ONCALL_APP_BASE_URL), for Twilio
	// delivery status callbacks to /ack.
	BaseURL string
	// Now is the clock for delivery times; default time.Now.
	Now    func() time.Time
	Logger *slog.Logger
	// Meter, optional, counts deliveries by channel and outcome (sent,
	// delivered, failed) for metrics (metrics.Metrics).
	Meter Meter
}

// Meter counts notification deliveries (metrics.Metrics).
type Meter interface {
	Notification(channel, outcome string)
}

// Delivery outcomes as Meter counts them.
const (
	outcomeSent      = "sent"
	outcomeDelivered = "delivered"
	outcomeFailed    = "failed"
)

type noMeter struct{}

func (noMeter) Notification(string, string) {}

// Service queues RedFlash notifications, delivers them over the outbound
// path and reports on them.
type Service struct {
	out   *outbound.Outbound
	st    store.Store
	cfg   ConfigSource
	base  string
	now   func() time.Time
	log   *slog.Logger
	meter Meter
}

// New returns the notifications over out.
func New(out *outbound.Outbound, o Options) *Service {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Meter == nil {
		o.Meter = noMeter{}
	}
	return &Service{out: out, st: o.Store, cfg: o.Config, base: strings.TrimRight(o.BaseURL, "/"), now: o.Now, log: o.Logger,
		meter: o.Meter}
}

// Register adds the deliveries' handler to q. Notification steps are named
// after their recipients, so one handler takes every step of the kind.
func (o *Service) Register(q *jobs.Queue) {
	q.HandleKind(KindNotification, o.deliverStep(q))
}
