package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/oncall/pager/app/alerts"
	"github.com/oncall/pager/app/api"
	"github.com/oncall/pager/app/audit"
	"github.com/oncall/pager/app/control"
	"github.com/oncall/pager/app/health"
	"github.com/oncall/pager/app/heartbeat"
	"github.com/oncall/pager/app/intake"
	"github.com/oncall/pager/app/intake/alertmanager"
	"github.com/oncall/pager/app/intake/generic"
	"github.com/oncall/pager/app/intake/grafana"
	"github.com/oncall/pager/app/intake/pagerduty"
	"github.com/oncall/pager/app/jobs"
	"github.com/oncall/pager/app/keygate"
	"github.com/oncall/pager/app/metrics"
	"github.com/oncall/pager/app/notification"
	"github.com/oncall/pager/app/outbound"
	"github.com/oncall/pager/app/outbound/channel"
	"github.com/oncall/pager/app/page"
	"github.com/oncall/pager/app/pagerline"
	"github.com/oncall/pager/app/retention"
	"github.com/oncall/pager/app/schedule/calendar"
	"github.com/oncall/pager/app/schedule/handover"
	"github.com/oncall/pager/app/server"
	"github.com/oncall/pager/app/sessions"
	"github.com/oncall/pager/app/signin"
	"github.com/oncall/pager/app/summary"
	"github.com/oncall/pager/app/team"
	"github.com/oncall/pager/app/twilio"
	"github.com/oncall/pager/store"
	"github.com/oncall/pager/store/local"
	"github.com/oncall/pager/store/s3store"
)

// Alert housekeeping periods.
const (
	alertSweepEvery = 5 * time.Minute
	// onceMarkerAge: Twilio stops retrying a webhook within minutes.
	onceMarkerAge = 24 * time.Hour
	// openAlertsEvery bounds how often a metrics scrape lists the open
	// alerts (a store read per alert).
	openAlertsEvery = 30 * time.Second
	// pruneEvery is how often the retention policy is applied.
	pruneEvery = time.Hour
)

// App is a built pager.
type App struct {
	Settings Settings
	Log      *slog.Logger
	Store    store.Store
	Team     *team.Manager
	Twilio   *twilio.Client
	Audit    *audit.Log
	Jobs     *jobs.Queue
	Outbound *outbound.Outbound
	// Notifications are the RedFlash API's notifications.
	Notifications *notification.Service
	Echo          *echo.Echo
	// Admin is the admin listener's router (ADMIN_LISTEN_ADDR): metrics
	// and health detail.
	Admin *echo.Echo
	// Metrics is the pager's Prometheus registry and counters, served on
	// the admin listener's /metrics.
	Metrics   *metrics.Metrics
	adminAddr atomic.Value // string, once listening

	// Alerts is the alert lifecycle: intake, reply codes, escalation.
	Alerts *alerts.Service
	// Heartbeats records beats and pages when one stops.
	Heartbeats *heartbeat.Service
	// Summary sends the daily summary when the config asks for one.
	Summary *summary.Service
	once    *server.Once
	// HandOver applies the on-call schedule by itself.
	HandOver *handover.Service
	// SignIn is the web console's sign-in (codes and sessions).
	SignIn *signin.Service
	// health answers readiness; its write probe runs with Run.
	health *health.Checker
	// rejects keeps refused requests' traces bounded.
	rejects *server.Rejections
	// pagerline sweeps Twilio for voicemails whose job was lost.
	pagerline *pagerline.Handler
	// pruner applies the retention policy.
	pruner *retention.Pruner

	now func() time.Time
}

// Options are the parts tests replace.
type Options struct {
	Logger *slog.Logger
	// Store, when set, is used instead of the one Settings name.
	Store store.Store
	Now   func() time.Time
	// HTTPClient is used for outbound calls (Twilio).
	HTTPClient *http.Client
	// Jobs tunes the durable job queue (tests shorten leases and polls).
	Jobs jobs.Options
	// Outbound tunes the outbound path (tests trust a test SMTP CA, or
	// replace the rate limiters).
	Outbound outbound.Options
	// ConsolePoll is how often the console's alert list polls (tests
	// shorten it); default 10 s.
	ConsolePoll time.Duration
}

