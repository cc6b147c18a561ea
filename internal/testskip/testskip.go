package testskip

import (
	"fmt"
	"os"
	"strings"
	"testing"
)

// Env names the file the test command collects skipped layers in.
const Env = "PAGER_TEST_SKIPLOG"

// Record notes that layer was left out, and why, without skipping a test:
// for a layer switched off inside a helper (the fake Twilio's spec check).
func Record(layer, why string) {
	path := os.Getenv(Env)
	if path == "" {
		return
	}
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		return
	}
	defer f.Close()
	// One line per record; O_APPEND keeps lines from parallel test
	// processes whole.
	fmt.Fprintf(f, "%s\t%s\n", oneLine(layer), oneLine(why))
}

// Layer records layer as skipped and skips the test.
func Layer(t testing.TB, layer, why string) {
	t.Helper()
	Record(layer, why)
	t.Skipf("%s skipped: %s", layer, why)
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
