package server

import (
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/netip"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"github.com/oncall/pager/app/health"
)

// TwilioBodyLimit caps webhook bodies: Twilio's largest (an SMS with media
// fields) is a few KB; anything bigger is not from Twilio.
const TwilioBodyLimit = 64 << 10

// Control is the control number's SMS face (app/control).
type Control interface {
	ServeEntry(c echo.Context) error
	ServeWrongNumberSMS(c echo.Context) error
	ServeWrongNumberVoice(c echo.Context) error
}

// Pagerline is the pager line's voice face (app/pagerline).
type Pagerline interface {
	ServeAnswer(c echo.Context) error
	ServeKeypress(c echo.Context) error
	ServeAfterRecord(c echo.Context) error
	ServeRecordingCallback(c echo.Context) error
	ServeMessageStatus(c echo.Context) error
	ServeCallStatus(c echo.Context) error
	ServeMedia(c echo.Context) error
}

// API is the alert API (app/api): monitoring notifies contacts, groups and
// events; Twilio reports the deliveries.
type API interface {
	ServeContact(c echo.Context) error
	ServeGroup(c echo.Context) error
	ServeEvent(c echo.Context) error
	ServeContactInfo(c echo.Context) error
	ServeGroupInfo(c echo.Context) error
	ServeNotification(c echo.Context) error
	ServeAck(c echo.Context) error
}

// Intake is the monitoring intake: one handler per dialect, each in its
// own folder under app/intake with its parser. A nil handler is not served.
type Intake struct {
	PagerDuty    echo.HandlerFunc // Events API v2 (app/intake/pagerduty)
	Alertmanager echo.HandlerFunc // app/intake/alertmanager
	Grafana      echo.HandlerFunc // app/intake/grafana
	Generic      echo.HandlerFunc // the pager's own JSON (app/intake/generic)
}

// AlertPages are the Twilio callbacks of alert pages.
type AlertPages interface {
	ServeAlertStatus(c echo.Context) error
	ServePageKey(c echo.Context) error
}

// Heartbeat records beats of the jobs and monitors that must check in
// (app/heartbeat).
type Heartbeat interface {
	ServeBeat(c echo.Context) error
}

// Calendar serves GET /calendar/<token>.ics.
type Calendar interface {
	Serve(c echo.Context) error
}

// Health reports whether the pager can do its job (health.Checker).
type Health interface {
	Readiness() health.Report
}

// MaxHeaderBytes caps a request's header block (request line included):
// Twilio's and monitoring clients' headers are a few KB; Go's default of
// 1 MB let one request carry a megabyte into logs.
const MaxHeaderBytes = 32 << 10

// Options wires the server.
type Options struct {
	Logger    *slog.Logger
	Signature SignatureChecker
	BaseURL   string
	// OnReject learns of every refused Twilio webhook (Rejections.Reject
	// keeps what that leaves behind bounded).
	OnReject func(c echo.Context, reason string)
	// TrustedProxies are the proxies whose X-Forwarded-For is believed;
	// without any the client is the socket's peer.
	TrustedProxies []netip.Prefix
	Control        Control
	Pagerline      Pagerline
	Health         Health
	API            API // optional: without it the alert API is not served
	// Intake serves the monitoring intake.
	Intake Intake
	// Pages, optional, serves the alert pages' Twilio callbacks.
	Pages AlertPages
	// Heartbeat, optional, serves /heartbeat/<name>.
	Heartbeat Heartbeat
	// Calendar, optional, serves the schedule's public iCalendar feed.
	Calendar Calendar
	// Once, optional, makes Twilio's retries of a webhook whose effect must
	// not repeat act once (see WrapTwilioIdempotency). The control number
	// does this itself, for the commands that change something only, so
	// WHO stays free of store calls.
	Once *Once
	// Console, optional, is the team's web console (app/console), served
	// under /ui/; it routes its own pages and guards them itself (session,
	// form tokens, same-origin checks, body limits).
	Console http.Handler
}