// OpenStore builds the store Settings name.
func OpenStore(ctx context.Context, s Settings) (store.Store, error) {
	if s.UsesS3() {
		client, err := s3store.NewClient(ctx, s3store.Options{PathStyle: s.S3PathStyle})
		if err != nil {
			return nil, fmt.Errorf("app: S3 client: %w", err)
		}
		return s3store.New(client, s.S3Bucket), nil
	}
	st, err := local.New(s.StoreDir)
	if err != nil {
		return nil, fmt.Errorf("app: local store %s: %w", s.StoreDir, err)
	}
	return st, nil
}

// New builds the pager. It loads the team config (seeding the example config
// into an empty local folder on first start) and fails when there is no
// valid config to start from.
func New(ctx context.Context, s Settings, o Options) (*App, error) {
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	// Lines logged with a request's context name the request.
	log = slog.New(server.RequestIDLogs(log.Handler()))
	// No log line grows with what a client sends.
	log = slog.New(server.BoundedLogs(log.Handler(), server.MaxLogValue))
	now := o.Now
	if now == nil {
		now = time.Now
	}
	st := o.Store
	if st == nil {
		var err error
		if st, err = OpenStore(ctx, s); err != nil {
			return nil, err
		}
	}
	m := metrics.New()
	// Every store call the pager makes is counted and timed here, the
	// config manager's, the job queue's and the handlers' alike.
	st = m.Store(st)
	a := &App{Settings: s, Log: log, Store: st, Metrics: m, now: now}
	a.Team = team.NewManager(st, s.ConfigKey(), team.ManagerOptions{Logger: log, Now: now})
	if err := a.loadConfig(ctx); err != nil {
		return nil, err
	}
	// Twilio's API calls are counted at the transport, below the client.
	hc := &http.Client{}
	if o.HTTPClient != nil {
		hc.Transport, hc.Timeout = o.HTTPClient.Transport, o.HTTPClient.Timeout
	}
	hc.Transport = m.Twilio(hc.Transport)
	tw, err := twilio.New(twilio.Config{
		AccountSID: s.TwilioAccountSID,
		AuthToken:  s.TwilioAuthToken,
		BaseURL:    s.TwilioAPIBaseURL,
		DryRun:     s.TwilioAccountSID == "",
		HTTPClient: hc,
		Logger:     log,
	})
	if err != nil {
		return nil, fmt.Errorf("app: twilio client: %w", err)
	}
	a.Twilio = tw
	a.Audit = audit.New(st, now, log)

	jo := o.Jobs
	if jo.Logger == nil {
		jo.Logger = log
	}
	if jo.Now == nil {
		jo.Now = now
	}
	if jo.Poll == 0 {
		jo.Poll = s.JobPoll
	}
	if jo.Replica == "" && jo.Owner == "" {
		jo.Replica = s.ReplicaID
	}
	a.Jobs = jobs.New(st, jo)
	no := o.Outbound
	no.Twilio = tw
	if no.Logger == nil {
		no.Logger = log
	}
	if no.Config == nil {
		no.Config = a.Team
	}
	if no.Now == nil {
		no.Now = now
	}
	if no.Store == nil {
		// Rates hold across the replicas sharing the store.
		no.Store, no.Owner = st, a.Jobs.Owner()
	}
	if no.PushoverURL == "" {
		no.PushoverURL = s.PushoverAPIURL
	}
	// A dry run (no Twilio account) logs email too: the embedded default's
	// mail server is a placeholder.
	no.DryRunEmail = no.DryRunEmail || tw.DryRun()
	a.Outbound = outbound.New(no)
	a.Outbound.Register(a.Jobs)
	a.Notifications = notification.New(a.Outbound, notification.Options{
		Store: st, Config: a.Team, BaseURL: s.BaseURL, Now: now, Logger: log, Meter: m})
	a.Notifications.Register(a.Jobs)

	// The alert service pages over the outbound path (by SMS or call, the
	// others told who took an alert, targets resolved from the team
	// config). Its escalation and digest handlers are registered on the
	// queue here, before the runner starts.
	pages := page.New(m.PageSender(a.Outbound), a.Team, a.Settings.BaseURL, log)
	a.Alerts = alerts.New(st, alerts.Options{
		Jobs:     a.Jobs,
		Pager:    pages,
		Notifier: pages,
		Roster:   pages,
		Settings: func() alerts.Settings { return a.Team.Current().EscalationSettings() },
		Hold: func(al alerts.Alert) (string, time.Time, bool) {
			return a.Team.Current().Maintenance(al.Route, al.DedupKey, now())
		},
		Now:    now,
		Logger: log,
	})
	a.once = server.NewOnce(st, "", now)
	a.pruner = retention.New(st, retention.Options{
		Policy:   s.Retention,
		Expiring: []retention.Expiry{api.IdempotencyExpiry(), a.once.Expiry(onceMarkerAge)},
		Now:      now,
		Logger:   log,
	})
	a.rejects = server.NewRejections(log, a.auditReject, now)
	// One key check and one request budget per API key, over the API, the
	// intake and heartbeats alike, so paging events count against the same
	// limit as intake events.
	keys := keygate.New(keygate.Options{
		Config:   a.Team,
		Limiter:  keygate.NewRateLimiter(0, now),
		Exposed:  s.Exposed(),
		OnRefuse: a.rejects.Reject,
		Logger:   log,
	})
	in := intake.New(intake.Options{
		Alerts: a.Alerts,
		Keys:   keys,
		Logger: log,
	})
	pageCallbacks := page.NewCallbacks(m.PageCallbacks(a.Alerts), pages, a.Jobs, log)
	a.Heartbeats = heartbeat.New(st, heartbeat.Options{
		Jobs:   a.Jobs,
		Alerts: a.Alerts,
		Config: a.Team,
		Teller: teller{q: outbound.TextQueue{Q: a.Jobs, MaxAttempts: tellAttempts}, cfg: a.Team},
		Keys:   keys,
		Now:    now,
		Logger: log,
	})

	a.Summary = summary.New(summary.Options{
		Jobs:       a.Jobs,
		Alerts:     a.Alerts,
		Heartbeats: a.Heartbeats,
		Config:     a.Team,
		Sender:     summarySender{teller: teller{q: outbound.TextQueue{Q: a.Jobs, MaxAttempts: tellAttempts}, cfg: a.Team}, out: a.Outbound},
		Next:       a.nextOnCall,
		Now:        now,
		Logger:     log,
	})
	a.HandOver = handover.New(handover.Options{
		Config: a.Team,
		Jobs:   a.Jobs,
		Texter: texter{q: outbound.TextQueue{Q: a.Jobs}, now: now},
		Audit:  a.Audit,
		Now:    now,
		Logger: log,
	})

	sess := sessions.New(st, now)
	ctl := control.New(control.Options{
		Alerts:   a.Alerts,
		Once:     a.once,
		OnRefuse: a.rejects.RejectFrom,
		Config:   a.Team,
		Sessions: sess,
		Audit:    a.Audit,
		Texter:   texter{q: outbound.TextQueue{Q: a.Jobs}, now: now},
		Now:      now,
		Logger:   log,
	})
	pl := pagerline.New(pagerline.Options{
		Config:     a.Team,
		BaseURL:    s.BaseURL,
		Store:      st,
		Jobs:       a.Jobs,
		Outbound:   a.Outbound,
		Recordings: tw,
		Audit:      a.Audit,
		Alerts:     a.Alerts,
		OnRefuse:   a.rejects.Reject,
		Now:        now,
		Logger:     log,
	})
	a.pagerline = pl
	alerts := api.New(api.Options{
		Store:         st,
		Keys:          keys,
		Config:        a.Team,
		Jobs:          a.Jobs,
		Notifications: a.Notifications,
		Alerts:        a.Alerts,
		Audit:         a.Audit,
		Now:           now,
		Logger:        log,
	})
	a.health = health.New(health.Options{Store: st, Config: a.Team, ConfigKey: s.ConfigKey(), Now: now, Logger: log})
	ui, err := a.newConsole(ctl, pl, o.ConsolePoll)
	if err != nil {
		return nil, fmt.Errorf("app: console: %w", err)
	}
	a.Echo = server.New(server.Options{
		Logger:    log,
		Signature: twilio.NewValidator(s.TwilioAuthToken, s.TwilioAuthTokenSecond),
		BaseURL:   s.BaseURL,
		OnReject: func(c echo.Context, reason string) {
			m.SignatureRejected(c.Path(), reason)
			a.rejects.Reject(c, reason)
		},
		TrustedProxies: s.TrustedProxies,
		Control:        ctl,
		Pagerline:      pl,
		API:            alerts,
		Health:         a.health,
		Intake: server.Intake{
			PagerDuty:    pagerduty.Handler(in),
			Alertmanager: alertmanager.Handler(in),
			Grafana:      grafana.Handler(in),
			Generic:      generic.Handler(in),
		},
		Pages:     pageCallbacks,
		Heartbeat: a.Heartbeats,
		Once:      a.once,
		Calendar:  calendar.New(a.Team, now),
		Console:   ui,
	})
	// After routing, so requests are counted by route template.
	a.Echo.Use(m.HTTP())
	m.Jobs(a.Jobs, now)
	m.Config(a.Team)
	m.Alerts(a.Alerts, openAlertsEvery)
	a.Admin = a.newAdmin()
	a.warnExampleKey()
	return a, nil
}

