package team

import (
	"context"
	"strings"
	"testing"
)

// The config-loaded line is short (counts and etag, no numbers or
// addresses), and a warning that stays is logged once, not after every TAKE.
func TestConfigLogLinesShortAndWarningsOnce(t *testing.T) {
	f := newFixture(t, DefaultConfig())
	ctx := context.Background()
	if err := f.m.Load(ctx); err != nil {
		t.Fatal(err)
	}
	for _, who := range []string{"bob", "alice", "bob"} {
		if _, err := f.m.Update(ctx, who, takeMutation(who, f.clock.Now(), nil)); err != nil {
			t.Fatal(err)
		}
	}
	logs := f.logs.String()
	if n := strings.Count(logs, "example key"); n != 1 {
		t.Errorf("example-key warning logged %d times, want once:\n%s", n, logs)
	}
	if n := strings.Count(logs, "team: config loaded"); n != 4 {
		t.Errorf("config loaded %d times, want 4 (load and three TAKEs)", n)
	}
	for _, secret := range []string{"+15555550101", "team@example.com", "Alice Example"} {
		if strings.Contains(logs, secret) {
			t.Errorf("config log lines carry %q:\n%s", secret, logs)
		}
	}
}
