package app

import (
	"crypto/sha256"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/oncall/pager/app/pagerline"
	"github.com/oncall/pager/app/retention"
)

// Settings are the process settings, read from the environment (and .env,
// loaded by cmd/oncall-pager before this runs; the environment wins).
type Settings struct {
	ListenAddr string // LISTEN_ADDR
	BaseURL    string // ONCALL_APP_BASE_URL

	// AdminListenAddr serves health detail and metrics apart from the
	// public routes (ADMIN_LISTEN_ADDR, default 127.0.0.1:9090; empty
	// turns it off).
	AdminListenAddr string
	// TrustedProxies are the proxies whose X-Forwarded-For names the client
	// (TRUSTED_PROXIES, comma-separated CIDRs or addresses). Empty: the
	// client is the socket's peer, whatever the headers say.
	TrustedProxies []netip.Prefix

	TwilioAccountSID      string // TWILIO_ACCOUNT_SID
	TwilioAuthToken       string // TWILIO_AUTH_TOKEN
	TwilioAuthTokenSecond string // TWILIO_AUTH_TOKEN_SECONDARY (rotation)
	TwilioAPIBaseURL      string // TWILIO_API_BASE_URL

	PushoverAPIURL string // PUSHOVER_API_URL (a proxy, or a test's fake)

	StoreDir    string // BACKING_STORE_DIR (local folder store)
	S3Bucket    string // BACKING_STORE_S3_BUCKET
	S3Key       string // BACKING_STORE_S3_KEY (the config object)
	S3PathStyle bool   // BACKING_STORE_S3_PATH_STYLE
	S3Endpoint  string // AWS_ENDPOINT_URL_S3 (read by the SDK too; kept for the start-up line)

	ConfigRefresh time.Duration // CONFIG_REFRESH_INTERVAL
	JobPoll       time.Duration // JOB_POLL_INTERVAL
	LogFormat     string        // LOG_FORMAT: text|json
	LogLevel      slog.Level    // LOG_LEVEL: debug|info|warn|error

	// AllowUnsigned lets a pager without TWILIO_AUTH_TOKEN listen beyond
	// loopback (INSECURE_ALLOW_UNSIGNED): a demo in a container, never
	// production, since anyone who reaches the port can then act as Twilio.
	AllowUnsigned bool

	// ReconcileInterval is how often Twilio's recordings are checked for a
	// voicemail whose job was lost (RECONCILE_INTERVAL; 0 disables).
	ReconcileInterval time.Duration

	// ReplicaID is this replica's stable identity (REPLICA_ID): a process
	// restarted under the same ID takes back the jobs its predecessor was
	// running at once. At most one process may run under an ID. Default:
	// the host name and a hash of the working folder and the store.
	ReplicaID string

	// Retention is how long each kind of object is kept in the store
	// (RETENTION_JOBS, RETENTION_DEDUP, RETENTION_ALERTS,
	// RETENTION_NOTIFICATIONS, RETENTION_AUDIT, RETENTION_RECORDINGS:
	// "7d", "36h", or "keep").
	Retention retention.Policy
}

// DefaultConfigKey is the config object's key in the local folder store.
const DefaultConfigKey = "oncall_config.json"

// MinJobRetention is the shortest RETENTION_JOBS accepted: past the voicemail
// sweep's look-back (pagerline.ReconcileWindow) with a day to spare, so a
// finished voicemail job is still there when the sweep asks for it.
const MinJobRetention = pagerline.ReconcileWindow + retention.Day