func (a *App) loadConfig(ctx context.Context) error {
	err := a.Team.Load(ctx)
	if errors.Is(err, store.ErrNotFound) && !a.Settings.UsesS3() {
		// First start on the embedded default: seed the example team so the
		// pager runs with no set-up. Never on S3: an empty bucket there is
		// an operator's mistake to report, not to paper over.
		if _, perr := a.Store.Put(ctx, a.Settings.ConfigKey(), team.DefaultConfig(), store.Cond{IfNoneMatch: true}); perr != nil && !errors.Is(perr, store.ErrPrecondition) {
			return fmt.Errorf("app: seed example config: %w", perr)
		}
		a.Log.Warn("no config found: seeded the example config; edit it to add your team",
			"store", a.Store.String(), "key", a.Settings.ConfigKey())
		err = a.Team.Load(ctx)
	}
	var ve *team.ValidationError
	switch {
	case err == nil:
		return nil
	case errors.Is(err, store.ErrNotFound), errors.As(err, &ve):
		return fmt.Errorf("app: load config %s from %s: %w", a.Settings.ConfigKey(), a.Store, err)
	default:
		return fmt.Errorf("app: load config %s from %s: %w: %w", a.Settings.ConfigKey(), a.Store, ErrStoreUnavailable, err)
	}
}

