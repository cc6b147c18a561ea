package keygate

import (
	"errors"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/oncall/pager/app/team"
)

// ConfigSource is the team config in use (team.Manager): its API keys are
// the credentials.
type ConfigSource interface {
	Current() *team.Config
}

// Limiter takes one request from a key's budget of limit a minute
// (*RateLimiter).
type Limiter interface {
	AllowN(key string, limit int) (ok bool, retryAfter time.Duration)
}

// Keys is what a route needs of the gate (*Gate): the API, the intake and
// heartbeats take it, so they share one check, one budget per key and one
// trace of refusals.
type Keys interface {
	// Check is Authenticate, then Limit.
	Check(c echo.Context, via Via, key string) Verdict
	// Authenticate checks the key alone.
	Authenticate(c echo.Context, via Via, key string) Verdict
	// Limit takes one request from the budget of the key v passed.
	Limit(c echo.Context, v Verdict) Verdict
	// Refuse records a refusal of the route's own (a fixed reason).
	Refuse(c echo.Context, reason string)
}

// Options wire a Gate.
type Options struct {
	Config ConfigSource
	// Limiter is each key's budget; nil: a RateLimiter of its own.
	Limiter Limiter
	// Exposed: the pager listens where other machines reach it, so the
	// published example key is refused.
	Exposed bool
	// OnRefuse learns of each refused request with a fixed reason, never
	// request data (server.Rejections bounds what that leaves behind). Nil:
	// one warning line each.
	OnRefuse func(c echo.Context, reason string)
	Logger   *slog.Logger
}

// Gate checks API keys.
type Gate struct {
	cfg     ConfigSource
	limit   Limiter
	exposed bool
	refuse  func(c echo.Context, reason string)
}

var _ Keys = (*Gate)(nil)

// New returns the gate.
func New(o Options) *Gate {
	g := &Gate{cfg: o.Config, limit: o.Limiter, exposed: o.Exposed, refuse: o.OnRefuse}
	if g.limit == nil {
		g.limit = NewRateLimiter(0, nil)
	}
	if g.refuse == nil {
		log := o.Logger
		if log == nil {
			log = slog.New(slog.DiscardHandler)
		}
		g.refuse = func(c echo.Context, reason string) {
			log.Warn("request refused", "path", c.Request().URL.Path, "reason", reason, "remote", c.RealIP())
		}
	}
	return g
}

// Via is how a route takes its key; it words the refusal of an unknown key
// in the record.
type Via int

const (
	// ViaWebhook: Authorization: Bearer or api_key (the intake's webhooks,
	// heartbeats).
	ViaWebhook Via = iota
	// ViaRoutingKey: PagerDuty's routing_key in the event.
	ViaRoutingKey
	// ViaAPI: the RedFlash API, whose record tells a missing key from an
	// unknown one.
	ViaAPI
)

// Refusal is why the gate refused a request; Passed when it did not.
type Refusal int

const (
	Passed     Refusal = iota
	NoConfig           // no team config loaded yet: 503, nothing recorded
	ExampleKey         // the README's key on an exposed listener: 403
	UnknownKey         // unknown, disabled or missing key: 403
	OverLimit          // over the key's budget: 429 with Retry-After
)

// Verdict is the gate's decision on one request.
type Verdict struct {
	Refused Refusal
	Config  *team.Config // nil when Refused is NoConfig
	Name    string       // the key's name, when it passed Authenticate
	Key     team.APIKey
	// RetryAfter is when the key has budget again (OverLimit); the gate
	// has put it in the Retry-After header already.
	RetryAfter time.Duration
}

// OK reports whether the request passed.
func (v Verdict) OK() bool { return v.Refused == Passed }

// Status is the HTTP status of a refusal (a dialect may answer otherwise).
func (v Verdict) Status() int {
	switch v.Refused {
	case NoConfig:
		return http.StatusServiceUnavailable
	case ExampleKey, UnknownKey:
		return http.StatusForbidden
	case OverLimit:
		return http.StatusTooManyRequests
	}
	return http.StatusOK
}

