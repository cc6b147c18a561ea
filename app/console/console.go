package console

import (
	"context"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/oncall/pager/app/alerts"
	"github.com/oncall/pager/app/audit"
	"github.com/oncall/pager/app/jsondoc"
	"github.com/oncall/pager/app/notification"
	"github.com/oncall/pager/app/outbound"
	"github.com/oncall/pager/app/pagerline"
	"github.com/oncall/pager/app/schedule/handover"
	"github.com/oncall/pager/app/signin"
	"github.com/oncall/pager/app/team"
)

// Prefix is where the console is served.
const Prefix = "/ui/"

// Team is the team manager: the config in use, and the whole-document
// editing the config page needs.
type Team interface {
	Current() *team.Config
	Raw(ctx context.Context) ([]byte, string, error)
	Replace(ctx context.Context, actor string, data []byte, ifMatch string) (*team.Config, string, error)
	Update(ctx context.Context, actor string, mutate func(cfg *team.Config, doc *jsondoc.Doc) error) (*team.Config, error)
}

// Alerts is the alert service.
type Alerts interface {
	List(ctx context.Context, q alerts.Query) (alerts.Page, error)
	OpenFingerprint(ctx context.Context) (string, error)
	Get(ctx context.Context, id string) (alerts.Alert, error)
	Ack(ctx context.Context, ref, actor string) (alerts.Transition, error)
	Close(ctx context.Context, ref, actor string) (alerts.Transition, error)
	Reopen(ctx context.Context, id, actor string) (alerts.Alert, bool, error)
}

// OnCall is TAKE with its confirmation, as the control number runs it.
type OnCall interface {
	Take(ctx context.Context, u team.User) string
	Confirm(ctx context.Context, u team.User) string
	Cancel(ctx context.Context, u team.User) string
	Pending(ctx context.Context, u team.User) (time.Time, error)
}

// Voicemails are the pager line's stored voicemails.
type Voicemails interface {
	Voicemails(ctx context.Context, before string, limit int) (pagerline.VoicemailPage, error)
	Audio(ctx context.Context, name string) ([]byte, error)
}

// Notifications reports on the alert API's notifications and sends test
// pages through the same path.
type Notifications interface {
	Report(ctx context.Context, id string) (notification.Report, error)
	TestPage(ctx context.Context, u team.User) (id string, err error)
}

// Audit is the audit log.
type Audit interface {
	Record(ctx context.Context, e audit.Entry) error
	Page(ctx context.Context, q audit.Query) (audit.Page, error)
}

// SignIn issues codes and sessions.
type SignIn interface {
	Request(ctx context.Context, phone, client string) error
	Verify(ctx context.Context, phone, code, client string) (signin.Session, string, error)
	Check(ctx context.Context, cookie string) (signin.Session, error)
	SignOut(ctx context.Context, sess signin.Session) error
}

// Options wire the console.
type Options struct {
	// BaseURL is the pager's public URL: https there makes cookies
	// Secure, and its host is an accepted Origin.
	BaseURL       string
	Team          Team
	Alerts        Alerts
	OnCall        OnCall
	Voicemails    Voicemails
	Notifications Notifications
	Audit         Audit
	SignIn        SignIn
	// Texter queues the texts telling people that a saved config changed
	// who is on call.
	Texter handover.Texter
	// PollInterval is how often the alert list asks for new alerts;
	// default 10 s. Short polling rather than server-sent events: each
	// poll is one key listing answered by any replica, and nothing holds a
	// connection open past the server's write timeout or a proxy's.
	PollInterval time.Duration
	// ClientIP is the client's address, as the server's routes read it
	// (server.ClientIP: the socket's peer unless TRUSTED_PROXIES names the
	// proxy); sign-in attempts are counted by it. Default: the peer.
	ClientIP func(*http.Request) string
	// OnRefuse learns of each cross-site request refused, with a fixed
	// reason and the client's address (server.Rejections bounds what that
	// leaves behind). Nil: a debug line each.
	OnRefuse func(r *http.Request, client, reason string)
	Now      func() time.Time
	Logger   *slog.Logger
}