// ErrStoreUnavailable marks a start that failed because the store did not
// answer (network, outage, permissions): worth retrying, unlike a missing or
// invalid config, which needs an operator.
var ErrStoreUnavailable = errors.New("store unavailable")

// warnExampleKey says loudly, at start, that the README's example key is
// enabled: on a listener other machines reach it is refused, and the line
// says how to mint a real one.
func (a *App) warnExampleKey() {
	cfg := a.Team.Current()
	if cfg == nil {
		return
	}
	for name, k := range cfg.APIKeys {
		if !k.IsEnabled() || !k.IsExample() {
			continue
		}
		if a.Settings.Exposed() {
			a.Log.Error("API KEY REFUSED: api_keys["+name+"] is the example key published in the README, and this pager listens on "+
				a.Settings.ListenAddr+", reachable from other machines, so every request with it gets 403. "+
				"Mint your own: oncall-pager apikey new NAME, add the printed entry to api_keys, and remove this one.", "key", name)
		} else {
			a.Log.Warn("api_keys["+name+"] is the example key published in the README: it works on loopback only; "+
				"mint your own with oncall-pager apikey new NAME", "key", name)
		}
	}
}

// auditReject records a refused request; Rejections calls it at most once
// per source and interval.
func (a *App) auditReject(ctx context.Context, source, path, reason string) {
	a.Audit.Try(ctx, audit.Entry{Actor: "unknown", Action: audit.ActionRejected,
		Source: source, Detail: path + ": " + reason + " (further refusals from this source within a minute are only counted in the log)"})
}