// SettingsFromEnv reads Settings from getenv (os.Getenv in production).
func SettingsFromEnv(getenv func(string) string) (Settings, error) {
	if getenv == nil {
		getenv = os.Getenv
	}
	s := Settings{
		ListenAddr:            getenv("LISTEN_ADDR"),
		BaseURL:               strings.TrimRight(getenv("ONCALL_APP_BASE_URL"), "/"),
		TwilioAccountSID:      getenv("TWILIO_ACCOUNT_SID"),
		TwilioAuthToken:       getenv("TWILIO_AUTH_TOKEN"),
		TwilioAuthTokenSecond: getenv("TWILIO_AUTH_TOKEN_SECONDARY"),
		TwilioAPIBaseURL:      getenv("TWILIO_API_BASE_URL"),
		PushoverAPIURL:        strings.TrimRight(getenv("PUSHOVER_API_URL"), "/"),
		StoreDir:              getenv("BACKING_STORE_DIR"),
		S3Bucket:              getenv("BACKING_STORE_S3_BUCKET"),
		S3Key:                 getenv("BACKING_STORE_S3_KEY"),
		S3Endpoint:            getenv("AWS_ENDPOINT_URL_S3"),
		LogFormat:             getenv("LOG_FORMAT"),
	}
	var problems []string
	boolean := func(name string) bool {
		v := getenv(name)
		if v == "" {
			return false
		}
		b, err := strconv.ParseBool(v)
		if err != nil {
			problems = append(problems, name+": want true or false, got "+strconv.Quote(v))
		}
		return b
	}
	s.S3PathStyle = boolean("BACKING_STORE_S3_PATH_STYLE")
	s.AllowUnsigned = boolean("INSECURE_ALLOW_UNSIGNED")
	switch s.LogFormat {
	case "", "text", "json":
	default:
		problems = append(problems, "LOG_FORMAT: want text or json, got "+strconv.Quote(s.LogFormat))
	}
	if v := getenv("LOG_LEVEL"); v != "" {
		if err := s.LogLevel.UnmarshalText([]byte(v)); err != nil {
			problems = append(problems, "LOG_LEVEL: want debug, info, warn or error, got "+strconv.Quote(v))
		}
	}
	dur := func(name string, def time.Duration) time.Duration {
		v := getenv(name)
		if v == "" {
			return def
		}
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			problems = append(problems, name+": want a positive duration like 10s, got "+strconv.Quote(v))
			return def
		}
		return d
	}
	s.ConfigRefresh = dur("CONFIG_REFRESH_INTERVAL", 10*time.Second)
	s.JobPoll = dur("JOB_POLL_INTERVAL", 2*time.Second)
	s.ReconcileInterval = 10 * time.Minute
	if v := getenv("RECONCILE_INTERVAL"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			problems = append(problems, "RECONCILE_INTERVAL: want a duration like 10m, or 0 to disable, got "+strconv.Quote(v))
		} else {
			s.ReconcileInterval = d
		}
	}

	s.AdminListenAddr = "127.0.0.1:9090"
	if v, ok := lookup(getenv, "ADMIN_LISTEN_ADDR"); ok {
		s.AdminListenAddr = strings.TrimSpace(v)
	}
	if s.AdminListenAddr != "" {
		if _, _, err := net.SplitHostPort(s.AdminListenAddr); err != nil {
			problems = append(problems, "ADMIN_LISTEN_ADDR: want host:port (such as 127.0.0.1:9090), or empty to turn the admin listener off, got "+strconv.Quote(s.AdminListenAddr))
		}
	}
	if v := strings.TrimSpace(getenv("TRUSTED_PROXIES")); v != "" {
		ps, err := ParseTrustedProxies(v)
		if err != nil {
			problems = append(problems, "TRUSTED_PROXIES: "+err.Error())
		}
		s.TrustedProxies = ps
	}

	if s.StoreDir == "" {
		s.StoreDir = "./data"
	}
	s.Retention = retention.DefaultPolicy()
	for name, d := range map[string]*time.Duration{
		"RETENTION_JOBS": &s.Retention.Jobs, "RETENTION_DEDUP": &s.Retention.Dedup, "RETENTION_ALERTS": &s.Retention.Alerts,
		"RETENTION_NOTIFICATIONS": &s.Retention.Notifications, "RETENTION_AUDIT": &s.Retention.Audit, "RETENTION_RECORDINGS": &s.Retention.Recordings,
	} {
		if v := getenv(name); v != "" {
			age, err := retention.ParseAge(v)
			if err != nil {
				problems = append(problems, name+": "+err.Error())
				continue
			}
			*d = age
		}
	}
	if j := s.Retention.Jobs; j > 0 && j < MinJobRetention {
		problems = append(problems, fmt.Sprintf("RETENTION_JOBS: at least %dd (or keep), got %s: the voicemail sweep looks %s back on Twilio for recordings without a job, and would page again for one whose finished job was already deleted",
			int(MinJobRetention/retention.Day), s.Retention.Jobs, pagerline.ReconcileWindow))
	}
	s.ReplicaID = getenv("REPLICA_ID")
	if s.ReplicaID == "" {
		s.ReplicaID = s.derivedReplicaID()
	} else if !replicaIDPattern.MatchString(s.ReplicaID) {
		problems = append(problems, "REPLICA_ID: want 1 to 64 letters, digits, '.', '_' or '-', got "+strconv.Quote(s.ReplicaID))
	}
	if (s.S3Bucket == "") != (s.S3Key == "") {
		problems = append(problems, "BACKING_STORE_S3_BUCKET and BACKING_STORE_S3_KEY must be set together")
	}
	if s.TwilioAuthToken != "" && s.TwilioAccountSID == "" {
		problems = append(problems, "TWILIO_AUTH_TOKEN is set but TWILIO_ACCOUNT_SID is not")
	}
	if s.TwilioAccountSID != "" && s.TwilioAuthToken == "" {
		problems = append(problems, "TWILIO_ACCOUNT_SID is set but TWILIO_AUTH_TOKEN is not")
	}
	if s.ListenAddr == "" {
		if s.SignaturesChecked() {
			s.ListenAddr = ":8080"
		} else {
			// Without a token nobody can tell Twilio from an attacker, so by
			// default the pager is not reachable from outside this machine.
			s.ListenAddr = "127.0.0.1:8080"
		}
	}
	host, port, err := net.SplitHostPort(s.ListenAddr)
	if err != nil {
		problems = append(problems, "LISTEN_ADDR: want host:port, got "+strconv.Quote(s.ListenAddr))
	} else if !s.SignaturesChecked() && !s.AllowUnsigned && !isLoopback(host) {
		problems = append(problems, fmt.Sprintf("LISTEN_ADDR=%s is reachable from other machines, but TWILIO_AUTH_TOKEN is not set, "+
			"so nobody can tell Twilio from an impostor: set TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN, "+
			"or listen on loopback (LISTEN_ADDR=127.0.0.1:%s), "+
			"or set INSECURE_ALLOW_UNSIGNED=true for a demo (anyone who reaches the port can then act as Twilio)", s.ListenAddr, port))
	}
	if s.BaseURL == "" {
		if err == nil {
			h := host
			if h == "" || h == "0.0.0.0" || h == "::" {
				h = "localhost"
			}
			s.BaseURL = "http://" + net.JoinHostPort(h, port)
		}
	} else if p := checkBaseURL(s.BaseURL); p != "" {
		problems = append(problems, p)
	}
	if len(problems) > 0 {
		return s, fmt.Errorf("settings: %s", strings.Join(problems, "; "))
	}
	return s, nil
}