// Console serves /ui/.
type Console struct {
	o       Options
	secure  bool
	host    string
	mux     *http.ServeMux
	pages   map[string]*template.Template
	static  fs.FS
	version string
}

//go:embed templates static
var assets embed.FS

// New builds the console.
func New(o Options) (*Console, error) {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.ClientIP == nil {
		o.ClientIP = echo.ExtractIPDirect()
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.PollInterval <= 0 {
		o.PollInterval = 10 * time.Second
	}
	if o.OnRefuse == nil {
		log := o.Logger
		o.OnRefuse = func(r *http.Request, client, reason string) {
			log.Debug("console: request refused", "path", r.URL.Path, "reason", reason, "client", client)
		}
	}
	if o.Texter == nil {
		// Without it a save that hands the pager over would tell nobody.
		return nil, errors.New("console: no Texter")
	}
	c := &Console{o: o, pages: map[string]*template.Template{}}
	if u, err := url.Parse(o.BaseURL); err == nil {
		c.secure = u.Scheme == "https"
		c.host = u.Host
	}
	static, err := fs.Sub(assets, "static")
	if err != nil {
		return nil, err
	}
	c.static = static
	// The assets' hash versions their URLs, so they can be cached for long.
	h := sha256.New()
	_ = fs.WalkDir(static, ".", func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			b, _ := fs.ReadFile(static, p)
			h.Write(b)
		}
		return nil
	})
	c.version = hex.EncodeToString(h.Sum(nil))[:12]
	if err := c.parseTemplates(); err != nil {
		return nil, err
	}
	c.routes()
	return c, nil
}

func (c *Console) parseTemplates() error {
	funcs := template.FuncMap{
		"asset": func(name string) string { return Prefix + "static/" + name + "?v=" + c.version },
		"when":  c.when,
		"mask":  func(m team.Medium, a string) string { return outbound.MaskAddress(m, a) },
		// The form refuses a bad name before the round trip; the handler
		// checks it again.
		"keyNamePattern": func() string { return team.KeyNamePattern },
		"short": func(s string, n int) string {
			if len(s) <= n {
				return s
			}
			return s[:n] + "..."
		},
	}
	names, err := fs.Glob(assets, "templates/*.html")
	if err != nil {
		return err
	}
	for _, n := range names {
		base := strings.TrimSuffix(strings.TrimPrefix(n, "templates/"), ".html")
		if base == "layout" {
			continue
		}
		t, err := template.New("layout.html").Funcs(funcs).ParseFS(assets, "templates/layout.html", n)
		if err != nil {
			return fmt.Errorf("console: template %s: %w", n, err)
		}
		c.pages[base] = t
	}
	return nil
}

// when formats t in the team's time zone.
func (c *Console) when(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	loc := time.UTC
	if cfg := c.o.Team.Current(); cfg != nil {
		loc = cfg.CurrentConfig.Location()
	}
	return t.In(loc).Format("2006-01-02 15:04:05 MST")
}

// csp allows nothing but the console's own files: no inline script or
// style, no framing, forms only to itself.
const csp = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; media-src 'self'; " +
	"connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// ServeHTTP serves the console.
func (c *Console) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hdr := w.Header()
	hdr.Set("Content-Security-Policy", csp)
	hdr.Set("X-Content-Type-Options", "nosniff")
	hdr.Set("Referrer-Policy", "same-origin")
	hdr.Set("X-Frame-Options", "DENY")
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		if !c.sameOrigin(r) {
			// Any page on the web can make its visitors' browsers post
			// here: a line each would let it fill the log.
			c.o.OnRefuse(r, c.o.ClientIP(r), "cross-site request to the console")
			http.Error(w, "cross-site request refused", http.StatusForbidden)
			return
		}
	}
	c.mux.ServeHTTP(w, r)
}