// Readiness is the pager's readiness with its detail (health.Checker).
func (a *App) Readiness() health.Report { return a.health.Readiness() }

// Run serves HTTP and runs the background loops until ctx ends.
func (a *App) Run(ctx context.Context, ln net.Listener) error {
	srv := NewHTTPServer(a.Echo)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	return a.RunWith(ctx, srv, errc)
}

// NewHTTPServer is the pager's HTTP server around h, with its timeouts.
func NewHTTPServer(h http.Handler) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    server.MaxHeaderBytes,
	}
}

// RunWith runs the background loops beside srv, already serving (its Serve
// error arrives on errc), and shuts srv down when ctx ends.
func (a *App) RunWith(ctx context.Context, srv *http.Server, errc <-chan error) error {
	// Background work ends with ctx, and RunWith returns only after it has:
	// a step running at shutdown finishes within its grace period and is
	// recorded, instead of outliving the process's Run (and, in a test,
	// sending after the "crashed" pager was replaced).
	ctx, stop := context.WithCancel(ctx) // also when serving fails
	var background sync.WaitGroup
	admin, aerr := a.listenAdmin()
	if aerr != nil {
		// The public routes matter more than the detail page: serve them.
		a.Log.Error("admin listener not started; the pager runs without it", "err", aerr)
	}
	background.Go(func() { a.Team.Run(ctx, a.Settings.ConfigRefresh) })
	background.Go(func() { a.health.Run(ctx, a.Settings.ConfigRefresh) })
	background.Go(func() { a.rejects.Run(ctx) })
	if admin != nil {
		background.Go(func() { a.serveAdmin(ctx, admin) })
	}
	background.Go(func() { a.sweepAlerts(ctx) })
	background.Go(func() { a.Summary.Run(ctx, summaryCheck) })
	background.Go(func() { a.HandOver.Run(ctx, a.Settings.ConfigRefresh) })
	background.Go(func() { a.prune(ctx) })
	// After the job queue exists (New), so a recovered voicemail is
	// durable at once; the sweep goes back a day at start-up.
	background.Go(func() { a.pagerline.Run(ctx, a.Settings.ReconcileInterval) })
	background.Go(func() {
		if err := a.Jobs.Run(ctx); err != nil && !errors.Is(err, context.Canceled) {
			a.Log.Error("job runner stopped", "err", err)
		}
	})
	var err error
	select {
	case <-ctx.Done():
	case err = <-errc:
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
	}
	a.Log.Info("shutting down: finishing requests and running job steps")
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = srv.Shutdown(sctx)
	stop()
	background.Wait()
	// What the runner last saw still to do: it runs on the next start.
	b := a.Jobs.Backlog()
	a.Log.Info("stopped", "jobs_left_queued", b.Queued, "next_due_job", b.NextDueJob)
	return err
}

