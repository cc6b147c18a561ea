package testskip

import (
	"os"
	"path/filepath"
	"testing"
)

func TestRecordAppendsOneLinePerLayer(t *testing.T) {
	path := filepath.Join(t.TempDir(), "skips")
	t.Setenv(Env, path)
	Record("twilio spec validation", "spec not found at\n../shared")
	Record("browser tests", "no chromium")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	want := "twilio spec validation\tspec not found at ../shared\nbrowser tests\tno chromium\n"
	if string(data) != want {
		t.Fatalf("skip log %q, want %q", data, want)
	}
}

func TestRecordWithoutLogIsSilent(t *testing.T) {
	t.Setenv(Env, "")
	Record("x", "y") // must not create files or fail
}
