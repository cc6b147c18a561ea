package app_test

import (
	"context"
	"errors"
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

func TestSettingsBindLoopbackWithoutToken(t *testing.T) {
	s, err := app.SettingsFromEnv(env(map[string]string{"LISTEN_ADDR": "0.0.0.0:9000"}))
	if err != nil {
		t.Fatal(err)
	}
	if s.ListenAddr != "127.0.0.1:9000" || s.SignaturesChecked() {
		t.Fatalf("without a token: listen %s, checked %v; want loopback only", s.ListenAddr, s.SignaturesChecked())
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
	if ok, detail := a.Health(context.Background()); !ok {
		t.Fatalf("health: %v", detail)
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