// sweepAlerts finishes what a crash left half done (see alerts.Sweep), at
// start-up and then periodically.
func (a *App) sweepAlerts(ctx context.Context) {
	t := time.NewTicker(alertSweepEvery)
	defer t.Stop()
	for {
		if _, err := a.Alerts.Sweep(ctx); err != nil && ctx.Err() == nil {
			a.Log.Warn("alerts: sweep failed; retried later", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Prune applies the retention policy once (Run does it at start-up and
// hourly).
func (a *App) Prune(ctx context.Context) (retention.Removed, error) {
	return a.pruner.Prune(ctx)
}

func (a *App) prune(ctx context.Context) {
	t := time.NewTicker(pruneEvery)
	defer t.Stop()
	for {
		if _, err := a.pruner.Prune(ctx); err != nil && ctx.Err() == nil {
			a.Log.Warn("retention: pass failed; retried later", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// ReconcileVoicemails recovers, from Twilio's recordings since since, the
// voicemails whose job was lost (see pagerline.Handler.Reconcile); Run does
// this periodically.
func (a *App) ReconcileVoicemails(ctx context.Context, since time.Time) (int, error) {
	return a.pagerline.Reconcile(ctx, since)
}

// texter queues a durable SMS, so the hand-over notice is not lost when
// Twilio is briefly down, and the TAKE reply never waits on Twilio.
type texter struct {
	q   outbound.TextQueue
	now func() time.Time
}

// TextOnce queues a text under id: the same id twice sends once.
func (t texter) TextOnce(ctx context.Context, id, from, to, body string) error {
	return t.q.Enqueue(ctx, id, outbound.Text{From: from, To: to, Body: body})
}

// Texter is the durable once-only text path for a command that writes the
// store without running the pager (config push): the running pager's job
// runner sends what it queues.
func Texter(q *jobs.Queue) handover.Texter {
	return texter{q: outbound.TextQueue{Q: q}, now: time.Now}
}

func (t texter) Text(ctx context.Context, from, to, body string) error {
	id := fmt.Sprintf("text-%d-%s", t.now().UnixNano(), strings.TrimPrefix(to, "+"))
	return t.q.Enqueue(ctx, id, outbound.Text{From: from, To: to, Body: body})
}

// tellAttempts bounds the sends of a text told from a job step, as the
// step's own attempts did when it sent the text itself: a recovery notice
// or a daily summary that long overdue is noise.
const tellAttempts = 10

// teller texts a team member from the control number, from a job step that
// may run again after Twilio took the text (a retry, a crashed replica's
// job taken over). The text is a durable text job named by the step: a
// second run queues the same id, which sends nothing, and the text job
// asks Twilio before resending its own interrupted send.
type teller struct {
	q   outbound.TextQueue
	cfg *team.Manager
}

func (t teller) Tell(ctx context.Context, id, userID, text string) error {
	cfg := t.cfg.Current()
	u, ok := cfg.UserByID(userID)
	if !ok || u.Phone == "" || !page.SMSOn(u) {
		return nil
	}
	return t.q.Enqueue(ctx, id, outbound.Text{From: cfg.CurrentConfig.FromPhone, To: u.Phone, Body: text})
}

// summaryCheck is how often the next daily summary is made sure of (a
// changed time takes effect within it).
const summaryCheck = time.Minute

// summarySender sends the daily summary by SMS to the on-call and by email
// to mail_settings.to_email.
type summarySender struct {
	teller
	out *outbound.Outbound
}

func (s summarySender) Text(ctx context.Context, id, userID, body string) error {
	return s.Tell(ctx, id, userID, body)
}

func (s summarySender) Email(ctx context.Context, subject, body string) error {
	ms := s.cfg.Current().CurrentConfig.MailSettings
	_, err := s.out.Email(ctx, ms, []string{ms.ToEmail}, channel.Message{Subject: subject, Body: body})
	return err
}

// nextOnCall is the schedule's next hand-over after after, for the daily
// summary: who (by name) and when; false without a schedule or a change
// in the coming 90 days.
func (a *App) nextOnCall(_ context.Context, after time.Time) (string, time.Time, bool, error) {
	cfg := a.Team.Current()
	sched, ok := cfg.OnCallSchedule()
	if !ok {
		return "", time.Time{}, false, nil
	}
	cur, next := sched.Current(after, 90*24*time.Hour)
	if next == "" || cur.End.IsZero() {
		return "", time.Time{}, false, nil
	}
	name := next
	if u, ok := cfg.UserByID(next); ok {
		name = u.Name
	}
	return name, cur.End, true, nil
}