// New builds the echo instance with every route.
func New(o Options) *echo.Echo {
	e := echo.New()
	e.HideBanner = true
	e.HidePort = true
	e.HTTPErrorHandler = errorHandler(o.Logger)
	e.IPExtractor = ClientIP(o.TrustedProxies)
	e.Use(middleware.Recover())
	// The access line outside the id: it names the request itself; every
	// line the handler logs with the request's context carries the id.
	e.Use(WrapRequestLog(o.Logger))
	e.Use(WrapRequestID())

	sig := WrapTwilioSignature(o.Signature, o.BaseURL, o.Logger, o.OnReject)
	limit := WrapBodyLimit(TwilioBodyLimit)
	// twilio guards a Twilio webhook: size cap first, so an oversized body
	// is refused before the signature check reads it.
	deadline := WrapDeadline(TwilioDeadline)
	twilio := func(h echo.HandlerFunc) echo.HandlerFunc { return limit(deadline(sig(h))) }
	// twilioQuick guards routes that answer from memory (WHO, HALP, the
	// wrong-number replies): a deadline there would only cost a context and
	// a timer per request. The control number bounds its store-touching
	// commands itself (see control.Handler.ServeEntry).
	twilioQuick := func(h echo.HandlerFunc) echo.HandlerFunc { return limit(sig(h)) }
	// once: inside the signature check, so forged tokens never reach the
	// store.
	once := WrapTwilioIdempotency(o.Once, o.Logger, PageKeyDelivery)

	// Team members texting the control number.
	e.POST("/msgcontrol/entry", twilioQuick(o.Control.ServeEntry))
	// Reminders for the wrong line.
	e.POST("/wrongnumber/sms", twilioQuick(o.Control.ServeWrongNumberSMS))
	e.POST("/wrongnumber/voice", twilioQuick(o.Control.ServeWrongNumberVoice))

	// Customers calling the pager line, and the voicemail's callbacks.
	e.POST("/public/answer", twilio(o.Pagerline.ServeAnswer))
	e.POST("/public/keypress", twilio(o.Pagerline.ServeKeypress))
	e.POST("/public/afterrec", twilio(o.Pagerline.ServeAfterRecord))
	e.POST("/public/recordingcb", twilio(o.Pagerline.ServeRecordingCallback))
	e.POST("/public/mmsstatuscb", twilio(o.Pagerline.ServeMessageStatus))
	e.POST("/public/callstatus", twilio(o.Pagerline.ServeCallStatus))
	// Voicemail audio behind short-lived signed links (fetched by Twilio
	// for MMS and calls, and by the engineer's phone): the link is the key.
	e.GET("/media/:name", o.Pagerline.ServeMedia)

	// The alert API (RedFlash's URLs; the trailing slash is optional, as
	// rfclient sends one and curl users often do not). Other methods get
	// 405 with Allow from the router. It reads and limits its own bodies.
	if o.API != nil {
		for _, p := range []string{"/contact/:slug", "/contact/:slug/"} {
			e.POST(p, o.API.ServeContact)
			e.GET(p, o.API.ServeContactInfo)
		}
		for _, p := range []string{"/group/:slug", "/group/:slug/"} {
			e.POST(p, o.API.ServeGroup)
			e.GET(p, o.API.ServeGroupInfo)
		}
		e.POST("/event/:slug", o.API.ServeEvent)
		e.POST("/event/:slug/", o.API.ServeEvent)
		e.GET("/notification/:id", o.API.ServeNotification)
		e.GET("/notification/:id/", o.API.ServeNotification)
		// Delivery receipts of the API's texts and calls.
		e.POST("/ack", twilio(o.API.ServeAck))
	}

	// Monitoring intake, one dialect per route (app/intake/...). Each reads
	// and limits its own body.
	intake := func(path string, h echo.HandlerFunc) {
		if h != nil {
			e.POST(path, h)
		}
	}
	intake("/v2/enqueue", o.Intake.PagerDuty)
	intake("/alertmanager", o.Intake.Alertmanager)
	intake("/grafana", o.Intake.Grafana)
	intake("/alerts", o.Intake.Generic)
	// The alert pages' Twilio callbacks.
	if o.Pages != nil {
		e.POST("/public/alertstatus", twilio(o.Pages.ServeAlertStatus))
		e.POST("/public/pagekey", twilio(once(o.Pages.ServePageKey)))
	}

	// Heartbeats: GET too, for the simplest cron one-liners. The handler
	// reads and limits its own body.
	if o.Heartbeat != nil {
		for _, p := range []string{"/heartbeat/:name", "/heartbeat/:name/"} {
			e.POST(p, o.Heartbeat.ServeBeat)
			e.GET(p, o.Heartbeat.ServeBeat)
		}
	}

	// The schedule's calendar feed: public, the token in the path is the
	// only credential (calendar apps send no headers).
	if o.Calendar != nil {
		e.GET("/calendar/:file", o.Calendar.Serve)
	}

	// The team's web console.
	if o.Console != nil {
		e.Any("/ui/*", echo.WrapHandler(o.Console))
		e.GET("/ui", func(c echo.Context) error { return c.Redirect(http.StatusSeeOther, "/ui/") })
	}

	// Liveness: the process answers. Container and orchestrator probes use
	// it; it touches nothing, so a store outage never restarts the pager.
	e.GET("/livez", func(c echo.Context) error {
		return c.JSON(http.StatusOK, map[string]string{"status": health.StatusOK})
	})
	// Readiness (and /healthz, its older name, for existing probes): a
	// status word and a reason code, nothing more; the detail is on the
	// admin listener and in the log. Everyone gets the same answer: behind
	// the TLS proxy every client is loopback.
	ready := func(c echo.Context) error {
		r := o.Health.Readiness()
		code := http.StatusOK
		if !r.Ready() {
			code = http.StatusServiceUnavailable
		}
		ans := map[string]string{"status": r.Status}
		if r.Reason != "" {
			ans["reason"] = r.Reason
		}
		return c.JSON(code, ans)
	}
	e.GET("/readyz", ready)
	e.GET("/healthz", ready)

	return e
}

