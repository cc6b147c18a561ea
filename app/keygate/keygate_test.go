package keygate_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/oncall/pager/app/keygate"
	"github.com/oncall/pager/app/team"
	"github.com/oncall/pager/internal/testclock"
)

type fixedConfig struct{ cfg *team.Config }

func (f fixedConfig) Current() *team.Config { return f.cfg }

const (
	goodKey    = "pk_good_0123456789abcdefghijklmnopqrstuvwxyz"
	exampleKey = "pk_7SfYZDj7cE0jrnc-GMPa34FtBiE8zNGVaUhgAucFFPM" // the README's
)

func testConfig() *team.Config {
	return &team.Config{APIKeys: map[string]team.APIKey{
		"good":    {SHA256: team.HashAPIKey(goodKey), RateLimitPerMinute: 2},
		"example": {SHA256: team.ExampleAPIKeySHA256},
	}}
}

type refusal struct{ reason string }

// gate returns a gate over cfg and the reasons it recorded.
func gate(cfg *team.Config, exposed bool, now func() time.Time) (*keygate.Gate, *[]string) {
	var reasons []string
	return keygate.New(keygate.Options{
		Config:   fixedConfig{cfg},
		Limiter:  keygate.NewRateLimiter(0, now),
		Exposed:  exposed,
		OnRefuse: func(_ echo.Context, reason string) { reasons = append(reasons, reason) },
	}), &reasons
}

func newContext() (echo.Context, *httptest.ResponseRecorder) {
	rec := httptest.NewRecorder()
	return echo.New().NewContext(httptest.NewRequest(http.MethodPost, "/x", nil), rec), rec
}

func TestGateRefusals(t *testing.T) {
	clk := testclock.New()
	for _, tc := range []struct {
		name       string
		cfg        *team.Config
		exposed    bool
		via        keygate.Via
		key        string
		refused    keygate.Refusal
		status     int
		message    string
		reason     string
		retryAfter string
	}{
		{"no config", nil, true, keygate.ViaWebhook, goodKey, keygate.NoConfig, 503,
			"The pager has no configuration loaded yet; retry shortly", "", ""},
		{"example key exposed", testConfig(), true, keygate.ViaAPI, exampleKey, keygate.ExampleKey, 403,
			team.ExampleKeyRefused, "the README's example API key on a public listener", ""},
		{"example key on loopback", testConfig(), false, keygate.ViaAPI, exampleKey, keygate.Passed, 200, "ok", "", ""},
		{"unknown key, webhook", testConfig(), false, keygate.ViaWebhook, "pk_nope", keygate.UnknownKey, 403,
			keygate.MsgInvalidKey, "unknown or missing API key", ""},
		{"no key, webhook", testConfig(), false, keygate.ViaWebhook, "", keygate.UnknownKey, 403,
			keygate.MsgInvalidKey, "unknown or missing API key", ""},
		{"unknown routing key", testConfig(), false, keygate.ViaRoutingKey, "pk_nope", keygate.UnknownKey, 403,
			keygate.MsgInvalidKey, "unknown routing key", ""},
		{"unknown key, API", testConfig(), false, keygate.ViaAPI, "pk_nope", keygate.UnknownKey, 403,
			keygate.MsgInvalidKey, "unknown or disabled API key", ""},
		{"no key, API", testConfig(), false, keygate.ViaAPI, "", keygate.UnknownKey, 403,
			keygate.MsgInvalidKey, "no API key given", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g, reasons := gate(tc.cfg, tc.exposed, clk.Now)
			c, rec := newContext()
			v := g.Check(c, tc.via, tc.key)
			if v.Refused != tc.refused || v.Status() != tc.status || v.Message() != tc.message {
				t.Errorf("verdict %+v: %d %q, want refusal %d, %d %q", v, v.Status(), v.Message(), tc.refused, tc.status, tc.message)
			}
			want := []string{}
			if tc.reason != "" {
				want = append(want, tc.reason)
			}
			if len(*reasons) != len(want) || (len(want) == 1 && (*reasons)[0] != want[0]) {
				t.Errorf("recorded %q, want %q", *reasons, want)
			}
			if got := rec.Header().Get("Retry-After"); got != tc.retryAfter {
				t.Errorf("Retry-After %q", got)
			}
			if v.OK() != (tc.refused == keygate.Passed) || (v.OK() && v.Name != "example") {
				t.Errorf("verdict %+v", v)
			}
		})
	}
}

func TestGateBudget(t *testing.T) {
	clk := testclock.New()
	g, reasons := gate(testConfig(), true, clk.Now)
	// Authenticate spends nothing.
	for range 5 {
		c, _ := newContext()
		if v := g.Authenticate(c, keygate.ViaWebhook, goodKey); !v.OK() || v.Name != "good" || v.Config == nil {
			t.Fatalf("authenticate: %+v", v)
		}
	}
	for i := range 2 {
		c, _ := newContext()
		if v := g.Check(c, keygate.ViaWebhook, goodKey); !v.OK() {
			t.Fatalf("request %d of a budget of 2 refused: %+v", i+1, v)
		}
	}
	clk.Advance(20 * time.Second)
	c, rec := newContext()
	v := g.Limit(c, g.Authenticate(c, keygate.ViaWebhook, goodKey))
	if v.Refused != keygate.OverLimit || v.Status() != 429 || v.RetryAfter != 40*time.Second ||
		v.Message() != "too many requests for this key; retry after the Retry-After delay" {
		t.Fatalf("over the budget: %+v %d %q", v, v.Status(), v.Message())
	}
	if got := rec.Header().Get("Retry-After"); got != "40" {
		t.Errorf("Retry-After %q, want 40", got)
	}
	if len(*reasons) != 1 || (*reasons)[0] != "over the API key's rate limit" {
		t.Errorf("recorded %q", *reasons)
	}
	// A refused verdict passes Limit untouched and spends nothing.
	c, _ = newContext()
	if v := g.Limit(c, keygate.Verdict{Refused: keygate.UnknownKey}); v.Refused != keygate.UnknownKey {
		t.Errorf("Limit of a refused verdict: %+v", v)
	}
}

func TestKeyFrom(t *testing.T) {
	for _, tc := range []struct {
		auth, fallback, want string
		err                  error
	}{
		{"", "from-query", "from-query", nil},
		{"", "", "", nil},
		{"Bearer tok", "from-query", "tok", nil},
		{"  bearer   tok  ", "", "tok", nil},
		{"Basic Zm9vOmJhcg==", "from-query", "", keygate.ErrNotBearer},
		{"Bearer", "from-query", "", keygate.ErrNotBearer},
		{"tok", "", "", keygate.ErrNotBearer},
	} {
		r := httptest.NewRequest(http.MethodGet, "/x", nil)
		if tc.auth != "" {
			r.Header.Set("Authorization", tc.auth)
		}
		got, err := keygate.KeyFrom(r, tc.fallback)
		if got != tc.want || !errors.Is(err, tc.err) {
			t.Errorf("KeyFrom(%q, %q) = %q, %v; want %q, %v", tc.auth, tc.fallback, got, err, tc.want, tc.err)
		}
	}
	if keygate.ErrNotBearer.Error() != `Authorization: want "Bearer <api key>"` {
		t.Errorf("ErrNotBearer %q", keygate.ErrNotBearer)
	}
}