// SignaturesChecked reports whether Twilio webhooks can be authenticated.
func (s Settings) SignaturesChecked() bool { return s.TwilioAuthToken != "" }

// Exposed reports whether the public listener is reachable from other
// machines (not loopback): the example API key is refused there.
func (s Settings) Exposed() bool {
	host, _, err := net.SplitHostPort(s.ListenAddr)
	return err != nil || !isLoopback(host)
}

// UsesS3 reports whether the store is S3.
func (s Settings) UsesS3() bool { return s.S3Bucket != "" }

// ConfigKey is the config object's key in the store.
func (s Settings) ConfigKey() string {
	if s.UsesS3() {
		return s.S3Key
	}
	return DefaultConfigKey
}

// ParseTrustedProxies reads TRUSTED_PROXIES: comma-separated CIDRs
// (127.0.0.1/32, 10.0.0.0/8) or single addresses.
func ParseTrustedProxies(v string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, f := range strings.Split(v, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if p, err := netip.ParsePrefix(f); err == nil {
			if p != p.Masked() {
				// 10.1.2.3/8 is a typo for one address or a whole range;
				// guessing the range would trust millions of addresses.
				return nil, fmt.Errorf("%q has host bits set: write %s/%d for that address alone, or %s for the range",
					f, p.Addr(), p.Addr().BitLen(), p.Masked())
			}
			out = append(out, p)
			continue
		}
		a, err := netip.ParseAddr(f)
		if err != nil {
			return nil, fmt.Errorf("want CIDRs or addresses separated by commas (such as 127.0.0.1/32,::1), got %q", f)
		}
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, nil
}

// lookup tells an empty setting from an absent one: getenv cannot, so a
// variable getenv gives as "" counts as set when the process environment
// has it (set but empty), and as absent otherwise.
func lookup(getenv func(string) string, name string) (string, bool) {
	if v := getenv(name); v != "" {
		return v, true
	}
	if _, ok := os.LookupEnv(name); ok {
		return "", true
	}
	return "", false
}

var replicaIDPattern = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

// derivedReplicaID names the replica after what makes it one: the host,
// the working folder it runs in and the store it uses. A restart in the
// same place gets the same ID; two processes started in the same folder on
// one host would share it, and must set REPLICA_ID instead.
func (s Settings) derivedReplicaID() string {
	host, _ := os.Hostname()
	host = strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '-' {
			return r
		}
		return '-'
	}, host)
	if host == "" {
		host = "pager"
	}
	wd, _ := os.Getwd()
	where := "dir:" + s.StoreDir
	if abs, err := filepath.Abs(s.StoreDir); err == nil {
		where = "dir:" + abs
	}
	if s.UsesS3() {
		where = "s3:" + s.S3Bucket + "/" + s.S3Key
	}
	sum := sha256.Sum256([]byte(wd + "\n" + where))
	return fmt.Sprintf("%.40s-%x", host, sum[:4])
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// checkBaseURL says what is wrong with ONCALL_APP_BASE_URL, or "". Twilio
// signs the exact URL it calls, so a base URL that is not the absolute
// origin Twilio is given makes every webhook fail its signature check.
func checkBaseURL(raw string) string {
	const name = "ONCALL_APP_BASE_URL"
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		return fmt.Sprintf("%s: not a URL: %q", name, raw)
	case u.Scheme != "http" && u.Scheme != "https":
		return fmt.Sprintf("%s: want an absolute URL such as https://pager.example.com, got %q", name, raw)
	case u.Host == "" || u.Hostname() == "":
		return fmt.Sprintf("%s: want a host, as in https://pager.example.com, got %q", name, raw)
	case u.User != nil:
		return fmt.Sprintf("%s: must not carry a user or password, got %q", name, u.Redacted())
	case u.RawQuery != "" || u.ForceQuery:
		return fmt.Sprintf("%s: must not have a query (?...), got %q", name, raw)
	case u.Fragment != "" || strings.Contains(raw, "#"):
		return fmt.Sprintf("%s: must not have a fragment (#...), got %q", name, raw)
	case u.Path != "" && u.Path != "/":
		// The routes are served at the root; a prefix would be signed by
		// Twilio but never matched here.
		return fmt.Sprintf("%s: must be the site's root (the pager serves its routes at /), got path %q in %q", name, u.Path, raw)
	}
	return ""
}

// Webhooks are the URLs to paste into the Twilio console.
func (s Settings) Webhooks() []Webhook {
	return []Webhook{
		{"pager_phone", "voice", s.BaseURL + "/public/answer"},
		{"pager_phone", "messaging", s.BaseURL + "/wrongnumber/sms"},
		{"from_phone", "voice", s.BaseURL + "/wrongnumber/voice"},
		{"from_phone", "messaging", s.BaseURL + "/msgcontrol/entry"},
	}
}

// Webhook is one number's webhook in the Twilio console.
type Webhook struct {
	Number string // the config field naming the number
	Kind   string // voice or messaging
	URL    string
}
