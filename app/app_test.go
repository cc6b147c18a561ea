package app_test

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/oncall/pager/app"
	"github.com/oncall/pager/app/team"
	"github.com/oncall/pager/store"
	"github.com/oncall/pager/store/storetest"
)

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestSettingsRefuseUnsignedPublicListener(t *testing.T) {
	// No token and no LISTEN_ADDR: loopback by default.
	s, err := app.SettingsFromEnv(env(map[string]string{}))
	if err != nil {
		t.Fatal(err)
	}
	if s.ListenAddr != "127.0.0.1:8080" || s.SignaturesChecked() {
		t.Fatalf("without a token: listen %s, checked %v; want loopback only", s.ListenAddr, s.SignaturesChecked())
	}
	// No token but a public address: refused, never rewritten, with what to set.
	_, err = app.SettingsFromEnv(env(map[string]string{"LISTEN_ADDR": ":8080"}))
	if err == nil {
		t.Fatal("an unsigned pager on all interfaces started")
	}
	for _, want := range []string{"LISTEN_ADDR=:8080", "TWILIO_AUTH_TOKEN", "LISTEN_ADDR=127.0.0.1:8080", "INSECURE_ALLOW_UNSIGNED=true"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("refusal %q does not say %s", err, want)
		}
	}
	// The explicit demo opt-in (the container's documented docker run line).
	s, err = app.SettingsFromEnv(env(map[string]string{"LISTEN_ADDR": ":8080", "INSECURE_ALLOW_UNSIGNED": "true"}))
	if err != nil || s.ListenAddr != ":8080" || s.SignaturesChecked() {
		t.Fatalf("demo opt-in: listen %s, checked %v, err %v", s.ListenAddr, s.SignaturesChecked(), err)
	}
	s, err = app.SettingsFromEnv(env(map[string]string{"LISTEN_ADDR": "0.0.0.0:9000",
		"TWILIO_ACCOUNT_SID": "AC0123456789abcdef0123456789abcdef", "TWILIO_AUTH_TOKEN": "0123456789abcdef0123456789abcdef"}))
	if err != nil {
		t.Fatal(err)
	}
	if s.ListenAddr != "0.0.0.0:9000" || !s.SignaturesChecked() {
		t.Fatalf("with a token: listen %s, checked %v", s.ListenAddr, s.SignaturesChecked())
	}
}

func TestSettingsCheckBaseURL(t *testing.T) {
	for _, bad := range []string{"pager.example.com", "ftp://pager.example.com", "https://", "https://pager.example.com/pager",
		"https://pager.example.com?x=1", "https://pager.example.com#top", "https://u:p@pager.example.com"} {
		_, err := app.SettingsFromEnv(env(map[string]string{"ONCALL_APP_BASE_URL": bad}))
		if err == nil || !strings.Contains(err.Error(), "ONCALL_APP_BASE_URL") {
			t.Errorf("base URL %q: err %v, want a refusal naming ONCALL_APP_BASE_URL", bad, err)
		}
	}
	s, err := app.SettingsFromEnv(env(map[string]string{"ONCALL_APP_BASE_URL": "https://pager.example.com:8443/"}))
	if err != nil {
		t.Fatal(err)
	}
	var urls []string
	for _, w := range s.Webhooks() {
		urls = append(urls, w.URL)
	}
	want := "https://pager.example.com:8443/public/answer https://pager.example.com:8443/wrongnumber/sms " +
		"https://pager.example.com:8443/wrongnumber/voice https://pager.example.com:8443/msgcontrol/entry"
	if strings.Join(urls, " ") != want {
		t.Fatalf("webhooks %v, want %s", urls, want)
	}
}

func TestSettingsLogLevelAndFormat(t *testing.T) {
	s, err := app.SettingsFromEnv(env(map[string]string{"LOG_LEVEL": "debug", "LOG_FORMAT": "json"}))
	if err != nil || s.LogLevel != slog.LevelDebug {
		t.Fatalf("LOG_LEVEL=debug: %v %v", s.LogLevel, err)
	}
	_, err = app.SettingsFromEnv(env(map[string]string{"LOG_LEVEL": "loud", "LOG_FORMAT": "xml"}))
	if err == nil || !strings.Contains(err.Error(), "LOG_LEVEL") || !strings.Contains(err.Error(), "LOG_FORMAT") {
		t.Fatalf("bad LOG_LEVEL and LOG_FORMAT: %v", err)
	}
}

func TestSettingsReportEveryProblem(t *testing.T) {
	_, err := app.SettingsFromEnv(env(map[string]string{
		"BACKING_STORE_S3_BUCKET":     "b",
		"TWILIO_AUTH_TOKEN":           "x",
		"BACKING_STORE_S3_PATH_STYLE": "maybe",
		"CONFIG_REFRESH_INTERVAL":     "soon",
	}))
	if err == nil {
		t.Fatal("want an error")
	}
	for _, want := range []string{"BACKING_STORE_S3_KEY", "TWILIO_ACCOUNT_SID", "BACKING_STORE_S3_PATH_STYLE", "CONFIG_REFRESH_INTERVAL"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %s", err, want)
		}
	}
}