// sameOrigin refuses requests a browser marks as coming from another site.
// Clients that send neither header (curl) still need the session's form
// token for anything but signing in.
func (c *Console) sameOrigin(r *http.Request) bool {
	switch r.Header.Get("Sec-Fetch-Site") {
	case "", "same-origin", "none":
	default:
		return false
	}
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	u, err := url.Parse(origin)
	if err != nil || origin == "null" {
		return false
	}
	return u.Host == r.Host || (c.host != "" && u.Host == c.host)
}

// viewer is the signed-in member of a request.
type viewer struct {
	User    team.User
	Session signin.Session
}

func (v viewer) Admin() bool { return v.User.Admin }

const (
	sessionCookie = "pager_console"
	flashCookie   = "pager_console_flash"
)

// auth wraps a handler that needs a signed-in member; admin ones also need
// the admin flag. Unsigned GETs are sent to the sign-in page; other methods
// get 403. State-changing requests must carry the session's form token.
func (c *Console) auth(admin bool, h func(w http.ResponseWriter, r *http.Request, v viewer)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		v, err := c.viewer(r)
		if err != nil {
			if !errors.Is(err, signin.ErrNoSession) {
				c.o.Logger.Error("console: session check failed", "err", err)
				http.Error(w, "the pager cannot read its storage right now; try again in a minute", http.StatusServiceUnavailable)
				return
			}
			if r.Method == http.MethodGet {
				http.Redirect(w, r, Prefix+"signin", http.StatusSeeOther)
				return
			}
			http.Error(w, "not signed in", http.StatusForbidden)
			return
		}
		if admin && !v.Admin() {
			http.Error(w, "only admins may do this", http.StatusForbidden)
			return
		}
		if r.Method == http.MethodPost {
			r.Body = http.MaxBytesReader(w, r.Body, 2<<20)
			if !v.Session.ValidCSRF(r.PostFormValue("csrf")) {
				http.Error(w, "form expired or forged: reload the page and try again", http.StatusForbidden)
				return
			}
		}
		w.Header().Set("Cache-Control", "no-store")
		h(w, r, v)
	}
}

func (c *Console) viewer(r *http.Request) (viewer, error) {
	ck, err := r.Cookie(sessionCookie)
	if err != nil {
		return viewer{}, signin.ErrNoSession
	}
	sess, err := c.o.SignIn.Check(r.Context(), ck.Value)
	if err != nil {
		return viewer{}, err
	}
	u, ok := c.o.Team.Current().UserByID(sess.UserID)
	if !ok || !u.IsEnabled() {
		// Removed or disabled since signing in.
		return viewer{}, signin.ErrNoSession
	}
	return viewer{User: u, Session: sess}, nil
}

// page is what every template gets.
type page struct {
	Title  string
	Nav    string
	Viewer *viewer
	CSRF   string
	Flash  string
	Data   any
}

