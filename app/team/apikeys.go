package team

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
)

// KeyNamePattern is what an API key or calendar token minted by the CLI or
// the console may be named. The name goes into console URLs
// (/ui/apikeys/NAME/revoke) and the audit log, and lower case alone keeps
// two names from differing only by case. The validation of a config does
// not check it: hand-written names from before stay valid. It is also the
// console form's pattern attribute, so it uses no syntax a browser lacks.
const KeyNamePattern = `[a-z0-9][a-z0-9_\-]{0,39}`

// KeyNameRule says KeyNamePattern in words, for a refused name.
const KeyNameRule = "a name is 1 to 40 lower-case letters, digits, '-' or '_', starting with a letter or a digit"

var keyName = regexp.MustCompile(`^(?:` + KeyNamePattern + `)$`)

// ValidKeyName reports whether name is a name to mint an API key or a
// calendar token under.
func ValidKeyName(name string) bool { return keyName.MatchString(name) }

// APIKey lets a client use the alert API. Only the key's SHA-256 is kept, so
// the config (which many people read) never holds a usable key.
type APIKey struct {
	SHA256  string `json:"sha256"`            // lower- or upper-case hex
	Enabled *bool  `json:"enabled,omitempty"` // absent means enabled
	// CanRead allows GET of contacts and groups, which lists who is in them,
	// and of any notification's report (other keys read only their own).
	CanRead bool `json:"can_read"`
	// RateLimitPerMinute caps the key's requests over any 60 s, all API and
	// intake routes together (0: DefaultRateLimitPerMinute).
	RateLimitPerMinute int `json:"rate_limit_per_minute,omitempty"`
}

// DefaultRateLimitPerMinute is a key's budget when api_keys does not set
// one: PagerDuty's documented Events API limit, so a monitoring system
// that PagerDuty accepts is accepted here, while a runaway loop is
// stopped after two a second.
const DefaultRateLimitPerMinute = 120

// RateLimit is the key's requests per minute.
func (k APIKey) RateLimit() int {
	if k.RateLimitPerMinute > 0 {
		return k.RateLimitPerMinute
	}
	return DefaultRateLimitPerMinute
}

// IsExample reports whether k is the example key published in the README.
func (k APIKey) IsExample() bool { return strings.EqualFold(k.SHA256, ExampleAPIKeySHA256) }

// Refusals of Authenticate.
var (
	ErrUnknownKey = errors.New("unknown or disabled API key")
	ErrExampleKey = errors.New(ExampleKeyRefused)
)

// ExampleKeyRefused is the answer to the README's example key on a pager
// other machines can reach.
const ExampleKeyRefused = "The example API key published in the README only works on a pager listening on loopback; " +
	"mint your own with `oncall-pager apikey new NAME` and add it to api_keys"

// Authenticate finds the enabled api_keys entry for key (see CheckAPIKey).
// On a listener other machines reach (exposed) the published example key
// is refused with ErrExampleKey: anyone can read it.
func (c *Config) Authenticate(key string, exposed bool) (name string, k APIKey, err error) {
	name, k, ok := c.CheckAPIKey(key)
	switch {
	case !ok:
		return "", APIKey{}, ErrUnknownKey
	case exposed && k.IsExample():
		return "", APIKey{}, ErrExampleKey
	}
	return name, k, nil
}

// IsEnabled reports whether the key is accepted.
func (k APIKey) IsEnabled() bool { return k.Enabled == nil || *k.Enabled }

// LogValue shows which key without the whole hash: the hash is not a secret,
// but there is no reason to spread it.
func (k APIKey) LogValue() slog.Value {
	prefix := k.SHA256
	if len(prefix) > 8 {
		prefix = prefix[:8]
	}
	return slog.GroupValue(slog.String("sha256_prefix", prefix), slog.Bool("enabled", k.IsEnabled()), slog.Bool("can_read", k.CanRead))
}

// APIKeyPrefix starts every key NewAPIKey mints, so a leaked key is easy to
// recognise in a repository or a log.
const APIKeyPrefix = "pk_"

// NewAPIKey mints a key: APIKeyPrefix and 32 random bytes, base64url.
func NewAPIKey() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("team: new API key: %w", err)
	}
	return APIKeyPrefix + base64.RawURLEncoding.EncodeToString(b), nil
}

// HashAPIKey is the lower-hex SHA-256 of key, as api_keys entries hold it.
func HashAPIKey(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:])
}

// CheckAPIKey finds the enabled api_keys entry for key. Every entry is
// compared, in constant time, whatever matches: how long a check takes says
// nothing about which key is close. Disabled entries never match.
func (c *Config) CheckAPIKey(key string) (name string, k APIKey, ok bool) {
	if c == nil || key == "" {
		return "", APIKey{}, false
	}
	sum := sha256.Sum256([]byte(key))
	for n, entry := range c.APIKeys {
		want, err := hex.DecodeString(entry.SHA256)
		if err != nil || len(want) != sha256.Size {
			continue
		}
		match := subtle.ConstantTimeCompare(sum[:], want) == 1
		// Validation rejects two entries with one hash; the lowest name
		// keeps a hand-built Config deterministic anyway.
		if match && entry.IsEnabled() && (!ok || n < name) {
			name, k, ok = n, entry, true
		}
	}
	return name, k, ok
}

func (k APIKey) validate(c *Config, at path, r *report) {
	if strings.TrimSpace(at[len(at)-1]) == "" {
		r.errorf(at, "an API key needs a name")
	}
	hp := at.Key("sha256")
	if !validSHA256(k.SHA256) {
		r.errorf(hp, "must be the 64 hex digits of the key's SHA-256 (pager apikey new makes one)")
		return
	}
	if k.IsEnabled() && k.IsExample() {
		r.warnf(hp, "is the example key published in the README; it works only on loopback: mint your own with `oncall-pager apikey new NAME`")
	}
	if k.RateLimitPerMinute < 0 {
		r.errorf(at.Key("rate_limit_per_minute"), "must be a positive number of requests a minute (absent: %d)", DefaultRateLimitPerMinute)
	}
	name := at[len(at)-1]
	for other, o := range c.APIKeys {
		if other < name && strings.EqualFold(o.SHA256, k.SHA256) {
			r.errorf(hp, "is also api_keys[%q]'s: one key, two names", other)
			break
		}
	}
}

// ExampleAPIKeySHA256 is the hash of the example key shipped in the embedded
// default config and printed in the README.
const ExampleAPIKeySHA256 = "89b817ad50ec0c995ba8601ae14efa9556ab7819c1f11cd8547bd471ca909093"

func validSHA256(s string) bool {
	if len(s) != 2*sha256.Size {
		return false
	}
	_, err := hex.DecodeString(s)
	return err == nil
}