func TestEmbeddedDefaultSeedsExampleConfig(t *testing.T) {
	dir := t.TempDir()
	s, err := app.SettingsFromEnv(env(map[string]string{"BACKING_STORE_DIR": dir}))
	if err != nil {
		t.Fatal(err)
	}
	a, err := app.New(context.Background(), s, app.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !a.Twilio.DryRun() {
		t.Error("no Twilio credentials but not in dry run")
	}
	data, err := os.ReadFile(filepath.Join(dir, app.DefaultConfigKey))
	if err != nil {
		t.Fatalf("example config not seeded: %v", err)
	}
	if _, err := team.Parse(data); err != nil {
		t.Fatalf("seeded config invalid: %v", err)
	}
	if r := a.Readiness(); !r.Ready() {
		t.Fatalf("readiness: %+v", r)
	}
}

// The pager starts on S3 configured only through the environment, over
// HTTPS with a private CA given as AWS_CA_BUNDLE.
func TestStartsOnS3FromEnvironmentWithCABundle(t *testing.T) {
	srv := storetest.StartS3TLS(t)
	srv.Setenv(t)
	if _, err := srv.Store().Put(context.Background(), "oncall_config.json", team.DefaultConfig(), store.Cond{}); err != nil {
		t.Fatal(err)
	}
	s, err := app.SettingsFromEnv(env(map[string]string{
		"BACKING_STORE_S3_BUCKET": srv.Bucket, "BACKING_STORE_S3_KEY": "oncall_config.json", "BACKING_STORE_S3_PATH_STYLE": "true",
	}))
	if err != nil {
		t.Fatal(err)
	}
	a, err := app.New(context.Background(), s, app.Options{})
	if err != nil {
		t.Fatalf("start on S3: %v", err)
	}
	if got := a.Store.String(); got != "s3://"+srv.Bucket {
		t.Errorf("store = %s", got)
	}
	if oc, _ := a.Team.Current().OnCall(); oc.ID != "alice" {
		t.Errorf("on call = %q", oc.ID)
	}
}

// An empty bucket is an operator's mistake to report, never papered over
// with the example team.
func TestEmptyBucketIsAnError(t *testing.T) {
	srv := storetest.StartS3(t)
	srv.Setenv(t)
	s, _ := app.SettingsFromEnv(env(map[string]string{"BACKING_STORE_S3_BUCKET": srv.Bucket, "BACKING_STORE_S3_KEY": "oncall_config.json"}))
	_, err := app.New(context.Background(), s, app.Options{})
	if !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("err = %v, want not found", err)
	}
	if _, gerr := srv.Store().Get(context.Background(), "oncall_config.json"); !errors.Is(gerr, store.ErrNotFound) {
		t.Fatal("example config written into a production bucket")
	}
}

func TestSettingsReconcileInterval(t *testing.T) {
	for v, want := range map[string]time.Duration{"": 10 * time.Minute, "0": 0, "90s": 90 * time.Second} {
		s, err := app.SettingsFromEnv(env(map[string]string{"RECONCILE_INTERVAL": v}))
		if err != nil || s.ReconcileInterval != want {
			t.Errorf("RECONCILE_INTERVAL=%q: %v, %v; want %v", v, s.ReconcileInterval, err, want)
		}
	}
	for _, v := range []string{"-1m", "often"} {
		if _, err := app.SettingsFromEnv(env(map[string]string{"RECONCILE_INTERVAL": v})); err == nil {
			t.Errorf("RECONCILE_INTERVAL=%q accepted", v)
		}
	}
}

// The replica's identity is stable across restarts in the same place (so a
// restart takes back its own jobs), differs with the store, and REPLICA_ID
// overrides it when valid.
func TestReplicaID(t *testing.T) {
	get := func(m map[string]string) (string, error) {
		s, err := app.SettingsFromEnv(env(m))
		return s.ReplicaID, err
	}
	a, _ := get(map[string]string{"BACKING_STORE_DIR": "/srv/pager/data"})
	b, _ := get(map[string]string{"BACKING_STORE_DIR": "/srv/pager/data"})
	c, _ := get(map[string]string{"BACKING_STORE_DIR": "/srv/other/data"})
	if a == "" || a != b || a == c {
		t.Fatalf("derived IDs %q, %q (same place), %q (another store)", a, b, c)
	}
	if id, err := get(map[string]string{"REPLICA_ID": "pager-0"}); err != nil || id != "pager-0" {
		t.Fatalf("REPLICA_ID: %q %v", id, err)
	}
	if _, err := get(map[string]string{"REPLICA_ID": "has space"}); err == nil || !strings.Contains(err.Error(), "REPLICA_ID") {
		t.Fatalf("invalid REPLICA_ID accepted: %v", err)
	}
}

// A finished voicemail job deleted within the voicemail sweep's look-back
// would be "recovered" and paged again: such a RETENTION_JOBS is refused,
// naming what to set, never raised silently.
func TestSettingsRefuseJobRetentionShorterThanTheSweep(t *testing.T) {
	for v, ok := range map[string]bool{"12h": false, "1d": false, "47h": false, "2d": true, "7d": true, "keep": true} {
		s, err := app.SettingsFromEnv(env(map[string]string{"RETENTION_JOBS": v}))
		if ok && err != nil {
			t.Errorf("RETENTION_JOBS=%s refused: %v", v, err)
		}
		if !ok && (err == nil || !strings.Contains(err.Error(), "RETENTION_JOBS: at least 2d")) {
			t.Errorf("RETENTION_JOBS=%s: %v (jobs kept %s); want it refused, naming the least accepted", v, err, s.Retention.Jobs)
		}
	}
}
