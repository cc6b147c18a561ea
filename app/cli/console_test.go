package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestConsoleRotateKey(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("BACKING_STORE_DIR", dir)
	var out, errs bytes.Buffer
	for i := range 2 {
		if code := Main(context.Background(), []string{"console", "rotate-key"}, nil, &out, &errs); code != 0 {
			t.Fatalf("rotate %d: exit %d: %s", i, code, errs.String())
		}
	}
	b, err := os.ReadFile(filepath.Join(dir, "secrets", "console-session-keys.json"))
	if err != nil {
		t.Fatal(err)
	}
	// Created, then two rotations: the newest two are kept.
	if n := strings.Count(string(b), `"key"`); n != 2 {
		t.Fatalf("%d keys kept: %s", n, b)
	}
	if code := Main(context.Background(), []string{"console", "nope"}, nil, &out, &errs); code != 2 {
		t.Fatalf("bad subcommand: exit %d", code)
	}
}