// MsgInvalidKey is the answer to a bad key: the RedFlash API's words, so a
// script sees the same refusal on every route.
const MsgInvalidKey = "Invalid API key for operation"

// Message is the plain words of a refusal (a dialect may word it
// otherwise).
func (v Verdict) Message() string {
	switch v.Refused {
	case NoConfig:
		return "The pager has no configuration loaded yet; retry shortly"
	case ExampleKey:
		return team.ExampleKeyRefused
	case UnknownKey:
		return MsgInvalidKey
	case OverLimit:
		return "too many requests for this key; retry after the Retry-After delay"
	}
	return "ok"
}

// Check authenticates key and takes one request from its budget; a refusal
// is recorded (and Retry-After set) already.
func (g *Gate) Check(c echo.Context, via Via, key string) Verdict {
	v := g.Authenticate(c, via, key)
	if !v.OK() {
		return v
	}
	return g.Limit(c, v)
}

// Authenticate finds the enabled key without touching its budget (for a
// route that checks more before it spends one); a refusal is recorded
// already.
func (g *Gate) Authenticate(c echo.Context, via Via, key string) Verdict {
	cfg := g.cfg.Current()
	if cfg == nil {
		return Verdict{Refused: NoConfig}
	}
	name, k, err := cfg.Authenticate(key, g.exposed)
	switch {
	case errors.Is(err, team.ErrExampleKey):
		g.refuse(c, "the README's example API key on a public listener")
		return Verdict{Refused: ExampleKey, Config: cfg}
	case err != nil:
		// Never the key itself: a typo of a real key is nearly the key.
		g.refuse(c, unknownReason(via, key))
		return Verdict{Refused: UnknownKey, Config: cfg}
	}
	return Verdict{Config: cfg, Name: name, Key: k}
}

func unknownReason(via Via, key string) string {
	switch via {
	case ViaRoutingKey:
		return "unknown routing key"
	case ViaAPI:
		if key == "" {
			return "no API key given"
		}
		return "unknown or disabled API key"
	}
	return "unknown or missing API key"
}

// Limit takes one request from the budget of the key v passed
// (its rate_limit_per_minute, shared by every route); over it, the refusal
// is recorded and Retry-After set.
func (g *Gate) Limit(c echo.Context, v Verdict) Verdict {
	if !v.OK() {
		return v
	}
	if ok, retry := g.limit.AllowN(v.Name, v.Key.RateLimit()); !ok {
		g.refuse(c, "over the API key's rate limit")
		SetRetryAfter(c, retry)
		v.Refused, v.RetryAfter = OverLimit, retry
	}
	return v
}

// Refuse records a refused request (a fixed reason, never request data).
func (g *Gate) Refuse(c echo.Context, reason string) { g.refuse(c, reason) }

// SetRetryAfter puts d, in whole seconds (at least 1), in Retry-After.
func SetRetryAfter(c echo.Context, d time.Duration) {
	c.Response().Header().Set("Retry-After", strconv.Itoa(max(1, int(math.Ceil(d.Seconds())))))
}

// ErrNotBearer is KeyFrom's answer to an Authorization header that is not
// a Bearer token; its text is the 400 answer every route gives.
var ErrNotBearer = errors.New(`Authorization: want "Bearer <api key>"`)

// KeyFrom is the request's API key: an Authorization: Bearer token, which
// wins, else key (the api_key the route found in its query, form or
// body).
func KeyFrom(r *http.Request, key string) (string, error) {
	auth := r.Header.Get("Authorization")
	if auth == "" {
		return key, nil
	}
	scheme, token, ok := strings.Cut(strings.TrimSpace(auth), " ")
	token = strings.TrimSpace(token)
	if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" {
		return "", ErrNotBearer
	}
	return token, nil
}
