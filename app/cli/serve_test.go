package cli

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/oncall/pager/app"
	"github.com/oncall/pager/app/team"
	"github.com/oncall/pager/store"
	"github.com/oncall/pager/store/local"
	"github.com/oncall/pager/store/storetest"
)

// A store that does not answer at start: the pager stays up, alive but not
// ready, and starts serving once the store answers, instead of exiting.
func TestServeWaitsForStoreAtStart(t *testing.T) {
	dir := t.TempDir()
	st, err := local.New(filepath.Join(dir, "data"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Put(context.Background(), app.DefaultConfigKey, team.DefaultConfig(), store.Cond{}); err != nil {
		t.Fatal(err)
	}
	faulty := storetest.Faulty(st)
	faulty.Down()
	s, err := app.SettingsFromEnv(func(k string) string {
		return map[string]string{"BACKING_STORE_DIR": filepath.Join(dir, "data")}[k]
	})
	if err != nil {
		t.Fatal(err)
	}
	s.AdminListenAddr = "" // no admin listener on a fixed port in tests
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + ln.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- serveOn(ctx, ln, s, app.Options{Logger: slog.New(slog.DiscardHandler), Store: faulty},
			backoff{first: time.Millisecond, max: 5 * time.Millisecond})
	}()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	}()

	get := func(path string) (int, string) {
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, _ := get("/livez"); code != http.StatusOK {
		t.Fatalf("/livez while the store is down: %d", code)
	}
	code, body := get("/healthz")
	if code != http.StatusServiceUnavailable || !strings.Contains(body, "store_unreachable") {
		t.Fatalf("/healthz while the store is down: %d %s", code, body)
	}
	if faulty.Total() < 2 {
		// It keeps trying (each attempt reads the config).
		waitFor(t, func() bool { return faulty.Total() >= 2 })
	}
	faulty.Up()
	waitFor(t, func() bool { code, _ := get("/healthz"); return code == http.StatusOK })
}

func waitFor(t *testing.T, ok func() bool) {
	t.Helper()
	for i := 0; i < 1000; i++ {
		if ok() {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("condition not reached")
}

// A missing or invalid config still stops the start at once: retrying would
// hide an operator's mistake.
func TestServeStopsOnMissingConfig(t *testing.T) {
	s, err := app.SettingsFromEnv(func(k string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	s.AdminListenAddr = "" // no admin listener on a fixed port in tests
	srv := storetest.StartS3(t)
	s.S3Bucket, s.S3Key = srv.Bucket, "missing.json"
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	err = serveOn(context.Background(), ln, s, app.Options{Logger: slog.New(slog.DiscardHandler), Store: srv.Store()},
		backoff{first: time.Millisecond, max: time.Millisecond})
	if err == nil || !strings.Contains(err.Error(), "not found") {
		t.Fatalf("missing config on S3: %v", err)
	}
}