// ClientIP is where a request comes from: the socket's peer, or, when
// that peer is one of trusted, the nearest address its X-Forwarded-For
// names that is not itself trusted. Headers from anyone else are ignored, so
// a client cannot choose the address logged and audited for it.
func ClientIP(trusted []netip.Prefix) echo.IPExtractor {
	if len(trusted) == 0 {
		return echo.ExtractIPDirect()
	}
	opts := []echo.TrustOption{echo.TrustLoopback(false), echo.TrustLinkLocal(false), echo.TrustPrivateNet(false)}
	for _, p := range trusted {
		p = p.Masked()
		opts = append(opts, echo.TrustIPRange(&net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}))
	}
	return echo.ExtractIPFromXFFHeader(opts...)
}

func errorHandler(log *slog.Logger) echo.HTTPErrorHandler {
	return func(err error, c echo.Context) {
		if c.Response().Committed {
			return
		}
		code := http.StatusInternalServerError
		msg := "internal error"
		var he *echo.HTTPError
		if errors.As(err, &he) {
			code = he.Code
			if m, ok := he.Message.(string); ok {
				msg = m
			} else {
				msg = http.StatusText(code)
			}
		} else {
			log.ErrorContext(c.Request().Context(), "unhandled error", "path", logPath(c.Request().URL.Path), "err", err)
		}
		if code == http.StatusRequestEntityTooLarge {
			msg = "request body too large"
		}
		_ = c.JSON(code, map[string]string{"message": msg})
	}
}
