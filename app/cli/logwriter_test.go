package cli

import (
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oncall/pager/internal/testlog"
)

// Lines wait in the buffer until a tick or Close; none is lost or torn,
// whatever the number of goroutines logging (run with -race).
func TestLogWriterFlushesOnTickAndClose(t *testing.T) {
	var out testlog.Buffer
	tick := make(chan time.Time)
	lw := startLogWriter(&out, tick)
	log := slog.New(slog.NewJSONHandler(lw, nil))

	log.Info("first")
	if out.String() != "" {
		t.Fatalf("written before any flush: %q", out.String())
	}
	// The second send is taken only once the first tick's flush is done.
	tick <- time.Time{}
	tick <- time.Time{}
	if !strings.Contains(out.String(), `"msg":"first"`) {
		t.Fatalf("tick did not flush: %q", out.String())
	}

	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 500; i++ {
				log.Info("line", "g", g, "i", i)
			}
		}()
	}
	wg.Wait()
	log.Info("last before shutdown")
	if err := lw.Close(); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(lines) != 1+4*500+1 {
		t.Fatalf("%d lines after Close, want %d", len(lines), 1+4*500+1)
	}
	seen := map[string]bool{}
	for _, l := range lines {
		if !strings.HasPrefix(l, "{") || !strings.HasSuffix(l, "}") {
			t.Fatalf("torn line %q", l)
		}
		seen[l[strings.Index(l, `"msg"`):]] = true
	}
	for g := 0; g < 4; g++ {
		if !seen[fmt.Sprintf(`"msg":"line","g":%d,"i":499}`, g)] {
			t.Errorf("goroutine %d's last line missing", g)
		}
	}
	if !strings.HasSuffix(out.String(), "\"msg\":\"last before shutdown\"}\n") {
		t.Errorf("last line lost on Close: %q", lines[len(lines)-1])
	}
	if err := lw.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}