func (c *Console) render(w http.ResponseWriter, r *http.Request, name string, status int, p page) {
	t, ok := c.pages[name]
	if !ok {
		http.Error(w, "no such page", http.StatusInternalServerError)
		return
	}
	if p.Viewer != nil {
		p.CSRF = p.Viewer.Session.CSRF
	}
	if p.Flash == "" {
		p.Flash = c.takeFlash(w, r)
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	if err := t.Execute(w, p); err != nil {
		c.o.Logger.Error("console: render", "page", name, "err", err)
	}
}

// flash carries a one-line result across the redirect after a POST.
func (c *Console) flash(w http.ResponseWriter, msg string) {
	http.SetCookie(w, &http.Cookie{Name: flashCookie, Value: base64.RawURLEncoding.EncodeToString([]byte(msg)),
		Path: Prefix, MaxAge: 60, HttpOnly: true, Secure: c.secure, SameSite: http.SameSiteStrictMode})
}

func (c *Console) takeFlash(w http.ResponseWriter, r *http.Request) string {
	ck, err := r.Cookie(flashCookie)
	if err != nil {
		return ""
	}
	http.SetCookie(w, &http.Cookie{Name: flashCookie, Path: Prefix, MaxAge: -1, HttpOnly: true, Secure: c.secure, SameSite: http.SameSiteStrictMode})
	b, err := base64.RawURLEncoding.DecodeString(ck.Value)
	if err != nil || len(b) > 1000 {
		return ""
	}
	return string(b)
}

func (c *Console) redirect(w http.ResponseWriter, r *http.Request, to, msg string) {
	if msg != "" {
		c.flash(w, msg)
	}
	http.Redirect(w, r, to, http.StatusSeeOther)
}

func (c *Console) record(ctx context.Context, v viewer, r *http.Request, action audit.Action, detail string, before, after any) {
	_ = c.o.Audit.Record(ctx, audit.Entry{Actor: v.User.ID, Action: action, Source: "console " + c.o.ClientIP(r),
		Detail: detail, Before: before, After: after})
}

func (c *Console) serveStatic(w http.ResponseWriter, r *http.Request) {
	name := strings.TrimPrefix(r.URL.Path, Prefix+"static/")
	b, err := fs.ReadFile(c.static, name)
	if err != nil {
		http.NotFound(w, r)
		return
	}
	switch {
	case strings.HasSuffix(name, ".css"):
		w.Header().Set("Content-Type", "text/css; charset=utf-8")
	case strings.HasSuffix(name, ".js"):
		w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
	case strings.HasSuffix(name, ".svg"):
		w.Header().Set("Content-Type", "image/svg+xml")
	}
	w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
	_, _ = w.Write(b)
}

func (c *Console) routes() {
	m := http.NewServeMux()
	m.HandleFunc("GET /ui/static/", c.serveStatic)
	m.HandleFunc("GET /ui/signin", c.serveSignIn)
	m.HandleFunc("POST /ui/signin", c.serveSignInRequest)
	m.HandleFunc("POST /ui/signin/verify", c.serveSignInVerify)
	m.HandleFunc("POST /ui/signout", c.auth(false, c.serveSignOut))

	m.HandleFunc("GET /ui/{$}", c.auth(false, c.serveNow))
	m.HandleFunc("POST /ui/take", c.auth(false, c.serveTake))
	m.HandleFunc("POST /ui/take/confirm", c.auth(false, c.serveTakeConfirm))
	m.HandleFunc("POST /ui/take/cancel", c.auth(false, c.serveTakeCancel))
	m.HandleFunc("POST /ui/testpage", c.auth(false, c.serveTestPage))

	m.HandleFunc("GET /ui/alerts", c.auth(false, c.serveAlerts))
	m.HandleFunc("GET /ui/alerts/changes", c.auth(false, c.serveAlertsChanges))
	m.HandleFunc("GET /ui/alerts/{id}", c.auth(false, c.serveAlert))
	m.HandleFunc("POST /ui/alerts/{id}/{action}", c.auth(false, c.serveAlertAction))

	m.HandleFunc("GET /ui/voicemails", c.auth(false, c.serveVoicemails))
	m.HandleFunc("GET /ui/voicemails/{name}/audio", c.auth(false, c.serveVoicemailAudio))
	m.HandleFunc("GET /ui/notifications", c.auth(false, c.serveNotifications))
	m.HandleFunc("GET /ui/audit", c.auth(false, c.serveAudit))

	m.HandleFunc("GET /ui/config", c.auth(true, c.serveConfig))
	m.HandleFunc("POST /ui/config", c.auth(true, c.serveConfigSave))
	m.HandleFunc("POST /ui/apikeys", c.auth(true, c.serveAPIKeyMint))
	m.HandleFunc("POST /ui/apikeys/{name}/revoke", c.auth(true, c.serveAPIKeyRevoke))
	m.HandleFunc("POST /ui/calendar", c.auth(true, c.serveCalendarMint))
	m.HandleFunc("POST /ui/calendar/{name}/revoke", c.auth(true, c.serveCalendarRevoke))
	c.mux = m
}
