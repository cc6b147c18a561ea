package app_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oncall/pager/app"
)

func TestSettingsTrustedProxiesAndAdmin(t *testing.T) {
	s, err := app.SettingsFromEnv(env(map[string]string{"TRUSTED_PROXIES": "127.0.0.1/32, ::1, 10.0.0.0/8"}))
	if err != nil {
		t.Fatal(err)
	}
	want := []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32"), netip.MustParsePrefix("::1/128"), netip.MustParsePrefix("10.0.0.0/8")}
	if len(s.TrustedProxies) != 3 || s.TrustedProxies[0] != want[0] || s.TrustedProxies[1] != want[1] || s.TrustedProxies[2] != want[2] {
		t.Errorf("TrustedProxies = %v, want %v", s.TrustedProxies, want)
	}
	if s.AdminListenAddr != "127.0.0.1:9090" {
		t.Errorf("AdminListenAddr default %q", s.AdminListenAddr)
	}
	if _, err := app.SettingsFromEnv(env(map[string]string{"TRUSTED_PROXIES": "everyone"})); err == nil || !strings.Contains(err.Error(), "TRUSTED_PROXIES") {
		t.Errorf("bad TRUSTED_PROXIES: %v", err)
	}
	// Host bits set: refused, not widened to the range (which would trust
	// a /8 to name clients), with both readings spelt out.
	if _, err := app.SettingsFromEnv(env(map[string]string{"TRUSTED_PROXIES": "10.1.2.3/8"})); err == nil ||
		!strings.Contains(err.Error(), "10.1.2.3/32") || !strings.Contains(err.Error(), "10.0.0.0/8") {
		t.Errorf("TRUSTED_PROXIES with host bits: %v", err)
	}
	if _, err := app.SettingsFromEnv(env(map[string]string{"ADMIN_LISTEN_ADDR": "9090"})); err == nil || !strings.Contains(err.Error(), "ADMIN_LISTEN_ADDR") {
		t.Errorf("bad ADMIN_LISTEN_ADDR: %v", err)
	}
	t.Setenv("ADMIN_LISTEN_ADDR", "")
	if s, _ := app.SettingsFromEnv(os.Getenv); s.AdminListenAddr != "" {
		t.Errorf("ADMIN_LISTEN_ADDR set empty: %q, want off", s.AdminListenAddr)
	}
	if s, _ := app.SettingsFromEnv(env(map[string]string{"LISTEN_ADDR": "127.0.0.1:8080"})); s.Exposed() {
		t.Error("loopback listener counted as exposed")
	}
	if s, _ := app.SettingsFromEnv(env(map[string]string{"LISTEN_ADDR": ":8080", "TWILIO_ACCOUNT_SID": "AC1", "TWILIO_AUTH_TOKEN": "x"})); !s.Exposed() {
		t.Error(":8080 not counted as exposed")
	}
}

// Run serves the admin listener where ADMIN_LISTEN_ADDR says, with the
// readiness detail the public routes leave out.
func TestRunServesAdminListener(t *testing.T) {
	dir := t.TempDir()
	free, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	adminAddr := free.Addr().String()
	free.Close()
	s, err := app.SettingsFromEnv(env(map[string]string{"BACKING_STORE_DIR": filepath.Join(dir, "data"), "ADMIN_LISTEN_ADDR": adminAddr}))
	if err != nil {
		t.Fatal(err)
	}
	a, err := app.New(context.Background(), s, app.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx, ln) }()
	defer func() { cancel(); <-done }()
	var detail map[string]any
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		resp, err := http.Get("http://" + adminAddr + "/readyz")
		if err == nil {
			err = json.NewDecoder(resp.Body).Decode(&detail)
			resp.Body.Close()
		}
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("admin listener: %v", err)
		}
	}
	if detail["status"] != "ok" || !strings.Contains(detail["store"].(string), "data") || detail["config_key"] == nil {
		t.Fatalf("admin /readyz: %v", detail)
	}
}

// The seeded example key on a listener other machines reach: a loud line
// at start saying it is refused and how to mint a key.
func TestStartupLineForExampleKeyOnPublicListener(t *testing.T) {
	var buf strings.Builder
	log := slog.New(slog.NewTextHandler(&syncWriter{w: &buf}, nil))
	s, err := app.SettingsFromEnv(env(map[string]string{"BACKING_STORE_DIR": filepath.Join(t.TempDir(), "data"),
		"LISTEN_ADDR": ":8080", "TWILIO_ACCOUNT_SID": "AC00000000000000000000000000000000", "TWILIO_AUTH_TOKEN": "secret",
		"ONCALL_APP_BASE_URL": "https://pager.example.com"}))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := app.New(context.Background(), s, app.Options{Logger: log}); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	if !strings.Contains(out, "level=ERROR") || !strings.Contains(out, "API KEY REFUSED") || !strings.Contains(out, "oncall-pager apikey new") {
		t.Fatalf("no loud start-up line about the example key:\n%s", out)
	}
}

type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}
